/* Fuzz target (b): random vmcb12 contents handed to L0's emulated VMRUN.
 *
 * Input: see l2_input.h (a valid vmcb12 with fuzzed intercepts and any of
 * its bytes XORed, and L2's code).  The machine runs nested: a minimal L1
 * (fm_l1_stub) executes VMRUN on vmcb12, which L0 copies, checks and turns
 * into vmcb02; L2's exits are reflected to L1 or handled by L0; L1 resumes
 * L2 up to EXITS times.  Everything within one instruction budget; an
 * internal error of L0 aborts (harness.c). */
#include "l2_input.h"

#define BUDGET 20000
#define EXITS  8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct l2_input in;

    if (!l2_input_parse(data, size, &in))
        return 0;
    struct machine *m = l2_machine(false, &in, EXITS);
    fm_run(m, BUDGET);
    fm_free(m);
    return 0;
}
