/* The machine: one CPU, guest RAM, the devices and the run loop.
 *
 * Everything a run needs hangs off struct machine: no globals, so tests
 * and fuzzers can build several machines in one process. */
#ifndef NSVM_MACHINE_H
#define NSVM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "boot/multiboot.h"
#include "dev/apic.h"
#include "dev/bus.h"
#include "dev/debug_exit.h"
#include "dev/fw_cfg.h"
#include "dev/pic.h"
#include "dev/serial.h"
#include "dev/shutdown.h"
#include "hv/hv.h"
#include "x86/cpu.h"

/* nsvm's exit statuses.  0-124 (and any value the guest writes) come from
 * the guest through the debug-exit port; these are nsvm's own outcomes. */
enum nsvm_exit {
    NSVM_EXIT_USAGE = 125,        /* bad command line */
    NSVM_EXIT_PAYLOAD = 126,      /* missing, unreadable or invalid payload */
    NSVM_EXIT_TRIPLE_FAULT = 127, /* the guest shut the machine down */
    NSVM_EXIT_BUDGET = 128,       /* --max-insns exhausted */
    NSVM_EXIT_TIMEOUT = 129,      /* --timeout expired */
    NSVM_EXIT_INTERNAL = 130,     /* nsvm failed (out of memory, ...) */
    NSVM_EXIT_HALT = 131,         /* HLT with interrupts disabled */
};

#define MACHINE_MEM_DEFAULT (256ull << 20)
#define MACHINE_MEM_MIN     (2ull << 20)
#define MACHINE_MEM_MAX     (64ull << 30)

struct machine_options {
    const char *payload;      /* NULL: the embedded demo */
    const char *append;       /* --append, NULL if not given */
    uint64_t mem_size;        /* bytes, a multiple of 4 KiB */
    uint64_t max_insns;       /* 0: no budget */
    uint64_t timeout_sec;     /* 0: no wall-clock limit */
    unsigned trace;           /* TRACE_* */
    const char *trace_file;   /* NULL: stderr */
    const char *serial_file;  /* NULL: stdout */
    bool bare;                /* run the guest directly on the CPU (else as
                                 L1 under the L0 hypervisor, src/hv) */
    bool stats;               /* print statistics at the end */
};

struct machine {
    struct cpu cpu;
    uint8_t *ram;
    uint64_t ram_size;
    struct io_bus io;
    struct serial serial;
    struct debug_exit debug_exit;
    struct apic apic;
    struct pic pic;
    struct fw_cfg fw_cfg;
    struct shutdown_port shutdown;
    struct machine_options opt;
    struct mb_image image;
    FILE *serial_out, *trace_out;
    bool own_serial_out, own_trace_out;
    double wall_seconds;      /* duration of machine_run */
    struct hv hv;             /* L0, in nested mode (opt.bare false) */
};

/* Set up RAM, devices and the CPU.  Returns 0, or an nsvm_exit status
 * after printing one line on stderr. */
int machine_init(struct machine *m, const struct machine_options *opt);
void machine_fini(struct machine *m);

/* Load a multiboot image (name is what the command line's argv[0] says).
 * Returns 0 or NSVM_EXIT_PAYLOAD after printing one line on stderr. */
int machine_load_image(struct machine *m, const char *name,
                       const uint8_t *data, size_t len);
int machine_load_file(struct machine *m, const char *path);

/* Run until the guest stops the machine; returns the exit status and
 * prints nsvm's own outcomes (triple fault, budget, ...) on stderr. */
int machine_run(struct machine *m);

/* Print --stats output. */
void machine_print_stats(const struct machine *m, FILE *out);

/* The x86_bus callbacks (opaque is the struct machine). */
uint32_t machine_pio_read(void *opaque, uint16_t port, unsigned size);
void machine_pio_write(void *opaque, uint16_t port, unsigned size, uint32_t val);
bool machine_mmio_read(void *opaque, uint64_t pa, unsigned size, uint64_t *val);
bool machine_mmio_write(void *opaque, uint64_t pa, unsigned size, uint64_t val);

#endif
