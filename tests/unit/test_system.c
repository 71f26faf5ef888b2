/* Unit tests: system instructions (system.c, control.c, segment.c, desc.c,
 * far.c, syscall.c).
 *
 * Each test decodes real instruction bytes with x86_decode and executes
 * them once with x86_exec_insn on a CPU in 64-bit mode with identity
 * paging (user-accessible), a GDT laid out like the guest library's, an
 * IDT and a TSS.  Expected values come from the APM's pseudocode, worked
 * by hand in the comments, or from the host CPU (an AMD EPYC) where
 * noted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "x86/decode.h"

#define RAM_SIZE  (1u << 20)
#define PT_BASE   0xf0000u   /* PML4, PDPT, PD, PT: identity map of 2 MiB */
#define GDT_BASE  0x2000u
#define IDT_BASE  0x3000u
#define TSS_BASE  0x4800u
#define SCRATCH   0x5000u
#define CODE_RIP  0x10000u   /* instructions are decoded from host bytes */
#define KSTACK    0x8000u
#define USTACK    0x7000u
#define RSP0      0x6800u    /* TSS.RSP0 */
#define HANDLER   0x9000u

/* GDT selectors (as guest/lib/boot.S, plus a few for fault cases). */
enum {
    KCODE64 = 0x08, KDATA = 0x10, UCODE32 = 0x18, UDATA = 0x20,
    UCODE64 = 0x28, TSS_SEL = 0x30, KCODE32 = 0x40, KDATA_NP = 0x48,
    KCODE64_NA = 0x50, KCODE_LD = 0x58,
};

static const uint64_t gdt[] = {
    0,
    0x00af9b000000ffffull,   /* 0x08 kernel code, 64-bit */
    0x00cf93000000ffffull,   /* 0x10 kernel data */
    0x00cffb000000ffffull,   /* 0x18 user code, 32-bit */
    0x00cff3000000ffffull,   /* 0x20 user data */
    0x00affb000000ffffull,   /* 0x28 user code, 64-bit */
    0x0000890048000067ull,   /* 0x30 available 64-bit TSS at 0x4800 */
    0,                       /*      (upper half: base 63:32 = 0) */
    0x00cf9b000000ffffull,   /* 0x40 kernel code, 32-bit */
    0x00cf13000000ffffull,   /* 0x48 kernel data, not present */
    0x00af9a000000ffffull,   /* 0x50 kernel code, 64-bit, not accessed */
    0x00ef9b000000ffffull,   /* 0x58 kernel code with L and D: reserved */
};

struct fixture {
    struct cpu cpu;
    uint8_t ram[RAM_SIZE];
};

static uint64_t rd(struct fixture *f, uint64_t pa, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, f->ram + pa, size);
    return v;
}

