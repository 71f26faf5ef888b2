/* Port I/O, MSRs and CPUID as L0 emulates them for the level that exited.
 *
 * L0 intercepts every port and every MSR.  What it does with an access is
 * what the hardware would do for that level: ports go to the machine's
 * devices, MSRs to the CPU's, except for the SVM state that L0 keeps
 * virtual for L1 (EFER.SVME, VM_CR, VM_HSAVE_PA) and L2's EFER.SVME. */
#include <string.h>

#include "hv/hypercall.h"
#include "hv/internal.h"

#define MSR_TSC 0x10u
#define MSR_PAT 0x277u
#define TSC_RATIO_RSVD (~0ull << 40)   /* 8.32 fixed point (APM 15.30.5) */
#define MSR_DEBUGCTL 0x1d9u
#define MSR_BR_FROM 0x1dbu
#define MSR_LASTEXCP_TO 0x1deu

void hv_init_maps(struct hv *hv)
{
    memset(hv->iopm, 0xff, sizeof(hv->iopm));
    memset(hv->msrpm, 0xff, sizeof(hv->msrpm));
    hv->cpu->svm.host_iopm = hv->iopm;
    hv->cpu->svm.host_msrpm = hv->msrpm;
}

/* ---- IOIO (APM 15.10.2) ---- */

/* String I/O goes through memory with the guest's segments and paging: the
 * hardware does that best.  L0 lets the instruction run again with its
 * ports open until the next exit; for the level that exited, the device
 * access is the same whoever performs it. */
static void open_ports(struct hv *hv, uint16_t port, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        unsigned p = port + i;
        hv->iopm[p / 8] &= (uint8_t)~(1u << (p % 8));
    }
    hv->open_port = port;
    hv->open_port_size = (uint8_t)size;
}

void hv_close_ports(struct hv *hv)
{
    for (unsigned i = 0; i < hv->open_port_size; i++) {
        unsigned p = hv->open_port + i;
        hv->iopm[p / 8] |= (uint8_t)(1u << (p % 8));
    }
    hv->open_port_size = 0;
}

enum x86_stop hv_emulate_ioio(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;
    struct vmcb *v = hv->vmcb;
    uint64_t info1 = v->control.exit_info_1;
    uint16_t port = (uint16_t)(info1 >> IOIO_PORT_SHIFT);
    unsigned size = (info1 & IOIO_SIZE_MASK) >> IOIO_SIZE_SHIFT;   /* 1, 2, 4 */

    if (info1 & IOIO_STR) {
        open_ports(hv, port, size);
        return STOP_NONE;
    }
    if (info1 & IOIO_TYPE_IN) {
        uint64_t mask = size == 4 ? ~0ull : (1ull << (size * 8)) - 1;
        uint64_t val = cpu->bus.pio_read(cpu->bus.opaque, port, size);
        /* IN EAX zero-extends into RAX; IN AL/AX keep the other bits */
        v->save.rax = size == 4 ? (uint32_t)val : (v->save.rax & ~mask) | (val & mask);
    } else {
        cpu->bus.pio_write(cpu->bus.opaque, port, size, (uint32_t)v->save.rax);
    }
    v->control.next_rip = v->control.exit_info_2;   /* IOIO: EXITINFO2 */
    hv_skip_insn(hv);
    return cpu->stop;   /* the debug-exit device stops the machine */
}

/* ---- MSR (APM 15.11) ---- */

static bool efer_write_ok(const struct hv *hv, uint64_t old, uint64_t val)
{
    const struct vmcb *v = hv->vmcb;

    if (val & ~EFER_VALID)
        return false;
    if ((val & EFER_SVME) && (hv->vm_cr & VM_CR_SVMDIS))
        return false;
    /* LME may not change while paging is on */
    return !((v->save.cr0 & CR0_PG) && ((val ^ old) & EFER_LME));
}

static bool wrmsr_efer(struct hv *hv, uint64_t val)
{
    struct vmcb *v = hv->vmcb;
    bool *svme = hv_svme_ref(hv);
    uint64_t old = (v->save.efer & ~EFER_SVME) | (*svme ? EFER_SVME : 0);

    if (!efer_write_ok(hv, old, val))
        return false;
    *svme = (val & EFER_SVME) != 0;
    /* LMA is read-only; the hardware's SVME stays set for VMRUN */
    v->save.efer = (val & ~EFER_LMA) | (old & EFER_LMA) | EFER_SVME;
    if ((val ^ old) & EFER_NXE)
        x86_tlb_flush_all(hv->cpu);
    return true;
}

