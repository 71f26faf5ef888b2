/* L1's VMRUN, emulated by L0 (APM vol. 2, 15.5).
 *
 * vmcb12 lies in L1's RAM, where L1 (or an L2 it maps it to) can rewrite
 * it at any time.  L0 reads it once: the control fields and the state-save
 * fields VMRUN uses are copied into hv->nested, then checked, then used;
 * no decision ever reads vmcb12 again. */
#include <string.h>

#include "hv/internal.h"
#include "svm/svm.h"

/* ---- the copy ---- */

static void copy_ctl(struct vmcb_control *c, const struct vmcb_control *v)
{
    memcpy(c->intercepts, v->intercepts, sizeof(c->intercepts));
    c->pause_filter_thresh = v->pause_filter_thresh;
    c->pause_filter_count = v->pause_filter_count;
    c->iopm_base_pa = v->iopm_base_pa;
    c->msrpm_base_pa = v->msrpm_base_pa;
    c->tsc_offset = v->tsc_offset;
    c->asid = v->asid;
    c->tlb_ctl = v->tlb_ctl;
    c->int_ctl = v->int_ctl;
    c->int_vector = v->int_vector;
    c->int_state = v->int_state;
    c->misc_ctl = v->misc_ctl;
    c->nested_cr3 = v->nested_cr3;
    c->misc_ctl2 = v->misc_ctl2;
    c->event_inj = v->event_inj;
    c->event_inj_err = v->event_inj_err;
    c->next_rip = v->next_rip;
}

static void copy_save(struct vmcb_save *s, const struct vmcb_save *v)
{
    s->es = v->es;
    s->cs = v->cs;
    s->ss = v->ss;
    s->ds = v->ds;
    s->gdtr = v->gdtr;
    s->idtr = v->idtr;
    s->efer = v->efer;
    s->cr0 = v->cr0;
    s->cr2 = v->cr2;
    s->cr3 = v->cr3;
    s->cr4 = v->cr4;
    s->dr6 = v->dr6;
    s->dr7 = v->dr7;
    s->rflags = v->rflags;
    s->rip = v->rip;
    s->rsp = v->rsp;
    s->rax = v->rax;
    s->g_pat = v->g_pat;
    s->cpl = v->cpl;
    s->dbgctl = v->dbgctl;
    s->br_from = v->br_from;
    s->br_to = v->br_to;
    s->last_excp_from = v->last_excp_from;
    s->last_excp_to = v->last_excp_to;
}

/* ---- vmcb02 ---- */

/* Nested TSC scaling: L1 reads the hardware's TSC plus vmcb01's offset,
 * L2 that scaled by L1's TSC ratio plus vmcb12's offset; the hardware runs
 * L2 with L1's ratio (hv.c), so vmcb02's offset is vmcb01's scaled (a
 * signed value) plus vmcb12's. */
uint64_t nested_tsc_offset(const struct hv *hv)
{
    __int128 off01 = (int64_t)hv->vmcb01.control.tsc_offset;

    return (uint64_t)(int64_t)((off01 * (__int128)hv->tsc_ratio) >> 32) +
           hv->nested.ctl.tsc_offset;
}

/* The int_ctl bits L0 passes to the hardware: virtual interrupts and TPR,
 * virtual GIF and virtual NMI (the hardware implements them for L2 as it
 * would for L1's guest); not AVIC, which nested mode does not offer. */
#define INT_CTL_PASSED (INT_CTL_V_TPR_MASK | INT_CTL_V_IRQ |               \
                        INT_CTL_V_INTR_PRIO_MASK | INT_CTL_V_IGN_TPR |       \
                        INT_CTL_V_INTR_MASKING | INT_CTL_V_GIF |             \
                        INT_CTL_V_GIF_ENABLE | INT_CTL_V_NMI_PENDING |       \
                        INT_CTL_V_NMI_BLOCKING | INT_CTL_V_NMI_ENABLE)

static void build_ctl02(struct hv *hv)
{
    const struct vmcb_control *c01 = &hv->vmcb01.control;
    const struct vmcb_control *c12 = &hv->nested.ctl;
    struct vmcb_control *c = &hv->vmcb02.control;

    for (int i = 0; i < VMCB_INTERCEPT_WORDS; i++)
        c->intercepts[i] = c01->intercepts[i] | c12->intercepts[i];
    c->pause_filter_thresh = c12->pause_filter_thresh;
    c->pause_filter_count = c12->pause_filter_count;
    c->iopm_base_pa = c01->iopm_base_pa;     /* L0's maps: L0 routes */
    c->msrpm_base_pa = c01->msrpm_base_pa;
    c->tsc_offset = nested_tsc_offset(hv);
    c->asid = hv_hw_asid(c12->asid);
    c->tlb_ctl = c12->tlb_ctl;
    c->int_ctl = c12->int_ctl & INT_CTL_PASSED;
    c->int_vector = c12->int_vector;
    c->int_state = c12->int_state & INT_STATE_SHADOW;
    /* L1's guest-physical addresses are machine addresses: its nested
     * page tables are the hardware's as they are */
    c->misc_ctl = c12->misc_ctl & MISC_CTL_NP_ENABLE;
    c->nested_cr3 = c12->nested_cr3;
    c->misc_ctl2 = c12->misc_ctl2 & MISC_CTL2_LBR_VIRT;
    c->event_inj = c12->event_inj;
    c->event_inj_err = c12->event_inj_err;
    c->next_rip = c12->next_rip;
    c->exit_int_info = 0;
    c->clean = 0;
}

