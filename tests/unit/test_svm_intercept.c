/* Unit tests: intercepts through the permission maps (APM vol. 2, 15.10,
 * 15.11), exception intercepts (15.12), NRIP (15.7.1) and event injection
 * (15.20), on a guest entered with the VMRUN instruction.
 *
 * The map bits are set by their APM positions: IOPM bit = port; MSRPM
 * byte = range offset + (MSR - range base) / 4, read bit 2n, write bit
 * 2n + 1 for the n-th MSR of the range. */
#include "svm_fixture.h"

static void iopm_set(struct fixture *f, unsigned bit)
{
    f->ram[IOPM_PA + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static void msrpm_set(struct fixture *f, uint32_t range_off, uint32_t n, bool write)
{
    unsigned bit = n * 2 + (write ? 1 : 0);
    f->ram[MSRPM_PA + range_off + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static int enter(struct fixture *f, unsigned intercept_bit)
{
    set_intercept(test_vmcb(f), intercept_bit);
    return vmrun(&f->cpu);
}

/* ---- IOIO ---- */

static uint32_t no_pio_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque; (void)port; (void)size;
    return 0x5a5a5a5a;
}

/* IN EAX, DX covers four ports; any one set bit intercepts, across the
 * byte boundary of the map. */
static void test_ioio_crossing_byte(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    iopm_set(f, 0x81);   /* port 0x7e + 3: the next byte of the map */
    assert_int_equal(enter(f, INTERCEPT_IOIO_PROT), -1);
    cpu->gpr[RDX] = 0x7e;
    assert_int_equal(GUEST(cpu, 0xed), -1);   /* in eax, dx */
    assert_int_equal(v->control.exit_code, SVM_EXIT_IOIO);
    /* port 0x7e, SZ32, A64, IN */
    assert_int_equal(v->control.exit_info_1, 0x7e0000ull | 1u << 6 | 1u << 9 | 1);
    assert_int_equal(v->control.exit_info_2, GUEST_RIP + 1);
    assert_int_equal(v->control.next_rip, GUEST_RIP + 1);
    assert_int_equal(v->save.rip, GUEST_RIP);
}

/* A 4-byte access at 0x7d does not reach 0x81: no exit. */
static void test_ioio_next_port_clear(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->bus.pio_read = no_pio_read;
    iopm_set(f, 0x81);
    assert_int_equal(enter(f, INTERCEPT_IOIO_PROT), -1);
    cpu->gpr[RDX] = 0x7d;
    assert_int_equal(GUEST(cpu, 0xed), -1);
    assert_true(cpu->svm.guest_mode);
    assert_int_equal(cpu->gpr[RAX], 0x5a5a5a5a);
}

/* OUT DX, AX at 0xFFFF checks bit 0x10000 — the map's third page. */
static void test_ioio_port_ffff(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    iopm_set(f, 0x10000);
    assert_int_equal(enter(f, INTERCEPT_IOIO_PROT), -1);
    cpu->gpr[RDX] = 0xffff;
    assert_int_equal(GUEST(cpu, 0x66, 0xef), -1);   /* out dx, ax */
    assert_int_equal(v->control.exit_code, SVM_EXIT_IOIO);
    assert_int_equal(v->control.exit_info_1, 0xffff0000ull | 1u << 5 | 1u << 9);
    assert_int_equal(v->control.exit_info_2, GUEST_RIP + 2);
}

/* ---- MSR ---- */

static void rdmsr_exits(struct fixture *f, uint32_t msr, bool write)
{
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    cpu->gpr[RCX] = msr;
    if (write)
        assert_int_equal(GUEST(cpu, 0x0f, 0x30), -1);
    else
        assert_int_equal(GUEST(cpu, 0x0f, 0x32), -1);
    assert_false(cpu->svm.guest_mode);
    assert_int_equal(v->control.exit_code, SVM_EXIT_MSR);
    assert_int_equal(v->control.exit_info_1, write ? 1 : 0);
    assert_int_equal(v->control.exit_info_2, 0);
    assert_int_equal(v->control.next_rip, GUEST_RIP + 2);
}

static void test_msr_range0_read(void **state)
{
    struct fixture *f = *state;
    msrpm_set(f, 0x000, 0x174, false);   /* SYSENTER_CS read */
    assert_int_equal(enter(f, INTERCEPT_MSR_PROT), -1);
    rdmsr_exits(f, 0x174, false);
}

static void test_msr_range1_write(void **state)
{
    struct fixture *f = *state;
    msrpm_set(f, 0x800, 0x81, true);     /* STAR write */
    assert_int_equal(enter(f, INTERCEPT_MSR_PROT), -1);
    f->cpu.gpr[RAX] = f->cpu.gpr[RDX] = 0;
    rdmsr_exits(f, 0xc0000081, true);
}

static void test_msr_range2_write(void **state)
{
    struct fixture *f = *state;
    msrpm_set(f, 0x1000, 0x117, true);   /* VM_HSAVE_PA write */
    assert_int_equal(enter(f, INTERCEPT_MSR_PROT), -1);
    f->cpu.gpr[RAX] = f->cpu.gpr[RDX] = 0;
    rdmsr_exits(f, 0xc0010117, true);
}

/* Only the bit of the access counts: the write bit set, a read runs. */
static void test_msr_read_not_intercepted(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    msrpm_set(f, 0x800, 0x81, true);
    cpu->star = 0x0023001000000000ull;
    assert_int_equal(enter(f, INTERCEPT_MSR_PROT), -1);
    cpu->gpr[RCX] = 0xc0000081;
    assert_int_equal(GUEST(cpu, 0x0f, 0x32), -1);
    assert_true(cpu->svm.guest_mode);
    assert_int_equal(cpu->gpr[RDX], 0x00230010);
}

/* An MSR outside the three ranges always exits (the map is all zero). */
static void test_msr_outside_ranges(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(enter(f, INTERCEPT_MSR_PROT), -1);
    rdmsr_exits(f, 0x2000, false);
}

static void test_msr_outside_ranges_hi(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(enter(f, INTERCEPT_MSR_PROT), -1);
    rdmsr_exits(f, 0xc0012000, false);
}

/* ---- exceptions and NRIP ---- */

/* What the run loop does with a pending exception (exec.c). */
void x86_deliver_pending(struct cpu *cpu);

static void deliver_pending(struct cpu *cpu)
{
    cpu->fault_jmp_valid = true;
    if (setjmp(cpu->fault_jmp) == 0)
        x86_deliver_pending(cpu);
    cpu->fault_jmp_valid = false;
}


/* #PF intercepted: EXITINFO1 the error code, EXITINFO2 the address, CR2
 * untouched, NRIP zero. */
static void test_pf_intercept(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    v->save.cr2 = 0x1111;
    assert_int_equal(enter(f, INTERCEPT_EXCEPTION(EXC_PF)), -1);
    cpu->gpr[RBX] = 0x400000;   /* not mapped */
    assert_int_equal(GUEST(cpu, 0x89, 0x03), EXC_PF);   /* mov [rbx], eax */
    deliver_pending(cpu);
    assert_int_equal(v->control.exit_code, SVM_EXIT_EXCP(EXC_PF));
    assert_int_equal(v->control.exit_info_1, PFERR_W);
    assert_int_equal(v->control.exit_info_2, 0x400000);
    assert_int_equal(v->control.next_rip, 0);
    assert_int_equal(v->save.cr2, 0x1111);
    assert_int_equal(v->save.rip, GUEST_RIP);
}

/* INT3 intercepted as #BP: NRIP is the next instruction (15.7.1). */
static void test_bp_intercept_nrip(void **state)
{
    struct fixture *f = *state;
    struct vmcb *v = test_vmcb(f);
    assert_int_equal(enter(f, INTERCEPT_EXCEPTION(EXC_BP)), -1);
    assert_int_equal(GUEST(&f->cpu, 0xcc), -1);
    assert_int_equal(v->control.exit_code, SVM_EXIT_EXCP(EXC_BP));
    assert_int_equal(v->control.next_rip, GUEST_RIP + 1);
    assert_int_equal(v->save.rip, GUEST_RIP);
}

/* UD2 with #UD intercepted: NRIP zero. */
static void test_ud_intercept_nrip(void **state)
{
    struct fixture *f = *state;
    struct vmcb *v = test_vmcb(f);
    assert_int_equal(enter(f, INTERCEPT_EXCEPTION(EXC_UD)), -1);
    assert_int_equal(GUEST(&f->cpu, 0x0f, 0x0b), EXC_UD);
    deliver_pending(&f->cpu);
    assert_int_equal(v->control.exit_code, SVM_EXIT_EXCP(EXC_UD));
    assert_int_equal(v->control.next_rip, 0);
}

/* CPUID intercepted: NRIP after it. */
static void test_cpuid_nrip(void **state)
{
    struct fixture *f = *state;
    struct vmcb *v = test_vmcb(f);
    assert_int_equal(enter(f, INTERCEPT_CPUID), -1);
    assert_int_equal(GUEST(&f->cpu, 0x0f, 0xa2), -1);
    assert_int_equal(v->control.exit_code, SVM_EXIT_CPUID);
    assert_int_equal(v->control.next_rip, GUEST_RIP + 2);
}

/* VMMCALL not intercepted: #UD in the guest. */
static void test_vmmcall_not_intercepted(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(vmrun(&f->cpu), -1);
    assert_int_equal(GUEST(&f->cpu, 0x0f, 0x01, 0xd9), EXC_UD);
    assert_true(f->cpu.svm.guest_mode);
}

/* ---- EVENTINJ ---- */

/* An injected #GP is delivered through the guest IDT (not intercepted
 * even with the #GP intercept set), error code pushed, CR2 alone. */
static void test_inject_exception(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    set_gate(f, EXC_GP, 0);
    v->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_EV | EXC_GP;
    v->control.event_inj_err = 0x18;
    assert_int_equal(enter(f, INTERCEPT_EXCEPTION(EXC_GP)), -1);
    assert_true(cpu->svm.guest_mode);
    assert_int_equal(cpu->rip, HANDLER);
    assert_int_equal(cpu->gpr[RSP], GUEST_RSP - 48);
    assert_int_equal(rd(f, GUEST_RSP - 48, 8), 0x18);        /* error code */
    assert_int_equal(rd(f, GUEST_RSP - 40, 8), GUEST_RIP);   /* return RIP */
}

/* A fault while delivering the injected event is intercepted, with
 * EXITINTINFO = the injected event and NRIP zero. */
static void test_inject_fault_exitintinfo(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    v->save.idtr.limit = 0;   /* vector 0x40 lies beyond the IDT */
    v->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_INTR | 0x40;
    /* the #GP stays pending in guest mode; the run loop delivers it */
    int res = enter(f, INTERCEPT_EXCEPTION(EXC_GP));
    assert_fault(res, cpu, EXC_GP, 0x40 * 8 + 2 + 1);   /* IDT, EXT */
    assert_true(cpu->svm.guest_mode);
    deliver_pending(cpu);
    assert_false(cpu->svm.guest_mode);
    assert_int_equal(v->control.exit_code, SVM_EXIT_EXCP(EXC_GP));
    assert_int_equal(v->control.exit_info_1, 0x40 * 8 + 2 + 1);
    assert_int_equal(v->control.exit_int_info, EVENTINJ_V | EVENTINJ_TYPE_INTR | 0x40);
    assert_int_equal(v->control.event_inj & EVENTINJ_V, 0);
    assert_int_equal(v->control.next_rip, 0);
    assert_int_equal(v->save.rip, GUEST_RIP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ioio_crossing_byte, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioio_next_port_clear, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_ioio_port_ffff, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_msr_range0_read, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_msr_range1_write, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_msr_range2_write, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_msr_read_not_intercepted, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_msr_outside_ranges, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_msr_outside_ranges_hi, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_pf_intercept, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_bp_intercept_nrip, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_ud_intercept_nrip, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpuid_nrip, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmmcall_not_intercepted, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_inject_exception, svm_setup, teardown),
        cmocka_unit_test_setup_teardown(test_inject_fault_exitintinfo, svm_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
