/* The SVM layer: AMD-V as silicon implements it (APM vol. 2, chapter 15).
 *
 * The one interface src/x86 uses: when the CPU is in guest mode, the
 * handler of an interceptable instruction or event asks svm_intercept()
 * whether the current VMCB intercepts it; if so the #VMEXIT happens there
 * and the call does not return.  Outside guest mode nothing is asked, so
 * intercepts cost nothing on ordinary code. */
#ifndef NSVM_SVM_H
#define NSVM_SVM_H

#include <stdint.h>

#include "svm/vmcb.h"
#include "x86/cpu.h"

/* #VMEXIT with exit_code when the current VMCB intercepts it; returns
 * otherwise.  For instruction intercepts NRIP is cpu->next_rip. */
void svm_intercept(struct cpu *cpu, uint64_t exit_code, uint64_t info1,
                   uint64_t info2);

/* IOIO (APM 15.10.2) and MSR (15.11) intercepts consult the IOPM/MSRPM. */
void svm_intercept_ioio(struct cpu *cpu, uint16_t port, unsigned size,
                        uint64_t info1);
void svm_intercept_msr(struct cpu *cpu, uint32_t msr, int write);

/* PAUSE (15.14.4): with the PAUSE intercept, the pause filter decides
 * whether this PAUSE exits. */
void svm_intercept_pause(struct cpu *cpu);

/* Exception intercepts are checked at delivery (except.c). */
void svm_intercept_exception(struct cpu *cpu, int vector, uint32_t err,
                             int has_err, uint64_t cr2);

/* Nested paging (APM 15.25): guest-physical to host-physical for an access
 * of the guest's page-table walk (in_walk) or of its final translation;
 * a failed walk is a #VMEXIT(NPF) and does not return. */
uint64_t svm_npt_translate(struct cpu *cpu, uint64_t gpa, unsigned acc,
                           bool in_walk);
/* The same walk as a probe: no #VMEXIT, no A/D bit, entries read only
 * in RAM; false where svm_npt_translate would exit. */
bool svm_npt_probe(struct cpu *cpu, uint64_t gpa, unsigned acc, bool in_walk,
                   uint64_t *hpa);

/* Performs #VMEXIT unconditionally; never returns into the instruction. */
_Noreturn void svm_vmexit(struct cpu *cpu, uint64_t exit_code,
                          uint64_t info1, uint64_t info2);

#define svm_check(cpu, code, i1, i2)                                        \
    do {                                                                    \
        if (__builtin_expect((cpu)->svm.guest_mode, 0))                     \
            svm_intercept((cpu), (code), (i1), (i2));                       \
    } while (0)

/* Virtual interrupts (vintr.c, APM 15.21): EVENT_VIRQ / EVENT_VNMI are
 * set while the guest has one waiting; intr.c asks whether it can be
 * taken now (with the guest's RFLAGS.IF as if_set) and takes it (the
 * VINTR intercept applies to V_IRQ).  STGI/CLGI under VGIF write V_GIF
 * (svm_vgif_write returns false when VGIF is off). */
bool svm_virq_ready(const struct cpu *cpu, bool if_set);
bool svm_vnmi_ready(const struct cpu *cpu);
void svm_take_virq(struct cpu *cpu);
void svm_take_vnmi(struct cpu *cpu);
bool svm_vgif_write(struct cpu *cpu, bool set);

/* Leaves guest mode and restores the host the VMRUN came from (the
 * second half of #VMEXIT; INIT uses it to end guest mode). */
void svm_restore_host(struct cpu *cpu);

/* CPUID 0x8000000A EDX: the SVM features nsvm implements — nested paging,
 * LBR virtualization, NRIP save, the TSC ratio MSR, decode assists, the
 * pause filter and its threshold (x86_cpu_init puts it in
 * cpu->svm_features), virtual GIF and virtual NMI.  Not offered: VMCB
 * clean bits, flush by ASID, AVIC. */
#define SVM_FEATURES_IMPLEMENTED (SVM_FEATURE_NP | SVM_FEATURE_LBRV | \
                                  SVM_FEATURE_NRIPS | SVM_FEATURE_TSC_RATE | \
                                  SVM_FEATURE_DECODE_ASSISTS |            \
                                  SVM_FEATURE_PAUSE_FILTER |              \
                                  SVM_FEATURE_PF_THRESHOLD |              \
                                  SVM_FEATURE_VGIF | SVM_FEATURE_VNMI)

/* The CPU's state as a VMCB's state-save area holds it: what #VMEXIT
 * writes back, and how a native host captures a machine's initial state. */
void svm_save_guest(struct cpu *cpu, struct vmcb *v);

/* The consistency checks of APM 15.5.1 on a VMCB's controls and guest
 * state, one named line each: the name of the first that fails, or NULL.
 * host_cr0 is the CR0 of the host executing VMRUN; maps_in_memory says the
 * IOPM and MSRPM are read at their base addresses.  VMRUN uses it, and so
 * does an L0 that emulates VMRUN for its guest. */
struct vmcb_control;
struct vmcb_save;
const char *svm_vmcb_check(const struct vmcb_control *c,
                           const struct vmcb_save *s, uint64_t host_cr0,
                           bool maps_in_memory);

/* VMRUN for a host that is C code outside the machine (src/hv, the role
 * KVM plays on silicon).  vmcb is a host pointer the guest cannot reach;
 * the same consistency checks as the VMRUN instruction apply, but there is
 * no host-save area: the host's state lives in C.  Before the call the
 * host may point cpu->svm.host_iopm / host_msrpm at its permission maps.
 * Runs the guest with x86_run() until #VMEXIT and returns the stop reason:
 * STOP_VMEXIT with the exit code in vmcb->control (VMEXIT_INVALID when a
 * consistency check failed and nothing ran), or any other stop (debug-exit
 * port, budget, ...) with the CPU still in guest mode. */
enum x86_stop svm_vmrun_native(struct cpu *cpu, struct vmcb *vmcb);

#endif