static void wr(struct fixture *f, uint64_t pa, unsigned size, uint64_t v)
{
    memcpy(f->ram + pa, &v, size);
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

/* 64-bit interrupt gates to HANDLER: 0x80 with DPL 3, 0x81 and 3 with
 * DPL 0 and 3. */
static void set_gate(struct fixture *f, unsigned vec, unsigned dpl)
{
    uint64_t lo = (HANDLER & 0xffff) | ((uint64_t)KCODE64 << 16) |
                  ((uint64_t)(0x8e | dpl << 5) << 40) |
                  ((uint64_t)(HANDLER >> 16) << 48);
    wr(f, IDT_BASE + vec * 16, 8, lo);
    wr(f, IDT_BASE + vec * 16 + 8, 8, 0);
}

static void seg_set(struct cpu *cpu, int s, uint16_t sel, uint16_t attrib)
{
    cpu->seg[s] = (struct x86_seg){ sel, attrib, 0xffffffff, 0 };
}

/* Long mode, CPL 0, paging on (identity), flat segments. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct x86_bus bus = { 0 };
    if (!f || x86_cpu_init(&f->cpu, f->ram, RAM_SIZE, &bus))
        return -1;
    struct cpu *cpu = &f->cpu;
    map_identity(f);
    memcpy(f->ram + GDT_BASE, gdt, sizeof gdt);
    set_gate(f, 0x80, 3);
    set_gate(f, 0x81, 0);
    set_gate(f, EXC_BP, 3);
    wr(f, TSS_BASE + 4, 8, RSP0);
    cpu->gdtr = (struct x86_dtable){ GDT_BASE, sizeof gdt - 1 };
    cpu->idtr = (struct x86_dtable){ IDT_BASE, 256 * 16 - 1 };
    cpu->tr = (struct x86_seg){ TSS_SEL, 0x8b, 0x67, TSS_BASE };
    cpu->cr4 = CR4_PAE;
    cpu->cr3 = PT_BASE;
    cpu->efer = EFER_LME | EFER_LMA;
    cpu->cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE;
    for (int s = 0; s < 6; s++)
        seg_set(cpu, s, KDATA, 0x93 | SEG_ATTR_DB | SEG_ATTR_G);
    seg_set(cpu, SEG_CS, KCODE64, 0x9b | SEG_ATTR_L | SEG_ATTR_G);
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
    cpu->rip = CODE_RIP;
    cpu->gpr[RSP] = KSTACK;
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

/* CPL 3 in 64-bit mode, user stack. */
static void enter_user(struct cpu *cpu)
{
    seg_set(cpu, SEG_CS, UCODE64 | 3, 0xfb | SEG_ATTR_L | SEG_ATTR_G);
    seg_set(cpu, SEG_SS, UDATA | 3, 0xf3 | SEG_ATTR_DB | SEG_ATTR_G);
    x86_update_mode(cpu);
    cpu->gpr[RSP] = USTACK;
}

/* Decode bytes for the CPU's mode and execute them once.  Returns -1 or
 * the vector of the exception raised. */
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

/* Far JMP/CALL/RET share Zydis mnemonics with the near forms; until the
 * decoder routes them, run the far handler on the decoded operands. */
static int exec_far(struct cpu *cpu, insn_fn fn, const uint8_t *code, size_t len)
{
    struct insn in;
    assert_true(x86_decode(cpu, code, len, &in));
    in.exec = fn;
    return x86_exec_insn(cpu, &in);
}
#define EXEC_FAR(cpu, fn, ...)                                              \
    exec_far((cpu), (fn), (const uint8_t[]){ __VA_ARGS__ },                 \
             sizeof((const uint8_t[]){ __VA_ARGS__ }))

#define assert_fault(res, cpu, vec, err)                                    \
    do {                                                                    \
        assert_int_equal((res), (vec));                                     \
        assert_int_equal((cpu)->pending_err, (err));                        \
    } while (0)

/* ---- control and debug registers ---- */

static void test_mov_cr_privilege(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    uint64_t cr0 = cpu->cr0;
    enter_user(cpu);
    cpu->gpr[RAX] = 0;
    assert_fault(EXEC(cpu, 0x0f, 0x22, 0xc0), cpu, EXC_GP, 0);  /* mov cr0, rax */
    assert_fault(EXEC(cpu, 0x0f, 0x20, 0xc0), cpu, EXC_GP, 0);  /* mov rax, cr0 */
    assert_int_equal(cpu->cr0, cr0);
    assert_int_equal(cpu->rip, CODE_RIP);
}

static void test_mov_cr_read_write(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* mov rax, cr0: all 64 bits */
    assert_int_equal(EXEC(cpu, 0x0f, 0x20, 0xc0), -1);
    assert_int_equal(cpu->gpr[RAX], CR0_PE | CR0_PG | CR0_ET | CR0_NE);
    /* mov cr8, rax / mov rcx, cr8: the TPR in bits 3:0 */
    cpu->gpr[RAX] = 5;
    assert_int_equal(EXEC(cpu, 0x44, 0x0f, 0x22, 0xc0), -1);
    assert_int_equal(EXEC(cpu, 0x44, 0x0f, 0x20, 0xc1), -1);
    assert_int_equal(cpu->gpr[RCX], 5);
    /* bits 63:4 of CR8 are reserved: #GP(0) */
    cpu->gpr[RAX] = 0x10;
    assert_fault(EXEC(cpu, 0x44, 0x0f, 0x22, 0xc0), cpu, EXC_GP, 0);
    /* mov cr2, rax holds any 64-bit value */
    cpu->gpr[RAX] = 0xffff800000001234ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x22, 0xd0), -1);
    assert_int_equal(cpu->cr2, 0xffff800000001234ull);
}

static void test_lmsw_smsw_clts(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* lmsw ax with PE clear: LMSW cannot leave protected mode; MP EM TS set */
    cpu->gpr[RAX] = 0xfffe;
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0xf0), -1);
    assert_int_equal(cpu->cr0, CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_PG |
                                   CR0_ET | CR0_NE);
    /* clts */
    assert_int_equal(EXEC(cpu, 0x0f, 0x06), -1);
    assert_false(cpu->cr0 & CR0_TS);
    /* smsw eax: all of CR0[31:0] (host: 0x80050033 with CR0 = 0x80050033) */
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0xe0), -1);
    assert_int_equal(cpu->gpr[RAX], (uint32_t)cpu->cr0);
    /* smsw [0x5000]: 16 bits */
    wr(f, SCRATCH, 8, ~0ull);
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0x24, 0x25, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(rd(f, SCRATCH, 8), 0xffffffffffff0000ull | (cpu->cr0 & 0xffff));
    /* smsw is not privileged (no UMIP); lmsw and clts are */
    enter_user(cpu);
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0xe0), -1);
    assert_fault(EXEC(cpu, 0x0f, 0x01, 0xf0), cpu, EXC_GP, 0);
    assert_fault(EXEC(cpu, 0x0f, 0x06), cpu, EXC_GP, 0);
}

static void test_mov_dr(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* DR6: bits 31:16 and 11:4 read as 1 */
    cpu->gpr[RAX] = 0;
    assert_int_equal(EXEC(cpu, 0x0f, 0x23, 0xf0), -1);          /* mov dr6, rax */
    assert_int_equal(EXEC(cpu, 0x0f, 0x21, 0xf1), -1);          /* mov rcx, dr6 */
    assert_int_equal(cpu->gpr[RCX], 0xffff0ff0);
    /* DR4 is DR6 while CR4.DE is clear */
    cpu->gpr[RAX] = 0xf;
    assert_int_equal(EXEC(cpu, 0x0f, 0x23, 0xe0), -1);          /* mov dr4, rax */
    assert_int_equal(EXEC(cpu, 0x0f, 0x21, 0xf1), -1);
    assert_int_equal(cpu->gpr[RCX], 0xffff0fff);
    /* DR7: bit 10 reads as 1; bits 63:32 must be zero */
    cpu->gpr[RAX] = 0;
    assert_int_equal(EXEC(cpu, 0x0f, 0x23, 0xf8), -1);          /* mov dr7, rax */
    assert_int_equal(EXEC(cpu, 0x0f, 0x21, 0xf9), -1);
    assert_int_equal(cpu->gpr[RCX], 0x400);
    cpu->gpr[RAX] = 1ull << 32;
    assert_fault(EXEC(cpu, 0x0f, 0x23, 0xf8), cpu, EXC_GP, 0);
    /* DR0 takes 64 bits */
    cpu->gpr[RAX] = 0xffff800000000000ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x23, 0xc0), -1);
    assert_int_equal(cpu->dr[0], 0xffff800000000000ull);
    /* with CR4.DE, DR4/DR5 are #UD */
    cpu->cr4 |= CR4_DE;
    assert_int_equal(EXEC(cpu, 0x0f, 0x21, 0xe8), EXC_UD);      /* mov rax, dr5 */
    cpu->cr4 &= ~CR4_DE;
    enter_user(cpu);
    assert_fault(EXEC(cpu, 0x0f, 0x21, 0xc0), cpu, EXC_GP, 0);
}

