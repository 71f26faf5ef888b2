/* The L0 run loop (see hv.h): enter the current VMCB on the hardware, take
 * the #VMEXIT, route it, handle it, deliver what L0 queued, enter again. */
#include <string.h>

#include "hv/internal.h"
#include "svm/svm.h"

/* vmcb01's save area from the CPU as the loader left it: L1 starts in
 * the state it would start in on bare hardware.  The VMLOAD state (FS, GS,
 * TR, LDTR, the SYSCALL MSRs) is not loaded by VMRUN and stays in the CPU. */
static void init_l1_state(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;
    struct vmcb_save *s = &hv->vmcb01.save;

    svm_save_guest(cpu, &hv->vmcb01);
    hv->l1_svme = (cpu->efer & EFER_SVME) != 0;
    s->efer = cpu->efer | EFER_SVME;   /* VMRUN requires it of any guest */
    s->g_pat = cpu->pat;
}

/* L0 always intercepts these in L1 (and so, merged, in L2). */
static const unsigned l0_intercepts[] = {
    INTERCEPT_VMRUN, INTERCEPT_VMMCALL, INTERCEPT_VMLOAD, INTERCEPT_VMSAVE,
    INTERCEPT_STGI, INTERCEPT_CLGI, INTERCEPT_SKINIT, INTERCEPT_INVLPGA,
    INTERCEPT_IOIO_PROT, INTERCEPT_MSR_PROT, INTERCEPT_CPUID,
    INTERCEPT_HLT, INTERCEPT_SHUTDOWN, INTERCEPT_INIT, INTERCEPT_SMI,
    INTERCEPT_RSM,
};

void hv_init(struct hv *hv, struct cpu *cpu)
{
    memset(hv, 0, sizeof(*hv));
    hv->cpu = cpu;
    hv->vmcb = &hv->vmcb01;
    hv->exc.vector = -1;
    hv->gif = true;
    hv->vm_cr = cpu->svm.vm_cr;
    hv->hsave_pa = cpu->svm.hsave_pa;
    hv->tsc_ratio = cpu->svm.tsc_ratio;
    for (size_t i = 0; i < sizeof(l0_intercepts) / sizeof(l0_intercepts[0]); i++)
        vmcb_set_intercept(&hv->vmcb01, l0_intercepts[i]);
    hv->vmcb01.control.asid = HV_ASID_L1;
    hv->vmcb01.control.tlb_ctl = TLB_CONTROL_FLUSH_ALL;
    hv_init_maps(hv);
    init_l1_state(hv);
}

/* The processor took an INIT that no level intercepted: L1 restarts in
 * the state INIT gives the CPU, and an L2 it ran is gone with it. */
void hv_init_signal(struct hv *hv)
{
    hv->nested.guest_mode = false;
    hv->vmcb = &hv->vmcb01;
    hv->exc.vector = -1;
    hv->gif = true;
    x86_init_processor(hv->cpu);
    init_l1_state(hv);
    hv->vmcb01.control.event_inj = 0;
    hv->vmcb01.control.exit_int_info = 0;
    hv->vmcb01.control.tlb_ctl = TLB_CONTROL_FLUSH_ALL;
}

void hv_queue_exception(struct hv *hv, int vector, uint32_t err, bool has_err)
{
    hv->exc.vector = vector;
    hv->exc.err = has_err ? err : 0;
    hv->exc.has_err = has_err;
    hv->exc.cr2 = 0;
    if (vector >= 0 && vector < 32)
        hv->stats.injected[vector]++;
}

void hv_retire_insn(struct hv *hv)
{
    struct vmcb *v = hv->vmcb;

    v->save.rip = v->control.next_rip;
    v->control.int_state &= ~INT_STATE_SHADOW;
    hv->cpu->icount++;
    hv->stats.insns[hv_level(hv)]++;
}

/* With RFLAGS.TF set, an instruction that completes is followed by a #DB
 * trap with DR6.BS (APM vol. 2, 13.1.3), whoever executed it. */
void hv_skip_insn(struct hv *hv)
{
    struct vmcb *v = hv->vmcb;

    hv_retire_insn(hv);
    if (v->save.rflags & FLAG_TF) {
        v->save.dr6 |= DR6_BS;
        hv_queue_exception(hv, EXC_DB, 0, false);
    }
}

