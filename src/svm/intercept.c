/* "Is this intercepted?" — the one place that answers it (APM vol. 2,
 * 15.7-15.13).  Callers in src/x86 ask only in guest mode (svm_check), at
 * the point where the APM takes the intercept: after the instruction's
 * own #UD and privilege checks, before it changes anything.
 *
 * For exit codes below 0xC0 the intercept bit index equals the exit code
 * (appendix C), so an instruction or event intercept is one bit test in
 * the words VMRUN cached.  IOIO and MSR intercepts then consult the
 * permission maps; exceptions their own 32 bits. */
#include "svm/svm_internal.h"

static inline bool intercepted(const struct cpu *cpu, uint64_t bit)
{
    return bit < 32 * VMCB_INTERCEPT_WORDS &&
           ((cpu->svm.intercepts[bit >> 5] >> (bit & 31)) & 1);
}

/* Without decode assists (a CPU whose CPUID does not offer them) the
 * CR/DR access, INVLPG, INVLPGA and INTn exits carry no instruction
 * information; with them (15.33) EXITINFO1 is what the caller computed. */
static uint64_t decode_assist_info1(const struct cpu *cpu, uint64_t code,
                                    uint64_t info1)
{
    if (cpu->svm_features & SVM_FEATURE_DECODE_ASSISTS)
        return info1;
    if (code < SVM_EXIT_EXCP(0) || code == SVM_EXIT_INVLPG ||
        code == SVM_EXIT_INVLPGA || code == SVM_EXIT_SWINT)
        return 0;
    return info1;
}

void svm_intercept(struct cpu *cpu, uint64_t code, uint64_t info1,
                   uint64_t info2)
{
    if (intercepted(cpu, code))
        svm_vmexit(cpu, code, decode_assist_info1(cpu, code, info1), info2);
}

/* A byte of a permission map: host buffer of a native host, else guest
 * RAM (outside RAM reads as all-ones: intercepted). */
static unsigned map_byte(struct cpu *cpu, const uint8_t *host, uint64_t pa,
                         uint32_t off)
{
    if (host)
        return host[off];
    return (unsigned)phys_read(cpu, pa + off, 1);
}

/* IOPM (15.10.1): one bit per port; an access of size bytes at port p is
 * intercepted when any of bits p .. p+size-1 is set — they may straddle
 * a byte, and at port 0xFFFF reach into the map's third 4 KiB page. */
void svm_intercept_ioio(struct cpu *cpu, uint16_t port, unsigned size,
                        uint64_t info1)
{
    if (!intercepted(cpu, INTERCEPT_IOIO_PROT))
        return;
    const uint8_t *host = cpu->svm.host_iopm;
    uint64_t pa = cpu->svm.iopm_pa;
    uint32_t off = port >> 3;
    unsigned bits = map_byte(cpu, host, pa, off) |
                    map_byte(cpu, host, pa, off + 1) << 8;
    unsigned mask = ((1u << size) - 1) << (port & 7);
    if (bits & mask)
        svm_vmexit(cpu, SVM_EXIT_IOIO, info1, cpu->next_rip);
}

/* MSRPM (15.11): two bits per MSR (read, then write) in three ranges;
 * an MSR outside them is always intercepted.  EXITINFO1: 0 RDMSR, 1 WRMSR. */
void svm_intercept_msr(struct cpu *cpu, uint32_t msr, int write)
{
    if (!intercepted(cpu, INTERCEPT_MSR_PROT))
        return;
    long bit = msrpm_read_bit(msr);
    if (bit >= 0) {
        bit += write ? 1 : 0;
        unsigned byte = map_byte(cpu, cpu->svm.host_msrpm, cpu->svm.msrpm_pa,
                                 (uint32_t)(bit >> 3));
        if (!((byte >> (bit & 7)) & 1))
            return;
    }
    svm_vmexit(cpu, SVM_EXIT_MSR, write ? MSR_EXITINFO1_WRITE : MSR_EXITINFO1_READ, 0);
}

/* Exceptions (15.12): checked when the exception is about to be
 * delivered.  EXITINFO1 is the error code, EXITINFO2 the faulting
 * address of a #PF (CR2 is not written: the host decides). */
void svm_intercept_exception(struct cpu *cpu, int vector, uint32_t err,
                             int has_err, uint64_t cr2)
{
    if (cpu->svm.skip_intercept) {
        cpu->svm.skip_intercept = false;   /* an injected event */
        return;
    }
    if (vector < 0 || vector > 31 || !intercepted(cpu, INTERCEPT_EXCEPTION(vector)))
        return;
    svm_vmexit(cpu, SVM_EXIT_EXCP(vector), has_err ? err : 0,
               vector == EXC_PF ? cr2 : 0);
}
