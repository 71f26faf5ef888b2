/* Model-specific registers (APM vol. 2, appendix A). */
#include "x86/mem.h"

enum {
    MSR_TSC = 0x10,
    MSR_APIC_BASE = 0x1b,
    MSR_MTRRCAP = 0xfe,
    MSR_SYSENTER_CS = 0x174,
    MSR_SYSENTER_ESP = 0x175,
    MSR_SYSENTER_EIP = 0x176,
    MSR_MCG_CAP = 0x179,
    MSR_MCG_STATUS = 0x17a,
    MSR_PAT = 0x277,
    MSR_MTRR_DEF_TYPE = 0x2ff,
    MSR_EFER = 0xc0000080,
    MSR_STAR = 0xc0000081,
    MSR_LSTAR = 0xc0000082,
    MSR_CSTAR = 0xc0000083,
    MSR_SFMASK = 0xc0000084,
    MSR_FS_BASE = 0xc0000100,
    MSR_GS_BASE = 0xc0000101,
    MSR_KERNEL_GS_BASE = 0xc0000102,
    MSR_TSC_AUX = 0xc0000103,
    MSR_TSC_RATIO = 0xc0000104,
    MSR_VM_CR = 0xc0010114,
    MSR_VM_HSAVE_PA = 0xc0010117,
};

/* The local APIC's MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC) go
 * to the machine's APIC when it has one. */
static bool apic_msr(const struct cpu *cpu, uint32_t msr)
{
    return cpu->intc.apic_msr &&
           (msr == 0x1b || msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff));
}

/* The MSRs of the performance counters (perfctr.c) and of last-branch
 * recording (lbr.c). */
static bool msr_elsewhere(struct cpu *cpu, uint32_t msr, bool write,
                          uint64_t *val)
{
    bool gp = true;
    if (!x86_perf_msr(cpu, msr, write, val, &gp) &&
        !x86_lbr_msr(cpu, msr, write, val, &gp))
        return false;
    return !gp;
}

#define VM_CR_SVMDIS (1ull << 4)
#define VM_CR_LOCK   (1ull << 3)
#define TSC_RATIO_VALID ((1ull << 40) - 1)   /* 8.32 fixed point, 63:40 MBZ */
#define TSC_RATIO_ONE   (1ull << 32)
#define SVM_TSC_RATE_MSR (1u << 4)            /* CPUID 8000_000A EDX[4] */

/* TSC_RATIO (APM vol. 2, 15.30.5): applies in guest mode only. */
static bool has_tsc_ratio(const struct cpu *cpu)
{
    return cpu->has_svm && (cpu->svm_features & SVM_TSC_RATE_MSR);
}

static bool wrmsr_tsc_ratio(struct cpu *cpu, uint64_t val)
{
    if (!has_tsc_ratio(cpu) || (val & ~TSC_RATIO_VALID))
        return false;
    cpu->svm.tsc_ratio = val;
    cpu->svm.tsc_scaled = cpu->svm.guest_mode && val != TSC_RATIO_ONE;
    return true;
}

/* A TSC write sets the host's TSC; in guest mode the value written is the
 * guest's, so the host's is what scales and offsets to it. */
static void wrmsr_tsc(struct cpu *cpu, uint64_t val)
{
    struct svm_state *svm = &cpu->svm;
    if (svm->tsc_scaled && svm->tsc_ratio) {
        uint64_t host = (uint64_t)(((unsigned __int128)(val - svm->tsc_offset)
                                    << 32) / svm->tsc_ratio);
        val = host + svm->tsc_offset;
    }
    cpu->tsc_offset = val - x86_clock(cpu);
}

bool x86_rdmsr(struct cpu *cpu, uint32_t msr, uint64_t *val)
{
    if (apic_msr(cpu, msr))
        return cpu->intc.apic_msr(cpu->intc.opaque, msr, false, val);
    switch (msr) {
    case MSR_TSC:            *val = x86_tsc(cpu); return true;
    case MSR_APIC_BASE:      *val = cpu->apic_base; return true;
    case MSR_MTRRCAP:        *val = 0; return true;
    case MSR_SYSENTER_CS:    *val = cpu->sysenter_cs; return true;
    case MSR_SYSENTER_ESP:   *val = cpu->sysenter_esp; return true;
    case MSR_SYSENTER_EIP:   *val = cpu->sysenter_eip; return true;
    case MSR_MCG_CAP:
    case MSR_MCG_STATUS:     *val = 0; return true;
    case MSR_PAT:            *val = cpu->pat; return true;
    case MSR_MTRR_DEF_TYPE:  *val = cpu->mtrr_def_type; return true;
    case MSR_EFER:           *val = cpu->efer; return true;
    case MSR_STAR:           *val = cpu->star; return true;
    case MSR_LSTAR:          *val = cpu->lstar; return true;
    case MSR_CSTAR:          *val = cpu->cstar; return true;
    case MSR_SFMASK:         *val = cpu->sfmask; return true;
    case MSR_FS_BASE:        *val = cpu->seg[SEG_FS].base; return true;
    case MSR_GS_BASE:        *val = cpu->seg[SEG_GS].base; return true;
    case MSR_KERNEL_GS_BASE: *val = cpu->kernel_gs_base; return true;
    case MSR_TSC_AUX:        *val = cpu->tsc_aux; return true;
    case MSR_TSC_RATIO:
        *val = cpu->svm.tsc_ratio;
        return has_tsc_ratio(cpu);
    case MSR_SMM_BASE:
    case MSR_SMM_ADDR:
    case MSR_SMM_MASK:       return x86_smm_msr(cpu, msr, false, val);
    case MSR_VM_CR:
        if (!cpu->has_svm)
            return false;
        *val = cpu->svm.vm_cr;
        return true;
    case MSR_VM_HSAVE_PA:
        if (!cpu->has_svm)
            return false;
        *val = cpu->svm.hsave_pa;
        return true;
    default:
        return msr_elsewhere(cpu, msr, false, val);
    }
}

