/* Event injection on VMRUN (EVENTINJ) and the event that was being
 * delivered when a #VMEXIT happened (EXITINTINFO).  APM vol. 2, 15.20
 * and 15.7.2.
 *
 *   EVENTINJ / EXITINTINFO (32 bits, error code in the next 32 bits):
 *     [7:0] VECTOR   [10:8] TYPE   [11] EV (error code valid)   [31] V
 *   TYPE: 0 external interrupt (INTR), 2 NMI, 3 exception (fault or
 *         trap), 4 software interrupt (INTn); 1, 5, 6, 7 reserved. */
#include "svm/svm_internal.h"

/* #DE #DB #BP #OF #BR #UD #NM #DF #TS #NP #SS #GP #PF #MF #AC #MC #XM
 * #HV #SX */
#define INJECTABLE_EXCEPTIONS 0x500f7dfbu

bool svm_eventinj_legal(uint32_t ev)
{
    if (!(ev & EVENTINJ_V))
        return true;
    unsigned type = ev & EVENTINJ_TYPE_MASK;
    unsigned vector = ev & EVENTINJ_VECTOR_MASK;
    switch (type) {
    case EVENTINJ_TYPE_INTR:
    case EVENTINJ_TYPE_NMI:
    case EVENTINJ_TYPE_SOFT_INT:
        return true;
    case EVENTINJ_TYPE_EXCEPTION:
        /* the vector must name an exception this CPU has: not NMI's 2,
         * not 9 (never raised in AMD64), not the reserved ones, not #CP
         * or #VC (shadow stacks and SEV-ES are not offered) */
        return vector < 32 && ((INJECTABLE_EXCEPTIONS >> vector) & 1);
    default:
        return false;   /* reserved types */
    }
}

/* INT3 and INTO injected as exceptions are software exceptions: like
 * software interrupts they return to the instruction after the one that
 * raised them, which a CPU with NRIP save takes from the VMCB's NRIP
 * field (without it, from RIP: the host advanced RIP itself). */
static uint64_t soft_return_rip(const struct cpu *cpu, const struct vmcb *v)
{
    if (cpu->svm_features & SVM_FEATURE_NRIPS)
        return v->control.next_rip;
    return v->save.rip;
}

void svm_inject_event(struct cpu *cpu, const struct vmcb *v)
{
    uint32_t ev = v->control.event_inj;
    if (!(ev & EVENTINJ_V))
        return;
    int vector = (int)(ev & EVENTINJ_VECTOR_MASK);
    uint32_t err = v->control.event_inj_err;
    bool has_err = (ev & EVENTINJ_EV) != 0;

    switch (ev & EVENTINJ_TYPE_MASK) {
    case EVENTINJ_TYPE_INTR:
        x86_deliver_event(cpu, vector, EVT_EXTINT, err, has_err);
        break;
    case EVENTINJ_TYPE_NMI:
        x86_deliver_event(cpu, EXC_NMI, EVT_NMI, err, has_err);
        break;
    case EVENTINJ_TYPE_SOFT_INT:
        cpu->next_rip = soft_return_rip(cpu, v);
        x86_deliver_event(cpu, vector, EVT_SOFTINT, err, has_err);
        break;
    default:   /* EXCEPTION: the checks admitted vectors 0-31 only */
        if (vector == EXC_BP || vector == 4) {
            cpu->next_rip = soft_return_rip(cpu, v);
            /* x86_deliver_event asks about the intercept of a software
             * exception: an injected one is not intercepted */
            cpu->svm.skip_intercept = true;
            x86_deliver_event(cpu, vector, EVT_SOFTEXC, err, has_err);
        } else {
            x86_deliver_event(cpu, vector, EVT_EXCEPTION, err, has_err);
        }
        break;
    }
}

uint32_t svm_exitintinfo(const struct cpu *cpu, uint32_t *err)
{
    static const uint32_t type[] = {
        [EVT_EXTINT] = EVENTINJ_TYPE_INTR,
        [EVT_NMI] = EVENTINJ_TYPE_NMI,
        [EVT_EXCEPTION] = EVENTINJ_TYPE_EXCEPTION,
        [EVT_SOFTINT] = EVENTINJ_TYPE_SOFT_INT,
        [EVT_SOFTEXC] = EVENTINJ_TYPE_EXCEPTION,
    };
    *err = 0;
    if (cpu->delivering < 0)
        return 0;
    uint32_t info = EVENTINJ_V | type[cpu->delivering_type] |
                    ((uint32_t)cpu->delivering & EVENTINJ_VECTOR_MASK);
    if (cpu->delivering_has_err) {
        info |= EVENTINJ_EV;
        *err = cpu->delivering_err;
    }
    return info;
}
