/* Unit tests: VMRUN (APM vol. 2, 15.5; vol. 3 VMRUN) and #VMEXIT.
 *
 * The instruction's own checks (#UD, #GP) come first; then each
 * consistency check of 15.5.1 on a VMCB that is valid but for one field
 * must end in #VMEXIT with EXITCODE = VMEXIT_INVALID, the full 64-bit -1,
 * with the host continuing after VMRUN exactly as it was.  A valid VMCB
 * enters the guest with the state it names; a #VMEXIT brings the host
 * back with RAX = the VMCB address and RIP after its VMRUN. */
#include "svm_fixture.h"

/* ---- the instruction's checks ---- */

static void test_vmrun_ud_without_svme(void **state)
{
    struct fixture *f = *state;
    f->cpu.efer &= ~EFER_SVME;
    assert_int_equal(vmrun(&f->cpu), EXC_UD);
    assert_false(f->cpu.svm.guest_mode);
}

static void test_vmrun_gp_at_cpl3(void **state)
{
    struct fixture *f = *state;
    enter_user(&f->cpu);
    int res = vmrun(&f->cpu);
    assert_fault(res, &f->cpu, EXC_GP, 0);
}

static void test_vmrun_gp_unaligned_rax(void **state)
{
    struct fixture *f = *state;
    f->cpu.gpr[RAX] = VMCB_PA + 8;
    int res = EXEC(&f->cpu, 0x0f, 0x01, 0xd8);
    assert_fault(res, &f->cpu, EXC_GP, 0);
}

static void test_vmrun_gp_rax_beyond_width(void **state)
{
    struct fixture *f = *state;
    f->cpu.gpr[RAX] = 1ull << 48;   /* CPUID 0x80000008: 48 bits */
    int res = EXEC(&f->cpu, 0x0f, 0x01, 0xd8);
    assert_fault(res, &f->cpu, EXC_GP, 0);
}

/* ---- consistency checks, one bad field at a time ---- */

struct bad_field {
    const char *name;
    void (*spoil)(struct vmcb *v);
};

static void svme_clear(struct vmcb *v) { v->save.efer &= ~EFER_SVME; }
static void nw_without_cd(struct vmcb *v) { v->save.cr0 = (v->save.cr0 & ~CR0_CD) | CR0_NW; }
static void cr0_high(struct vmcb *v) { v->save.cr0 |= 1ull << 40; }
static void cr3_bit63(struct vmcb *v) { v->save.cr3 |= 1ull << 63; }
static void cr3_bit52(struct vmcb *v) { v->save.cr3 |= 1ull << 52; }
static void cr4_bit31(struct vmcb *v) { v->save.cr4 |= 1ull << 31; }
static void cr4_bit63(struct vmcb *v) { v->save.cr4 |= 1ull << 63; }
static void dr6_high(struct vmcb *v) { v->save.dr6 |= 1ull << 32; }
static void dr7_high(struct vmcb *v) { v->save.dr7 |= 1ull << 63; }
static void efer_bit3(struct vmcb *v) { v->save.efer |= 1ull << 3; }
static void efer_bit63(struct vmcb *v) { v->save.efer |= 1ull << 63; }
static void lme_pg_no_pae(struct vmcb *v) { v->save.cr4 &= ~CR4_PAE; }
static void lme_pg_no_pe(struct vmcb *v) { v->save.cr0 &= ~CR0_PE; }
static void cs_l_and_d(struct vmcb *v) { v->save.cs.attrib |= SEG_ATTR_L | SEG_ATTR_DB; }
static void no_vmrun_intercept(struct vmcb *v) { v->control.intercepts[4] &= ~1u; }
static void asid_zero(struct vmcb *v) { v->control.asid = 0; }
static void msrpm_at_limit(struct vmcb *v) { v->control.msrpm_base_pa = (1ull << 48) - 0x1000; }
static void iopm_at_limit(struct vmcb *v) { v->control.iopm_base_pa = (1ull << 48) - 0x2000; }
static void inj_type1(struct vmcb *v) { v->control.event_inj = EVENTINJ_V | (1u << 8) | 32; }
static void inj_type5(struct vmcb *v) { v->control.event_inj = EVENTINJ_V | (5u << 8) | 3; }
static void inj_type7(struct vmcb *v) { v->control.event_inj = EVENTINJ_V | (7u << 8) | 3; }
static void inj_exc_nmi(struct vmcb *v) { v->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | 2; }
static void inj_exc_32(struct vmcb *v) { v->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | 32; }
static void inj_exc_15(struct vmcb *v) { v->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | 15; }
static void np_ncr3_high(struct vmcb *v)
{
    v->control.misc_ctl = MISC_CTL_NP_ENABLE;
    v->control.nested_cr3 = NPT_BASE | 1ull << 60;
}
static void np_bad_gpat(struct vmcb *v)
{
    v->control.misc_ctl = MISC_CTL_NP_ENABLE;
    v->control.nested_cr3 = NPT_BASE;
    v->save.g_pat = 0x0007040600070402ull;   /* type 2 is reserved */
}

