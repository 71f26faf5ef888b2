/* What the files of src/hv share: private to src/hv.
 *
 *   hv.c          the run loop: enter the current VMCB, route the exit,
 *                 deliver what L0 queued
 *   exit.c        the exit-handler table, one <what>_interception() each
 *   hypercall.c   the KVM hypercall ABI offered to L1
 *   io_msr.c      port I/O, MSRs and CPUID as L0 emulates them
 *   nested.c      L1's VMRUN: vmcb12 cache, consistency checks, vmcb02
 *   nested_exit.c L2 exits: reflect to L1 or keep; the emulated #VMEXIT
 *   svm_emul.c    VMLOAD, VMSAVE, STGI, CLGI, INVLPGA, SKINIT for L1/L2
 *   stats.c       counters and `--stats`
 *   trace.c       `--trace=exit` */
#ifndef NSVM_HV_INTERNAL_H
#define NSVM_HV_INTERNAL_H

#include "hv/hv.h"
#include "x86/mem.h"

/* An exit handler: STOP_NONE to resume the guest, else why the machine
 * stops (STOP_EXIT, STOP_HALT, STOP_TRIPLE_FAULT...). */
typedef enum x86_stop (*hv_exit_fn)(struct hv *hv);

/* exit.c */
enum x86_stop hv_handle_exit(struct hv *hv, uint64_t exit_code);

/* hv.c */
void hv_queue_exception(struct hv *hv, int vector, uint32_t err, bool has_err);
/* The instruction that exited is done: RIP to NRIP, retire it, and the
 * single-step trap if RFLAGS.TF asks for one. */
void hv_skip_insn(struct hv *hv);
/* The same without the trap (VMRUN: the guest runs next). */
void hv_retire_insn(struct hv *hv);
/* INIT, not intercepted by L1 for its L2: L1 restarts from INIT's state. */
void hv_init_signal(struct hv *hv);
/* Reports an internal inconsistency of L0 on stderr; the machine stops. */
enum x86_stop hv_internal_error(struct hv *hv, const char *what);

static inline enum hv_level hv_level(const struct hv *hv)
{
    return hv->nested.guest_mode ? HV_L2 : HV_L1;
}

/* The running level's EFER.SVME as it sees it. */
static inline bool hv_svme(const struct hv *hv)
{
    return hv->nested.guest_mode ? hv->nested.l2_svme : hv->l1_svme;
}
static inline bool *hv_svme_ref(struct hv *hv)
{
    return hv->nested.guest_mode ? &hv->nested.l2_svme : &hv->l1_svme;
}

/* 64-bit mode (EFER.LMA and CS.L) of the current VMCB's guest. */
static inline bool hv_long64(const struct vmcb *v)
{
    return (v->save.efer & EFER_LMA) && (v->save.cs.attrib & SEG_ATTR_L);
}

/* rAX as an address operand of VMRUN/VMLOAD/VMSAVE (address size). */
static inline uint64_t hv_rax_addr(const struct vmcb *v)
{
    if (hv_long64(v))
        return v->save.rax;
    return (v->save.cs.attrib & SEG_ATTR_DB) ? (uint32_t)v->save.rax
                                              : (uint16_t)v->save.rax;
}

/* ASIDs.  L1 is a guest of the hardware with ASID 1; each of L1's ASIDs
 * (0 naming L1's own translations, as for INVLPGA) maps one to one onto
 * the hardware's, so that L1 and its L2s never share TLB entries and L1's
 * TLB_CONTROL and INVLPGA act on exactly the translations they name.
 * CPUID tells L1 of one ASID less than the hardware has. */
#define HV_ASID_L1 1u
static inline uint32_t hv_hw_asid(uint32_t l1_asid)
{
    return l1_asid == UINT32_MAX ? l1_asid : l1_asid + HV_ASID_L1;
}

/* hypercall.c */
enum x86_stop hv_hypercall(struct hv *hv);

/* io_msr.c */
enum x86_stop hv_emulate_ioio(struct hv *hv);
enum x86_stop hv_emulate_msr(struct hv *hv);
enum x86_stop hv_emulate_cpuid(struct hv *hv);
/* L0's CPUID table for its guests: the hardware's, with the hypervisor
 * leaves and only the SVM features nested mode implements. */
void hv_cpuid(struct hv *hv, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
void hv_init_maps(struct hv *hv);
/* Closes the ports a string I/O instruction was let through (after its exit). */
void hv_close_ports(struct hv *hv);

/* nested.c */
enum x86_stop nested_vmrun(struct hv *hv);
/* #VMEXIT(VMEXIT_INVALID) to L1 for its last VMRUN. */
void nested_vmrun_invalid(struct hv *hv, const char *why);
/* vmcb02's TSC offset for L1's TSC ratio and vmcb12's offset. */
uint64_t nested_tsc_offset(const struct hv *hv);

/* nested_exit.c */
/* An L2 exit: reflects it to L1 and returns true when L1 asked for it. */
bool nested_route_exit(struct hv *hv);
/* Does vmcb12 intercept exception vector? */
bool nested_intercepts_exception(const struct hv *hv, int vector);
/* #VMEXIT to L1 with the given exit, L2's state from vmcb02. */
void nested_vmexit(struct hv *hv, uint64_t code, uint64_t info1,
                   uint64_t info2);
/* Reflect the #VMEXIT the hardware wrote into vmcb02. */
void nested_reflect(struct hv *hv);

/* smm.c: SMI and RSM of L1 and L2 (the EFER.SVME each level sees);
 * hv_rsm_done after the exit that follows an RSM the hardware ran. */
enum x86_stop hv_smi(struct hv *hv);
enum x86_stop hv_rsm(struct hv *hv);
void hv_rsm_done(struct hv *hv);

/* pmu.c: performance-counter selects with the Host/Guest bits as L1
 * means them (hv_pmu_msr: false when msr is not a select). */
void hv_pmu_enter(struct hv *hv);
bool hv_pmu_msr(struct hv *hv, uint32_t msr, bool write, uint64_t *val,
                bool *ok);

/* svm_emul.c */
bool hv_svm_insn_allowed(struct hv *hv);
enum x86_stop hv_emulate_vmload(struct hv *hv);
enum x86_stop hv_emulate_vmsave(struct hv *hv);
enum x86_stop hv_emulate_stgi(struct hv *hv);
enum x86_stop hv_emulate_clgi(struct hv *hv);
enum x86_stop hv_emulate_invlpga(struct hv *hv);
/* Restores the vmcb02 intercept opened for one L2 instruction. */
void hv_close_intercept(struct hv *hv);

/* stats.c */
unsigned hv_exit_slot(uint64_t exit_code);
const char *hv_exit_name(uint64_t exit_code, char buf[24]);
static inline void hv_count_exit(struct hv *hv, enum hv_route route,
                                 uint64_t exit_code)
{
    hv->stats.exits[route][hv_exit_slot(exit_code)]++;
}

/* trace.c: one line each, when cpu->trace has TRACE_EXIT. */
static inline bool hv_tracing(const struct hv *hv)
{
    return (hv->cpu->trace & TRACE_EXIT) != 0;
}
void hv_trace_exit(struct hv *hv);
void hv_trace_nested_vmrun(struct hv *hv);
void hv_trace_nested_vmexit_inject(struct hv *hv, const struct vmcb *vmcb12);
void hv_trace_vmrun_invalid(struct hv *hv, const char *why);
void hv_trace_inject(struct hv *hv, const struct hv_exception *e,
                     const char *how);
void hv_trace_hypercall(struct hv *hv, uint64_t nr, const uint64_t a[4],
                        uint64_t ret);

#endif
