/* CPUID: an AMD processor with long mode and NX, describing exactly what
 * nsvm implements (AMD CPUID Specification #25481; APM vol. 3, appendix E). */
#include <string.h>

#include "svm/vmcb.h"
#include "x86/cpu.h"

/* Leaf 1 EDX / 0x80000001 EDX feature bits nsvm implements. */
#define F_DE    (1u << 2)
#define F_PSE   (1u << 3)
#define F_TSC   (1u << 4)
#define F_MSR   (1u << 5)
#define F_PAE   (1u << 6)
#define F_CX8   (1u << 8)
#define F_PGE   (1u << 13)
#define F_CMOV  (1u << 15)
#define F_PAT   (1u << 16)
#define F_SEP   (1u << 11)
#define F_CLFSH (1u << 19)
#define F_APIC  (1u << 9)    /* only with the machine's APIC (intc.apic_msr) */
#define STD_EDX (F_DE | F_PSE | F_TSC | F_MSR | F_PAE | F_CX8 | F_SEP | F_PGE | \
                 F_CMOV | F_PAT | F_CLFSH)
/* Leaf 7 EBX */
#define F7_FSGSBASE (1u << 0)
#define F7_BMI1     (1u << 3)
#define F7_BMI2     (1u << 8)
/* Leaf 1 ECX */
#define F_CX16   (1u << 13)
#define F_MOVBE  (1u << 22)
#define F_POPCNT (1u << 23)
#define F_X2APIC (1u << 21)
#define F_TSC_DEADLINE (1u << 24)
/* Leaf 0x80000001 */
#define X_SYSCALL (1u << 11)
#define X_NX      (1u << 20)
#define X_PAGE1G  (1u << 26)
#define X_RDTSCP  (1u << 27)
#define X_LM      (1u << 29)
#define X_LAHF    (1u << 0)
#define X_SVM     (1u << 2)
#define X_ABM     (1u << 5)
#define X_PERFCTR_CORE (1u << 23)   /* PerfCtrExtCore: perfctr.c */

#define FAMILY_17H_EAX 0x00800f12u  /* family 17h (ext 8 + base f), model 1 */
#define SVM_REVISION   1u
#define SVM_NUM_ASIDS  16u

static void put_str(uint32_t out[4], const char *s)
{
    memcpy(out, s, 16);
}

void x86_cpuid(struct cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    static const char brand[48] = "nsvm AMD64 processor with AMD-V";
    memset(out, 0, 16);
    switch (leaf) {
    case 0:
        out[0] = 7;
        memcpy(&out[1], "Auth", 4);   /* EBX EDX ECX = AuthenticAMD */
        memcpy(&out[3], "enti", 4);
        memcpy(&out[2], "cAMD", 4);
        break;
    case 1:
        out[0] = FAMILY_17H_EAX;
        out[1] = (8u << 8) | (1u << 16);   /* CLFLUSH 64 bytes, 1 logical CPU */
        out[2] = F_CX16 | F_MOVBE | F_POPCNT;
        out[3] = STD_EDX;
        if (cpu->intc.apic_msr) {
            out[2] |= F_X2APIC | F_TSC_DEADLINE;
            out[3] |= F_APIC;
        }
        break;
    case 7:
        if (subleaf == 0)
            out[1] = F7_FSGSBASE | F7_BMI1 | F7_BMI2;
        break;
    case 0x80000000:
        out[0] = 0x8000000a;
        memcpy(&out[1], "Auth", 4);
        memcpy(&out[3], "enti", 4);
        memcpy(&out[2], "cAMD", 4);
        break;
    case 0x80000001:
        out[0] = FAMILY_17H_EAX;
        out[2] = X_LAHF | X_ABM | X_PERFCTR_CORE | (cpu->has_svm ? X_SVM : 0);
        out[3] = (STD_EDX & ~F_CLFSH) | X_SYSCALL | X_NX | X_PAGE1G | X_RDTSCP | X_LM;
        if (cpu->intc.apic_msr)
            out[3] |= F_APIC;
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004:
        put_str(out, brand + (leaf - 0x80000002) * 16);
        break;
    case 0x80000008:
        out[0] = (LIN_ADDR_BITS << 8) | PHYS_ADDR_BITS;
        break;
    case 0x8000000a:
        if (cpu->has_svm) {
            out[0] = SVM_REVISION;
            out[1] = SVM_NUM_ASIDS;
            out[3] = cpu->svm_features;
        }
        break;
    default:
        break;
    }
}
