/* The `nsvm` command line: parsing and help text.
 *
 *   nsvm run [options] [PAYLOAD]     run a multiboot kernel (default: demo)
 *   nsvm check [options] PAYLOAD     run it bare and nested, compare
 *   nsvm --help | --version
 *
 * Parsing is strict: an unknown option, a missing argument or a malformed
 * number gives one line on stderr plus a hint, and exit status 125. */
#ifndef NSVM_CLI_H
#define NSVM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "machine.h"

#define NSVM_VERSION "0.1.0"

enum cli_command { CLI_RUN, CLI_CHECK, CLI_DONE };

struct cli {
    enum cli_command command;
    int status;                    /* CLI_DONE: the exit status */
    struct machine_options opt;    /* CLI_RUN, CLI_CHECK */
};

/* Parse argv.  Help and version text go to out, errors to err. */
void cli_parse(int argc, char **argv, struct cli *cli, FILE *out, FILE *err);

/* Strict number parsers (exposed for tests).  All return false on
 * anything but a well-formed value in range. */
bool cli_parse_u64(const char *s, uint64_t *val);
/* SIZE: a number of MiB (as QEMU's -m), or a number with a K, M, G or T
 * suffix (binary units). */
bool cli_parse_size(const char *s, uint64_t *val);
/* Comma-separated trace selections: insn, exc, exit. */
bool cli_parse_trace(const char *s, unsigned *mask);

#endif