/* ---- descriptor tables ---- */

static void test_lgdt_sgdt_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* 10-byte operand in 64-bit mode: limit, then a 64-bit base */
    wr(f, SCRATCH, 2, 0x1234);
    wr(f, SCRATCH + 2, 8, 0xffff800012345678ull);
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0x14, 0x25, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->gdtr.limit, 0x1234);
    assert_int_equal(cpu->gdtr.base, 0xffff800012345678ull);
    wr(f, SCRATCH + 0x100, 8, 0);
    wr(f, SCRATCH + 0x108, 8, ~0ull);
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0x04, 0x25, 0x00, 0x51, 0, 0), -1);
    assert_memory_equal(f->ram + SCRATCH + 0x100, f->ram + SCRATCH, 10);
    assert_int_equal(rd(f, SCRATCH + 0x10a, 2), 0xffff);        /* untouched */
    /* lidt, sidt */
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0x1c, 0x25, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->idtr.base, 0xffff800012345678ull);
    /* a non-canonical base is #GP(0), GDTR unchanged */
    wr(f, SCRATCH + 2, 8, 0x0000800000000000ull);
    assert_fault(EXEC(cpu, 0x0f, 0x01, 0x14, 0x25, 0x00, 0x50, 0, 0), cpu, EXC_GP, 0);
    assert_int_equal(cpu->gdtr.base, 0xffff800012345678ull);
}

static void test_dtable_privilege(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    enter_user(cpu);
    /* SGDT/SIDT work at CPL 3 (no UMIP); LGDT/LIDT are #GP(0) */
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0x0c, 0x25, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(rd(f, SCRATCH, 2), 256 * 16 - 1);
    assert_int_equal(rd(f, SCRATCH + 2, 8), IDT_BASE);
    assert_fault(EXEC(cpu, 0x0f, 0x01, 0x14, 0x25, 0x00, 0x50, 0, 0), cpu, EXC_GP, 0);
    assert_fault(EXEC(cpu, 0x0f, 0x01, 0x1c, 0x25, 0x00, 0x50, 0, 0), cpu, EXC_GP, 0);
    assert_int_equal(cpu->gdtr.base, GDT_BASE);
}

static void test_ltr_marks_busy(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->tr = (struct x86_seg){ 0 };
    cpu->gpr[RAX] = TSS_SEL;
    assert_int_equal(EXEC(cpu, 0x0f, 0x00, 0xd8), -1);          /* ltr ax */
    assert_int_equal(cpu->tr.sel, TSS_SEL);
    assert_int_equal(cpu->tr.base, TSS_BASE);
    assert_int_equal(cpu->tr.limit, 0x67);
    assert_int_equal(SEG_ATTR_TYPE(cpu->tr.attrib), 0xb);
    assert_int_equal(rd(f, GDT_BASE + TSS_SEL + 5, 1), 0x8b);   /* busy in the GDT */
    /* a busy TSS cannot be loaded: #GP(sel) */
    assert_fault(EXEC(cpu, 0x0f, 0x00, 0xd8), cpu, EXC_GP, TSS_SEL);
    /* nor a data segment, nor null */
    cpu->gpr[RAX] = KDATA;
    assert_fault(EXEC(cpu, 0x0f, 0x00, 0xd8), cpu, EXC_GP, KDATA);
    cpu->gpr[RAX] = 0;
    assert_fault(EXEC(cpu, 0x0f, 0x00, 0xd8), cpu, EXC_GP, 0);
    /* str eax: the selector, zero-extended */
    cpu->gpr[RAX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x00, 0xc8), -1);
    assert_int_equal(cpu->gpr[RAX], TSS_SEL);
    enter_user(cpu);
    assert_fault(EXEC(cpu, 0x0f, 0x00, 0xd8), cpu, EXC_GP, 0);
}

static void test_lldt_null_and_sldt(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0;
    assert_int_equal(EXEC(cpu, 0x0f, 0x00, 0xd0), -1);          /* lldt ax */
    assert_int_equal(cpu->ldtr.sel, 0);
    cpu->gpr[RCX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x00, 0xc1), -1);          /* sldt ecx */
    assert_int_equal(cpu->gpr[RCX], 0);
    /* a code segment is not an LDT: #GP(sel) */
    cpu->gpr[RAX] = KCODE64;
    assert_fault(EXEC(cpu, 0x0f, 0x00, 0xd0), cpu, EXC_GP, KCODE64);
    /* an LDT selector through the LDT is refused too */
    cpu->gpr[RAX] = 0x0c;
    assert_fault(EXEC(cpu, 0x0f, 0x00, 0xd0), cpu, EXC_GP, 0x0c);
}

