/* Unit tests: string instructions (string.c) and port I/O (io.c).
 *
 * Each test decodes real instruction bytes with x86_decode and executes
 * them with x86_exec_insn on a CPU in 64-bit mode with identity paging.
 * Expected register values follow the APM's element-by-element
 * definition; where the APM leaves room (32-bit counts in 64-bit mode,
 * overlapping copies) the host CPU was the oracle, as noted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "x86/decode.h"

#define RAM_SIZE   (1u << 20)
#define PT_BASE    0xf0000u   /* PML4, PDPT, PD, PT: identity map of 2 MiB */
#define CODE_RIP   0x10000u   /* instructions are decoded from host bytes */
#define IO_LOG     64

struct io_event {
    uint16_t port;
    unsigned size;
    uint32_t val;
    bool write;
};

struct fixture {
    struct cpu cpu;
    struct io_event io[IO_LOG];
    unsigned nio;
    uint32_t next_in;     /* value the next port read returns */
    uint8_t ram[RAM_SIZE];
};

static uint32_t pio_read(void *opaque, uint16_t port, unsigned size)
{
    struct fixture *f = opaque;
    uint32_t v = f->next_in++;
    if (f->nio < IO_LOG)
        f->io[f->nio++] = (struct io_event){ port, size, v, false };
    return v;
}

static void pio_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
    struct fixture *f = opaque;
    if (f->nio < IO_LOG)
        f->io[f->nio++] = (struct io_event){ port, size, val, true };
}

static uint64_t *page_table(struct fixture *f)
{
    return (uint64_t *)(f->ram + PT_BASE + 0x3000);
}

static void map_identity(struct fixture *f)
{
    uint64_t *pml4 = (uint64_t *)(f->ram + PT_BASE);
    uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024, *pt = pml4 + 1536;
    pml4[0] = (PT_BASE + 0x1000) | 7;
    pdpt[0] = (PT_BASE + 0x2000) | 7;
    pd[0] = (PT_BASE + 0x3000) | 7;
    for (uint64_t i = 0; i < 512; i++)
        pt[i] = (i << 12) | 7;
}

/* Long mode, CPL 0, paging on (identity), flat segments. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    struct x86_bus bus = { .opaque = f, .pio_read = pio_read,
                           .pio_write = pio_write };
    if (x86_cpu_init(&f->cpu, f->ram, RAM_SIZE, &bus))
        return -1;
    struct cpu *cpu = &f->cpu;
    map_identity(f);
    cpu->cr4 = CR4_PAE;
    cpu->cr3 = PT_BASE;
    cpu->efer = EFER_LME | EFER_LMA;
    cpu->cr0 = CR0_PE | CR0_PG | CR0_ET;
    for (int s = 0; s < 6; s++)
        cpu->seg[s] = (struct x86_seg){ 0x10, 0x93 | SEG_ATTR_DB | SEG_ATTR_G,
                                        0xffffffff, 0 };
    cpu->seg[SEG_CS] = (struct x86_seg){ 0x08, 0x9b | SEG_ATTR_L | SEG_ATTR_G,
                                         0xffffffff, 0 };
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
    cpu->rip = CODE_RIP;
    cpu->gpr[RSP] = 0x8000;
    f->next_in = 0x11;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    x86_cpu_fini(&f->cpu);
    free(f);
    return 0;
}

static int exec_bytes(struct cpu *cpu, const uint8_t *code, size_t len)
{
    struct insn in;
    assert_true(x86_decode(cpu, code, len, &in));
    assert_int_equal(in.len, len);
    return x86_exec_insn(cpu, &in);
}
#define EXEC(cpu, ...)                                                      \
    exec_bytes((cpu), (const uint8_t[]){ __VA_ARGS__ },                     \
               sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void fill_pattern(struct fixture *f, uint64_t pa, unsigned len,
                         uint8_t seed)
{
    for (unsigned i = 0; i < len; i++)
        f->ram[pa + i] = (uint8_t)(seed + i * 7);
}

static uint64_t rflags(struct cpu *cpu)
{
    return x86_get_rflags(cpu);
}

/* ---- MOVS ---- */

