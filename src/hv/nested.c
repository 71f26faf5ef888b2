/* L1's VMRUN, emulated by L0 (APM vol. 2, 15.5).
 *
 * vmcb12 lies in L1's RAM, where L1 (or an L2 it maps it to) can rewrite
 * it at any time.  L0 reads it once: the control fields and the state-save
 * fields VMRUN uses are copied into hv->nested, then checked, then used;
 * no decision ever reads vmcb12 again. */
#include <string.h>

#include "hv/internal.h"

/* ---- the copy ---- */

static void copy_ctl(struct nested_ctl *c, const struct vmcb_control *v)
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

static void copy_save(struct nested_save *s, const struct vmcb_save *v)
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
}

/* ---- the consistency checks (APM 15.5.1), on the copy ---- */

/* One line per check: the failing one names itself in the trace. */
#define CHECK(cond, why) do { if (cond) return why; } while (0)

static bool pat_valid(uint64_t pat)
{
    for (int i = 0; i < 8; i++) {
        unsigned t = (pat >> (i * 8)) & 0xff;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

static bool map_beyond_maxphyaddr(uint64_t base, uint64_t size)
{
    return ((base & ~0xfffull) + size - 1) >> PHYS_ADDR_BITS != 0;
}

static const char *check_save(const struct nested_save *s)
{
    bool lme_pg = (s->efer & EFER_LME) && (s->cr0 & CR0_PG);

    CHECK(!(s->efer & EFER_SVME), "EFER.SVME is clear");
    CHECK(!(s->cr0 & CR0_CD) && (s->cr0 & CR0_NW), "CR0.CD is clear and CR0.NW set");
    CHECK(s->cr0 >> 32, "CR0[63:32] are not zero");
    CHECK(lme_pg && (s->cr3 >> PHYS_ADDR_BITS), "CR3 has MBZ bits set");
    CHECK(s->cr4 & ~CR4_VALID, "CR4 has reserved bits set");
    CHECK(s->dr6 >> 32, "DR6[63:32] are not zero");
    CHECK(s->dr7 >> 32, "DR7[63:32] are not zero");
    CHECK(s->efer & ~EFER_VALID, "EFER has MBZ bits set");
    CHECK(lme_pg && !(s->cr4 & CR4_PAE), "EFER.LME and CR0.PG set, CR4.PAE clear");
    CHECK(lme_pg && !(s->cr0 & CR0_PE), "EFER.LME and CR0.PG set, CR0.PE clear");
    CHECK(lme_pg && (s->cr4 & CR4_PAE) && (s->cs.attrib & SEG_ATTR_L) &&
          (s->cs.attrib & SEG_ATTR_DB), "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set");
    return NULL;
}

/* The vectors an EXCEPTION-type EVENTINJ may name: the exceptions this CPU
 * raises — not 2 (NMI), 9, 15, the reserved vectors, nor #CP, #VC, which
 * need features nsvm does not offer (15.20). */
#define EVENTINJ_EXCEPTIONS                                                  \
    ((1u << EXC_DE) | (1u << EXC_DB) | (1u << EXC_BP) | (1u << EXC_OF) |      \
     (1u << EXC_BR) | (1u << EXC_UD) | (1u << EXC_NM) | (1u << EXC_DF) |      \
     (1u << EXC_TS) | (1u << EXC_NP) | (1u << EXC_SS) | (1u << EXC_GP) |      \
     (1u << EXC_PF) | (1u << EXC_MF) | (1u << EXC_AC) | (1u << EXC_MC) |      \
     (1u << EXC_XM) | (1u << 28) | (1u << 30))   /* #HV, #SX */

/* EVENTINJ (15.20): a reserved type, or an exception type whose vector is
 * not an exception. */
static bool eventinj_illegal(uint32_t ev)
{
    unsigned type = ev & EVENTINJ_TYPE_MASK;
    unsigned vec = ev & EVENTINJ_VECTOR_MASK;

    if (!(ev & EVENTINJ_V))
        return false;
    if (type != EVENTINJ_TYPE_INTR && type != EVENTINJ_TYPE_NMI &&
        type != EVENTINJ_TYPE_EXCEPTION && type != EVENTINJ_TYPE_SOFT_INT)
        return true;
    return type == EVENTINJ_TYPE_EXCEPTION &&
           (vec > 31 || !((EVENTINJ_EXCEPTIONS >> vec) & 1));
}

/* l1_cr0: nested paging needs the host (L1) to have paging on. */
static const char *check_ctl(const struct nested_ctl *c,
                             const struct nested_save *s, uint64_t l1_cr0)
{
    bool np = (c->misc_ctl & MISC_CTL_NP_ENABLE) != 0;

    CHECK(!((c->intercepts[INTERCEPT_VMRUN / 32] >> (INTERCEPT_VMRUN % 32)) & 1),
          "the VMRUN intercept is clear");
    CHECK(c->asid == 0, "ASID is 0");
    CHECK(map_beyond_maxphyaddr(c->msrpm_base_pa, MSRPM_SIZE),
          "the MSRPM extends beyond MAXPHYADDR");
    CHECK(map_beyond_maxphyaddr(c->iopm_base_pa, IOPM_SIZE),
          "the IOPM extends beyond MAXPHYADDR");
    CHECK(eventinj_illegal(c->event_inj), "EVENTINJ is illegal");
    CHECK(np && (c->nested_cr3 >> PHYS_ADDR_BITS), "nCR3 has MBZ bits set");
    CHECK(np && !pat_valid(s->g_pat), "G_PAT is not a valid PAT");
    CHECK(np && !(l1_cr0 & CR0_PG), "nested paging while L1 has paging off");
    return NULL;
}

/* ---- vmcb02 ---- */

/* The int_ctl bits L0 passes to the hardware: virtual interrupts and TPR;
 * not V_GIF, vNMI or AVIC, which nested mode does not offer. */
#define INT_CTL_PASSED (INT_CTL_V_TPR_MASK | INT_CTL_V_IRQ |               \
                        INT_CTL_V_INTR_PRIO_MASK | INT_CTL_V_IGN_TPR |       \
                        INT_CTL_V_INTR_MASKING)

static void build_ctl02(struct hv *hv)
{
    const struct vmcb_control *c01 = &hv->vmcb01.control;
    const struct nested_ctl *c12 = &hv->nested.ctl;
    struct vmcb_control *c = &hv->vmcb02.control;

    for (int i = 0; i < VMCB_INTERCEPT_WORDS; i++)
        c->intercepts[i] = c01->intercepts[i] | c12->intercepts[i];
    c->pause_filter_thresh = c12->pause_filter_thresh;
    c->pause_filter_count = c12->pause_filter_count;
    c->iopm_base_pa = c01->iopm_base_pa;     /* L0's maps: L0 routes */
    c->msrpm_base_pa = c01->msrpm_base_pa;
    c->tsc_offset = c01->tsc_offset + c12->tsc_offset;
    c->asid = hv_hw_asid(c12->asid);
    c->tlb_ctl = c12->tlb_ctl;
    c->int_ctl = c12->int_ctl & INT_CTL_PASSED;
    c->int_vector = c12->int_vector;
    c->int_state = c12->int_state & INT_STATE_SHADOW;
    /* L1's guest-physical addresses are machine addresses: its nested
     * page tables are the hardware's as they are */
    c->misc_ctl = c12->misc_ctl & MISC_CTL_NP_ENABLE;
    c->nested_cr3 = c12->nested_cr3;
    c->misc_ctl2 = 0;
    c->event_inj = c12->event_inj;
    c->event_inj_err = c12->event_inj_err;
    c->next_rip = c12->next_rip;
    c->exit_int_info = 0;
    c->clean = 0;
}

static void build_save02(struct hv *hv)
{
    const struct nested_save *s12 = &hv->nested.save;
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
    if ((bad = check_save(&hv->nested.save)) ||
        (bad = check_ctl(&hv->nested.ctl, &hv->nested.save, v01->save.cr0))) {
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
