/* Multiboot v1 image loading (see multiboot.h). */
#include "boot/multiboot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ELF32 header and program header field offsets (System V gABI). */
#define EI_NIDENT     16
#define EI_CLASS      4
#define EI_DATA       5
#define ELFCLASS32    1
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define ET_EXEC       2
#define EM_386        3
#define PT_LOAD       1
#define EHDR32_SIZE   52
#define PHDR32_SIZE   32
#define PN_XNUM       0xffff

static enum mb_status fail(struct mb_error *err, enum mb_status st,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->status = st;
    return st;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

enum mb_status multiboot_read_file(const char *path, size_t max,
                                   uint8_t **buf, size_t *len,
                                   struct mb_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, MB_ERR_READ, "cannot open %s: %s", path,
                    strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, MB_ERR_READ, "%s: not a regular file", path);
    }
    if (st.st_size == 0 || (uint64_t)st.st_size > max) {
        close(fd);
        return fail(err, st.st_size ? MB_ERR_READ : MB_ERR_TRUNCATED,
                    "%s: %s", path, st.st_size ? "file too large" : "empty file");
    }
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *p = malloc(size);
    if (!p) {
        close(fd);
        return fail(err, MB_ERR_READ, "%s: out of memory", path);
    }
    while (got < size) {
        ssize_t n = read(fd, p + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(p);
            close(fd);
            return fail(err, MB_ERR_READ, "cannot read %s: %s", path,
                        n < 0 ? strerror(errno) : "unexpected end of file");
        }
        got += (size_t)n;
    }
    close(fd);
    *buf = p;
    *len = size;
    return MB_OK;
}

/* The multiboot header: 4-byte aligned, within the first 8 KiB, with
 * magic + flags + checksum == 0 (mod 2^32).  Returns its file offset. */
static enum mb_status find_header(const uint8_t *file, size_t len,
                                  size_t *off, struct mb_error *err)
{
    size_t limit = len < MB_SEARCH_LIMIT ? len : MB_SEARCH_LIMIT;
    bool magic_seen = false;

    for (size_t i = 0; i + 12 <= limit; i += 4) {
        if (le32(file + i) != MB_HEADER_MAGIC)
            continue;
        if ((uint32_t)(le32(file + i) + le32(file + i + 4) +
                       le32(file + i + 8)) == 0) {
            *off = i;
            return MB_OK;
        }
        magic_seen = true;
    }
    if (magic_seen)
        return fail(err, MB_ERR_CHECKSUM, "multiboot header checksum is wrong");
    return fail(err, MB_ERR_NO_HEADER,
                "no multiboot header in the first %u bytes (not a multiboot kernel)",
                MB_SEARCH_LIMIT);
}

/* [start, start+size) must lie in RAM and clear of the loader's area. */
static enum mb_status check_placement(uint64_t start, uint64_t size,
                                      uint64_t ram_size, const char *what,
                                      struct mb_error *err)
{
    if (start > ram_size || size > ram_size - start)
        return fail(err, MB_ERR_RAM,
                    "%s at 0x%llx-0x%llx lies outside guest RAM (%llu MiB; see --mem)",
                    what, (unsigned long long)start,
                    (unsigned long long)(start + size),
                    (unsigned long long)(ram_size >> 20));
    if (start < MB_LOADER_END && start + size > MB_INFO_ADDR)
        return fail(err, MB_ERR_OVERLAP,
                    "%s at 0x%llx-0x%llx overlaps the boot information area 0x%x-0x%x",
                    what, (unsigned long long)start,
                    (unsigned long long)(start + size), MB_INFO_ADDR,
                    MB_LOADER_END);
    return MB_OK;
}

static void note_range(struct mb_image *img, uint64_t start, uint64_t end)
{
    if (start < img->load_start)
        img->load_start = start;
    if (end > img->load_end)
        img->load_end = end;
}

static enum mb_status check_elf_ident(const uint8_t *file, size_t len,
                                      struct mb_error *err)
{
    if (len < EHDR32_SIZE)
        return fail(err, MB_ERR_TRUNCATED, "file ends inside the ELF header");
    if (file[EI_CLASS] == ELFCLASS64)
        return fail(err, MB_ERR_ELF_KIND,
                    "64-bit ELF image: multiboot needs elf32-i386 (objcopy -O elf32-i386)");
    if (file[EI_CLASS] != ELFCLASS32 || file[EI_DATA] != ELFDATA2LSB ||
        le16(file + 16) != ET_EXEC || le16(file + 18) != EM_386)
        return fail(err, MB_ERR_ELF_KIND,
                    "not a 32-bit little-endian i386 ELF executable");
    return MB_OK;
}