static const struct bad_field bad_fields[] = {
    { "EFER.SVME = 0", svme_clear },
    { "CR0.NW without CR0.CD", nw_without_cd },
    { "CR0[63:32]", cr0_high },
    { "CR3 bit 63", cr3_bit63 },
    { "CR3 bit 52", cr3_bit52 },
    { "CR4 bit 31", cr4_bit31 },
    { "CR4 bit 63", cr4_bit63 },
    { "DR6[63:32]", dr6_high },
    { "DR7[63:32]", dr7_high },
    { "EFER bit 3", efer_bit3 },
    { "EFER bit 63", efer_bit63 },
    { "LME, PG, no PAE", lme_pg_no_pae },
    { "LME, PG, no PE", lme_pg_no_pe },
    { "LME, PG, PAE, CS.L and CS.D", cs_l_and_d },
    { "VMRUN intercept clear", no_vmrun_intercept },
    { "ASID 0", asid_zero },
    { "MSRPM at the physical limit", msrpm_at_limit },
    { "IOPM's third page beyond the limit", iopm_at_limit },
    { "EVENTINJ type 1", inj_type1 },
    { "EVENTINJ type 5", inj_type5 },
    { "EVENTINJ type 7", inj_type7 },
    { "EVENTINJ exception vector 2", inj_exc_nmi },
    { "EVENTINJ exception vector 32", inj_exc_32 },
    { "EVENTINJ exception vector 15", inj_exc_15 },
    { "nCR3 bit 60", np_ncr3_high },
    { "G_PAT type 2", np_bad_gpat },
};

static void test_consistency_checks(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
        vmcb_valid(f);
        bad_fields[i].spoil(test_vmcb(f));
        cpu->svm.gif = true;
        int res = vmrun(cpu);
        if (res != -1 || test_vmcb(f)->control.exit_code != UINT64_MAX)
            fail_msg("%s: res %d exit_code 0x%llx", bad_fields[i].name, res,
                     (unsigned long long)test_vmcb(f)->control.exit_code);
        assert_host_resumed(cpu);
    }
}

/* Legal corner cases pass: the VMMCALL intercept clear, CD and NW both
 * set, map bases with bits 11:0 set, an IOPM ending just below the limit. */
static void test_legal_corners(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);

    v->save.cr0 |= CR0_CD | CR0_NW;
    v->control.iopm_base_pa = ((1ull << 48) - 0x3000) | 0xfff;
    v->control.msrpm_base_pa = ((1ull << 48) - 0x2000) | 0xfff;
    v->control.event_inj = (7u << 8) | 2;   /* V clear: ignored */
    assert_int_equal(vmrun(cpu), -1);
    assert_true(cpu->svm.guest_mode);
    assert_int_equal(cpu->rip, GUEST_RIP);
}

/* ---- the world switch ---- */

static void test_vmrun_loads_guest(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    v->save.rax = 0x1234;
    v->save.cr2 = 0xcafe000;
    v->save.rflags = 0x2 | FLAG_CF | FLAG_ZF;
    v->save.dr7 = 0x401;
    v->save.ds.base = 0x0000800000000000ull;   /* canonicalized */
    v->control.tsc_offset = 1000;
    uint64_t tsc = x86_tsc(cpu);

    assert_int_equal(vmrun(cpu), -1);
    assert_true(cpu->svm.guest_mode);
    assert_true(cpu->svm.gif);
    assert_int_equal(cpu->rip, GUEST_RIP);
    assert_int_equal(cpu->gpr[RSP], GUEST_RSP);
    assert_int_equal(cpu->gpr[RAX], 0x1234);
    assert_int_equal(cpu->cr2, 0xcafe000);
    assert_int_equal(cpu->dr7, 0x401);
    assert_int_equal(x86_get_rflags(cpu), 0x2 | FLAG_CF | FLAG_ZF);
    assert_int_equal(cpu->seg[SEG_DS].base, 0xffff800000000000ull);
    assert_int_equal(x86_tsc(cpu), tsc + 1 + 1000);   /* VMRUN retired */

    /* the host state went to the host-save area */
    const struct vmcb *h = (const struct vmcb *)(f->ram + HSAVE_PA);
    assert_int_equal(h->save.rip, CODE_RIP + 3);
    assert_int_equal(h->save.rax, VMCB_PA);
    assert_int_equal(h->save.rsp, HOST_RSP);
}

