/* Unit tests of the L0 hypervisor's decisions, on a CPU built by hand:
 * the routing of L2 exits (vmcb12's intercept bits, L1's IOPM and MSRPM),
 * the emulated VMRUN's consistency checks on its copy of vmcb12, and the
 * hypercall ABI.  Expected values come from the APM (vol. 2, 15.5.1,
 * 15.10, 15.11, appendix C) and the KVM hypercall documentation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/internal.h"

#define RAM_SIZE   (1u << 20)
#define VMCB12_PA  0x10000u
#define HSAVE_PA   0x11000u
#define IOPM_PA    0x20000u   /* 3 pages */
#define MSRPM_PA   0x30000u   /* 2 pages */

struct fixture {
    struct cpu cpu;
    struct hv hv;
    uint8_t *ram;
};

static uint32_t pio_read(void *o, uint16_t p, unsigned s)
{
    (void)o, (void)p, (void)s;
    return 0xffffffffu;
}

static void pio_write(void *o, uint16_t p, unsigned s, uint32_t v)
{
    (void)o, (void)p, (void)s, (void)v;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const struct x86_bus bus = { .pio_read = pio_read, .pio_write = pio_write };

    f->ram = calloc(1, RAM_SIZE);
    assert_int_equal(x86_cpu_init(&f->cpu, f->ram, RAM_SIZE, &bus), 0);
    hv_init(&f->hv, &f->cpu);
    f->hv.l1_svme = true;
    f->hv.hsave_pa = HSAVE_PA;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    x86_cpu_fini(&f->cpu);
    free(f->ram);
    free(f);
    return 0;
}

static struct vmcb *vmcb12(struct fixture *f)
{
    return (struct vmcb *)(f->ram + VMCB12_PA);
}

/* A legal vmcb12: 32-bit protected mode, paging off, VMRUN intercepted. */
static void legal_vmcb12(struct fixture *f)
{
    struct vmcb *v = vmcb12(f);

    memset(v, 0, sizeof(*v));
    vmcb_set_intercept(v, INTERCEPT_VMRUN);
    v->control.asid = 1;
    v->control.iopm_base_pa = IOPM_PA;
    v->control.msrpm_base_pa = MSRPM_PA;
    v->save.efer = EFER_SVME;
    v->save.cr0 = CR0_PE | CR0_ET;
    v->save.cs.attrib = 0xc9b;
    v->save.ds.attrib = v->save.es.attrib = v->save.ss.attrib = 0xc93;
    v->save.dr6 = 0xffff0ff0;
    v->save.dr7 = 0x400;
    v->save.rflags = 2;
    v->save.rip = 0x5000;
    v->save.g_pat = 0x0007040600070406ull;
}

/* L1 executes VMRUN with RAX = vmcb12: as L0 sees it after the exit. */
static void l1_vmrun(struct fixture *f)
{
    struct vmcb *v01 = &f->hv.vmcb01;

    v01->save.rax = VMCB12_PA;
    v01->save.cs.attrib = 0xc9b;   /* 32-bit code: rAX is EAX */
    v01->save.cr0 = CR0_PE | CR0_ET;
    v01->save.rip = 0x1000;
    v01->control.next_rip = 0x1003;
    v01->control.exit_code = SVM_EXIT_VMRUN;
    assert_int_equal(nested_vmrun(&f->hv), STOP_NONE);
}

/* ---- the emulated VMRUN ---- */

static void test_vmrun_enters_l2(void **state)
{
    struct fixture *f = *state;

    legal_vmcb12(f);
    l1_vmrun(f);
    assert_true(f->hv.nested.guest_mode);
    assert_ptr_equal(f->hv.vmcb, &f->hv.vmcb02);
    assert_int_equal(f->hv.vmcb01.save.rip, 0x1003);
    assert_int_equal(f->hv.vmcb02.save.rip, 0x5000);
    /* intercepts: L0's | L1's */
    assert_true(vmcb_is_intercept(&f->hv.vmcb02.control, INTERCEPT_CPUID));
    assert_true(vmcb_is_intercept(&f->hv.vmcb02.control, INTERCEPT_VMRUN));
    assert_false(vmcb_is_intercept(&f->hv.vmcb02.control, INTERCEPT_RDTSC));
}