/* One PT_LOAD program header: check it, copy it, zero its tail. */
static enum mb_status load_segment(uint8_t *ram, uint64_t ram_size,
                                   const uint8_t *file, size_t len,
                                   const uint8_t *ph, struct mb_image *img,
                                   struct mb_error *err)
{
    uint64_t off = le32(ph + 4), paddr = le32(ph + 12);
    uint64_t filesz = le32(ph + 16), memsz = le32(ph + 20);

    if (filesz > memsz)
        return fail(err, MB_ERR_SEGMENT,
                    "segment at 0x%llx: file size 0x%llx exceeds memory size 0x%llx",
                    (unsigned long long)paddr, (unsigned long long)filesz,
                    (unsigned long long)memsz);
    if (off > len || filesz > len - off)
        return fail(err, MB_ERR_SEGMENT,
                    "segment at 0x%llx: bytes 0x%llx-0x%llx lie beyond the end of the file (0x%zx)",
                    (unsigned long long)paddr, (unsigned long long)off,
                    (unsigned long long)(off + filesz), len);
    if (memsz == 0)
        return MB_OK;
    enum mb_status st = check_placement(paddr, memsz, ram_size, "segment", err);
    if (st)
        return st;
    memcpy(ram + paddr, file + off, filesz);
    memset(ram + paddr + filesz, 0, memsz - filesz);
    note_range(img, paddr, paddr + memsz);
    return MB_OK;
}

/* Entry: e_entry, translated from the segment's virtual to its physical
 * address when the image is linked at a different virtual address. */
static bool elf_entry(const uint8_t *file, const uint8_t *phdrs,
                      unsigned phnum, unsigned phentsize, uint32_t *entry)
{
    uint32_t e = le32(file + 24);
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < phnum; i++) {
            const uint8_t *ph = phdrs + (size_t)i * phentsize;
            uint64_t base = le32(ph + (pass ? 12 : 8)), memsz = le32(ph + 20);
            if (le32(ph) != PT_LOAD || e < base || e - base >= memsz)
                continue;
            *entry = (uint32_t)(e - base + le32(ph + 12));
            return true;
        }
    }
    return false;
}

static enum mb_status load_elf(uint8_t *ram, uint64_t ram_size,
                               const uint8_t *file, size_t len,
                               struct mb_image *img, struct mb_error *err)
{
    uint64_t phoff = le32(file + 28);
    unsigned phentsize = le16(file + 42), phnum = le16(file + 44);

    if (phnum == 0 || phnum == PN_XNUM)
        return fail(err, MB_ERR_SEGMENT, "ELF image has no program headers");
    if (phentsize < PHDR32_SIZE)
        return fail(err, MB_ERR_SEGMENT, "ELF program header size %u is too small",
                    phentsize);
    if (phoff > len || (uint64_t)phnum * phentsize > len - phoff)
        return fail(err, MB_ERR_TRUNCATED, "file ends inside the ELF program headers");

    const uint8_t *phdrs = file + phoff;
    bool loaded = false;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = phdrs + (size_t)i * phentsize;
        if (le32(ph) != PT_LOAD)
            continue;
        enum mb_status st = load_segment(ram, ram_size, file, len, ph, img, err);
        if (st)
            return st;
        loaded |= le32(ph + 20) != 0;
    }
    if (!loaded)
        return fail(err, MB_ERR_SEGMENT, "ELF image has no loadable segment");
    if (!elf_entry(file, phdrs, phnum, phentsize, &img->entry))
        return fail(err, MB_ERR_ENTRY, "entry point 0x%x lies outside every loadable segment",
                    le32(file + 24));
    return MB_OK;
}

/* The "address" form (header flag 16): header_addr, load_addr,
 * load_end_addr, bss_end_addr, entry_addr follow the checksum. */
static enum mb_status load_address_form(uint8_t *ram, uint64_t ram_size,
                                        const uint8_t *file, size_t len,
                                        size_t hoff, struct mb_image *img,
                                        struct mb_error *err)
{
    if (hoff + 32 > len)
        return fail(err, MB_ERR_TRUNCATED, "file ends inside the multiboot header");
    const uint8_t *h = file + hoff;
    uint64_t header_addr = le32(h + 12), load_addr = le32(h + 16);
    uint64_t load_end = le32(h + 20), bss_end = le32(h + 24);
    uint64_t entry = le32(h + 28);