static void test_rep_movsb_forward(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    fill_pattern(f, 0x20000, 300, 1);
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RDI] = 0x30000;
    cpu->gpr[RCX] = 300;
    assert_int_equal(EXEC(cpu, 0xf3, 0xa4), -1);
    assert_memory_equal(f->ram + 0x30000, f->ram + 0x20000, 300);
    assert_int_equal(f->ram[0x30000 + 300], 0);
    assert_int_equal(cpu->gpr[RSI], 0x20000 + 300);
    assert_int_equal(cpu->gpr[RDI], 0x30000 + 300);
    assert_int_equal(cpu->gpr[RCX], 0);
    assert_int_equal(cpu->rip, CODE_RIP + 2);
}

static void test_rep_movsb_df_backwards(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    fill_pattern(f, 0x20000, 100, 3);
    cpu->rflags |= FLAG_DF;
    /* RSI/RDI point at the last element; DF = 1 walks down */
    cpu->gpr[RSI] = 0x20000 + 99;
    cpu->gpr[RDI] = 0x30000 + 99;
    cpu->gpr[RCX] = 100;
    assert_int_equal(EXEC(cpu, 0xf3, 0xa4), -1);
    assert_memory_equal(f->ram + 0x30000, f->ram + 0x20000, 100);
    assert_int_equal(f->ram[0x30000 - 1], 0);
    assert_int_equal(cpu->gpr[RSI], 0x20000 - 1);
    assert_int_equal(cpu->gpr[RDI], 0x30000 - 1);
    assert_int_equal(cpu->gpr[RCX], 0);
}

static void test_rep_movs_overlap_replicates(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* Element by element, a forward copy to src + 1 smears the first
     * byte (the host does the same). */
    fill_pattern(f, 0x20000, 300, 5);
    uint8_t first = f->ram[0x20000];
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RDI] = 0x20001;
    cpu->gpr[RCX] = 200;
    assert_int_equal(EXEC(cpu, 0xf3, 0xa4), -1);
    for (unsigned i = 0; i <= 200; i++)
        assert_int_equal(f->ram[0x20000 + i], first);
    assert_int_equal(f->ram[0x20000 + 201], (uint8_t)(5 + 201 * 7));
    /* Backwards with the destination one below the source smears the
     * highest source byte downwards. */
    fill_pattern(f, 0x20000, 300, 9);
    uint8_t top = f->ram[0x20000 + 101];
    cpu->rflags |= FLAG_DF;
    cpu->gpr[RSI] = 0x20000 + 101;
    cpu->gpr[RDI] = 0x20000 + 100;
    cpu->gpr[RCX] = 50;
    assert_int_equal(EXEC(cpu, 0xf3, 0xa4), -1);
    for (unsigned i = 51; i <= 100; i++)
        assert_int_equal(f->ram[0x20000 + i], top);
    assert_int_equal(f->ram[0x20000 + 50], (uint8_t)(9 + 50 * 7));
}

static void test_rep_movs_through_aliased_pages(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* Linear 0x120000 maps physical 0x20000: the destination is the
     * source shifted by one byte through another linear page (which also
     * shares the source's TLB slot).  The copy must still replicate. */
    page_table(f)[0x120] = 0x20000 | 7;
    x86_tlb_flush(cpu);
    fill_pattern(f, 0x20000, 200, 17);
    uint8_t first = f->ram[0x20000];
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RDI] = 0x120001;
    cpu->gpr[RCX] = 100;
    assert_int_equal(EXEC(cpu, 0xf3, 0xa4), -1);
    for (unsigned i = 0; i <= 100; i++)
        assert_int_equal(f->ram[0x20000 + i], first);
    assert_int_equal(f->ram[0x20000 + 101], (uint8_t)(17 + 101 * 7));
    assert_int_equal(cpu->gpr[RDI], 0x120001 + 100);
}

static void test_rep_movsq_unaligned_across_pages(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* Qwords that straddle page boundaries on both sides. */
    fill_pattern(f, 0x20ffc, 8 * 1000, 11);
    cpu->gpr[RSI] = 0x20ffc;
    cpu->gpr[RDI] = 0x40ffa;
    cpu->gpr[RCX] = 1000;
    assert_int_equal(EXEC(cpu, 0xf3, 0x48, 0xa5), -1);
    assert_memory_equal(f->ram + 0x40ffa, f->ram + 0x20ffc, 8 * 1000);
    assert_int_equal(cpu->gpr[RSI], 0x20ffc + 8000);
    assert_int_equal(cpu->gpr[RDI], 0x40ffa + 8000);
    assert_int_equal(cpu->gpr[RCX], 0);
}

