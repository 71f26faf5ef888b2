/* SVM's virtual interrupts (APM vol. 2, 15.21): V_IRQ with its vector,
 * priority and TPR rules, the VINTR intercept, virtual GIF (15.33) and
 * virtual NMI (15.21.10).
 *
 * VMRUN caches int_ctl in cpu->svm.int_ctl; while the guest runs the
 * processor works on that copy (taking V_IRQ clears it, STGI/CLGI flip
 * V_GIF, a virtual NMI moves from pending to blocking) and #VMEXIT writes
 * those bits back into the VMCB.  A virtual interrupt or NMI that waits
 * sets EVENT_VIRQ / EVENT_VNMI, so the run loop looks at it between
 * instructions (intr.c) exactly as at a physical one.
 *
 * When a virtual interrupt is taken: V_IRQ is set, the guest's RFLAGS.IF
 * is set, no interrupt shadow, V_GIF is set (when VGIF is enabled), and
 * V_IGN_TPR is set or V_INTR_PRIO is above the guest's TPR (V_TPR).  It
 * is then delivered through the guest's IDT like an external interrupt
 * with vector V_INTR_VECTOR — unless the VMCB intercepts VINTR, in which
 * case the #VMEXIT happens instead and V_IRQ stays set.  Virtual
 * interrupts are not subject to the INTR intercept; virtual NMIs are not
 * subject to the NMI intercept. */
#include "svm/svm_internal.h"

static bool v_gif_set(const struct svm_state *svm)
{
    return !(svm->int_ctl & INT_CTL_V_GIF_ENABLE) ||
           (svm->int_ctl & INT_CTL_V_GIF);
}

static bool vnmi_enabled(const struct svm_state *svm)
{
    return (svm->int_ctl & INT_CTL_V_NMI_ENABLE) != 0;
}

void svm_vintr_events(struct cpu *cpu)
{
    const struct svm_state *svm = &cpu->svm;
    x86_clear_event(cpu, EVENT_VIRQ | EVENT_VNMI);
    if (!svm->guest_mode)
        return;
    if (svm->int_ctl & INT_CTL_V_IRQ)
        x86_set_event(cpu, EVENT_VIRQ);
    if (vnmi_enabled(svm) && (svm->int_ctl & INT_CTL_V_NMI_PENDING))
        x86_set_event(cpu, EVENT_VNMI);
}

void svm_vintr_enter(struct cpu *cpu, const struct vmcb_control *c)
{
    struct svm_state *svm = &cpu->svm;
    uint32_t ctl = c->int_ctl;

    /* features not offered in CPUID are ignored, as by a CPU without them */
    if (!(cpu->svm_features & SVM_FEATURE_VGIF))
        ctl &= ~(INT_CTL_V_GIF_ENABLE | INT_CTL_V_GIF);
    if (!(cpu->svm_features & SVM_FEATURE_VNMI))
        ctl &= ~(INT_CTL_V_NMI_ENABLE | INT_CTL_V_NMI_PENDING |
                 INT_CTL_V_NMI_BLOCKING);
    svm->int_ctl = ctl;
    svm->int_vector = (uint8_t)c->int_vector;
    /* with vNMI the guest's NMI masking is V_NMI_BLOCKING, the host's
     * comes back at #VMEXIT */
    if (vnmi_enabled(svm)) {
        svm->host_nmi_blocked = cpu->nmi_blocked;
        cpu->nmi_blocked = (ctl & INT_CTL_V_NMI_BLOCKING) != 0;
    }
}

void svm_vintr_exit(struct cpu *cpu, struct vmcb_control *c)
{
    struct svm_state *svm = &cpu->svm;

    if (vnmi_enabled(svm)) {
        svm->int_ctl = (svm->int_ctl & ~INT_CTL_V_NMI_BLOCKING) |
                       (cpu->nmi_blocked ? INT_CTL_V_NMI_BLOCKING : 0);
        cpu->nmi_blocked = svm->host_nmi_blocked;
    }
    uint32_t wb = INT_CTL_V_IRQ;
    if (c->int_ctl & INT_CTL_V_GIF_ENABLE && (cpu->svm_features & SVM_FEATURE_VGIF))
        wb |= INT_CTL_V_GIF;
    if (vnmi_enabled(svm))
        wb |= INT_CTL_V_NMI_PENDING | INT_CTL_V_NMI_BLOCKING;
    c->int_ctl = (c->int_ctl & ~wb) | (svm->int_ctl & wb);
    svm->int_ctl = 0;
}

/* ---- taking them (intr.c asks between instructions) ---- */

/* The guest's TPR as V_IRQ's priority is compared with it: CR8 while
 * V_INTR_MASKING makes CR8 the virtual TPR, else the VMCB's V_TPR. */
static unsigned guest_tpr(const struct cpu *cpu)
{
    if (cpu->svm.v_intr_masking)
        return (unsigned)cpu->cr8 & 0xf;
    return cpu->svm.int_ctl & INT_CTL_V_TPR_MASK;
}

bool svm_virq_ready(const struct cpu *cpu, bool if_set)
{
    const struct svm_state *svm = &cpu->svm;
    uint32_t ctl = svm->int_ctl;

    if (!svm->guest_mode || !(ctl & INT_CTL_V_IRQ) || !if_set ||
        !v_gif_set(svm))
        return false;
    if (ctl & INT_CTL_V_IGN_TPR)
        return true;
    unsigned prio = (ctl & INT_CTL_V_INTR_PRIO_MASK) >> INT_CTL_V_INTR_PRIO_SHIFT;
    return prio > guest_tpr(cpu);
}

bool svm_vnmi_ready(const struct cpu *cpu)
{
    const struct svm_state *svm = &cpu->svm;
    return svm->guest_mode && vnmi_enabled(svm) &&
           (svm->int_ctl & INT_CTL_V_NMI_PENDING) && !cpu->nmi_blocked &&
           v_gif_set(svm);
}

void svm_take_virq(struct cpu *cpu)
{
    struct svm_state *svm = &cpu->svm;

    cpu->next_rip = cpu->rip;
    cpu->halted = false;   /* RIP is past the HLT: the exit resumes there */
    svm_intercept(cpu, SVM_EXIT_VINTR, 0, 0);
    svm->int_ctl &= ~INT_CTL_V_IRQ;
    x86_clear_event(cpu, EVENT_VIRQ);
    x86_deliver_event(cpu, svm->int_vector, EVT_EXTINT, 0, false);
}

void svm_take_vnmi(struct cpu *cpu)
{
    struct svm_state *svm = &cpu->svm;

    cpu->next_rip = cpu->rip;
    cpu->halted = false;
    svm->int_ctl &= ~INT_CTL_V_NMI_PENDING;
    x86_clear_event(cpu, EVENT_VNMI);
    cpu->nmi_blocked = true;
    x86_deliver_event(cpu, EXC_NMI, EVT_NMI, 0, false);
}

/* STGI and CLGI in a guest with VGIF enabled (and not intercepted) set
 * and clear V_GIF, not the GIF (15.33.2).  Returns false without VGIF. */
bool svm_vgif_write(struct cpu *cpu, bool set)
{
    struct svm_state *svm = &cpu->svm;
    if (!svm->guest_mode || !(svm->int_ctl & INT_CTL_V_GIF_ENABLE))
        return false;
    svm->int_ctl = set ? svm->int_ctl | INT_CTL_V_GIF
                       : svm->int_ctl & ~INT_CTL_V_GIF;
    return true;
}