static bool wrmsr_vm_cr(struct hv *hv, uint64_t val)
{
    if (val & ~(VM_CR_SVMDIS | VM_CR_LOCK | VM_CR_DPD | VM_CR_R_INIT |
                VM_CR_DIS_A20M))
        return false;
    if ((hv->vm_cr & VM_CR_LOCK) && ((val ^ hv->vm_cr) & VM_CR_SVMDIS))
        return false;
    if ((val & VM_CR_SVMDIS) && hv_svme(hv))
        return false;
    hv->vm_cr = val;
    return true;
}

/* DebugCtl and the branch records of a guest that runs with LBR
 * virtualization are its VMCB's while L0 runs: access them there. */
static bool lbrv_msr(const struct hv *hv, uint32_t msr)
{
    return (msr == MSR_DEBUGCTL || (msr >= MSR_BR_FROM && msr <= MSR_LASTEXCP_TO)) &&
           (hv->vmcb->control.misc_ctl2 & MISC_CTL2_LBR_VIRT);
}

static bool lbrv_access(struct hv *hv, uint32_t msr, bool write, uint64_t *val)
{
    struct vmcb_save *s = &hv->vmcb->save;
    x86_lbr_vmrun(hv->cpu, s, true);
    bool ok = write ? x86_wrmsr(hv->cpu, msr, *val) : x86_rdmsr(hv->cpu, msr, val);
    x86_lbr_vmexit(hv->cpu, s);
    return ok;
}

/* ---- the TSC ---- */

/* The ratio the hardware applies to the current guest: L1's TSC_RATIO for
 * L2, none for L1 (hv.c). */
static uint64_t guest_tsc_ratio(const struct hv *hv)
{
    return hv->nested.guest_mode ? hv->tsc_ratio : TSC_RATIO_DEFAULT;
}

static uint64_t guest_tsc(const struct hv *hv)
{
    return x86_tsc_scale(x86_tsc(hv->cpu), guest_tsc_ratio(hv)) +
           hv->vmcb->control.tsc_offset;
}

/* The guest writes its TSC: the hardware's becomes what scales and
 * offsets to the value written. */
static void wrmsr_tsc(struct hv *hv, uint64_t val)
{
    uint64_t ratio = guest_tsc_ratio(hv);
    uint64_t host = val - hv->vmcb->control.tsc_offset;

    if (ratio != TSC_RATIO_DEFAULT && ratio)
        host = (uint64_t)(((unsigned __int128)host << 32) / ratio);
    hv->cpu->tsc_offset += host - x86_tsc(hv->cpu);
}

/* L1's TSC_RATIO, also when an L2 that L1 lets through writes it: it
 * applies to L2 from the next entry. */
static bool wrmsr_tsc_ratio(struct hv *hv, uint64_t val)
{
    if (val & TSC_RATIO_RSVD)
        return false;
    hv->tsc_ratio = val;
    if (hv->nested.guest_mode)
        hv->vmcb02.control.tsc_offset = nested_tsc_offset(hv);
    return true;
}

static bool hv_rdmsr(struct hv *hv, uint32_t msr, uint64_t *val)
{
    const struct vmcb *v = hv->vmcb;

    switch (msr) {
    case MSR_EFER:
        *val = (v->save.efer & ~EFER_SVME) | (hv_svme(hv) ? EFER_SVME : 0);
        return true;
    case MSR_VM_CR:
        *val = hv->vm_cr;
        return true;
    case MSR_VM_HSAVE_PA:
        *val = hv->hsave_pa;
        return true;
    case MSR_TSC:
        *val = guest_tsc(hv);
        return true;
    case MSR_TSC_RATIO:
        *val = hv->tsc_ratio;
        return true;
    case MSR_PAT:
        if (v->control.misc_ctl & MISC_CTL_NP_ENABLE) {
            *val = v->save.g_pat;   /* with nested paging, the guest's PAT */
            return true;
        }
        break;
    }
    if (lbrv_msr(hv, msr))
        return lbrv_access(hv, msr, false, val);
    bool ok;
    if (hv_pmu_msr(hv, msr, false, val, &ok))
        return ok;
    return x86_rdmsr(hv->cpu, msr, val);
}