/* vmcb12 field mutators: each makes exactly one APM 15.5.1 check fail. */
static void no_svme(struct vmcb *v) { v->save.efer &= ~EFER_SVME; }
static void nw_without_cd(struct vmcb *v) { v->save.cr0 |= CR0_NW; }
static void cr0_high(struct vmcb *v) { v->save.cr0 |= 1ull << 32; }
static void cr4_mbz(struct vmcb *v) { v->save.cr4 |= 1ull << 63; }
static void dr6_high(struct vmcb *v) { v->save.dr6 |= 1ull << 32; }
static void dr7_high(struct vmcb *v) { v->save.dr7 |= 1ull << 40; }
static void efer_mbz(struct vmcb *v) { v->save.efer |= 1ull << 32; }
static void lme_pg_no_pae(struct vmcb *v) { v->save.efer |= EFER_LME; v->save.cr0 |= CR0_PG; }
static void lme_pg_cs_l_d(struct vmcb *v)
{
    v->save.efer |= EFER_LME;
    v->save.cr0 |= CR0_PG;
    v->save.cr4 |= CR4_PAE;
    v->save.cs.attrib |= SEG_ATTR_L | SEG_ATTR_DB;
}
static void no_vmrun_icpt(struct vmcb *v) { vmcb_clr_intercept(v, INTERCEPT_VMRUN); }
static void asid0(struct vmcb *v) { v->control.asid = 0; }
static void iopm_far(struct vmcb *v) { v->control.iopm_base_pa = (1ull << 48) - 0x1000; }
static void msrpm_far(struct vmcb *v) { v->control.msrpm_base_pa = (1ull << 48) - 0x1000; }
static void evtinj_type1(struct vmcb *v) { v->control.event_inj = EVENTINJ_V | (1u << 8); }
static void evtinj_exc_nmi(struct vmcb *v)
{
    v->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | 2;
}
static void evtinj_exc_15(struct vmcb *v)
{
    v->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | 15;
}
static void np_bad_pat(struct vmcb *v)
{
    v->control.misc_ctl = MISC_CTL_NP_ENABLE;
    v->save.g_pat = 2;   /* type 2 is reserved */
}

static void (*const illegal[])(struct vmcb *) = {
    no_svme, nw_without_cd, cr0_high, cr4_mbz, dr6_high, dr7_high, efer_mbz,
    lme_pg_no_pae, lme_pg_cs_l_d, no_vmrun_icpt, asid0, iopm_far, msrpm_far,
    evtinj_type1, evtinj_exc_nmi, evtinj_exc_15, np_bad_pat,
};

static void test_vmrun_checks(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(illegal) / sizeof(illegal[0]); i++) {
        legal_vmcb12(f);
        illegal[i](vmcb12(f));
        f->hv.nested.guest_mode = false;
        f->hv.vmcb = &f->hv.vmcb01;
        f->hv.gif = true;
        l1_vmrun(f);
        assert_false(f->hv.nested.guest_mode);
        assert_true(vmcb12(f)->control.exit_code == 0xffffffffffffffffull);
        assert_false(f->hv.gif);
        assert_int_equal(f->hv.vmcb01.save.rip, 0x1003);   /* after VMRUN */
    }
}

/* A clear VMMCALL intercept is legal (15.5.1 lists VMRUN's only). */
static void test_vmrun_vmmcall_clear_is_legal(void **state)
{
    struct fixture *f = *state;

    legal_vmcb12(f);
    vmcb_clr_intercept(vmcb12(f), INTERCEPT_VMMCALL);
    l1_vmrun(f);
    assert_true(f->hv.nested.guest_mode);
}

/* L1's EFER.SVME as L1 sees it is L0's; clear, VMRUN is #UD. */
static void test_vmrun_svme_clear_ud(void **state)
{
    struct fixture *f = *state;

    legal_vmcb12(f);
    f->hv.l1_svme = false;
    l1_vmrun(f);
    assert_false(f->hv.nested.guest_mode);
    assert_int_equal(f->hv.exc.vector, EXC_UD);
}

/* ---- routing ---- */

