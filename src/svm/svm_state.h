/* SVM state that lives in the CPU: guest mode, GIF, the VMCB being run and
 * the controls cached from it at VMRUN.  Kept apart from svm.h so that
 * src/x86 can embed it without seeing the rest of the SVM layer.
 *
 * Everything below "cached at VMRUN" is copied from the VMCB once, when
 * VMRUN loads it; nothing re-reads the VMCB's control area while the guest
 * runs (APM vol. 2, 15.5.1: the processor may cache VMCB state). */
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
    bool npt;             /* nested paging enabled for this guest */
    bool npt_nxe;         /* the host's EFER.NXE: NX in nested tables */
    bool skip_intercept;  /* the next exception intercept check is for an
                             injected event (EVENTINJ): not intercepted */
    bool v_intr_masking;  /* V_INTR_MASKING: the guest's CR8 is V_TPR */
    uint64_t vm_cr;       /* MSR VM_CR */
    uint64_t hsave_pa;    /* MSR VM_HSAVE_PA */
    uint64_t tsc_ratio;   /* MSR TSC_RATIO: 8.32 fixed point, guest mode only */
    bool tsc_scaled;      /* in guest mode with TSC_RATIO other than 1.0 */
    uint64_t vmcb_pa;     /* physical address of the VMCB (emulated host) */
    struct vmcb *vmcb;    /* the VMCB being run, as a host pointer */
    struct vmcb *hsave;   /* bare host: host-save area latched at VMRUN */

    /* Permission maps of a native host: when set (by the caller of
     * svm_vmrun_native), IOIO and MSR intercepts read these host buffers
     * (IOPM_SIZE and MSRPM_SIZE bytes) instead of guest RAM at the VMCB's
     * IOPM_BASE_PA / MSRPM_BASE_PA.  VMRUN by an emulated host clears them. */
    const uint8_t *host_iopm;
    const uint8_t *host_msrpm;

    /* cached at VMRUN */
    uint32_t intercepts[6];   /* APM B, offset 0x000 */
    uint64_t iopm_pa, msrpm_pa;
    uint64_t tsc_offset;      /* added to the TSC while in guest mode */
    /* pause filter (pause_filter.c): the internal counter, the count and
     * threshold it reloads from, the clock at the last PAUSE */
    uint16_t pause_counter, pause_count, pause_threshold;
    uint64_t pause_last;
    uint64_t ncr3;
    uint64_t host_pat;        /* the host's PAT while the guest's is G_PAT */
    uint64_t host_cr8;        /* the host's TPR while V_INTR_MASKING */
    uint32_t int_ctl;         /* V_IRQ, V_GIF, vNMI ... as the guest runs (vintr.c) */
    uint8_t int_vector;       /* V_INTR_VECTOR */
    bool host_nmi_blocked;    /* the host's NMI masking while vNMI is on */
    /* A native host's RFLAGS.IF as the level it emulates sees it: masks
     * physical interrupts for a guest with V_INTR_MASKING (set before
     * svm_vmrun_native; an emulated host's is in its host-save area). */
    bool host_if;

    /* statistics */
    uint64_t stat_vmrun, stat_vmexit;
};

#endif