/* Host values (AMD EPYC, Linux GDT): LAR of a flat 32-bit DPL 3 code
 * segment gives 0x00cffb00, LSL 0xffffffff; LAR of a null or
 * inaccessible selector clears ZF and leaves the destination unwritten,
 * even a 32-bit one. */
static void test_lar_lsl_verr_verw(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    enter_user(cpu);
    cpu->gpr[RCX] = UCODE32 | 3;
    cpu->gpr[RAX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x02, 0xc1), -1);          /* lar eax, ecx */
    assert_int_equal(cpu->gpr[RAX], 0x00cffb00);
    assert_true(x86_get_rflags(cpu) & FLAG_ZF);
    assert_int_equal(EXEC(cpu, 0x0f, 0x03, 0xc1), -1);          /* lsl eax, ecx */
    assert_int_equal(cpu->gpr[RAX], 0xffffffff);
    /* lar ax, cx: 16 bits merged (host: 0xfb00) */
    cpu->gpr[RAX] = 0xdeadbeefcafebabeull;
    assert_int_equal(EXEC(cpu, 0x66, 0x0f, 0x02, 0xc1), -1);
    assert_int_equal(cpu->gpr[RAX], 0xdeadbeefcafefb00ull);
    /* DPL 0 data at CPL 3: not visible */
    cpu->gpr[RCX] = KDATA;
    cpu->gpr[RAX] = 0xdeadbeefcafebabeull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x02, 0xc1), -1);
    assert_false(x86_get_rflags(cpu) & FLAG_ZF);
    assert_int_equal(cpu->gpr[RAX], 0xdeadbeefcafebabeull);
    /* null selector */
    cpu->gpr[RCX] = 0;
    assert_int_equal(EXEC(cpu, 0x0f, 0x03, 0xc1), -1);
    assert_false(x86_get_rflags(cpu) & FLAG_ZF);
    /* verr/verw (host: user data both, user code readable only) */
    cpu->gpr[RAX] = UDATA | 3;
    assert_int_equal(EXEC(cpu, 0x0f, 0x00, 0xe8), -1);          /* verw ax */
    assert_true(x86_get_rflags(cpu) & FLAG_ZF);
    cpu->gpr[RAX] = UCODE64 | 3;
    assert_int_equal(EXEC(cpu, 0x0f, 0x00, 0xe8), -1);
    assert_false(x86_get_rflags(cpu) & FLAG_ZF);
    assert_int_equal(EXEC(cpu, 0x0f, 0x00, 0xe0), -1);          /* verr ax */
    assert_true(x86_get_rflags(cpu) & FLAG_ZF);
}

static void test_mov_sreg(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* mov eax, ss: zero-extended (host: 0x2b in RAX from all-ones) */
    cpu->gpr[RAX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x8c, 0xd0), -1);
    assert_int_equal(cpu->gpr[RAX], KDATA);
    /* mov ax, ss: 16 bits merged */
    cpu->gpr[RAX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x66, 0x8c, 0xd0), -1);
    assert_int_equal(cpu->gpr[RAX], 0xffffffffffff0000ull | KDATA);
    /* mov ss, ax opens the interrupt shadow for one instruction */
    uint64_t icount = cpu->icount;
    assert_int_equal(EXEC(cpu, 0x8e, 0xd0), -1);
    assert_int_equal(cpu->seg[SEG_SS].sel, KDATA);
    assert_int_equal(cpu->shadow_until, icount + 1);
    /* mov ds, ax with a not-present segment: #NP(sel) */
    cpu->gpr[RAX] = KDATA_NP;
    assert_fault(EXEC(cpu, 0x8e, 0xd8), cpu, EXC_NP, KDATA_NP);
}

/* ---- far transfers ---- */