static void l2_exit(struct fixture *f, uint64_t code, uint64_t info1)
{
    legal_vmcb12(f);
    vmcb_set_intercept(vmcb12(f), INTERCEPT_IOIO_PROT);
    vmcb_set_intercept(vmcb12(f), INTERCEPT_MSR_PROT);
    l1_vmrun(f);
    f->hv.vmcb02.control.exit_code = code;
    f->hv.vmcb02.control.exit_info_1 = info1;
    f->hv.vmcb02.save.rip = 0x5000;
    vmcb12(f)->control.exit_code = 0;
}

/* An intercept bit of L0's copy of vmcb12 (after the VMRUN). */
static void l1_intercept(struct fixture *f, unsigned bit, bool on)
{
    uint32_t *w = &f->hv.nested.ctl.intercepts[bit / 32];

    *w = on ? *w | 1u << (bit % 32) : *w & ~(1u << (bit % 32));
}

static bool reflected(struct fixture *f, uint64_t code)
{
    bool r = nested_route_exit(&f->hv);
    if (r) {
        assert_false(f->hv.nested.guest_mode);
        assert_true(vmcb12(f)->control.exit_code == code);
        assert_int_equal(vmcb12(f)->save.rip, 0x5000);
    } else {
        assert_true(f->hv.nested.guest_mode);
        assert_int_equal(vmcb12(f)->control.exit_code, 0);
    }
    return r;
}

/* For exit codes below 0xC0 the intercept bit is the exit code. */
static void test_route_by_intercept_bit(void **state)
{
    static const uint64_t codes[] = {
        SVM_EXIT_CPUID, SVM_EXIT_HLT, SVM_EXIT_VMMCALL, SVM_EXIT_VMLOAD,
        SVM_EXIT_VMSAVE, SVM_EXIT_STGI, SVM_EXIT_CLGI, SVM_EXIT_INVLPGA,
        SVM_EXIT_SKINIT, SVM_EXIT_SHUTDOWN, SVM_EXIT_EXCP(EXC_UD),
        SVM_EXIT_CR_WRITE(3), SVM_EXIT_RDTSC,
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        unsigned bit = (unsigned)codes[i];
        l2_exit(f, codes[i], 0);
        l1_intercept(f, bit, false);
        assert_false(reflected(f, codes[i]));
        l2_exit(f, codes[i], 0);
        l1_intercept(f, bit, true);
        assert_true(reflected(f, codes[i]));
    }
}

/* vmcb12 is read once: rewriting it after VMRUN changes no decision. */
static void test_route_reads_the_copy(void **state)
{
    struct fixture *f = *state;

    legal_vmcb12(f);
    vmcb_set_intercept(vmcb12(f), INTERCEPT_VMMCALL);
    l1_vmrun(f);
    f->hv.vmcb02.control.exit_code = SVM_EXIT_VMMCALL;
    f->hv.vmcb02.save.rip = 0x5000;
    vmcb_clr_intercept(vmcb12(f), INTERCEPT_VMMCALL);   /* too late */
    assert_true(reflected(f, SVM_EXIT_VMMCALL));
}

