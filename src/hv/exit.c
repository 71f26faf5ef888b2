/* L0's exit handlers, one per exit code it intercepts (APM vol. 2,
 * appendix C).  They run for every L1 exit, and for every L2 exit that L1
 * did not ask for (nested_route_exit() has reflected the others), so each
 * does what the hardware would have done for the level that exited. */
#include "hv/internal.h"

static enum x86_stop ioio_interception(struct hv *hv)
{
    return hv_emulate_ioio(hv);
}

static enum x86_stop msr_interception(struct hv *hv)
{
    return hv_emulate_msr(hv);
}

static enum x86_stop cpuid_interception(struct hv *hv)
{
    return hv_emulate_cpuid(hv);
}

/* The guest waits for an interrupt: time skips to the next timer event
 * and the guest resumes to take it; if nothing can ever wake it, the run
 * ends as with --bare. */
static enum x86_stop hlt_interception(struct hv *hv)
{
    hv_skip_insn(hv);
    if (x86_halt_wait(hv->cpu, (hv->vmcb->save.rflags & FLAG_IF) != 0))
        return STOP_NONE;
    return STOP_HALT;
}

/* A triple fault of L1, or of an L2 whose L1 does not intercept SHUTDOWN:
 * the machine shuts down. */
static enum x86_stop shutdown_interception(struct hv *hv)
{
    (void)hv;
    return STOP_TRIPLE_FAULT;
}

static enum x86_stop vmrun_interception(struct hv *hv)
{
    return nested_vmrun(hv);
}

/*
 * VMMCALL is #UD unless intercepted, and L0 reaches this handler for an
 * L2 VMMCALL if and only if vmcb12 does not intercept VMMCALL.
 */
static enum x86_stop vmmcall_interception(struct hv *hv)
{
    if (hv->nested.guest_mode) {
        hv_queue_exception(hv, EXC_UD, 0, false);
        return STOP_NONE;
    }
    return hv_hypercall(hv);
}

static enum x86_stop vmload_interception(struct hv *hv)
{
    return hv_emulate_vmload(hv);
}

static enum x86_stop vmsave_interception(struct hv *hv)
{
    return hv_emulate_vmsave(hv);
}

static enum x86_stop stgi_interception(struct hv *hv)
{
    return hv_emulate_stgi(hv);
}

static enum x86_stop clgi_interception(struct hv *hv)
{
    return hv_emulate_clgi(hv);
}

static enum x86_stop invlpga_interception(struct hv *hv)
{
    return hv_emulate_invlpga(hv);
}

/* nsvm does not implement SKINIT (CPUID 0x80000001 ECX[12] is clear). */
static enum x86_stop skinit_interception(struct hv *hv)
{
    hv_queue_exception(hv, EXC_UD, 0, false);
    return STOP_NONE;
}

/* INIT: L0 intercepts it in every guest to apply it to the level it
 * reaches — L1, or an L2 whose L1 does not intercept INIT (as on silicon,
 * INIT then initialises the whole processor).  With VM_CR.R_INIT it
 * becomes #SX with error code 1 in that level instead. */
static enum x86_stop init_interception(struct hv *hv)
{
    x86_clear_event(hv->cpu, EVENT_INIT);
    if (hv->vm_cr & VM_CR_R_INIT)
        hv_queue_exception(hv, EXC_SX, 1, true);
    else
        hv_init_signal(hv);
    return STOP_NONE;
}

static enum x86_stop smi_interception(struct hv *hv)
{
    return hv_smi(hv);
}

static enum x86_stop rsm_interception(struct hv *hv)
{
    return hv_rsm(hv);
}

static const hv_exit_fn exit_handlers[] = {
    [SVM_EXIT_SMI]      = smi_interception,
    [SVM_EXIT_RSM]      = rsm_interception,
    [SVM_EXIT_INIT]     = init_interception,
    [SVM_EXIT_HLT]      = hlt_interception,
    [SVM_EXIT_INVLPGA]  = invlpga_interception,
    [SVM_EXIT_IOIO]     = ioio_interception,
    [SVM_EXIT_MSR]      = msr_interception,
    [SVM_EXIT_CPUID]    = cpuid_interception,
    [SVM_EXIT_SHUTDOWN] = shutdown_interception,
    [SVM_EXIT_VMRUN]    = vmrun_interception,
    [SVM_EXIT_VMMCALL]  = vmmcall_interception,
    [SVM_EXIT_VMLOAD]   = vmload_interception,
    [SVM_EXIT_VMSAVE]   = vmsave_interception,
    [SVM_EXIT_STGI]     = stgi_interception,
    [SVM_EXIT_CLGI]     = clgi_interception,
    [SVM_EXIT_SKINIT]   = skinit_interception,
};

enum x86_stop hv_handle_exit(struct hv *hv, uint64_t exit_code)
{
    char name[24];

    if (exit_code < sizeof(exit_handlers) / sizeof(exit_handlers[0]) &&
        exit_handlers[exit_code])
        return exit_handlers[exit_code](hv);
    if (exit_code == SVM_EXIT_INVALID && !hv->nested.guest_mode)
        return hv_internal_error(hv, "the hardware rejected vmcb01");
    fprintf(stderr, "nsvm: internal error in L0: unexpected exit %s\n",
            hv_exit_name(exit_code, name));
    return hv_internal_error(hv, "no handler for this exit");
}
