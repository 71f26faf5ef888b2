/* QEMU's firmware configuration interface, the I/O-port form: a 16-bit
 * selector at 0x510 chooses an item, byte reads at 0x511 return it from
 * its start, one byte after another (past the end: zero).  The items a
 * test kernel reads: the signature "QEMU", the interface ID (traditional
 * interface only), the RAM size (8 bytes, little-endian), the CPU count
 * (NB_CPUS and MAX_CPUS = 1) and the kernel command line (the --append
 * string, its size including the NUL).  Unknown items read as zero;
 * writes to the data port are ignored. */
#ifndef NSVM_DEV_FW_CFG_H
#define NSVM_DEV_FW_CFG_H

#include <stdint.h>

#define FW_CFG_BASE   0x510
#define FW_CFG_NPORTS 2

enum {
    FW_CFG_SIGNATURE = 0x0000, FW_CFG_ID = 0x0001, FW_CFG_RAM_SIZE = 0x0003,
    FW_CFG_NB_CPUS = 0x0005, FW_CFG_MAX_CPUS = 0x000f,
    FW_CFG_CMDLINE_SIZE = 0x0014, FW_CFG_CMDLINE_DATA = 0x0015,
};

struct fw_cfg {
    uint16_t selector;
    uint32_t offset;          /* next byte of the selected item */
    uint64_t ram_size;
    const char *cmdline;      /* "" when there is none */
};

void fw_cfg_init(struct fw_cfg *f, uint64_t ram_size, const char *cmdline);
/* Byte off of an item (0 past its end or for unknown items). */
uint8_t fw_cfg_item_byte(const struct fw_cfg *f, uint16_t key, uint32_t off);

uint32_t fw_cfg_pio_read(void *dev, uint16_t off, unsigned size);
void fw_cfg_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val);

#endif
