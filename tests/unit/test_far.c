/* Unit tests: far transfers (far.c, desc.c) and SYSCALL/SYSRET
 * (syscall.c).  Expected values come from the APM's pseudocode (vol. 3
 * JMP, CALL, RETF, IRET, SYSCALL, SYSRET), worked by hand in the
 * comments. */
#include "sys_fixture.h"

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

/* ---- 32-bit protected mode (paging off, EFER.LMA = 0) ---- */

static int setup_prot32(void **state)
{
    if (setup(state))
        return -1;
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->cr4 = 0;
    cpu->efer = 0;
    seg_set(cpu, SEG_CS, KCODE32, 0x9b | SEG_ATTR_DB | SEG_ATTR_G);
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
    return 0;
}

static void enter_user32(struct cpu *cpu)
{
    seg_set(cpu, SEG_CS, UCODE32 | 3, 0xfb | SEG_ATTR_DB | SEG_ATTR_G);
    seg_set(cpu, SEG_SS, UDATA | 3, 0xf3 | SEG_ATTR_DB | SEG_ATTR_G);
    x86_update_mode(cpu);
    cpu->gpr[RSP] = USTACK;
}

/* jmp far 0x40:0x11000 (EA ptr16:32), then lcall [m16:32] */
static void test_prot32_far_jmp_call(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    assert_int_equal(cpu->mode, MODE_PROT32);
    assert_int_equal(EXEC_FAR(cpu, x86_op_jmp_far, 0xea, 0x00, 0x10, 0x01, 0x00,
                              KCODE32, 0x00), -1);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(cpu->seg[SEG_CS].sel, KCODE32);
    /* a 64-bit code segment outside long mode is just a 16-bit one (L is
     * ignored, D = 0): the mode becomes 16-bit protected mode */
    assert_int_equal(EXEC_FAR(cpu, x86_op_jmp_far, 0xea, 0x00, 0x20, 0x00, 0x00,
                              KCODE64, 0x00), -1);
    assert_int_equal(cpu->mode, MODE_PROT16);
    /* back to 32-bit code with a 16-bit far pointer: jmp far 0x40:0x3000 */
    assert_int_equal(EXEC_FAR(cpu, x86_op_jmp_far, 0xea, 0x00, 0x30, KCODE32, 0x00), -1);
    assert_int_equal(cpu->mode, MODE_PROT32);
    assert_int_equal(cpu->rip, 0x3000);
    /* lcall [0x5000]: pushes CS and EIP, 4 bytes each; an offset beyond
     * the limit is #GP(0) - here a 16-bit limit */
    wr(f, SCRATCH, 4, 0x12000);
    wr(f, SCRATCH + 4, 2, KCODE32);
    cpu->rip = CODE_RIP;
    assert_int_equal(EXEC_FAR(cpu, x86_op_call_far, 0xff, 0x1d, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->gpr[RSP], KSTACK - 8);
    assert_int_equal(rd(f, KSTACK - 4, 4), KCODE32);
    assert_int_equal(rd(f, KSTACK - 8, 4), CODE_RIP + 6);
    assert_int_equal(cpu->rip, 0x12000);
}

/* IRETD at the same privilege pops EIP, CS, EFLAGS only; to CPL 3 it also
 * pops ESP and SS. */
static void test_prot32_iret(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t sp = KSTACK - 20;
    cpu->gpr[RSP] = sp;
    wr(f, sp, 4, 0x11000);
    wr(f, sp + 4, 4, KCODE32);
    wr(f, sp + 8, 4, FLAGS_FIXED1 | FLAG_CF);
    assert_int_equal(EXEC(cpu, 0xcf), -1);
    assert_int_equal(cpu->gpr[RSP], sp + 12);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(x86_get_rflags(cpu), FLAGS_FIXED1 | FLAG_CF);
    /* to CPL 3 */
    cpu->gpr[RSP] = sp;
    wr(f, sp + 4, 4, UCODE32 | 3);
    wr(f, sp + 12, 4, USTACK);
    wr(f, sp + 16, 4, UDATA | 3);
    assert_int_equal(EXEC(cpu, 0xcf), -1);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->mode, MODE_PROT32);
    assert_int_equal(cpu->gpr[RSP], USTACK);
    assert_int_equal(cpu->seg[SEG_SS].sel, UDATA | 3);
    assert_int_equal(cpu->seg[SEG_DS].sel, 0);     /* DPL 0 data: nulled */
}