static bool wrmsr_efer(struct cpu *cpu, uint64_t val)
{
    uint64_t valid = EFER_VALID & ~(cpu->has_svm ? 0 : EFER_SVME);
    if (val & ~valid)
        return false;
    if ((val & EFER_SVME) && (cpu->svm.vm_cr & VM_CR_SVMDIS))
        return false;
    /* LME may not change while paging is on; LMA is read-only */
    if ((cpu->cr0 & CR0_PG) && ((val ^ cpu->efer) & EFER_LME))
        return false;
    val = (val & ~EFER_LMA) | (cpu->efer & EFER_LMA);
    if ((val ^ cpu->efer) & EFER_NXE)
        x86_tlb_flush(cpu);
    cpu->efer = val;
    x86_update_mode(cpu);
    return true;
}

static bool wrmsr_svm(struct cpu *cpu, uint32_t msr, uint64_t val)
{
    if (!cpu->has_svm)
        return false;
    if (msr == MSR_VM_HSAVE_PA) {
        if (val & 0xfff || val >> PHYS_ADDR_BITS)
            return false;
        cpu->svm.hsave_pa = val;
        return true;
    }
    /* VM_CR: SVMDIS and LOCK; once locked, writes to SVMDIS fault */
    if (val & ~(VM_CR_SVMDIS | VM_CR_LOCK | 0x7ull))
        return false;
    if ((cpu->svm.vm_cr & VM_CR_LOCK) && ((val ^ cpu->svm.vm_cr) & VM_CR_SVMDIS))
        return false;
    if ((val & VM_CR_SVMDIS) && (cpu->efer & EFER_SVME))
        return false;
    cpu->svm.vm_cr = val;
    return true;
}

bool x86_wrmsr(struct cpu *cpu, uint32_t msr, uint64_t val)
{
    if (apic_msr(cpu, msr))
        return cpu->intc.apic_msr(cpu->intc.opaque, msr, true, &val);
    switch (msr) {
    case MSR_TSC:            wrmsr_tsc(cpu, val); return true;
    case MSR_APIC_BASE:      cpu->apic_base = val; return true;
    case MSR_SYSENTER_CS:    cpu->sysenter_cs = val & 0xffff; return true;
    case MSR_SYSENTER_ESP:   cpu->sysenter_esp = val; return true;
    case MSR_SYSENTER_EIP:   cpu->sysenter_eip = val; return true;
    case MSR_MCG_STATUS:     return val == 0;
    case MSR_PAT:
        for (int i = 0; i < 8; i++) {
            unsigned t = (val >> (i * 8)) & 0xff;
            if (t == 2 || t == 3 || t > 7)
                return false;
        }
        cpu->pat = val;
        return true;
    case MSR_MTRR_DEF_TYPE:  cpu->mtrr_def_type = val; return true;
    case MSR_EFER:           return wrmsr_efer(cpu, val);
    case MSR_STAR:           cpu->star = val; return true;
    case MSR_LSTAR:
    case MSR_CSTAR:
    case MSR_FS_BASE:
    case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE:
        if (!x86_canonical(val))
            return false;
        if (msr == MSR_LSTAR) cpu->lstar = val;
        else if (msr == MSR_CSTAR) cpu->cstar = val;
        else if (msr == MSR_KERNEL_GS_BASE) cpu->kernel_gs_base = val;
        else {
            cpu->seg[msr == MSR_FS_BASE ? SEG_FS : SEG_GS].base = val;
            x86_update_mode(cpu);
        }
        return true;
    case MSR_SFMASK:         cpu->sfmask = val & 0xffffffffull; return true;
    case MSR_TSC_AUX:        cpu->tsc_aux = val & 0xffffffffull; return (val >> 32) == 0;
    case MSR_TSC_RATIO:      return wrmsr_tsc_ratio(cpu, val);
    case MSR_SMM_BASE:
    case MSR_SMM_ADDR:
    case MSR_SMM_MASK:       return x86_smm_msr(cpu, msr, true, &val);
    case MSR_VM_CR:
    case MSR_VM_HSAVE_PA:    return wrmsr_svm(cpu, msr, val);
    default:
        return msr_elsewhere(cpu, msr, true, &val);
    }
}