/* L2 at CPL 3 per the VMCB's CPL field. */
static void test_vmrun_cpl3_guest(void **state)
{
    struct fixture *f = *state;
    struct vmcb *v = test_vmcb(f);
    v->save.cs = (struct vmcb_seg){ UCODE64 | 3, 0xfb | SEG_ATTR_L | SEG_ATTR_G,
                                   0xffffffff, 0 };
    v->save.ss = (struct vmcb_seg){ UDATA | 3, 0xf3 | SEG_ATTR_DB | SEG_ATTR_G,
                                   0xffffffff, 0 };
    v->save.cpl = 3;
    assert_int_equal(vmrun(&f->cpu), -1);
    assert_int_equal(f->cpu.cpl, 3);
    assert_int_equal(f->cpu.mode, MODE_LONG64);
}

/* #VMEXIT: guest state to the VMCB, host back, GIF clear, EVENTINJ.V
 * cleared, TSC offset gone. */
static void test_vmexit_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    set_intercept(v, INTERCEPT_VMMCALL);
    v->control.tsc_offset = 5000;
    uint64_t tsc = x86_tsc(cpu);

    assert_int_equal(vmrun(cpu), -1);
    cpu->gpr[RAX] = 0x77;
    cpu->gpr[RSP] = GUEST_RSP - 0x40;
    assert_int_equal(GUEST(cpu, 0x0f, 0x01, 0xd9), -1);   /* VMMCALL */
    assert_int_equal(v->control.exit_code, SVM_EXIT_VMMCALL);
    assert_int_equal(v->control.exit_info_1, 0);
    assert_int_equal(v->control.exit_info_2, 0);
    assert_int_equal(v->control.next_rip, GUEST_RIP + 3);
    assert_int_equal(v->control.exit_int_info, 0);
    assert_int_equal(v->save.rip, GUEST_RIP);
    assert_int_equal(v->save.rax, 0x77);
    assert_int_equal(v->save.rsp, GUEST_RSP - 0x40);
    assert_int_equal(v->save.cpl, 0);
    assert_int_equal(v->save.efer, EFER_LME | EFER_LMA | EFER_SVME);
    assert_host_resumed(cpu);
    assert_int_equal(cpu->dr7, 0x400);
    assert_int_equal(x86_tsc(cpu), tsc + 1);   /* only VMRUN retired */
}

/* VMRUN inside the guest is always intercepted (the check made sure the
 * bit is set): exit 0x80 with nRIP after it. */
static void test_vmrun_in_guest_exits(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    assert_int_equal(vmrun(cpu), -1);
    cpu->gpr[RAX] = 0x50000;
    assert_int_equal(GUEST(cpu, 0x0f, 0x01, 0xd8), -1);
    assert_int_equal(v->control.exit_code, SVM_EXIT_VMRUN);
    assert_int_equal(v->control.next_rip, GUEST_RIP + 3);
    assert_host_resumed(cpu);
}

/* The host-save area must be RAM. */
static void test_vmrun_hsave_outside_ram(void **state)
{
    struct fixture *f = *state;
    f->cpu.svm.hsave_pa = 0x7f000000;
    int res = vmrun(&f->cpu);
    assert_fault(res, &f->cpu, EXC_GP, 0);
    assert_false(f->cpu.svm.guest_mode);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vmrun_ud_without_svme, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_gp_at_cpl3, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_gp_unaligned_rax, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_gp_rax_beyond_width, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_consistency_checks, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_legal_corners, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_loads_guest, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_cpl3_guest, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmexit_round_trip, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_in_guest_exits, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_hsave_outside_ram, svm_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