/* The source of MOVS/LODS/CMPS/OUTS takes a segment override; the
 * destination is always ES.  Needs the decoder to pass the implicit
 * memory operands (they carry the effective segment). */
static void test_movs_single_and_segment_override(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    f->ram[0x21000] = 0x5a;
    f->ram[0x22000] = 0xa5;
    cpu->gpr[RSI] = 0x21000;
    cpu->gpr[RDI] = 0x30000;
    cpu->gpr[RCX] = 7;
    /* movsb without REP: one element, RCX untouched */
    assert_int_equal(EXEC(cpu, 0xa4), -1);
    assert_int_equal(f->ram[0x30000], 0x5a);
    assert_int_equal(cpu->gpr[RSI], 0x21001);
    assert_int_equal(cpu->gpr[RDI], 0x30001);
    assert_int_equal(cpu->gpr[RCX], 7);
    /* fs: movsb: the source takes the override (FS base 0x21000), the
     * destination stays ES. */
    cpu->seg[SEG_FS].base = 0x21000;
    cpu->seg_lin_base[SEG_FS] = 0x21000;
    cpu->gpr[RSI] = 0x1000;
    assert_int_equal(EXEC(cpu, 0x64, 0xa4), -1);
    assert_int_equal(f->ram[0x30001], 0xa5);
    assert_int_equal(cpu->gpr[RSI], 0x1001);
    assert_int_equal(cpu->gpr[RDI], 0x30002);
    /* fs: rep lodsb likewise */
    cpu->gpr[RSI] = 0x1000;
    cpu->gpr[RCX] = 1;
    assert_int_equal(EXEC(cpu, 0x64, 0xf3, 0xac), -1);
    assert_int_equal(cpu->gpr[RAX] & 0xff, 0xa5);
    /* fs: xlat reads FS:[RBX + AL] (XLAT's operand is implicit too) */
    cpu->gpr[RBX] = 0xff0;
    cpu->gpr[RAX] = 0x10;
    assert_int_equal(EXEC(cpu, 0x64, 0xd7), -1);
    assert_int_equal(cpu->gpr[RAX], 0xa5);   /* 0x21000 + 0xff0 + 0x10 */
}

/* ---- restartability ---- */

static void test_rep_movsb_page_fault_mid_run(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t *pt = page_table(f);
    fill_pattern(f, 0x24f00, 0x200, 13);
    pt[0x25] = 0;               /* source page 0x25000 not present */
    x86_tlb_flush(cpu);
    cpu->gpr[RSI] = 0x24f00;
    cpu->gpr[RDI] = 0x30000;
    cpu->gpr[RCX] = 0x200;
    /* The #PF hits element 0x100: registers point at it, RIP at the
     * instruction, the elements before it are copied. */
    assert_int_equal(EXEC(cpu, 0xf3, 0xa4), EXC_PF);
    assert_int_equal(cpu->pending_cr2, 0x25000);
    assert_int_equal(cpu->pending_err & (PFERR_P | PFERR_W), 0);
    assert_int_equal(cpu->rip, CODE_RIP);
    assert_int_equal(cpu->gpr[RSI], 0x25000);
    assert_int_equal(cpu->gpr[RDI], 0x30100);
    assert_int_equal(cpu->gpr[RCX], 0x100);
    assert_memory_equal(f->ram + 0x30000, f->ram + 0x24f00, 0x100);
    assert_int_equal(f->ram[0x30100], 0);
    /* The handler maps the page; the restarted instruction finishes. */
    pt[0x25] = 0x25000 | 7;
    assert_int_equal(EXEC(cpu, 0xf3, 0xa4), -1);
    assert_memory_equal(f->ram + 0x30000, f->ram + 0x24f00, 0x200);
    assert_int_equal(cpu->gpr[RCX], 0);
    assert_int_equal(cpu->gpr[RSI], 0x25100);
    assert_int_equal(cpu->rip, CODE_RIP + 2);
}

