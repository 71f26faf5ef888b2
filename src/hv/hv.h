/* The L0 hypervisor: KVM's role in nsvm.
 *
 * L0 is C code outside the machine.  It runs L1 (the payload) in guest
 * mode on the SVM hardware of src/svm, under a VMCB in host memory
 * (vmcb01) that L1 cannot reach, and offers L1 nested SVM: when L1
 * executes VMRUN, L0 checks L1's VMCB (vmcb12, in L1's RAM), builds
 * vmcb02 from it and runs L2 on the hardware.  Every exit comes to L0
 * first; an L2 exit that L1 asked for is reflected into vmcb12, the rest
 * L0 handles itself, in the table of exit handlers (exit.c).
 *
 * Memory: L1's guest-physical addresses are machine addresses, so L0 runs
 * L1 without nested paging and L1's nested page tables (nCR3) are handed
 * to the hardware unchanged. */
#ifndef NSVM_HV_HV_H
#define NSVM_HV_HV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "svm/vmcb.h"
#include "x86/cpu.h"

/* Levels, for statistics and traces. */
enum hv_level { HV_L1 = 0, HV_L2 = 1, HV_LEVELS };

/* Where an exit ended up (statistics). */
enum hv_route {
    HV_ROUTE_L1_L0,    /* L1 exit, handled by L0 */
    HV_ROUTE_L2_L0,    /* L2 exit L1 did not ask for, handled by L0 */
    HV_ROUTE_L2_L1,    /* L2 exit reflected to L1 (#VMEXIT into vmcb12) */
    HV_ROUTES
};

/* Statistics slots: exit codes 0x00-0xa6 map to themselves, then the
 * 0x400 group, then VMEXIT_INVALID. */
#define HV_EXIT_SLOT_NPF     0xa7u
#define HV_EXIT_SLOT_INVALID 0xabu
#define HV_EXIT_SLOTS        0xacu
#define HV_HC_SLOTS          16u    /* hypercalls 0-15 counted one by one */

struct hv_stats {
    uint64_t exits[HV_ROUTES][HV_EXIT_SLOTS];
    uint64_t hypercalls[HV_HC_SLOTS + 1];   /* last: any other number */
    uint64_t insns[HV_LEVELS];              /* instructions retired */
    uint64_t vmruns;                        /* L1 VMRUNs emulated */
    uint64_t vmrun_invalid;                 /* ... that failed the checks */
    uint64_t injected[32];                  /* exceptions L0 injected */
};

/* L1's nested-SVM state, kept by L0. */
struct nested {
    bool guest_mode;        /* L2 is running: the current VMCB is vmcb02 */
    uint64_t vmcb12_pa;     /* the VMCB of L1's last VMRUN */
    /* vmcb12's control fields and the state-save fields VMRUN loads,
     * copied once (nested.c); every check and routing decision reads
     * these, never vmcb12.  Fields VMRUN does not use stay zero. */
    struct vmcb_control ctl;
    struct vmcb_save save;
    bool l2_svme;           /* L2's EFER.SVME (the hardware's stays 1) */
};

/* An exception L0 queued for the current level; delivered (or, in guest
 * mode, reflected to L1 if L1 intercepts it) before the next entry. */
struct hv_exception {
    int vector;             /* -1: none */
    uint32_t err;
    bool has_err;
    uint64_t cr2;           /* #PF */
};

struct hv {
    struct cpu *cpu;
    struct vmcb *vmcb;      /* the current VMCB: &vmcb01 or &vmcb02 */
    struct vmcb vmcb01;     /* L0 runs L1 */
    struct vmcb vmcb02;     /* L0 runs L2 on L1's behalf */
    /* L0's permission maps: every port and every MSR intercepted. */
    uint8_t iopm[IOPM_SIZE];
    uint8_t msrpm[MSRPM_SIZE];
    /* Ports opened in iopm for one string I/O instruction (io_msr.c). */
    uint16_t open_port;
    uint8_t open_port_size;
    /* An intercept cleared in vmcb02 for one L2 instruction (svm_emul.c);
     * 0: none (L0 never clears the CR0-read intercept it does not set). */
    unsigned open_intercept;
    /* Performance-counter selects as L1 wrote them (pmu.c); filtered:
     * one of them uses HostOnly/GuestOnly, so each entry translates. */
    uint64_t perf_sel[PERF_COUNTERS];
    bool perf_filtered;
    /* The VMCB whose RSM intercept is open for one RSM (smm.c). */
    struct vmcb *rsm_open;

    /* L1's SVM state as L1 sees it: the hardware's differs. */
    bool l1_svme;           /* EFER.SVME (vmcb01's stays 1 for VMRUN) */
    bool gif;               /* L1's global interrupt flag */
    uint64_t vm_cr, hsave_pa;
    uint64_t tsc_ratio;     /* TSC_RATIO: the hardware applies it to L2 only */

    struct nested nested;
    struct hv_exception exc;
    struct hv_stats stats;
};

/* Set L0 up on a CPU the loader has already prepared: L1 starts in exactly
 * the state the loader left in the CPU (multiboot entry state). */
void hv_init(struct hv *hv, struct cpu *cpu);

/* Run L1 (and its L2s) until the machine stops: the guest wrote the
 * debug-exit port, the budget ran out, a triple fault, a halt.  Returns
 * the reason as x86_run() does; calling it again after STOP_BUDGET
 * continues where it stopped. */
enum x86_stop hv_run(struct hv *hv);

/* `nsvm run --stats`: exits by reason and level, hypercalls, instructions
 * per level, in the manner of `perf kvm stat report`. */
void hv_print_stats(const struct hv *hv, FILE *out);

#endif
