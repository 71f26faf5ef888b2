/* Port I/O and MMIO dispatch: the machine's side of struct x86_bus.
 *
 * Devices claim ranges of ports or physical addresses.  An access that no
 * range decodes sees an empty bus: reads return all-ones of the access
 * size, writes are dropped.  The tables are tiny and scanned linearly;
 * port I/O is rare next to ordinary instructions. */
#ifndef NSVM_DEV_BUS_H
#define NSVM_DEV_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* A device's port handlers see the offset from its base and an access of
 * at most `width` bytes: wider accesses (and accesses that straddle two
 * ranges) are split into byte accesses, as an 8-bit ISA device sees them. */
struct pio_range {
    uint16_t base;
    uint16_t count;
    uint8_t width;   /* largest access the device handles itself: 1, 2 or 4 */
    void *dev;
    uint32_t (*read)(void *dev, uint16_t off, unsigned size);
    void (*write)(void *dev, uint16_t off, unsigned size, uint32_t val);
};

struct mmio_range {
    uint64_t base;
    uint64_t size;
    void *dev;
    uint64_t (*read)(void *dev, uint64_t off, unsigned size);
    void (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
};

#define PIO_MAX_RANGES  16
#define MMIO_MAX_RANGES 8

struct io_bus {
    struct pio_range pio[PIO_MAX_RANGES];
    unsigned npio;
    struct mmio_range mmio[MMIO_MAX_RANGES];
    unsigned nmmio;
};

/* Claim a range; false if the table is full or the range overlaps one
 * already claimed (a wiring bug, reported by the machine). */
bool io_bus_add_pio(struct io_bus *bus, const struct pio_range *r);
bool io_bus_add_mmio(struct io_bus *bus, const struct mmio_range *r);

/* size is 1, 2 or 4; values are little-endian across split accesses. */
uint32_t io_bus_pio_read(struct io_bus *bus, uint16_t port, unsigned size);
void io_bus_pio_write(struct io_bus *bus, uint16_t port, unsigned size,
                      uint32_t val);

/* false: nothing decodes pa (the CPU then behaves as an open bus). */
bool io_bus_mmio_read(struct io_bus *bus, uint64_t pa, unsigned size,
                      uint64_t *val);
bool io_bus_mmio_write(struct io_bus *bus, uint64_t pa, unsigned size,
                       uint64_t val);

#endif