static void test_rep_stosd_write_fault_mid_run(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t *pt = page_table(f);
    pt[0x31] &= ~2ull;          /* destination page 0x31000 read-only */
    x86_tlb_flush(cpu);
    cpu->cr0 |= CR0_WP;
    cpu->gpr[RAX] = 0xdeadbeef;
    cpu->gpr[RDI] = 0x30ff8;    /* two dwords fit before the page end */
    cpu->gpr[RCX] = 10;
    assert_int_equal(EXEC(cpu, 0xf3, 0xab), EXC_PF);
    assert_int_equal(cpu->pending_cr2, 0x31000);
    assert_int_equal(cpu->pending_err & (PFERR_P | PFERR_W), PFERR_P | PFERR_W);
    assert_int_equal(cpu->gpr[RDI], 0x31000);
    assert_int_equal(cpu->gpr[RCX], 8);
    assert_int_equal(*(uint32_t *)(f->ram + 0x30ffc), 0xdeadbeef);
    assert_int_equal(*(uint32_t *)(f->ram + 0x31000), 0);
}

static void test_long_rep_is_interruptible(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    const uint8_t code[] = { 0xf3, 0xaa };   /* rep stosb */
    const unsigned n = 0x60000;
    cpu->gpr[RAX] = 0x77;
    cpu->gpr[RDI] = 0x20000;
    cpu->gpr[RCX] = n;
    /* Execute once at a time; whenever RIP stays, the state must be
     * "k elements done" for some k. */
    uint64_t rip = cpu->rip;
    unsigned rounds = 0;
    while (cpu->rip == rip) {
        assert_int_equal(exec_bytes(cpu, code, sizeof(code)), -1);
        uint64_t done = n - cpu->gpr[RCX];
        assert_int_equal(cpu->gpr[RDI], 0x20000 + done);
        if (done < n)
            assert_int_equal(f->ram[0x20000 + done], 0);
        rounds++;
    }
    assert_int_equal(cpu->gpr[RCX], 0);
    for (unsigned i = 0; i < n; i++)
        if (f->ram[0x20000 + i] != 0x77)
            fail_msg("byte %u not stored", i);
    assert_true(rounds >= 1);
}

/* ---- address size ---- */

static void test_addr32_zero_extends_and_count0(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* addr32 rep stosq: EDI and ECX are used and written back as 32-bit
     * registers, which zero-extends them (host: RCX becomes 0). */
    cpu->gpr[RAX] = 0x0102030405060708ull;
    cpu->gpr[RDI] = 0xdead000000004000ull;
    cpu->gpr[RCX] = 0xbeef000000000003ull;
    assert_int_equal(EXEC(cpu, 0x67, 0xf3, 0x48, 0xab), -1);
    assert_int_equal(cpu->gpr[RDI], 0x4018);
    assert_int_equal(cpu->gpr[RCX], 0);
    assert_int_equal(*(uint64_t *)(f->ram + 0x4010), 0x0102030405060708ull);
    /* ECX = 0: no element, and no register is written (host: RCX keeps
     * its upper half). */
    cpu->gpr[RDI] = 0xdead000000005000ull;
    cpu->gpr[RCX] = 0xdeadbeef00000000ull;
    assert_int_equal(EXEC(cpu, 0x67, 0xf3, 0x48, 0xab), -1);
    assert_int_equal(cpu->gpr[RCX], 0xdeadbeef00000000ull);
    assert_int_equal(cpu->gpr[RDI], 0xdead000000005000ull);
    assert_int_equal(*(uint64_t *)(f->ram + 0x5000), 0);
}

static void test_addr32_wraps_at_4g(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* EDI = 0xfffffffe, 4 bytes: 0xfffffffe and 0xffffffff (beyond RAM,
     * open bus), then EDI wraps to 0 and 1. */
    uint64_t *pdpt = (uint64_t *)(f->ram + PT_BASE + 0x1000);
    pdpt[3] = 0x83 | 0xc0000000ull | 4;   /* 1 GiB page at 3 GiB */
    x86_tlb_flush(cpu);
    cpu->gpr[RAX] = 0xab;
    cpu->gpr[RDI] = 0xfffffffe;
    cpu->gpr[RCX] = 4;
    assert_int_equal(EXEC(cpu, 0x67, 0xf3, 0xaa), -1);
    assert_int_equal(cpu->gpr[RDI], 2);
    assert_int_equal(cpu->gpr[RCX], 0);
    assert_int_equal(f->ram[0], 0xab);
    assert_int_equal(f->ram[1], 0xab);
    assert_int_equal(f->ram[2], 0);
}

/* ---- LODS / STOS ---- */

