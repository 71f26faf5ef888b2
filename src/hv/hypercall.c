/* Hypercalls: the KVM ABI on x86 (Linux Documentation/virt/kvm/x86/
 * hypercalls.rst), which L0 offers to L1 through VMMCALL.
 *
 *   number in RAX, arguments in RBX, RCX, RDX, RSI, result in RAX;
 *   nothing else changes; RIP moves past the VMMCALL.
 *   Outside 64-bit mode the number, the arguments and the result are
 *   32-bit.  At CPL > 0 every call returns -KVM_EPERM (no #GP).
 *
 * Only L1 gets here: an L2 VMMCALL is never a hypercall (exit.c). */
#include "hv/internal.h"
#include "hv/hypercall.h"

/* Linux errno values, as KVM returns them (include/uapi/linux/kvm_para.h). */
#define KVM_ENOSYS     1000
#define KVM_EFAULT     14
#define KVM_EINVAL     22
#define KVM_E2BIG      7
#define KVM_EPERM      1
#define KVM_EOPNOTSUPP 95

static uint64_t hc_result(int64_t v)
{
    return (uint64_t)v;
}

/*
 * One hypercall.  nsvm's platform has one CPU, no local APIC and no clock
 * source to pair with, so of the KVM calls only the two that need none of
 * them do anything; the others return what KVM returns when the feature
 * is absent (and CPUID 0x40000001 does not advertise it).
 */
static uint64_t hc_dispatch(uint64_t nr, const uint64_t a[4])
{
    (void)a;
    switch (nr) {
    case KVM_HC_VAPIC_POLL_IRQ:
        return 0;           /* the exit itself was the point */
    case KVM_HC_SCHED_YIELD:
        return 0;           /* a0: APIC ID to yield to; one CPU: nothing */
    case KVM_HC_CLOCK_PAIRING:
        return hc_result(-KVM_EOPNOTSUPP);   /* no host clock source */
    case KVM_HC_MMU_OP:     /* deprecated */
    case KVM_HC_KICK_CPU:   /* needs KVM_FEATURE_PV_UNHALT */
    case KVM_HC_SEND_IPI:   /* needs KVM_FEATURE_PV_SEND_IPI */
    case KVM_HC_MAP_GPA_RANGE:  /* needs KVM_CAP_EXIT_HYPERCALL */
    default:
        return hc_result(-KVM_ENOSYS);
    }
}

enum x86_stop hv_hypercall(struct hv *hv)
{
    struct vmcb *v = hv->vmcb;
    uint64_t *gpr = hv->cpu->gpr;
    bool wide = hv_long64(v);
    uint64_t nr = v->save.rax;
    uint64_t a[4] = { gpr[RBX], gpr[RCX], gpr[RDX], gpr[RSI] };
    uint64_t ret;

    if (!wide) {
        nr = (uint32_t)nr;
        for (int i = 0; i < 4; i++)
            a[i] = (uint32_t)a[i];
    }
    hv->stats.hypercalls[nr < HV_HC_SLOTS ? nr : HV_HC_SLOTS]++;
    if (v->save.cpl != 0)
        ret = hc_result(-KVM_EPERM);
    else
        ret = hc_dispatch(nr, a);
    if (!wide)
        ret = (uint32_t)ret;
    if (hv_tracing(hv))
        hv_trace_hypercall(hv, nr, a, ret);
    v->save.rax = ret;
    hv_skip_insn(hv);
    return STOP_NONE;
}
