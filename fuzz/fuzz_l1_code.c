/* Fuzz target (c): random bytes as L1 code.
 *
 * Input: one byte of flags, then the code.  Flags bits 0-3 are FM_* (CPL 3,
 * compatibility mode, EFER.SVME clear, IDT gates into the code); bit 4
 * runs the machine nested (the code is L1 under nsvm's L0, which then
 * handles its CPUID, MSR, I/O and SVM instructions) instead of bare.  A
 * valid VMCB waits at FM_VMCB12 (RAX points at it) whose guest runs the
 * same bytes, so a VMRUN in the code enters guest mode.  Each execution
 * is bounded by an instruction budget. */
#include "harness.h"

#define BUDGET 10000
#define FLAG_NESTED (1u << 4)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    struct machine *m = fm_new(!(flags & FLAG_NESTED), flags & 0xf,
                               data + 1, size - 1);

    fm_vmcb_template(m, fm_ram(m, FM_VMCB12), FM_CODE);
    fm_run(m, BUDGET);
    fm_free(m);
    return 0;
}