/* RETF from CPL 3 to CPL 0 is refused; IRET at CPL 3 keeps IOPL. */
static void test_prot32_user_returns(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    enter_user32(cpu);
    uint64_t sp = USTACK - 12;
    cpu->gpr[RSP] = sp;
    wr(f, sp, 4, 0x11000);
    wr(f, sp + 4, 4, KCODE32);
    assert_fault(EXEC_FAR(cpu, x86_op_ret_far, 0xcb), cpu, EXC_GP, KCODE32);
    wr(f, sp + 4, 4, UCODE32 | 3);
    wr(f, sp + 8, 4, FLAGS_FIXED1 | FLAG_IOPL | FLAG_IF);
    x86_set_rflags(cpu, FLAGS_FIXED1);
    assert_int_equal(EXEC(cpu, 0xcf), -1);
    assert_int_equal(cpu->gpr[RSP], USTACK);
    assert_int_equal(x86_get_rflags(cpu), FLAGS_FIXED1);   /* IF, IOPL kept */
}

/* LGDT with a 16-bit operand keeps 24 bits of the base; SGDT stores six
 * bytes. */
static void test_prot32_lgdt(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    wr(f, SCRATCH, 2, 0x0fff);
    wr(f, SCRATCH + 2, 4, 0xab123456);
    assert_int_equal(EXEC(cpu, 0x66, 0x0f, 0x01, 0x15, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->gdtr.base, 0x123456);
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0x15, 0x00, 0x50, 0, 0), -1);
    assert_int_equal(cpu->gdtr.base, 0xab123456);
    wr(f, SCRATCH + 0x100, 8, ~0ull);
    assert_int_equal(EXEC(cpu, 0x0f, 0x01, 0x05, 0x00, 0x51, 0, 0), -1);
    assert_int_equal(rd(f, SCRATCH + 0x100, 8), 0xffffab1234560fffull);
}

/* SYSENTER/SYSEXIT (legacy mode only): flat segments from SYSENTER_CS. */
static void test_sysenter_sysexit(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    enter_user32(cpu);
    assert_fault(EXEC(cpu, 0x0f, 0x34), cpu, EXC_GP, 0);   /* SYSENTER_CS = 0 */
    cpu->sysenter_cs = KCODE32;
    cpu->sysenter_esp = 0x6000;
    cpu->sysenter_eip = 0x13000;
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_IF);
    assert_int_equal(EXEC(cpu, 0x0f, 0x34), -1);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->seg[SEG_CS].sel, KCODE32);
    assert_int_equal(cpu->seg[SEG_SS].sel, KCODE32 + 8);
    assert_int_equal(cpu->gpr[RSP], 0x6000);
    assert_int_equal(cpu->rip, 0x13000);
    assert_false(cpu->rflags & FLAG_IF);
    /* sysexit: CS = SYSENTER_CS + 16 | 3, SS = + 24 | 3, EIP = EDX, ESP = ECX */
    cpu->gpr[RDX] = 0x11000;
    cpu->gpr[RCX] = USTACK;
    assert_int_equal(EXEC(cpu, 0x0f, 0x35), -1);
    assert_int_equal(cpu->cpl, 3);
    assert_int_equal(cpu->seg[SEG_CS].sel, (KCODE32 + 16) | 3);
    assert_int_equal(cpu->seg[SEG_SS].sel, (KCODE32 + 24) | 3);
    assert_int_equal(cpu->rip, 0x11000);
    assert_int_equal(cpu->gpr[RSP], USTACK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_far_jmp),
        T(test_far_call_and_retf),
        T(test_retf_to_user),
        T(test_iretq_to_user),
        T(test_iretq_same_privilege),
        T(test_iret_faults),
        T(test_syscall_sysret),
        T(test_sysret_compat_and_noncanonical),
#undef T
#define T32(fn) cmocka_unit_test_setup_teardown(fn, setup_prot32, teardown)
        T32(test_prot32_far_jmp_call),
        T32(test_prot32_iret),
        T32(test_prot32_user_returns),
        T32(test_prot32_lgdt),
        T32(test_sysenter_sysexit),
#undef T32
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