    if (header_addr < load_addr || header_addr - load_addr > hoff)
        return fail(err, MB_ERR_SEGMENT, "multiboot header addresses are inconsistent");
    uint64_t foff = hoff - (header_addr - load_addr);
    uint64_t size = load_end ? load_end - load_addr : len - foff;
    if (load_end && load_end < load_addr)
        return fail(err, MB_ERR_SEGMENT, "multiboot load_end_addr is below load_addr");
    if (size > len - foff)
        return fail(err, MB_ERR_SEGMENT, "multiboot load range lies beyond the end of the file");
    uint64_t memsz = size;
    if (bss_end) {
        if (bss_end < load_addr + size)
            return fail(err, MB_ERR_SEGMENT, "multiboot bss_end_addr is below the loaded image");
        memsz = bss_end - load_addr;
    }
    enum mb_status st = check_placement(load_addr, memsz, ram_size, "image", err);
    if (st)
        return st;
    if (entry < load_addr || entry >= load_addr + memsz)
        return fail(err, MB_ERR_ENTRY, "entry point 0x%llx lies outside the loaded image",
                    (unsigned long long)entry);
    memcpy(ram + load_addr, file + foff, size);
    memset(ram + load_addr + size, 0, memsz - size);
    note_range(img, load_addr, load_addr + memsz);
    img->entry = (uint32_t)entry;
    return MB_OK;
}

/* Memory map: conventional memory, the legacy hole, then the rest. */
static uint32_t write_mmap(uint8_t *ram, uint64_t ram_size)
{
    static const struct { uint64_t start, end; uint32_t type; } map[] = {
        { 0, 0xa0000, 1 }, { 0xa0000, 0x100000, 2 }, { 0x100000, 0, 1 },
    };
    uint8_t *p = ram + MB_MMAP_ADDR;
    for (unsigned i = 0; i < 3; i++, p += 24) {
        uint64_t end = map[i].end ? map[i].end : ram_size;
        put32(p, 20);   /* size of the entry after this field */
        put64(p + 4, map[i].start);
        put64(p + 12, end - map[i].start);
        put32(p + 20, map[i].type);
    }
    return 3 * 24;
}

static enum mb_status write_info(uint8_t *ram, uint64_t ram_size,
                                 const char *cmdline, struct mb_image *img,
                                 struct mb_error *err)
{
    size_t clen = strlen(cmdline) + 1;
    if (clen > MB_CMDLINE_MAX)
        return fail(err, MB_ERR_CMDLINE, "command line longer than %u bytes",
                    MB_CMDLINE_MAX - 1);
    uint64_t below4g = ram_size < (1ull << 32) ? ram_size : (1ull << 32);
    uint8_t *info = ram + MB_INFO_ADDR;

    memset(info, 0, MB_LOADER_END - MB_INFO_ADDR);
    put32(info + 0, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS |
                    MB_INFO_MMAP | MB_INFO_LOADER);
    put32(info + 4, 640);                                 /* mem_lower, KiB */
    put32(info + 8, (uint32_t)((below4g - 0x100000) / 1024)); /* mem_upper */
    put32(info + 16, MB_CMDLINE_ADDR);
    put32(info + 20, 0);                                  /* mods_count */
    put32(info + 24, MB_INFO_ADDR + MB_INFO_SIZE);        /* mods_addr */
    put32(info + 44, write_mmap(ram, ram_size));          /* mmap_length */
    put32(info + 48, MB_MMAP_ADDR);
    put32(info + 64, MB_NAME_ADDR);                       /* boot_loader_name */
    memcpy(ram + MB_NAME_ADDR, "nsvm", 5);
    memcpy(ram + MB_CMDLINE_ADDR, cmdline, clen);
    img->info_addr = MB_INFO_ADDR;
    return MB_OK;
}

enum mb_status multiboot_load(uint8_t *ram, uint64_t ram_size,
                              const uint8_t *file, size_t len,
                              const char *cmdline, struct mb_image *img,
                              struct mb_error *err)
{
    size_t hoff = 0;
    enum mb_status st;

    err->status = MB_OK;
    err->msg[0] = '\0';
    memset(img, 0, sizeof(*img));
    img->load_start = UINT64_MAX;
    if (ram_size < MB_LOADER_END)
        return fail(err, MB_ERR_RAM, "guest RAM too small for the boot information");
    if (len < 4)
        return fail(err, MB_ERR_TRUNCATED, "file too short to be a kernel image");
    bool is_elf = memcmp(file, "\177ELF", 4) == 0;
    if (is_elf && (st = check_elf_ident(file, len, err)))
        return st;
    if ((st = find_header(file, len, &hoff, err)))
        return st;
    uint32_t flags = le32(file + hoff + 4);
    if (flags & MB_HF_REQ_MASK & ~(MB_HF_PAGE_ALIGN | MB_HF_MEMINFO | MB_HF_VIDEO))
        return fail(err, MB_ERR_FEATURES,
                    "multiboot header requires unsupported features (flags 0x%x)", flags);
    if (flags & MB_HF_ADDRESS)
        st = load_address_form(ram, ram_size, file, len, hoff, img, err);
    else if (is_elf)
        st = load_elf(ram, ram_size, file, len, img, err);
    else
        st = fail(err, MB_ERR_NOT_ELF,
                  "not an ELF image, and the multiboot header gives no load addresses");
    if (st)
        return st;
    return write_info(ram, ram_size, cmdline, img, err);
}