static void test_lods_stos_sizes(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    *(uint64_t *)(f->ram + 0x20000) = 0x1122334455667788ull;
    cpu->gpr[RAX] = 0xaaaaaaaaaaaaaaaaull;
    cpu->gpr[RSI] = 0x20002;
    cpu->rflags |= FLAG_DF;
    /* lodsw, DF = 1: AX merges, RSI -= 2 */
    assert_int_equal(EXEC(cpu, 0x66, 0xad), -1);
    assert_int_equal(cpu->gpr[RAX], 0xaaaaaaaaaaaa5566ull);
    assert_int_equal(cpu->gpr[RSI], 0x20000);
    /* lodsd: EAX zero-extends */
    cpu->rflags &= ~(uint64_t)FLAG_DF;
    assert_int_equal(EXEC(cpu, 0xad), -1);
    assert_int_equal(cpu->gpr[RAX], 0x55667788ull);
    assert_int_equal(cpu->gpr[RSI], 0x20004);
    /* stosw: one element at RDI */
    cpu->gpr[RDI] = 0x20100;
    assert_int_equal(EXEC(cpu, 0x66, 0xab), -1);
    assert_int_equal(*(uint32_t *)(f->ram + 0x20100), 0x7788);
    assert_int_equal(cpu->gpr[RDI], 0x20102);
    /* rep lodsb: the last element stays in AL */
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RCX] = 3;
    assert_int_equal(EXEC(cpu, 0xf3, 0xac), -1);
    assert_int_equal(cpu->gpr[RAX] & 0xff, 0x66);
    assert_int_equal(cpu->gpr[RSI], 0x20003);
    assert_int_equal(cpu->gpr[RCX], 0);
}

/* ---- CMPS / SCAS ---- */

static void test_repe_cmpsb_stops_at_difference(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    memcpy(f->ram + 0x20000, "abcdefgh", 8);
    memcpy(f->ram + 0x30000, "abcdXfgh", 8);
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RDI] = 0x30000;
    cpu->gpr[RCX] = 8;
    /* Elements 0..4 are compared; 'e' - 'X' is positive: ZF = CF = 0. */
    assert_int_equal(EXEC(cpu, 0xf3, 0xa6), -1);
    assert_int_equal(cpu->gpr[RCX], 3);
    assert_int_equal(cpu->gpr[RSI], 0x20005);
    assert_int_equal(cpu->gpr[RDI], 0x30005);
    uint64_t fl = rflags(cpu);
    assert_int_equal(fl & (FLAG_ZF | FLAG_CF | FLAG_SF), 0);
    /* The rest is equal: REPE runs to RCX = 0 with ZF = 1. */
    assert_int_equal(EXEC(cpu, 0xf3, 0xa6), -1);
    assert_int_equal(cpu->gpr[RCX], 0);
    assert_int_equal(cpu->gpr[RSI], 0x20008);
    assert_true(rflags(cpu) & FLAG_ZF);
}

static void test_repne_cmpsw_and_flags(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    const uint16_t a[4] = { 1, 2, 3, 4 }, b[4] = { 9, 9, 3, 9 };
    memcpy(f->ram + 0x20000, a, sizeof(a));
    memcpy(f->ram + 0x30000, b, sizeof(b));
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RDI] = 0x30000;
    cpu->gpr[RCX] = 4;
    /* repne cmpsw stops at the first equal pair, element 2 */
    assert_int_equal(EXEC(cpu, 0xf2, 0x66, 0xa7), -1);
    assert_int_equal(cpu->gpr[RCX], 1);
    assert_int_equal(cpu->gpr[RSI], 0x20006);
    assert_int_equal(cpu->gpr[RDI], 0x30006);
    assert_true(rflags(cpu) & FLAG_ZF);
    /* cmpsw, one element: 4 - 9 borrows, negative: CF = SF = 1 */
    assert_int_equal(EXEC(cpu, 0x66, 0xa7), -1);
    uint64_t fl = rflags(cpu);
    assert_int_equal(fl & (FLAG_ZF | FLAG_CF | FLAG_SF | FLAG_OF),
                     FLAG_CF | FLAG_SF);
    assert_int_equal(cpu->gpr[RCX], 1);
}

