/* SVM state that lives in the CPU: guest mode, GIF, the VMCB being run and
 * the intercepts cached from it at VMRUN.  Kept apart from svm.h so that
 * src/x86 can embed it without seeing the rest of the SVM layer. */
#ifndef NSVM_SVM_STATE_H
#define NSVM_SVM_STATE_H

#include <stdbool.h>
#include <stdint.h>

struct vmcb;

struct svm_state {
    bool guest_mode;      /* running a guest under VMRUN */
    bool gif;             /* global interrupt flag */
    bool host_native;     /* the host is C code outside the machine (src/hv):
                             #VMEXIT stops x86_run() instead of resuming
                             emulated host code */
    uint64_t vm_cr;       /* MSR VM_CR */
    uint64_t hsave_pa;    /* MSR VM_HSAVE_PA */
    uint64_t vmcb_pa;     /* physical address of the VMCB (emulated host) */
    struct vmcb *vmcb;    /* the VMCB being run, as a host pointer */
    uint32_t intercepts[6];   /* cached at VMRUN (APM B, offset 0x000) */
    bool npt;             /* nested paging enabled for this guest */
    uint64_t ncr3;
    uint64_t g_pat;
};

#endif
