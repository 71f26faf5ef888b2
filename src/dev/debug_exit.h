/* The debug-exit device (QEMU's isa-debug-exit, iobase 0xf4, iosize 4).
 *
 * A write of V to any of its ports ends the run.  QEMU exits with status
 * (V << 1) | 1; nsvm exits with V & 0xff itself, so that a test kernel that
 * writes 0 makes nsvm exit 0.  Reads return 0, as QEMU's device does. */
#ifndef NSVM_DEV_DEBUG_EXIT_H
#define NSVM_DEV_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#define DEBUG_EXIT_BASE   0xf4
#define DEBUG_EXIT_NPORTS 4

struct cpu;

struct debug_exit {
    struct cpu *cpu;   /* the CPU this device stops */
    uint32_t value;    /* the full value written, for diagnostics */
    bool written;
};

void debug_exit_init(struct debug_exit *d, struct cpu *cpu);

/* struct pio_range handlers (dev is a struct debug_exit). */
uint32_t debug_exit_pio_read(void *dev, uint16_t off, unsigned size);
void debug_exit_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val);

#endif
