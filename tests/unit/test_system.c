/* Unit tests: control and debug registers, descriptor tables, segment
 * registers, RFLAGS, CPUID, MSRs, time stamp and counters, HLT, SWAPGS,
 * FS/GS base and software interrupts (system.c, control.c, segment.c).
 * Expected values come from the APM's pseudocode, worked by hand in the
 * comments, or from the host CPU (an AMD EPYC) where noted. */
#include "sys_fixture.h"

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
    cpu->gpr[RCX] = 6;   /* counters 0-5 exist (PerfCtrExtCore) */
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
        T(test_popf_user_keeps_if_and_iopl),
        T(test_popf_kernel),
        T(test_pushf_image),
        T(test_cli_sti),
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
