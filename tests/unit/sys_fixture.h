/* The machine the system-instruction unit tests run on (test_system.c,
 * test_far.c, test_system_svm.c): a CPU in 64-bit mode at CPL 0 with
 * identity paging (user-accessible), a GDT laid out like the guest
 * library's, an IDT and a TSS.  Instructions are decoded from real bytes
 * with x86_decode and run once with x86_exec_insn. */
#ifndef NSVM_TESTS_SYS_FIXTURE_H
#define NSVM_TESTS_SYS_FIXTURE_H

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

static inline uint64_t rd(struct fixture *f, uint64_t pa, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, f->ram + pa, size);
    return v;
}

static inline void wr(struct fixture *f, uint64_t pa, unsigned size, uint64_t v)
{
    memcpy(f->ram + pa, &v, size);
}

static inline void map_identity(struct fixture *f)
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
static inline void set_gate(struct fixture *f, unsigned vec, unsigned dpl)
{
    uint64_t lo = (HANDLER & 0xffff) | ((uint64_t)KCODE64 << 16) |
                  ((uint64_t)(0x8e | dpl << 5) << 40) |
                  ((uint64_t)(HANDLER >> 16) << 48);
    wr(f, IDT_BASE + vec * 16, 8, lo);
    wr(f, IDT_BASE + vec * 16 + 8, 8, 0);
}

static inline void seg_set(struct cpu *cpu, int s, uint16_t sel, uint16_t attrib)
{
    cpu->seg[s] = (struct x86_seg){ sel, attrib, 0xffffffff, 0 };
}

/* Long mode, CPL 0, paging on (identity), flat segments. */
static inline int setup(void **state)
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

static inline int teardown(void **state)
{
    struct fixture *f = *state;
    x86_cpu_fini(&f->cpu);
    free(f);
    return 0;
}

/* CPL 3 in 64-bit mode, user stack. */
static inline void enter_user(struct cpu *cpu)
{
    seg_set(cpu, SEG_CS, UCODE64 | 3, 0xfb | SEG_ATTR_L | SEG_ATTR_G);
    seg_set(cpu, SEG_SS, UDATA | 3, 0xf3 | SEG_ATTR_DB | SEG_ATTR_G);
    x86_update_mode(cpu);
    cpu->gpr[RSP] = USTACK;
}

/* Decode bytes for the CPU's mode and execute them once.  Returns -1 or
 * the vector of the exception raised. */
static inline int exec_bytes(struct cpu *cpu, const uint8_t *code, size_t len)
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
static inline int exec_far(struct cpu *cpu, insn_fn fn, const uint8_t *code, size_t len)
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

#endif