static void test_far_jmp(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* jmp far [0x5000] (m16:32) to 32-bit kernel code: compatibility mode */
    wr(f, SCRATCH, 4, 0x11000);
    wr(f, SCRATCH + 4, 2, KCODE32);
    assert_int_equal(EXEC_FAR(cpu, x86_op_jmp_far, 0xff, 0x2c, 0x25, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->seg[SEG_CS].sel, KCODE32);
    assert_int_equal(cpu->mode, MODE_COMPAT32);
    assert_int_equal(cpu->rip, 0x11000);
    /* back with jmp far [0x5000] to a 64-bit segment never accessed: the
     * CPU sets the accessed bit in the GDT */
    wr(f, SCRATCH + 4, 2, KCODE64_NA);
    assert_int_equal(EXEC_FAR(cpu, x86_op_jmp_far, 0xff, 0x2d, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->mode, MODE_LONG64);
    assert_int_equal(rd(f, GDT_BASE + KCODE64_NA + 5, 1), 0x9b);
    /* a data segment, L+D, DPL 3 non-conforming code: #GP(sel) */
    static const uint16_t bad[] = { KDATA, KCODE_LD, UCODE64 };
    for (unsigned i = 0; i < 3; i++) {
        wr(f, SCRATCH + 4, 2, bad[i]);
        assert_fault(EXEC_FAR(cpu, x86_op_jmp_far, 0xff, 0x2c, 0x25, 0x00, 0x50, 0, 0),
                     cpu, EXC_GP, bad[i]);
    }
    assert_int_equal(cpu->seg[SEG_CS].sel, KCODE64_NA);
}

static void test_far_call_and_retf(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* rex.w call far [0x5000] (m16:64): pushes CS, then RIP, 8 bytes each */
    wr(f, SCRATCH, 8, 0x11000);
    wr(f, SCRATCH + 8, 2, KCODE64);
    wr(f, KSTACK - 8, 8, ~0ull);
    assert_int_equal(EXEC_FAR(cpu, x86_op_call_far, 0x48, 0xff, 0x1c, 0x25, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(cpu->gpr[RSP], KSTACK - 16);
    assert_int_equal(rd(f, KSTACK - 8, 8), KCODE64);
    assert_int_equal(rd(f, KSTACK - 16, 8), CODE_RIP + 8);
    /* rex.w retf */
    assert_int_equal(EXEC_FAR(cpu, x86_op_ret_far, 0x48, 0xcb), -1);
    assert_int_equal(cpu->rip, CODE_RIP + 8);
    assert_int_equal(cpu->gpr[RSP], KSTACK);
    /* retf (32-bit operand size by default) to 32-bit code, with imm16 */
    wr(f, KSTACK, 4, 0x12000);
    wr(f, KSTACK + 4, 4, KCODE32);
    assert_int_equal(EXEC_FAR(cpu, x86_op_ret_far, 0xca, 0x10, 0x00), -1);
    assert_int_equal(cpu->mode, MODE_COMPAT32);
    assert_int_equal(cpu->rip, 0x12000);
    assert_int_equal(cpu->gpr[RSP], KSTACK + 8 + 16);
}

/* RETF to CPL 3: pops RIP, CS, skips imm16 bytes, pops RSP, SS; the new
 * RSP also gets imm16 added.  DS (DPL 0) becomes null. */
static void test_retf_to_user(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t sp = KSTACK - 48;
    cpu->gpr[RSP] = sp;
    wr(f, sp, 8, 0x11000);
    wr(f, sp + 8, 8, UCODE64 | 3);
    wr(f, sp + 32, 8, USTACK);
    wr(f, sp + 40, 8, UDATA | 3);
    assert_int_equal(EXEC_FAR(cpu, x86_op_ret_far, 0x48, 0xca, 0x10, 0x00), -1);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->seg[SEG_CS].sel, UCODE64 | 3);
    assert_int_equal(cpu->seg[SEG_SS].sel, UDATA | 3);
    assert_int_equal(cpu->gpr[RSP], USTACK + 16);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(cpu->seg[SEG_DS].sel, 0);
    /* an SS whose RPL differs from the new CPL: #GP(SS) */
    seg_set(cpu, SEG_CS, KCODE64, 0x9b | SEG_ATTR_L | SEG_ATTR_G);  /* CPL 0 */
    seg_set(cpu, SEG_SS, KDATA, 0x93 | SEG_ATTR_DB | SEG_ATTR_G);
    x86_update_mode(cpu);
    cpu->gpr[RSP] = sp;
    wr(f, sp + 40, 8, KDATA);
    assert_fault(EXEC_FAR(cpu, x86_op_ret_far, 0x48, 0xca, 0x10, 0x00), cpu, EXC_GP, KDATA);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->gpr[RSP], sp);
}

/* IRETQ from CPL 0 to CPL 3 loads CS, SS, RSP and RFLAGS as pushed. */
static void test_iretq_to_user(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t sp = KSTACK - 40;
    cpu->gpr[RSP] = sp;
    wr(f, sp, 8, 0x11000);
    wr(f, sp + 8, 8, UCODE64 | 3);
    wr(f, sp + 16, 8, FLAG_IF | FLAG_CF | FLAG_OF | FLAGS_FIXED1);
    wr(f, sp + 24, 8, USTACK);
    wr(f, sp + 32, 8, UDATA | 3);
    assert_int_equal(EXEC(cpu, 0x48, 0xcf), -1);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->mode, MODE_LONG64);
    assert_int_equal(cpu->seg[SEG_CS].sel, UCODE64 | 3);
    assert_int_equal(cpu->seg[SEG_SS].sel, UDATA | 3);
    assert_int_equal(SEG_ATTR_DPL(cpu->seg[SEG_SS].attrib), 3);
    assert_int_equal(cpu->gpr[RSP], USTACK);
    assert_int_equal(x86_get_rflags(cpu), FLAG_IF | FLAG_CF | FLAG_OF | FLAGS_FIXED1);
    assert_int_equal(cpu->seg[SEG_DS].sel, 0);
    assert_int_equal(cpu->seg[SEG_ES].sel, 0);
}

/* In 64-bit mode IRETQ pops SS:RSP even without a privilege change. */
static void test_iretq_same_privilege(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t sp = KSTACK - 40;
    cpu->gpr[RSP] = sp;
    wr(f, sp, 8, 0x11000);
    wr(f, sp + 8, 8, KCODE64);
    wr(f, sp + 16, 8, FLAGS_FIXED1 | FLAG_IOPL);
    wr(f, sp + 24, 8, 0x7800);
    wr(f, sp + 32, 8, 0);          /* null SS is fine at CPL 0 */
    assert_int_equal(EXEC(cpu, 0x48, 0xcf), -1);
    assert_int_equal(cpu->gpr[RSP], 0x7800);
    assert_int_equal(cpu->seg[SEG_SS].sel, 0);
    assert_int_equal(x86_get_rflags(cpu), FLAGS_FIXED1 | FLAG_IOPL);
    assert_int_equal(cpu->seg[SEG_DS].sel, KDATA);
}

static void test_iret_faults(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t sp = KSTACK - 40;
    cpu->gpr[RSP] = sp;
    wr(f, sp, 8, 0x11000);
    wr(f, sp + 16, 8, FLAGS_FIXED1);
    wr(f, sp + 24, 8, USTACK);
    wr(f, sp + 32, 8, UDATA | 3);
    /* CS names a data segment */
    wr(f, sp + 8, 8, KDATA);
    assert_fault(EXEC(cpu, 0x48, 0xcf), cpu, EXC_GP, KDATA);
    /* non-canonical RIP into 64-bit code */
    wr(f, sp, 8, 0x0000800000000000ull);
    wr(f, sp + 8, 8, UCODE64 | 3);
    assert_fault(EXEC(cpu, 0x48, 0xcf), cpu, EXC_GP, 0);
    /* null SS to CPL 3 */
    wr(f, sp, 8, 0x11000);
    wr(f, sp + 32, 8, 3);
    assert_fault(EXEC(cpu, 0x48, 0xcf), cpu, EXC_GP, 0);
    assert_int_equal(cpu->gpr[RSP], sp);
    assert_int_equal(cpu->cpl, 0);
    /* from CPL 3, a return to CPL 0 is refused: #GP(CS) */
    enter_user(cpu);
    cpu->gpr[RSP] = sp;
    wr(f, sp + 8, 8, KCODE64);
    assert_fault(EXEC(cpu, 0x48, 0xcf), cpu, EXC_GP, KCODE64);
}

/* ---- RFLAGS ---- */

static void test_popf_user_keeps_if_and_iopl(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    enter_user(cpu);
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_IF);
    cpu->gpr[RSP] = USTACK - 8;
    wr(f, USTACK - 8, 8, FLAGS_FIXED1 | FLAG_IOPL | FLAG_CF | FLAG_DF | FLAG_AC);
    assert_int_equal(EXEC(cpu, 0x9d), -1);                     /* popfq */
    /* IF stays set, IOPL stays 0; CF, DF, AC are loaded */
    assert_int_equal(x86_get_rflags(cpu),
                     FLAGS_FIXED1 | FLAG_IF | FLAG_CF | FLAG_DF | FLAG_AC);
    assert_int_equal(cpu->gpr[RSP], USTACK);
}