enum x86_stop hv_internal_error(struct hv *hv, const char *what)
{
    fprintf(stderr, "nsvm: internal error in L0: %s (%s, RIP 0x%llx)\n", what,
            hv->nested.guest_mode ? "L2" : "L1",
            (unsigned long long)hv->vmcb->save.rip);
    return STOP_VMEXIT;   /* not a stop the machine expects: internal */
}

/* The exception L0 queued: into EVENTINJ, unless L2 is running and L1
 * intercepts the vector, in which case L1 gets the #VMEXIT instead (the
 * hardware does not apply intercepts to injected events, so L0 asks). */
static void deliver_queued(struct hv *hv)
{
    struct hv_exception e = hv->exc;

    hv->exc.vector = -1;
    if (hv->nested.guest_mode && nested_intercepts_exception(hv, e.vector)) {
        if (hv_tracing(hv))
            hv_trace_inject(hv, &e, "reflected to L1");
        hv_count_exit(hv, HV_ROUTE_L2_L1, SVM_EXIT_EXCP(e.vector));
        nested_vmexit(hv, SVM_EXIT_EXCP(e.vector), e.err,
                      e.vector == EXC_PF ? e.cr2 : 0);
        return;
    }
    hv->vmcb->control.event_inj = EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION |
                                  (uint32_t)e.vector |
                                  (e.has_err ? EVENTINJ_EV : 0);
    hv->vmcb->control.event_inj_err = e.err;
    if (e.vector == EXC_PF)
        hv->vmcb->save.cr2 = e.cr2;
    if (hv_tracing(hv))
        hv_trace_inject(hv, &e, "injected");
}

/* An event whose delivery the exit interrupted is delivered again when
 * L0 resumes the same guest (APM 15.7.2, EXITINTINFO). */
static void reinject_interrupted(struct vmcb *v)
{
    if (v->control.exit_int_info & EVENTINJ_V) {
        v->control.event_inj = v->control.exit_int_info;
        v->control.event_inj_err = v->control.exit_int_info_err;
    }
}

/* Enter the current VMCB, or continue the guest the budget interrupted. */
static enum x86_stop enter(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;
    enum hv_level level = hv_level(hv);
    uint64_t start = cpu->icount;

    if (cpu->svm.guest_mode) {
        x86_run(cpu);
    } else {
        if (hv->exc.vector >= 0) {
            deliver_queued(hv);
            level = hv_level(hv);
        }
        hv_pmu_enter(hv);
        /* an L2 with V_INTR_MASKING takes physical interrupts per L1's IF */
        cpu->svm.host_if = !hv->nested.guest_mode ||
                           (hv->vmcb01.save.rflags & FLAG_IF);
        /* L1's TSC is not scaled; L2's is by L1's TSC ratio */
        cpu->svm.tsc_ratio = hv->nested.guest_mode ? hv->tsc_ratio
                                                   : TSC_RATIO_DEFAULT;
        if (svm_vmrun_native(cpu, hv->vmcb) == STOP_VMEXIT)
            cpu->stop = STOP_VMEXIT;   /* also when VMRUN itself failed */
        /* a TLB flush is asked for once, as KVM does after servicing it */
        hv->vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
    }
    hv->stats.insns[level] += cpu->icount - start;
    return cpu->stop;
}

enum x86_stop hv_run(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;

    for (;;) {
        enum x86_stop why = enter(hv);
        if (why != STOP_VMEXIT)
            return why;
        cpu->stop = STOP_NONE;
        if (hv->open_port_size)
            hv_close_ports(hv);
        if (hv->open_intercept)
            hv_close_intercept(hv);
        if (hv->rsm_open)
            hv_rsm_done(hv);
        struct vmcb *v = hv->vmcb;
        v->control.event_inj = 0;
        if (hv_tracing(hv))
            hv_trace_exit(hv);
        if (hv->nested.guest_mode && nested_route_exit(hv))
            continue;   /* reflected: L1 runs next */
        hv_count_exit(hv, hv->nested.guest_mode ? HV_ROUTE_L2_L0
                                                : HV_ROUTE_L1_L0,
                      v->control.exit_code);
        why = hv_handle_exit(hv, v->control.exit_code);
        if (why == STOP_NONE && hv->vmcb == v)
            reinject_interrupted(v);
        if (why != STOP_NONE) {
            cpu->stop = why;
            cpu->rip = hv->vmcb->save.rip;
            return why;
        }
    }
}