static void test_repne_scasb_strlen(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    memcpy(f->ram + 0x20ffd, "hello", 6);   /* crosses a page */
    cpu->gpr[RAX] = 0x4100;                 /* AL = 0 */
    cpu->gpr[RDI] = 0x20ffd;
    cpu->gpr[RCX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0xf2, 0xae), -1);
    /* six elements scanned, the NUL included */
    assert_int_equal(cpu->gpr[RCX], ~0ull - 6);
    assert_int_equal(cpu->gpr[RDI], 0x20ffd + 6);
    assert_true(rflags(cpu) & FLAG_ZF);
    /* repe scasq over equal qwords, then a different one */
    uint64_t q[3] = { 7, 7, 8 };
    memcpy(f->ram + 0x22000, q, sizeof(q));
    cpu->gpr[RAX] = 7;
    cpu->gpr[RDI] = 0x22000;
    cpu->gpr[RCX] = 100;
    assert_int_equal(EXEC(cpu, 0xf3, 0x48, 0xaf), -1);
    assert_int_equal(cpu->gpr[RCX], 97);
    assert_int_equal(cpu->gpr[RDI], 0x22018);
    assert_int_equal(rflags(cpu) & (FLAG_ZF | FLAG_CF), FLAG_CF);
}

static void test_rep_cmps_count_zero_keeps_flags(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_ZF | FLAG_CF);
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RDI] = 0x30000;
    cpu->gpr[RCX] = 0;
    assert_int_equal(EXEC(cpu, 0xf3, 0xa6), -1);
    assert_int_equal(rflags(cpu) & FLAGS_ARITH, FLAG_ZF | FLAG_CF);
    assert_int_equal(cpu->gpr[RSI], 0x20000);
}

/* ---- port I/O ---- */

static void test_in_out(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->gpr[RAX] = 0xffffffff12345678ull;
    cpu->gpr[RDX] = 0x3f8;
    assert_int_equal(EXEC(cpu, 0xee), -1);          /* out dx, al */
    assert_int_equal(EXEC(cpu, 0xe7, 0xf4), -1);    /* out 0xf4, eax */
    assert_int_equal(f->nio, 2);
    assert_int_equal(f->io[0].port, 0x3f8);
    assert_int_equal(f->io[0].size, 1);
    assert_int_equal(f->io[0].val, 0x78);
    assert_true(f->io[0].write);
    assert_int_equal(f->io[1].port, 0xf4);
    assert_int_equal(f->io[1].size, 4);
    assert_int_equal(f->io[1].val, 0x12345678);
    /* in eax, dx zero-extends; in ax, 0x80 merges */
    f->next_in = 0x89abcdef;
    assert_int_equal(EXEC(cpu, 0xed), -1);
    assert_int_equal(cpu->gpr[RAX], 0x89abcdefull);
    f->next_in = 0x4321;
    assert_int_equal(EXEC(cpu, 0x66, 0xe5, 0x80), -1);
    assert_int_equal(cpu->gpr[RAX], 0x89ab4321ull);
    assert_int_equal(f->io[3].port, 0x80);
    assert_int_equal(f->io[3].size, 2);
    assert_false(f->io[3].write);
}

static void test_rep_ins_outs(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    memcpy(f->ram + 0x20000, "xyz", 3);
    cpu->gpr[RDX] = 0xe9;
    cpu->gpr[RSI] = 0x20000;
    cpu->gpr[RCX] = 3;
    assert_int_equal(EXEC(cpu, 0xf3, 0x6e), -1);    /* rep outsb */
    assert_int_equal(f->nio, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(f->io[i].port, 0xe9);
        assert_int_equal(f->io[i].val, (uint8_t)"xyz"[i]);
    }
    assert_int_equal(cpu->gpr[RSI], 0x20003);
    assert_int_equal(cpu->gpr[RCX], 0);
    /* rep insw: values 0x11, 0x12 from the port, stored at ES:RDI */
    f->next_in = 0x11;
    cpu->gpr[RDI] = 0x30000;
    cpu->gpr[RCX] = 2;
    assert_int_equal(EXEC(cpu, 0xf3, 0x66, 0x6d), -1);
    assert_int_equal(*(uint32_t *)(f->ram + 0x30000), 0x00120011);
    assert_int_equal(cpu->gpr[RDI], 0x30004);
    assert_int_equal(f->io[4].size, 2);
}

