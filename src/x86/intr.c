/* External events: the point between two instructions where the CPU
 * accepts an NMI or a maskable interrupt (APM vol. 2, 8.5 and 8.9), and
 * the halted CPU that waits for one.
 *
 * The run loop calls x86_check_events() before a block only while
 * cpu->events is non-zero, so ordinary code pays one test per block.
 * Priority, highest first: NMI, then INTR.  Both are held while GIF is
 * clear and inside an interrupt shadow (STI, MOV SS); NMI also from one
 * NMI's delivery to the next IRET; INTR while RFLAGS.IF is clear.
 *
 * In guest mode the physical event is first offered to the SVM intercepts
 * (INTR, NMI: #VMEXIT before the event is acknowledged, so it stays
 * pending for the host); not intercepted, it is delivered through the
 * guest's IDT.  With V_INTR_MASKING the host's RFLAGS.IF, not the guest's,
 * masks physical interrupts (APM 15.21.1). */
#include "svm/svm.h"
#include "x86/cpu.h"

static bool gif_set(struct cpu *cpu)
{
    return cpu->svm.gif &&
           (!cpu->intc.host_gif || cpu->intc.host_gif(cpu->intc.opaque));
}

static bool in_shadow(const struct cpu *cpu)
{
    return cpu->shadow_until && cpu->icount <= cpu->shadow_until;
}

/* RFLAGS.IF as it masks physical interrupts at this level. */
static bool intr_unmasked(const struct cpu *cpu)
{
    const struct svm_state *svm = &cpu->svm;
    if (svm->guest_mode && svm->v_intr_masking)
        return svm->hsave ? (svm->hsave->save.rflags & FLAG_IF) != 0
                          : svm->host_if;
    return (cpu->rflags & FLAG_IF) != 0;
}

static int intr_pending(struct cpu *cpu)
{
    if (!cpu->intc.intr_pending) {
        x86_clear_event(cpu, EVENT_INTR);
        return -1;
    }
    return cpu->intc.intr_pending(cpu->intc.opaque);
}

static void take_nmi(struct cpu *cpu)
{
    cpu->next_rip = cpu->rip;
    cpu->halted = false;   /* RIP is past the HLT: the exit resumes there */
    svm_check(cpu, SVM_EXIT_NMI, 0, 0);
    x86_clear_event(cpu, EVENT_NMI);
    cpu->nmi_blocked = true;
    x86_deliver_event(cpu, EXC_NMI, EVT_NMI, 0, false);
}

static void take_intr(struct cpu *cpu)
{
    cpu->next_rip = cpu->rip;
    cpu->halted = false;
    svm_check(cpu, SVM_EXIT_INTR, 0, 0);
    int vector = cpu->intc.intr_ack(cpu->intc.opaque);
    if (vector < 0)
        return;   /* withdrawn between the request and INTA */
    x86_deliver_event(cpu, vector, EVT_EXTINT, 0, false);
}

/* The events that could be taken now, were there no interrupt shadow:
 * phys_if masks physical interrupts, virt_if (the guest's RFLAGS.IF)
 * virtual ones. */
static uint32_t deliverable(struct cpu *cpu, bool phys_if, bool virt_if)
{
    uint32_t ev = cpu->events, ready = 0;

    if (ev & EVENT_INIT)
        ready |= EVENT_INIT;
    if ((ev & EVENT_NMI) && !cpu->nmi_blocked)
        ready |= EVENT_NMI;
    if ((ev & EVENT_VNMI) && svm_vnmi_ready(cpu))
        ready |= EVENT_VNMI;
    if ((ev & EVENT_INTR) && phys_if && intr_pending(cpu) >= 0)
        ready |= EVENT_INTR;
    if ((ev & EVENT_VIRQ) && svm_virq_ready(cpu, virt_if))
        ready |= EVENT_VIRQ;
    return ready;
}

/* SMI (APM 10.3.1): taken before NMI and INTR, held while in SMM and, as
 * the others, by GIF and an interrupt shadow.  In guest mode the SMI
 * intercept may take it first (EXITINFO1 0: an external SMI); the SMI then
 * stays pending for the host, which takes it once its GIF is set. */
static bool smi_ready(const struct cpu *cpu)
{
    return (cpu->events & EVENT_SMI) && !cpu->in_smm;
}

static bool take_smi(struct cpu *cpu)
{
    if (in_shadow(cpu))
        return true;
    bool halted = cpu->halted;
    cpu->next_rip = cpu->rip;
    cpu->halted = false;   /* RIP is past the HLT: the exit resumes there */
    svm_check(cpu, SVM_EXIT_SMI, 0, 0);
    cpu->halted = halted;  /* the save area's auto-halt restart bit */
    x86_clear_event(cpu, EVENT_SMI);
    x86_smm_enter(cpu);
    return false;
}

bool x86_check_events(struct cpu *cpu)
{
    if (!gif_set(cpu))
        return false;
    if (smi_ready(cpu))
        return take_smi(cpu);
    uint32_t ready = deliverable(cpu, intr_unmasked(cpu),
                                 (cpu->rflags & FLAG_IF) != 0);
    if (!ready)
        return false;
    if (in_shadow(cpu))
        return true;
    /* priority (APM 8.5): INIT, then NMI, then maskable interrupts;
     * a physical event before the virtual one of its kind */
    if (ready & EVENT_INIT)
        x86_take_init(cpu);
    else if (ready & EVENT_NMI)
        take_nmi(cpu);
    else if (ready & EVENT_VNMI)
        svm_take_vnmi(cpu);
    else if (ready & EVENT_INTR)
        take_intr(cpu);
    else
        svm_take_virq(cpu);
    return false;
}

/* Something deliverable now, were IF as given. */
static bool wakes(struct cpu *cpu, bool if_set)
{
    if (smi_ready(cpu))
        return true;
    bool phys_if = cpu->svm.guest_mode ? intr_unmasked(cpu) : if_set;
    return deliverable(cpu, phys_if, if_set) != 0;
}

/* A native host (src/hv) waits for its guest's events after #VMEXIT has
 * cleared the hardware GIF: only its own view of the guest's GIF counts. */
static bool halt_gif(struct cpu *cpu)
{
    if (cpu->svm.host_native && !cpu->svm.guest_mode)
        return !cpu->intc.host_gif || cpu->intc.host_gif(cpu->intc.opaque);
    return gif_set(cpu);
}

bool x86_halt_wait(struct cpu *cpu, bool if_set)
{
    /* Firing the timer twice without a wake-up: its interrupt is masked
     * or below the priority threshold, and a halted CPU changes neither. */
    for (int fired = 0; fired < 2; fired++) {
        if (!halt_gif(cpu))
            return false;
        if (wakes(cpu, if_set))
            return true;
        /* only the APIC timer's: the counters stand still while halted */
        uint64_t at = cpu->deadline[DEADLINE_APIC];
        if (at == UINT64_MAX || !cpu->intc.timer)
            return false;
        if (at > cpu->icount)
            cpu->idle_cycles += at - cpu->icount;
        x86_set_deadline(cpu, DEADLINE_APIC, UINT64_MAX);
        cpu->intc.timer(cpu->intc.opaque);
    }
    return wakes(cpu, if_set);
}
