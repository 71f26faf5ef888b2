/* Port I/O and MMIO dispatch (see bus.h). */
#include "dev/bus.h"

#include <stddef.h>

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

bool io_bus_add_pio(struct io_bus *bus, const struct pio_range *r)
{
    if (bus->npio == PIO_MAX_RANGES || r->count == 0 ||
        (uint32_t)r->base + r->count > 0x10000u ||
        (r->width != 1 && r->width != 2 && r->width != 4))
        return false;
    for (unsigned i = 0; i < bus->npio; i++)
        if (ranges_overlap(bus->pio[i].base, bus->pio[i].count,
                           r->base, r->count))
            return false;
    bus->pio[bus->npio++] = *r;
    return true;
}

bool io_bus_add_mmio(struct io_bus *bus, const struct mmio_range *r)
{
    if (bus->nmmio == MMIO_MAX_RANGES || r->size == 0 ||
        r->base + r->size < r->base)
        return false;
    for (unsigned i = 0; i < bus->nmmio; i++)
        if (ranges_overlap(bus->mmio[i].base, bus->mmio[i].size,
                           r->base, r->size))
            return false;
    bus->mmio[bus->nmmio++] = *r;
    return true;
}

/* The range that decodes all of [port, port+size), or NULL. */
static const struct pio_range *pio_find(const struct io_bus *bus,
                                        uint32_t port, unsigned size)
{
    for (unsigned i = 0; i < bus->npio; i++) {
        const struct pio_range *r = &bus->pio[i];
        if (port >= r->base && port + size <= (uint32_t)r->base + r->count)
            return r;
    }
    return NULL;
}

static uint32_t pio_read1(struct io_bus *bus, uint32_t port)
{
    const struct pio_range *r = pio_find(bus, port & 0xffff, 1);
    if (!r || !r->read)
        return 0xff;
    return r->read(r->dev, (uint16_t)((port & 0xffff) - r->base), 1) & 0xff;
}

static void pio_write1(struct io_bus *bus, uint32_t port, uint32_t val)
{
    const struct pio_range *r = pio_find(bus, port & 0xffff, 1);
    if (r && r->write)
        r->write(r->dev, (uint16_t)((port & 0xffff) - r->base), 1, val & 0xff);
}

static uint32_t size_mask(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

uint32_t io_bus_pio_read(struct io_bus *bus, uint16_t port, unsigned size)
{
    const struct pio_range *r = pio_find(bus, port, size);
    if (r && size <= r->width)
        return r->read ? r->read(r->dev, (uint16_t)(port - r->base), size) &
                             size_mask(size)
                       : size_mask(size);
    uint32_t val = 0;
    for (unsigned i = 0; i < size; i++)
        val |= pio_read1(bus, (uint32_t)port + i) << (8 * i);
    return val;
}

void io_bus_pio_write(struct io_bus *bus, uint16_t port, unsigned size,
                      uint32_t val)
{
    const struct pio_range *r = pio_find(bus, port, size);
    if (r && size <= r->width) {
        if (r->write)
            r->write(r->dev, (uint16_t)(port - r->base), size,
                     val & size_mask(size));
        return;
    }
    for (unsigned i = 0; i < size; i++)
        pio_write1(bus, (uint32_t)port + i, val >> (8 * i));
}

static const struct mmio_range *mmio_find(const struct io_bus *bus,
                                          uint64_t pa, unsigned size)
{
    for (unsigned i = 0; i < bus->nmmio; i++) {
        const struct mmio_range *r = &bus->mmio[i];
        if (pa >= r->base && pa - r->base < r->size &&
            size <= r->size - (pa - r->base))
            return r;
    }
    return NULL;
}

bool io_bus_mmio_read(struct io_bus *bus, uint64_t pa, unsigned size,
                      uint64_t *val)
{
    const struct mmio_range *r = mmio_find(bus, pa, size);
    if (!r || !r->read)
        return false;
    *val = r->read(r->dev, pa - r->base, size);
    return true;
}

bool io_bus_mmio_write(struct io_bus *bus, uint64_t pa, unsigned size,
                       uint64_t val)
{
    const struct mmio_range *r = mmio_find(bus, pa, size);
    if (!r || !r->write)
        return false;
    r->write(r->dev, pa - r->base, size, val);
    return true;
}
