/* System-management mode for L1 and L2 (APM vol. 2, chapter 10).
 *
 * L0 keeps EFER.SVME set in every VMCB it runs, as VMRUN requires, while
 * the level running may have cleared its own; SMM entry saves EFER into
 * the state-save area and RSM loads it back.  So L0 intercepts both.  An
 * SMI is entered here, on the CPU that holds the level's state since the
 * #VMEXIT, with the EFER that level sees.  RSM runs on the hardware, its
 * intercept opened for that one instruction; at the next exit L0 takes
 * the level's EFER.SVME from what RSM restored and sets the hardware's
 * again.  SMIs and RSMs that L1 intercepts for its L2 never get here:
 * they are reflected to L1 first. */
#include "hv/internal.h"
#include "svm/svm.h"

enum x86_stop hv_smi(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;
    bool *svme = hv_svme_ref(hv);

    cpu->efer = (cpu->efer & ~EFER_SVME) | (*svme ? EFER_SVME : 0);
    x86_clear_event(cpu, EVENT_SMI);
    x86_smm_enter(cpu);
    svm_save_guest(cpu, hv->vmcb);
    *svme = false;   /* SMM starts with EFER clear */
    hv->vmcb->save.efer |= EFER_SVME;
    return STOP_NONE;
}

enum x86_stop hv_rsm(struct hv *hv)
{
    if (!hv->cpu->in_smm) {
        hv_queue_exception(hv, EXC_UD, 0, false);
        return STOP_NONE;
    }
    vmcb_clr_intercept(hv->vmcb, INTERCEPT_RSM);
    hv->rsm_open = hv->vmcb;
    return STOP_NONE;
}

void hv_rsm_done(struct hv *hv)
{
    struct vmcb *v = hv->rsm_open;
    bool *svme = v == &hv->vmcb01 ? &hv->l1_svme : &hv->nested.l2_svme;

    hv->rsm_open = NULL;
    vmcb_set_intercept(v, INTERCEPT_RSM);
    *svme = (v->save.efer & EFER_SVME) != 0;
    v->save.efer |= EFER_SVME;
}