static void build_save02(struct hv *hv)
{
    const struct vmcb_save *s12 = &hv->nested.save;
    struct vmcb_save *s = &hv->vmcb02.save;

    s->es = s12->es;
    s->cs = s12->cs;
    s->ss = s12->ss;
    s->ds = s12->ds;
    s->gdtr = s12->gdtr;
    s->idtr = s12->idtr;
    s->efer = s12->efer;
    s->cr0 = s12->cr0;
    s->cr2 = s12->cr2;
    s->cr3 = s12->cr3;
    s->cr4 = s12->cr4;
    s->dr6 = s12->dr6;
    s->dr7 = s12->dr7;
    s->rflags = s12->rflags;
    s->rip = s12->rip;
    s->rsp = s12->rsp;
    s->rax = s12->rax;
    s->g_pat = s12->g_pat;
    s->cpl = s12->cpl;
    /* used by the hardware only with LBR_VIRT */
    s->dbgctl = s12->dbgctl;
    s->br_from = s12->br_from;
    s->br_to = s12->br_to;
    s->last_excp_from = s12->last_excp_from;
    s->last_excp_to = s12->last_excp_to;
}

/* ---- VMRUN ---- */

/* A failed VMRUN: #VMEXIT(VMEXIT_INVALID) to L1, which continues after its
 * VMRUN with GIF clear; L2 never ran and nothing else in vmcb12 changes. */
void nested_vmrun_invalid(struct hv *hv, const char *why)
{
    struct vmcb *vmcb12 = phys_ptr(hv->cpu, hv->nested.vmcb12_pa, VMCB_SIZE);

    hv->nested.guest_mode = false;
    hv->vmcb = &hv->vmcb01;
    hv->stats.vmrun_invalid++;
    if (hv_tracing(hv))
        hv_trace_vmrun_invalid(hv, why);
    vmcb12->control.exit_code = SVM_EXIT_INVALID;
    vmcb12->control.exit_info_1 = 0;
    vmcb12->control.exit_info_2 = 0;
    phys_invalidate(hv->cpu, hv->nested.vmcb12_pa, VMCB_CONTROL_SIZE);
    hv->gif = false;
}

/* VMRUN stores the host's state in the host-save area (VM_HSAVE_PA) in the
 * VMCB format, as nsvm's hardware does; L0 restores L1 from vmcb01, but
 * L1's memory looks as it would after a VMRUN on the hardware. */
static void write_hsave(struct hv *hv, struct vmcb *h)
{
    const struct vmcb_save *s01 = &hv->vmcb01.save;
    struct vmcb_save *s = &h->save;

    s->es = s01->es;
    s->cs = s01->cs;
    s->ss = s01->ss;
    s->ds = s01->ds;
    s->gdtr.base = s01->gdtr.base;
    s->gdtr.limit = (uint16_t)s01->gdtr.limit;
    s->idtr.base = s01->idtr.base;
    s->idtr.limit = (uint16_t)s01->idtr.limit;
    s->efer = s01->efer;
    s->cr0 = s01->cr0;
    s->cr3 = s01->cr3;
    s->cr4 = s01->cr4;
    s->rflags = s01->rflags;
    s->rip = s01->rip;
    s->rsp = s01->rsp;
    s->rax = s01->rax;
    s->g_pat = hv->cpu->pat;
    s->cpl = 0;
    phys_invalidate(hv->cpu, hv->hsave_pa, VMCB_SIZE);
}

/* The VMCB (and then the host-save area) must be RAM: #GP(0) otherwise.
 * The hardware has checked rAX's alignment and width before the intercept. */
static struct vmcb *ram_page(struct hv *hv, uint64_t pa)
{
    struct vmcb *v = NULL;

    if (!(pa & 0xfff) && !(pa >> PHYS_ADDR_BITS))
        v = phys_ptr(hv->cpu, pa, VMCB_SIZE);
    if (!v)
        hv_queue_exception(hv, EXC_GP, 0, true);
    return v;
}

enum x86_stop nested_vmrun(struct hv *hv)
{
    struct vmcb *v01 = &hv->vmcb01;
    uint64_t pa = hv_rax_addr(v01);
    struct vmcb *vmcb12, *hsave;
    const char *bad;

    if (!hv_svm_insn_allowed(hv) || !(vmcb12 = ram_page(hv, pa)) ||
        !(hsave = ram_page(hv, hv->hsave_pa)))
        return STOP_NONE;
    hv->stats.vmruns++;
    hv->nested.vmcb12_pa = pa;
    copy_ctl(&hv->nested.ctl, &vmcb12->control);
    copy_save(&hv->nested.save, &vmcb12->save);
    /* L1 continues after its VMRUN whenever it gets control back */
    hv_retire_insn(hv);
    /* the hardware's consistency checks (APM 15.5.1), on the copy; the
     * host is L1, whose maps are in its RAM */
    if ((bad = svm_vmcb_check(&hv->nested.ctl, &hv->nested.save,
                              v01->save.cr0, true))) {
        nested_vmrun_invalid(hv, bad);
        return STOP_NONE;
    }
    write_hsave(hv, hsave);
    build_ctl02(hv);
    build_save02(hv);
    hv->gif = true;
    hv->nested.l2_svme = true;   /* checked above */
    hv->nested.guest_mode = true;
    hv->vmcb = &hv->vmcb02;
    if (hv_tracing(hv))
        hv_trace_nested_vmrun(hv);
    return STOP_NONE;
}
