/* The Bochs/QEMU "Shutdown" port at 0x8900: writing the bytes of the
 * string "Shutdown" one after another powers the machine off.  nsvm ends
 * the run with exit status 0 (a power-off is not a failure) and says on
 * stderr that the guest powered off.  Any other byte restarts the match. */
#ifndef NSVM_DEV_SHUTDOWN_H
#define NSVM_DEV_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>

#define SHUTDOWN_PORT 0x8900

struct cpu;

struct shutdown_port {
    struct cpu *cpu;
    unsigned matched;      /* bytes of "Shutdown" seen so far */
    bool powered_off;
};

void shutdown_port_init(struct shutdown_port *s, struct cpu *cpu);
uint32_t shutdown_pio_read(void *dev, uint16_t off, unsigned size);
void shutdown_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val);

#endif