static void test_popf_kernel(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_IF);
    cpu->gpr[RSP] = KSTACK - 8;
    /* at CPL 0: IOPL and IF load; RF is cleared, VM never set */
    wr(f, KSTACK - 8, 8, FLAGS_FIXED1 | FLAG_IOPL | FLAG_RF | FLAG_VM | FLAG_ZF);
    assert_int_equal(EXEC(cpu, 0x9d), -1);
    assert_int_equal(x86_get_rflags(cpu), FLAGS_FIXED1 | FLAG_IOPL | FLAG_ZF);
    /* popf (66h): only bits 15:0 */
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_AC);
    cpu->gpr[RSP] = KSTACK - 2;
    wr(f, KSTACK - 2, 2, FLAGS_FIXED1 | FLAG_SF);
    assert_int_equal(EXEC(cpu, 0x66, 0x9d), -1);
    assert_int_equal(x86_get_rflags(cpu), FLAGS_FIXED1 | FLAG_AC | FLAG_SF);
    assert_int_equal(cpu->gpr[RSP], KSTACK);
}

static void test_pushf_image(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_RF | FLAG_IF | FLAG_CF);
    assert_int_equal(EXEC(cpu, 0x9c), -1);                     /* pushfq */
    assert_int_equal(cpu->gpr[RSP], KSTACK - 8);
    assert_int_equal(rd(f, KSTACK - 8, 8), FLAGS_FIXED1 | FLAG_IF | FLAG_CF);
    assert_int_equal(EXEC(cpu, 0x66, 0x9c), -1);               /* pushf */
    assert_int_equal(cpu->gpr[RSP], KSTACK - 10);
    assert_int_equal(rd(f, KSTACK - 10, 2), FLAGS_FIXED1 | FLAG_IF | FLAG_CF);
}

static void test_cli_sti(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* STI with IF clear: IF set, interrupts held off for one instruction */
    x86_set_rflags(cpu, FLAGS_FIXED1);
    uint64_t icount = cpu->icount;
    assert_int_equal(EXEC(cpu, 0xfb), -1);
    assert_true(cpu->rflags & FLAG_IF);
    assert_int_equal(cpu->shadow_until, icount + 1);
    /* CPL 3 with IOPL 0: #GP(0); with IOPL 3: allowed */
    enter_user(cpu);
    assert_fault(EXEC(cpu, 0xfa), cpu, EXC_GP, 0);
    assert_true(cpu->rflags & FLAG_IF);
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_IF | FLAG_IOPL);
    assert_int_equal(EXEC(cpu, 0xfa), -1);
    assert_false(cpu->rflags & FLAG_IF);
}

/* ---- SYSCALL/SYSRET ---- */

#define STAR_VALUE ((uint64_t)UCODE32 << 48 | (uint64_t)KCODE64 << 32)