static bool hv_wrmsr(struct hv *hv, uint32_t msr, uint64_t val)
{
    struct vmcb *v = hv->vmcb;

    switch (msr) {
    case MSR_EFER:
        return wrmsr_efer(hv, val);
    case MSR_VM_CR:
        return wrmsr_vm_cr(hv, val);
    case MSR_VM_HSAVE_PA:
        if (val & 0xfff || val >> PHYS_ADDR_BITS)
            return false;
        hv->hsave_pa = val;
        return true;
    case MSR_TSC:   /* the hardware's TSC, which the guest sees scaled, offset */
        wrmsr_tsc(hv, val);
        return true;
    case MSR_TSC_RATIO:
        return wrmsr_tsc_ratio(hv, val);
    case MSR_PAT:
        if (v->control.misc_ctl & MISC_CTL_NP_ENABLE) {
            uint64_t pat = hv->cpu->pat;
            if (!x86_wrmsr(hv->cpu, msr, val))
                return false;
            v->save.g_pat = hv->cpu->pat;
            hv->cpu->pat = pat;
            return true;
        }
        break;
    }
    if (lbrv_msr(hv, msr))
        return lbrv_access(hv, msr, true, &val);
    bool ok;
    if (hv_pmu_msr(hv, msr, true, &val, &ok))
        return ok;
    return x86_wrmsr(hv->cpu, msr, val);
}

enum x86_stop hv_emulate_msr(struct hv *hv)
{
    struct vmcb *v = hv->vmcb;
    uint64_t *gpr = hv->cpu->gpr;
    uint32_t msr = (uint32_t)gpr[RCX];
    uint64_t val;

    if (v->control.exit_info_1 == MSR_EXITINFO1_WRITE) {
        val = (uint32_t)v->save.rax | ((uint64_t)(uint32_t)gpr[RDX] << 32);
        if (!hv_wrmsr(hv, msr, val)) {
            hv_queue_exception(hv, EXC_GP, 0, true);
            return STOP_NONE;
        }
    } else {
        if (!hv_rdmsr(hv, msr, &val)) {
            hv_queue_exception(hv, EXC_GP, 0, true);
            return STOP_NONE;
        }
        v->save.rax = (uint32_t)val;
        gpr[RDX] = val >> 32;
    }
    hv_skip_insn(hv);
    return STOP_NONE;
}

/* ---- CPUID ---- */

/* The SVM features nested mode implements for L1 (CPUID 0x8000000A EDX):
 * those whose VMCB fields L0 passes to the hardware or back to vmcb12
 * (vmcb12's pause filter count and threshold go to vmcb02 as they are:
 * L0 does not intercept PAUSE), and the TSC ratio, which L0 keeps for L1
 * and applies to L2 (nested.c). */
#define HV_NESTED_SVM_FEATURES                                              \
    (SVM_FEATURE_NP | SVM_FEATURE_LBRV | SVM_FEATURE_NRIPS |                \
     SVM_FEATURE_VMCB_CLEAN | SVM_FEATURE_FLUSH_BY_ASID |                    \
     SVM_FEATURE_DECODE_ASSISTS | SVM_FEATURE_VGIF | SVM_FEATURE_VNMI |      \
     SVM_FEATURE_TSC_RATE | SVM_FEATURE_PAUSE_FILTER |                       \
     SVM_FEATURE_PF_THRESHOLD)

void hv_cpuid(struct hv *hv, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    switch (leaf) {
    case KVM_CPUID_SIGNATURE:
        out[0] = KVM_CPUID_FEATURES;
        memcpy(&out[1], "KVMK", 4);
        memcpy(&out[2], "VMKV", 4);
        memcpy(&out[3], "M\0\0\0", 4);
        return;
    case KVM_CPUID_FEATURES:
        out[0] = KVM_FEATURE_PV_SCHED_YIELD;
        out[1] = out[2] = out[3] = 0;
        return;
    }
    x86_cpuid(hv->cpu, leaf, subleaf, out);
    if (leaf == 1)
        out[2] |= CPUID_1_ECX_HYPERVISOR;
    else if (leaf == CPUID_SVM_LEAF) {
        out[1] -= out[1] ? HV_ASID_L1 : 0;   /* L0 keeps one for L1 */
        out[3] &= HV_NESTED_SVM_FEATURES;
    }
}

enum x86_stop hv_emulate_cpuid(struct hv *hv)
{
    struct vmcb *v = hv->vmcb;
    uint64_t *gpr = hv->cpu->gpr;
    uint32_t out[4];

    hv_cpuid(hv, (uint32_t)v->save.rax, (uint32_t)gpr[RCX], out);
    v->save.rax = out[0];
    gpr[RBX] = out[1];
    gpr[RCX] = out[2];
    gpr[RDX] = out[3];
    hv_skip_insn(hv);
    return STOP_NONE;
}
