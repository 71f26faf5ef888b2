/* `nsvm check [options] PAYLOAD`: the project's built-in oracle.
 *
 * Nesting must be architecturally invisible: a payload that uses only
 * what the APM specifies behaves the same as L1 under nsvm's L0 (nested
 * mode) and directly on the emulated hardware (--bare).  check runs the
 * payload both ways and compares its serial output and exit status. */
#ifndef NSVM_CHECK_H
#define NSVM_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "machine.h"

/* Exit status of a check whose two runs disagree. */
#define CHECK_EXIT_DIFFER 1

/* Runs the payload (opt->payload, or the image demo when NULL) bare and
 * nested; reports on out.  Returns 0 when output and exit status agree,
 * CHECK_EXIT_DIFFER when they do not, or an nsvm_exit status when a run
 * could not be made (payload, usage, internal). */
int check_run(const struct machine_options *opt, const uint8_t *demo,
              size_t demo_len, FILE *out);

#endif