static void test_syscall_sysret(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    enter_user(cpu);
    assert_int_equal(EXEC(cpu, 0x0f, 0x05), EXC_UD);           /* EFER.SCE = 0 */
    cpu->efer |= EFER_SCE;
    cpu->star = STAR_VALUE;
    cpu->lstar = 0x12000;
    cpu->sfmask = FLAG_TF | FLAG_IF | FLAG_DF;
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_IF | FLAG_DF | FLAG_CF);
    assert_int_equal(EXEC(cpu, 0x0f, 0x05), -1);
    assert_int_equal(cpu->gpr[RCX], CODE_RIP + 2);
    assert_int_equal(cpu->gpr[R11], FLAGS_FIXED1 | FLAG_IF | FLAG_DF | FLAG_CF);
    assert_int_equal(x86_get_rflags(cpu), FLAGS_FIXED1 | FLAG_CF);
    assert_int_equal(cpu->rip, 0x12000);
    assert_int_equal(cpu->seg[SEG_CS].sel, KCODE64);
    assert_int_equal(cpu->seg[SEG_SS].sel, KCODE64 + 8);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->mode, MODE_LONG64);

    /* sysretq: CS = STAR[63:48] + 16 | 3, SS = + 8 | 3, RFLAGS = R11 */
    cpu->gpr[RCX] = 0x11000;
    cpu->gpr[R11] = FLAGS_FIXED1 | FLAG_IF | FLAG_ZF | FLAG_RF;
    assert_int_equal(EXEC(cpu, 0x48, 0x0f, 0x07), -1);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(cpu->seg[SEG_CS].sel, UCODE64 | 3);
    assert_int_equal(cpu->seg[SEG_SS].sel, UDATA | 3);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->mode, MODE_LONG64);
    assert_int_equal(x86_get_rflags(cpu), FLAGS_FIXED1 | FLAG_IF | FLAG_ZF);
    /* sysret at CPL 3: #GP(0) */
    assert_fault(EXEC(cpu, 0x48, 0x0f, 0x07), cpu, EXC_GP, 0);
}

static void test_sysret_compat_and_noncanonical(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->efer |= EFER_SCE;
    cpu->star = STAR_VALUE;
    /* a non-canonical RCX for 64-bit mode: #GP(0), still at CPL 0 */
    cpu->gpr[RCX] = 0x0000800000000000ull;
    assert_fault(EXEC(cpu, 0x48, 0x0f, 0x07), cpu, EXC_GP, 0);
    assert_int_equal(cpu->cpl, 0);
    /* sysretl: compatibility mode at ECX, CS = STAR[63:48] | 3 */
    cpu->gpr[RCX] = 0xffffffff00011000ull;
    cpu->gpr[R11] = FLAGS_FIXED1;
    assert_int_equal(EXEC(cpu, 0x0f, 0x07), -1);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(cpu->seg[SEG_CS].sel, UCODE32 | 3);
    assert_int_equal(cpu->mode, MODE_COMPAT32);
    assert_int_equal(cpu->cpl, 3);
}

/* ---- CPUID, MSRs, time ---- */

static void test_cpuid_vendor(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0;
    cpu->gpr[RBX] = cpu->gpr[RCX] = cpu->gpr[RDX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0xa2), -1);
    char vendor[13];
    memcpy(vendor, &cpu->gpr[RBX], 4);
    memcpy(vendor + 4, &cpu->gpr[RDX], 4);
    memcpy(vendor + 8, &cpu->gpr[RCX], 4);
    vendor[12] = 0;
    assert_string_equal(vendor, "AuthenticAMD");
    assert_int_equal(cpu->gpr[RBX] >> 32, 0);
}

static void test_rdtsc(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* the TSC is icount + offset while the instruction runs */
    cpu->icount = 7;
    cpu->tsc_offset = 0x100000005ull;
    cpu->tsc_aux = 0x42;
    assert_int_equal(EXEC(cpu, 0x0f, 0x31), -1);
    assert_int_equal(cpu->gpr[RDX], 1);
    assert_int_equal(cpu->gpr[RAX], 0xc);
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0xf9), -1);         /* rdtscp */
    assert_int_equal(cpu->gpr[RAX], 0xd);
    assert_int_equal(cpu->gpr[RCX], 0x42);
    /* CR4.TSD at CPL 3: #GP(0) */
    enter_user(cpu);
    cpu->cr4 |= CR4_TSD;
    assert_fault(EXEC(cpu, 0x0f, 0x31), cpu, EXC_GP, 0);
    assert_fault(EXEC(cpu, 0x0f, 0x01, 0xf9), cpu, EXC_GP, 0);
    cpu->cr4 &= ~CR4_TSD;
    assert_int_equal(EXEC(cpu, 0x0f, 0x31), -1);
}

static void test_rdpmc(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RCX] = 3;
    cpu->gpr[RAX] = cpu->gpr[RDX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x33), -1);
    assert_int_equal(cpu->gpr[RAX], 0);
    assert_int_equal(cpu->gpr[RDX], 0);
    cpu->gpr[RCX] = 4;
    assert_fault(EXEC(cpu, 0x0f, 0x33), cpu, EXC_GP, 0);
    enter_user(cpu);
    cpu->gpr[RCX] = 0;
    assert_fault(EXEC(cpu, 0x0f, 0x33), cpu, EXC_GP, 0);
    cpu->cr4 |= CR4_PCE;
    assert_int_equal(EXEC(cpu, 0x0f, 0x33), -1);
}

static void test_msr(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* wrmsr / rdmsr LSTAR (0xc0000082) */
    cpu->gpr[RCX] = 0xc0000082;
    cpu->gpr[RDX] = 0xffff8000;
    cpu->gpr[RAX] = 0x12345678;
    assert_int_equal(EXEC(cpu, 0x0f, 0x30), -1);
    cpu->gpr[RAX] = cpu->gpr[RDX] = ~0ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x32), -1);
    assert_int_equal(cpu->gpr[RAX], 0x12345678);
    assert_int_equal(cpu->gpr[RDX], 0xffff8000);
    /* LSTAR must be canonical */
    cpu->gpr[RDX] = 0x8000;
    assert_fault(EXEC(cpu, 0x0f, 0x30), cpu, EXC_GP, 0);
    /* an MSR that does not exist */
    cpu->gpr[RCX] = 0x12345;
    assert_fault(EXEC(cpu, 0x0f, 0x32), cpu, EXC_GP, 0);
    /* CPL 3 */
    enter_user(cpu);
    cpu->gpr[RCX] = 0xc0000082;
    assert_fault(EXEC(cpu, 0x0f, 0x32), cpu, EXC_GP, 0);
}