static void iopm_bit(struct fixture *f, unsigned bit)
{
    f->ram[IOPM_PA + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static void test_route_ioio(void **state)
{
    struct fixture *f = *state;
    const uint64_t out16 = IOIO_SZ16 | IOIO_A64, in32 = IOIO_TYPE_IN | IOIO_SZ32 | IOIO_A64;

    memset(f->ram + IOPM_PA, 0, IOPM_SIZE);
    l2_exit(f, SVM_EXIT_IOIO, 0xffffull << 16 | out16);
    assert_false(reflected(f, SVM_EXIT_IOIO));
    iopm_bit(f, 0x10000);   /* port 0xFFFF + 1: the map's third page */
    l2_exit(f, SVM_EXIT_IOIO, 0xffffull << 16 | out16);
    assert_true(reflected(f, SVM_EXIT_IOIO));
    iopm_bit(f, 0x81);      /* the 4th port of an access at 0x7e */
    l2_exit(f, SVM_EXIT_IOIO, 0x7eull << 16 | in32);
    assert_true(reflected(f, SVM_EXIT_IOIO));
    l2_exit(f, SVM_EXIT_IOIO, 0x7dull << 16 | in32);
    assert_false(reflected(f, SVM_EXIT_IOIO));
    memset(f->ram + IOPM_PA, 0, IOPM_SIZE);
}

static void test_route_msr(void **state)
{
    struct fixture *f = *state;

    memset(f->ram + MSRPM_PA, 0, MSRPM_SIZE);
    /* STAR (0xC0000081): range 1 at byte 0x800, read bit 2*0x81 */
    f->ram[MSRPM_PA + 0x800 + (2 * 0x81) / 8] |= (uint8_t)(1u << ((2 * 0x81) % 8));
    f->cpu.gpr[RCX] = 0xc0000081;
    l2_exit(f, SVM_EXIT_MSR, MSR_EXITINFO1_READ);
    assert_true(reflected(f, SVM_EXIT_MSR));
    f->cpu.gpr[RCX] = 0xc0000081;
    l2_exit(f, SVM_EXIT_MSR, MSR_EXITINFO1_WRITE);
    assert_false(reflected(f, SVM_EXIT_MSR));
    f->cpu.gpr[RCX] = 0x40000000;   /* outside every range: always */
    l2_exit(f, SVM_EXIT_MSR, MSR_EXITINFO1_READ);
    assert_true(reflected(f, SVM_EXIT_MSR));
    memset(f->ram + MSRPM_PA, 0, MSRPM_SIZE);
}

/* An SVM instruction of an L2 whose EFER.SVME is clear is #UD before any
 * intercept: L0 keeps the exit and queues #UD. */
static void test_route_l2_svme_clear(void **state)
{
    struct fixture *f = *state;

    l2_exit(f, SVM_EXIT_VMLOAD, 0);
    l1_intercept(f, INTERCEPT_VMLOAD, true);
    f->hv.nested.l2_svme = false;
    f->hv.exc.vector = -1;
    assert_true(nested_route_exit(&f->hv));
    assert_true(f->hv.nested.guest_mode);
    assert_int_equal(f->hv.exc.vector, EXC_UD);
    assert_int_equal(vmcb12(f)->control.exit_code, 0);
}

/* ---- hypercalls ---- */

static uint64_t hypercall(struct fixture *f, uint64_t nr, unsigned cpl, bool wide)
{
    struct vmcb *v = &f->hv.vmcb01;

    f->hv.nested.guest_mode = false;
    f->hv.vmcb = v;
    v->save.rax = nr;
    v->save.cpl = (uint8_t)cpl;
    v->save.efer = EFER_SVME | (wide ? EFER_LME | EFER_LMA : 0);
    v->save.cs.attrib = wide ? 0xa9b : 0xc9b;
    v->save.rip = 0x2000;
    v->control.next_rip = 0x2003;
    assert_int_equal(hv_hypercall(&f->hv), STOP_NONE);
    assert_int_equal(v->save.rip, 0x2003);
    return v->save.rax;
}

static void test_hypercall_abi(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(hypercall(f, 1, 0, true), 0);             /* VAPIC_POLL_IRQ */
    assert_int_equal(hypercall(f, 11, 0, true), 0);            /* SCHED_YIELD */
    assert_true(hypercall(f, 0x1234, 0, true) == (uint64_t)-1000);
    assert_true(hypercall(f, (1ull << 32) | 1, 0, true) == (uint64_t)-1000);
    assert_true(hypercall(f, 1, 3, true) == (uint64_t)-1);     /* -KVM_EPERM */
    /* outside 64-bit mode: 32-bit number and result */
    assert_int_equal(hypercall(f, (1ull << 32) | 1, 0, false), 0);
    assert_int_equal(hypercall(f, 0x1234, 0, false), 0xfffffc18u);
    assert_int_equal(hypercall(f, 1, 3, false), 0xffffffffu);
    assert_int_equal(f->hv.stats.hypercalls[1], 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vmrun_enters_l2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_vmmcall_clear_is_legal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmrun_svme_clear_ud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_by_intercept_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_reads_the_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_ioio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_msr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_l2_svme_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypercall_abi, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
