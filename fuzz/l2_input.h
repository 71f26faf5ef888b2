/* The input format of the targets that run fuzzed L2 code under an L1
 * (fuzz_l2_code, fuzz_vmcb12, fuzz_nested_diff):
 *
 *   byte 0       flags: bit 0  L2 starts at CPL 3 (64-bit user segments)
 *                       bit 1  nested paging (identity table at FM_NPT)
 *                       bit 2  the IOPM intercepts every port
 *                       bit 3  the MSRPM intercepts every MSR
 *                       bits 7:4  number of patches (0-15)
 *   bytes 1-24   XORed into vmcb12's six intercept words (the VMRUN
 *                intercept stays set unless a patch clears it)
 *   3 per patch  a 16-bit offset (taken modulo 4096) and a byte XORed into
 *                vmcb12 there: any field, control or state
 *   the rest     L2's code, at FM_CODE
 *
 * Starting from a VMCB that passes every check, so that short inputs
 * explore near-valid VMCBs and their exits. */
#ifndef NSVM_FUZZ_L2_INPUT_H
#define NSVM_FUZZ_L2_INPUT_H

#include "harness.h"

#define L2_USER      (1u << 0)
#define L2_NPT       (1u << 1)
#define L2_IOPM_ALL  (1u << 2)
#define L2_MSRPM_ALL (1u << 3)

#define L2_INTERCEPT_BYTES (4 * VMCB_INTERCEPT_WORDS)

struct l2_input {
    unsigned flags;
    const uint8_t *intercepts;   /* L2_INTERCEPT_BYTES */
    const uint8_t *patches;
    unsigned npatches;
    const uint8_t *code;
    size_t code_len;
};

/* Splits data into its parts; false if it is too short to hold them. */
bool l2_input_parse(const uint8_t *data, size_t size, struct l2_input *in);

/* Writes vmcb12 (at FM_VMCB12), the permission maps and the nested page
 * table into m, whose code bytes fm_new() has placed already. */
void l2_input_apply(struct machine *m, const struct l2_input *in);

/* A machine running in->code as L2 under the minimal L1 of fm_l1_stub(),
 * which takes `exits` #VMEXITs and then writes the debug-exit port. */
struct machine *l2_machine(bool bare, const struct l2_input *in,
                           uint32_t exits);

#endif
