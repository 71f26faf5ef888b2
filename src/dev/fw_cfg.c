/* fw_cfg, I/O-port interface (see fw_cfg.h). */
#include "dev/fw_cfg.h"

#include <string.h>

void fw_cfg_init(struct fw_cfg *f, uint64_t ram_size, const char *cmdline)
{
    f->selector = 0;
    f->offset = 0;
    f->ram_size = ram_size;
    f->cmdline = cmdline ? cmdline : "";
}

/* Byte off of a little-endian integer of n bytes. */
static uint8_t le_byte(uint64_t v, unsigned n, uint32_t off)
{
    return off < n ? (uint8_t)(v >> (8 * off)) : 0;
}

uint8_t fw_cfg_item_byte(const struct fw_cfg *f, uint16_t key, uint32_t off)
{
    size_t len = strlen(f->cmdline);
    switch (key) {
    case FW_CFG_SIGNATURE:
        return off < 4 ? (uint8_t)"QEMU"[off] : 0;
    case FW_CFG_ID:
        return le_byte(1, 4, off);   /* traditional interface, no DMA */
    case FW_CFG_RAM_SIZE:
        return le_byte(f->ram_size, 8, off);
    case FW_CFG_NB_CPUS:
    case FW_CFG_MAX_CPUS:
        return le_byte(1, 2, off);
    case FW_CFG_CMDLINE_SIZE:
        return le_byte(len + 1, 4, off);
    case FW_CFG_CMDLINE_DATA:
        return off < len ? (uint8_t)f->cmdline[off] : 0;
    default:
        return 0;
    }
}

uint32_t fw_cfg_pio_read(void *dev, uint16_t off, unsigned size)
{
    struct fw_cfg *f = dev;
    if (off == 0)
        return 0;   /* the selector port reads nothing useful */
    uint32_t val = 0;
    for (unsigned i = 0; i < size; i++)   /* the data port is 8 bits wide */
        val |= (uint32_t)fw_cfg_item_byte(f, f->selector, f->offset++) << (8 * i);
    return val;
}

void fw_cfg_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val)
{
    struct fw_cfg *f = dev;
    if (off != 0 || size < 2)
        return;
    f->selector = (uint16_t)val;
    f->offset = 0;
}
