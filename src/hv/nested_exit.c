/* L2 exits: every one comes to L0 first.  L0 reflects it to L1 exactly
 * when L1 asked for it, else handles it itself and resumes L2.
 *
 * The question is asked in two steps: exits L0 must handle whatever L1's
 * intercepts say, then "did L1 ask?" — for most exit codes a single bit of
 * vmcb12's intercepts, since below 0xC0 the intercept bit index is the exit
 * code; for IOIO and MSR exits L1's own permission maps, read from L1's
 * RAM; for NPF always (only L1 turns nested paging on for L2). */
#include "hv/internal.h"

static bool l1_intercept(const struct hv *hv, unsigned bit)
{
    return (hv->nested.ctl.intercepts[bit / 32] >> (bit % 32)) & 1;
}

bool nested_intercepts_exception(const struct hv *hv, int vector)
{
    return vector >= 0 && vector < 32 &&
           l1_intercept(hv, INTERCEPT_EXCEPTION((unsigned)vector));
}

/* A bit of one of L1's permission maps, read as the hardware reads it
 * (outside RAM: open bus, all ones). */
static bool map_bit(struct hv *hv, uint64_t base, uint64_t bit)
{
    uint64_t pa = (base & ~0xfffull) + bit / 8;

    return (phys_read(hv->cpu, pa, 1) >> (bit % 8)) & 1;
}

/* 15.10.2: an access of size n at port p checks bits p .. p+n-1. */
static bool l1_wants_ioio(struct hv *hv, uint64_t info1)
{
    unsigned port = (unsigned)(info1 >> IOIO_PORT_SHIFT) & 0xffff;
    unsigned size = (info1 & IOIO_SIZE_MASK) >> IOIO_SIZE_SHIFT;

    if (!l1_intercept(hv, INTERCEPT_IOIO_PROT))
        return false;
    for (unsigned i = 0; i < size; i++)
        if (map_bit(hv, hv->nested.ctl.iopm_base_pa, port + i))
            return true;
    return false;
}

/* 15.11: MSRs outside the three ranges are always intercepted. */
static bool l1_wants_msr(struct hv *hv, uint64_t info1)
{
    long bit = msrpm_read_bit((uint32_t)hv->cpu->gpr[RCX]);

    if (!l1_intercept(hv, INTERCEPT_MSR_PROT))
        return false;
    if (bit < 0)
        return true;
    return map_bit(hv, hv->nested.ctl.msrpm_base_pa,
                   (uint64_t)bit + (info1 == MSR_EXITINFO1_WRITE));
}

static bool l1_asked_for(struct hv *hv, uint64_t code, uint64_t info1)
{
    switch (code) {
    case SVM_EXIT_IOIO:
        return l1_wants_ioio(hv, info1);
    case SVM_EXIT_MSR:
        return l1_wants_msr(hv, info1);
    case SVM_EXIT_NPF:
        return true;
    default:
        return code < SVM_EXIT_INTERCEPT_LIMIT && l1_intercept(hv, (unsigned)code);
    }
}

/* Step 1.  An SVM instruction in an L2 whose EFER.SVME is clear raises #UD
 * before any intercept is checked; the hardware saw SVME set (vmcb02 must
 * have it), so L0 makes the #UD, and routes it as an exception. */
static bool l0_handles_first(struct hv *hv, uint64_t code)
{
    switch (code) {
    case SVM_EXIT_VMRUN: case SVM_EXIT_VMLOAD: case SVM_EXIT_VMSAVE:
    case SVM_EXIT_STGI: case SVM_EXIT_CLGI: case SVM_EXIT_SKINIT:
    case SVM_EXIT_INVLPGA:
        if (hv->nested.l2_svme)
            return false;
        hv_queue_exception(hv, EXC_UD, 0, false);
        return true;
    default:
        return false;
    }
}

bool nested_route_exit(struct hv *hv)
{
    const struct vmcb_control *c = &hv->vmcb02.control;
    uint64_t code = c->exit_code;

    if (code == SVM_EXIT_INVALID) {
        /* the hardware refused vmcb02 although vmcb12 passed L0's checks:
         * L1 gets the failed VMRUN it would have got from the hardware */
        hv_count_exit(hv, HV_ROUTE_L2_L1, code);
        nested_vmrun_invalid(hv, "the hardware refused vmcb02");
        return true;
    }
    if (l0_handles_first(hv, code)) {
        hv_count_exit(hv, HV_ROUTE_L2_L0, code);
        return true;
    }
    if (!l1_asked_for(hv, code, c->exit_info_1))
        return false;
    hv_count_exit(hv, HV_ROUTE_L2_L1, code);
    nested_reflect(hv);
    return true;
}

/* ---- the emulated #VMEXIT (APM 15.6) ---- */

