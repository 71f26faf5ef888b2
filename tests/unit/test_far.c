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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
