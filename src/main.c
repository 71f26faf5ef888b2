/* nsvm: parse the command line, build the machine, boot, run, report. */
#include <stdlib.h>

#include "check.h"
#include "cli.h"
#include "machine.h"

/* The demo payload, embedded by demo_blob.S. */
extern const uint8_t nsvm_demo_elf[];
extern const uint8_t nsvm_demo_elf_end[];

int main(int argc, char **argv)
{
    struct cli cli;

    cli_parse(argc, argv, &cli, stdout, stderr);
    if (cli.command == CLI_CHECK)
        return check_run(&cli.opt, nsvm_demo_elf,
                         (size_t)(nsvm_demo_elf_end - nsvm_demo_elf), stdout);
    if (cli.command != CLI_RUN)
        return cli.status;

    struct machine *m = calloc(1, sizeof(*m));
    if (!m) {
        fprintf(stderr, "nsvm: out of memory\n");
        return NSVM_EXIT_INTERNAL;
    }
    int status = machine_init(m, &cli.opt);
    if (status == 0) {
        if (cli.opt.payload)
            status = machine_load_file(m, cli.opt.payload);
        else
            status = machine_load_image(m, "demo", nsvm_demo_elf,
                                        (size_t)(nsvm_demo_elf_end - nsvm_demo_elf));
    }
    if (status == 0) {
        status = machine_run(m);
        if (cli.opt.stats)
            machine_print_stats(m, stderr);
    }
    machine_fini(m);
    free(m);
    return status;
}