/* L2's state as the hardware saved it into vmcb02, into vmcb12. */
static void save_l2_state(struct hv *hv, struct vmcb_save *s)
{
    const struct vmcb_save *s02 = &hv->vmcb02.save;

    s->es = s02->es;
    s->cs = s02->cs;
    s->ss = s02->ss;
    s->ds = s02->ds;
    /* base and limit only: #VMEXIT leaves the rest of these two alone */
    s->gdtr.base = s02->gdtr.base;
    s->gdtr.limit = s02->gdtr.limit;
    s->idtr.base = s02->idtr.base;
    s->idtr.limit = s02->idtr.limit;
    s->efer = (s02->efer & ~EFER_SVME) | (hv->nested.l2_svme ? EFER_SVME : 0);
    s->cr0 = s02->cr0;
    s->cr2 = s02->cr2;
    s->cr3 = s02->cr3;
    s->cr4 = s02->cr4;
    s->dr6 = s02->dr6;
    s->dr7 = s02->dr7;
    s->rflags = s02->rflags;
    s->rip = s02->rip;
    s->rsp = s02->rsp;
    s->rax = s02->rax;
    s->cpl = s02->cpl;
    if (hv->vmcb02.control.misc_ctl & MISC_CTL_NP_ENABLE)
        s->g_pat = s02->g_pat;
    if (hv->vmcb02.control.misc_ctl2 & MISC_CTL2_LBR_VIRT) {
        s->dbgctl = s02->dbgctl;
        s->br_from = s02->br_from;
        s->br_to = s02->br_to;
        s->last_excp_from = s02->last_excp_from;
        s->last_excp_to = s02->last_excp_to;
    }
}

/* The int_ctl bits a #VMEXIT writes back for a VMCB whose int_ctl was
 * ctl: V_IRQ always, V_TPR under V_INTR_MASKING, V_GIF under VGIF, the
 * vNMI bits under vNMI. */
static uint32_t int_ctl_written(uint32_t ctl)
{
    uint32_t wb = INT_CTL_V_IRQ;
    if (ctl & INT_CTL_V_INTR_MASKING)
        wb |= INT_CTL_V_TPR_MASK;
    if (ctl & INT_CTL_V_GIF_ENABLE)
        wb |= INT_CTL_V_GIF;
    if (ctl & INT_CTL_V_NMI_ENABLE)
        wb |= INT_CTL_V_NMI_PENDING | INT_CTL_V_NMI_BLOCKING;
    return wb;
}

/* The exit information, from vmcb02, into vmcb12 — the fields a #VMEXIT
 * writes and no others. */
static void save_exit_info(struct hv *hv, struct vmcb_control *c)
{
    const struct vmcb_control *c02 = &hv->vmcb02.control;

    c->exit_code = c02->exit_code;
    c->exit_info_1 = c02->exit_info_1;
    c->exit_info_2 = c02->exit_info_2;
    c->exit_int_info = c02->exit_int_info;
    c->exit_int_info_err = c02->exit_int_info_err;
    c->next_rip = c02->next_rip;
    c->insn_len = c02->insn_len;              /* decode assists (15.33.4) */
    if (c02->exit_code == SVM_EXIT_EXCP(EXC_PF) || c02->exit_code == SVM_EXIT_NPF)
        memcpy(c->insn_bytes, c02->insn_bytes, sizeof(c->insn_bytes));
    c->int_state = c02->int_state;
    c->int_ctl = (c->int_ctl & ~int_ctl_written(hv->nested.ctl.int_ctl)) |
                 (c02->int_ctl & int_ctl_written(hv->nested.ctl.int_ctl));
    c->event_inj &= ~EVENTINJ_V;
}

void nested_reflect(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;
    struct vmcb *vmcb12 = phys_ptr(cpu, hv->nested.vmcb12_pa, VMCB_SIZE);

    /* vmcb12_pa was checked at VMRUN and RAM does not move */
    save_l2_state(hv, &vmcb12->save);
    save_exit_info(hv, &vmcb12->control);
    phys_invalidate(cpu, hv->nested.vmcb12_pa, VMCB_SIZE);
    if (hv_tracing(hv))
        hv_trace_nested_vmexit_inject(hv, vmcb12);

    /* back to L1, after its VMRUN: vmcb01 holds L1 as it was then.  The
     * general registers are L2's now, as after a hardware #VMEXIT; so are
     * CR2 and DR6, which #VMEXIT does not restore. */
    hv->nested.guest_mode = false;
    hv->vmcb = &hv->vmcb01;
    hv->vmcb01.save.cr2 = hv->vmcb02.save.cr2;
    hv->vmcb01.save.dr6 = hv->vmcb02.save.dr6;
    hv->vmcb01.save.dr7 = 0x400;   /* #VMEXIT disables breakpoints */
    hv->gif = false;
}

void nested_vmexit(struct hv *hv, uint64_t code, uint64_t info1,
                   uint64_t info2)
{
    struct vmcb_control *c = &hv->vmcb02.control;

    c->exit_code = code;
    c->exit_info_1 = info1;
    c->exit_info_2 = info2;
    c->exit_int_info = 0;
    c->exit_int_info_err = 0;
    c->next_rip = 0;
    c->insn_len = 0;   /* L0 makes no #PF or NPF exit of its own */
    nested_reflect(hv);
}