/* ---- HLT, INVLPG, SWAPGS, FS/GS base ---- */

static void test_hlt(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    assert_int_equal(EXEC(cpu, 0xf4), -1);
    assert_true(cpu->halted);
    assert_int_equal(cpu->rip, CODE_RIP + 1);
    cpu->halted = false;
    enter_user(cpu);
    assert_fault(EXEC(cpu, 0xf4), cpu, EXC_GP, 0);
    assert_false(cpu->halted);
    /* invlpg [0x5000] at CPL 3 */
    assert_fault(EXEC(cpu, 0x0f, 0x01, 0x3c, 0x25, 0x00, 0x50, 0, 0), cpu, EXC_GP, 0);
}

static void test_swapgs_fsgsbase(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->seg[SEG_GS].base = 0x1000;
    cpu->kernel_gs_base = 0xffff800000002000ull;
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0xf8), -1);
    assert_int_equal(cpu->seg[SEG_GS].base, 0xffff800000002000ull);
    assert_int_equal(cpu->kernel_gs_base, 0x1000);
    /* gs: addresses use the new base */
    assert_int_equal(cpu->seg_lin_base[SEG_GS], 0xffff800000002000ull);
    /* wrfsbase rax: #UD without CR4.FSGSBASE */
    cpu->gpr[RAX] = 0x4000;
    assert_int_equal(EXEC(cpu, 0xf3, 0x48, 0x0f, 0xae, 0xd0), EXC_UD);
    cpu->cr4 |= CR4_FSGSBASE;
    assert_int_equal(EXEC(cpu, 0xf3, 0x48, 0x0f, 0xae, 0xd0), -1);
    assert_int_equal(cpu->seg[SEG_FS].base, 0x4000);
    assert_int_equal(cpu->seg_lin_base[SEG_FS], 0x4000);
    cpu->gpr[RAX] = 0x0000800000000000ull;
    assert_fault(EXEC(cpu, 0xf3, 0x48, 0x0f, 0xae, 0xd0), cpu, EXC_GP, 0);
    /* rdgsbase rcx */
    assert_int_equal(EXEC(cpu, 0xf3, 0x48, 0x0f, 0xae, 0xc9), -1);
    assert_int_equal(cpu->gpr[RCX], 0xffff800000002000ull);
    enter_user(cpu);
    assert_fault(EXEC(cpu, 0x0f, 0x01, 0xf8), cpu, EXC_GP, 0);
}

/* ---- software interrupts ---- */

/* INT 0x80 from CPL 3 through a DPL 3 interrupt gate: CPL 0 on the TSS
 * RSP0 stack with SS:RSP, RFLAGS, CS:RIP pushed; the return RIP is the
 * next instruction; IF is cleared. */
static void test_int_n(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    enter_user(cpu);
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_IF);
    assert_int_equal(EXEC(cpu, 0xcd, 0x80), -1);
    assert_int_equal(cpu->rip, HANDLER);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->gpr[RSP], RSP0 - 40);
    assert_int_equal(rd(f, RSP0 - 40, 8), CODE_RIP + 2);
    assert_int_equal(rd(f, RSP0 - 32, 8), UCODE64 | 3);
    assert_int_equal(rd(f, RSP0 - 24, 8), FLAGS_FIXED1 | FLAG_IF);
    assert_int_equal(rd(f, RSP0 - 16, 8), USTACK);
    assert_int_equal(rd(f, RSP0 - 8, 8), UDATA | 3);
    assert_false(cpu->rflags & FLAG_IF);
}

static void test_int_gate_dpl_and_int3(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    enter_user(cpu);
    /* INT 0x81 through a DPL 0 gate from CPL 3: #GP(0x81 * 8 + 2) */
    assert_fault(EXEC(cpu, 0xcd, 0x81), cpu, EXC_GP, 0x81 * 8 + 2);
    assert_int_equal(cpu->rip, CODE_RIP);
    /* INT3 returns to the next instruction */
    assert_int_equal(EXEC(cpu, 0xcc), -1);
    assert_int_equal(cpu->rip, HANDLER);
    assert_int_equal(rd(f, RSP0 - 40, 8), CODE_RIP + 1);
    /* UD2 */
    assert_int_equal(EXEC(cpu, 0x0f, 0x0b), EXC_UD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_mov_cr_privilege),
        T(test_mov_cr_read_write),
        T(test_lmsw_smsw_clts),
        T(test_mov_dr),
        T(test_lgdt_sgdt_roundtrip),
        T(test_dtable_privilege),
        T(test_ltr_marks_busy),
        T(test_lldt_null_and_sldt),
        T(test_lar_lsl_verr_verw),
        T(test_mov_sreg),
        T(test_far_jmp),
        T(test_far_call_and_retf),
        T(test_retf_to_user),
        T(test_iretq_to_user),
        T(test_iretq_same_privilege),
        T(test_iret_faults),
        T(test_popf_user_keeps_if_and_iopl),
        T(test_popf_kernel),
        T(test_pushf_image),
        T(test_cli_sti),
        T(test_syscall_sysret),
        T(test_sysret_compat_and_noncanonical),
        T(test_cpuid_vendor),
        T(test_rdtsc),
        T(test_rdpmc),
        T(test_msr),
        T(test_hlt),
        T(test_swapgs_fsgsbase),
        T(test_int_n),
        T(test_int_gate_dpl_and_int3),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
