/* Multiboot v1 loader: the protocol QEMU's -kernel and GRUB legacy speak,
 * which kvm-unit-tests-style payloads use (64-bit code wrapped as an
 * elf32-i386 image).
 *
 * The file is untrusted input: every offset and size is checked, and any
 * problem is reported as one status plus one line of text, never a crash.
 * Loading writes only guest RAM; multiboot_enter() then sets the CPU state
 * the specification promises (32-bit protected mode, paging off,
 * EAX = 0x2BADB002, EBX = the information structure). */
#ifndef NSVM_BOOT_MULTIBOOT_H
#define NSVM_BOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#define MB_HEADER_MAGIC  0x1BADB002u
#define MB_BOOT_MAGIC    0x2BADB002u   /* in EAX at entry */
#define MB_SEARCH_LIMIT  8192          /* the header lies in the first 8 KiB */

/* Header flags: bits 0-15 are requirements the loader must meet. */
#define MB_HF_PAGE_ALIGN (1u << 0)     /* modules page-aligned: none here */
#define MB_HF_MEMINFO    (1u << 1)     /* mem_* fields: always given */
#define MB_HF_VIDEO      (1u << 2)     /* video mode: ignored, as QEMU does */
#define MB_HF_REQ_MASK   0x0000ffffu
#define MB_HF_ADDRESS    (1u << 16)    /* load from the header's addresses */

/* Information structure flags. */
#define MB_INFO_MEMORY   (1u << 0)
#define MB_INFO_CMDLINE  (1u << 2)
#define MB_INFO_MODS     (1u << 3)
#define MB_INFO_MMAP     (1u << 6)
#define MB_INFO_LOADER   (1u << 9)

/* Guest-physical layout of what the loader writes besides the image; the
 * image must not overlap [MB_INFO_ADDR, MB_LOADER_END). */
#define MB_INFO_ADDR     0x9000u
#define MB_MMAP_ADDR     0x9100u
#define MB_NAME_ADDR     0x9200u
#define MB_CMDLINE_ADDR  0x10000u
#define MB_LOADER_END    0x20000u
#define MB_CMDLINE_MAX   (MB_LOADER_END - MB_CMDLINE_ADDR)   /* with the NUL */
#define MB_INFO_SIZE     128u

enum mb_status {
    MB_OK = 0,
    MB_ERR_READ,       /* missing or unreadable file */
    MB_ERR_TRUNCATED,  /* file ends inside a header or table */
    MB_ERR_NOT_ELF,    /* neither ELF nor an address-header image */
    MB_ERR_ELF_KIND,   /* ELF, but not a 32-bit little-endian i386 executable */
    MB_ERR_NO_HEADER,  /* no multiboot header in the first 8 KiB */
    MB_ERR_CHECKSUM,   /* header magic found, checksum wrong */
    MB_ERR_FEATURES,   /* header requires features nsvm does not provide */
    MB_ERR_SEGMENT,    /* a segment's bytes lie outside the file / bad sizes */
    MB_ERR_RAM,        /* a segment lies outside guest RAM */
    MB_ERR_OVERLAP,    /* a segment overlaps the loader's information area */
    MB_ERR_ENTRY,      /* entry point outside the loaded image */
    MB_ERR_CMDLINE,    /* command line too long */
};

struct mb_image {
    uint32_t entry;       /* physical address of the first instruction */
    uint32_t info_addr;   /* physical address of the information structure */
    uint64_t load_start;  /* lowest and highest+1 physical address written */
    uint64_t load_end;
};

struct mb_error {
    enum mb_status status;
    char msg[200];        /* one line, without "nsvm: " and without '\n' */
};

/* Read a whole file (at most max bytes) into a malloc'd buffer. */
enum mb_status multiboot_read_file(const char *path, size_t max,
                                   uint8_t **buf, size_t *len,
                                   struct mb_error *err);

/* Load an image already in memory into ram[0, ram_size) and write the
 * information structure with the given command line. */
enum mb_status multiboot_load(uint8_t *ram, uint64_t ram_size,
                              const uint8_t *file, size_t len,
                              const char *cmdline, struct mb_image *img,
                              struct mb_error *err);

struct cpu;
/* The machine state at a multiboot entry point (multiboot spec 3.2). */
void multiboot_enter(struct cpu *cpu, const struct mb_image *img);

#endif