static void test_ins_fault_does_not_read_port(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    page_table(f)[0x30] = 0;
    x86_tlb_flush(cpu);
    cpu->gpr[RDX] = 0x60;
    cpu->gpr[RDI] = 0x30000;
    assert_int_equal(EXEC(cpu, 0x6c), EXC_PF);      /* insb */
    assert_int_equal(f->nio, 0);
    assert_int_equal(cpu->gpr[RDI], 0x30000);
}

/* CPL 3 with IOPL 0: the TSS bitmap decides.  TSS at 0x6000, bitmap at
 * offset 0x68 covering ports 0..0x3ff, then the all-ones byte. */
static void enter_user_with_tss(struct fixture *f, uint32_t limit)
{
    struct cpu *cpu = &f->cpu;
    memset(f->ram + 0x6068, 0xff, 0x81);
    *(uint16_t *)(f->ram + 0x6066) = 0x68;
    f->ram[0x6068 + 0x3f8 / 8] = 0xfe;      /* only port 0x3f8 allowed */
    cpu->tr = (struct x86_seg){ 0x28, 0x8b, limit, 0x6000 };
    cpu->seg[SEG_CS].sel = 0x33;
    x86_set_rflags(cpu, FLAGS_FIXED1);       /* IOPL = 0 */
    x86_update_mode(cpu);
    assert_int_equal(cpu->cpl, 3);
}

static void test_io_permission_bitmap(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    enter_user_with_tss(f, 0x68 + 0x80);
    cpu->gpr[RDX] = 0x3f8;
    assert_int_equal(EXEC(cpu, 0xee), -1);          /* out dx, al: allowed */
    assert_int_equal(f->nio, 1);
    /* out dx, ax touches 0x3f8 and 0x3f9: denied, no access */
    assert_int_equal(EXEC(cpu, 0x66, 0xef), EXC_GP);
    assert_int_equal(cpu->pending_err, 0);
    assert_int_equal(f->nio, 1);
    /* in al, 0x80: bit set */
    assert_int_equal(EXEC(cpu, 0xe4, 0x80), EXC_GP);
    /* rep outsb to a denied port faults before any element */
    cpu->gpr[RDX] = 0x3f9;
    cpu->gpr[RCX] = 4;
    cpu->gpr[RSI] = 0x20000;
    assert_int_equal(EXEC(cpu, 0xf3, 0x6e), EXC_GP);
    assert_int_equal(cpu->gpr[RCX], 4);
    assert_int_equal(f->nio, 1);
    /* IOPL = 3: no bitmap check */
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_IOPL);
    assert_int_equal(EXEC(cpu, 0xe4, 0x80), -1);
    assert_int_equal(f->nio, 2);
}

static void test_io_bitmap_beyond_tss_limit(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* The limit covers the bitmap bytes for ports 0..0x3ff only: the two
     * bytes for port 0x400 lie beyond it. */
    enter_user_with_tss(f, 0x68 + 0x80);
    memset(f->ram + 0x6068, 0, 0x81);
    cpu->gpr[RDX] = 0x3f0;
    assert_int_equal(EXEC(cpu, 0xec), -1);
    cpu->gpr[RDX] = 0x400;
    assert_int_equal(EXEC(cpu, 0xec), EXC_GP);
    /* a TSS too short to hold the bitmap base: #GP */
    cpu->tr.limit = 0x50;
    cpu->gpr[RDX] = 0x3f0;
    assert_int_equal(EXEC(cpu, 0xec), EXC_GP);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_rep_movsb_forward),
        T(test_rep_movsb_df_backwards),
        T(test_rep_movs_overlap_replicates),
        T(test_rep_movs_through_aliased_pages),
        T(test_rep_movsq_unaligned_across_pages),
        T(test_movs_single_and_segment_override),
        T(test_rep_movsb_page_fault_mid_run),
        T(test_rep_stosd_write_fault_mid_run),
        T(test_long_rep_is_interruptible),
        T(test_addr32_zero_extends_and_count0),
        T(test_addr32_wraps_at_4g),
        T(test_lods_stos_sizes),
        T(test_repe_cmpsb_stops_at_difference),
        T(test_repne_cmpsw_and_flags),
        T(test_repne_scasb_strlen),
        T(test_rep_cmps_count_zero_keeps_flags),
        T(test_in_out),
        T(test_rep_ins_outs),
        T(test_ins_fault_does_not_read_port),
        T(test_io_permission_bitmap),
        T(test_io_bitmap_beyond_tss_limit),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
