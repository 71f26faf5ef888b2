/* Multiboot loader: good images load as the specification says; every kind
 * of malformed image gives its documented status and never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/multiboot.h"
#include "x86/cpu.h"

#define RAM_SIZE   (2u << 20)
#define SEG_OFF    0x100u       /* file offset of the segment's bytes */
#define SEG_FILESZ 0x100u
#define SEG_MEMSZ  0x300u
#define LOAD_PA    0x100000u
#define FILE_LEN   (SEG_OFF + SEG_FILESZ)

struct fx {
    uint8_t file[FILE_LEN];
    size_t len;
    uint8_t *ram;
    struct mb_image img;
    struct mb_error err;
};

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static uint32_t r32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t r64(const uint8_t *p) { return r32(p) | (uint64_t)r32(p + 4) << 32; }

/* Multiboot header at the start of the segment: magic, flags, checksum. */
static void set_mb_flags(struct fx *f, uint32_t flags)
{
    uint8_t *h = f->file + SEG_OFF;
    w32(h, MB_HEADER_MAGIC);
    w32(h + 4, flags);
    w32(h + 8, -(MB_HEADER_MAGIC + flags));
}

/* A valid image: ELF32 i386 executable, one PT_LOAD at 1 MiB (0x100 bytes
 * from the file, 0x200 more of zeroes), entry 16 bytes into it. */
static void build_good(struct fx *f)
{
    uint8_t *e = f->file, *ph = f->file + 52;
    memset(f->file, 0, sizeof(f->file));
    memcpy(e, "\177ELF", 4);
    e[4] = 1; e[5] = 1; e[6] = 1;                /* ELFCLASS32, LSB, v1 */
    w16(e + 16, 2); w16(e + 18, 3); w32(e + 20, 1);  /* ET_EXEC, EM_386 */
    w32(e + 24, LOAD_PA + 16);                   /* e_entry */
    w32(e + 28, 52);                             /* e_phoff */
    w16(e + 40, 52); w16(e + 42, 32); w16(e + 44, 1);
    w32(ph, 1);                                  /* PT_LOAD */
    w32(ph + 4, SEG_OFF);
    w32(ph + 8, LOAD_PA);                        /* p_vaddr */
    w32(ph + 12, LOAD_PA);                       /* p_paddr */
    w32(ph + 16, SEG_FILESZ);
    w32(ph + 20, SEG_MEMSZ);
    w32(ph + 24, 5);
    for (unsigned i = 12; i < SEG_FILESZ; i++)
        f->file[SEG_OFF + i] = (uint8_t)(i * 7 + 1);
    set_mb_flags(f, MB_HF_PAGE_ALIGN | MB_HF_MEMINFO);
    f->len = FILE_LEN;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->ram = malloc(RAM_SIZE);
    memset(f->ram, 0xaa, RAM_SIZE);
    build_good(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    free(f->ram);
    free(f);
    return 0;
}

static enum mb_status load(struct fx *f)
{
    return multiboot_load(f->ram, RAM_SIZE, f->file, f->len, "kernel.elf arg=1",
                          &f->img, &f->err);
}

static void expect(struct fx *f, enum mb_status want)
{
    enum mb_status st = load(f);
    assert_int_equal(st, want);
    assert_int_equal(f->err.status, want);
    if (want != MB_OK) {
        assert_true(f->err.msg[0] != '\0');
        assert_null(strchr(f->err.msg, '\n'));
    }
}

static uint8_t *phdr(struct fx *f) { return f->file + 52; }

static void good_image(void **state)
{
    struct fx *f = *state;
    expect(f, MB_OK);
    assert_int_equal(f->img.entry, LOAD_PA + 16);
    assert_int_equal(f->img.info_addr, MB_INFO_ADDR);
    assert_memory_equal(f->ram + LOAD_PA, f->file + SEG_OFF, SEG_FILESZ);
    for (unsigned i = SEG_FILESZ; i < SEG_MEMSZ; i++)
        assert_int_equal(f->ram[LOAD_PA + i], 0);          /* bss zeroed */
    assert_int_equal(f->ram[LOAD_PA + SEG_MEMSZ], 0xaa);    /* nothing beyond */
    assert_int_equal(f->img.load_start, LOAD_PA);
    assert_int_equal(f->img.load_end, LOAD_PA + SEG_MEMSZ);
}

static void info_structure(void **state)
{
    struct fx *f = *state;
    expect(f, MB_OK);
    const uint8_t *info = f->ram + MB_INFO_ADDR;
    uint32_t flags = r32(info);
    assert_true(flags & (1u << 0));                    /* mem_lower/upper */
    assert_true(flags & (1u << 2));                    /* cmdline */
    assert_int_equal(r32(info + 4), 640);
    assert_int_equal(r32(info + 8), (RAM_SIZE - (1u << 20)) / 1024);
    assert_string_equal((const char *)f->ram + r32(info + 16), "kernel.elf arg=1");
    assert_int_equal(r32(info + 20), 0);               /* mods_count */
    /* memory map: [0, 640K) usable ... [1M, RAM end) usable */
    assert_true(flags & (1u << 6));
    const uint8_t *mm = f->ram + r32(info + 48);
    assert_int_equal(r32(info + 44) % 24, 0);
    assert_int_equal(r64(mm + 4), 0);
    assert_int_equal(r64(mm + 12), 0xa0000);
    assert_int_equal(r32(mm + 20), 1);
    const uint8_t *last = mm + r32(info + 44) - 24;
    assert_int_equal(r64(last + 4) + r64(last + 12), RAM_SIZE);
    assert_int_equal(r32(last + 20), 1);
}

static void mem_upper_capped_at_4g(void **state)
{
    struct fx *f = *state;
    /* Only the first 2 MiB are touched: the image and the info area. */
    assert_int_equal(multiboot_load(f->ram, 8ull << 30, f->file, f->len, "k",
                                    &f->img, &f->err), MB_OK);
    assert_int_equal(r32(f->ram + MB_INFO_ADDR + 8), ((4ull << 30) - (1u << 20)) / 1024);
}

static void truncated_elf_header(void **state)
{
    struct fx *f = *state;
    f->len = 40;
    expect(f, MB_ERR_TRUNCATED);
    f->len = 0;
    expect(f, MB_ERR_TRUNCATED);
}

static void wrong_elf_magic(void **state)
{
    struct fx *f = *state;
    f->file[1] = 'X';
    expect(f, MB_ERR_NOT_ELF);   /* multiboot header, but no load addresses */
}

static void elf64_rejected(void **state)
{
    struct fx *f = *state;
    f->file[4] = 2;
    expect(f, MB_ERR_ELF_KIND);
}

static void wrong_machine(void **state)
{
    struct fx *f = *state;
    w16(f->file + 18, 62);   /* EM_X86_64 in an ELF32 */
    expect(f, MB_ERR_ELF_KIND);
}

static void no_multiboot_header(void **state)
{
    struct fx *f = *state;
    w32(f->file + SEG_OFF, 0x12345678);
    expect(f, MB_ERR_NO_HEADER);
}

static void header_beyond_8k(void **state)
{
    struct fx *f = *state;
    size_t big = 8192 + 64;
    uint8_t *file = calloc(1, big);
    memcpy(file, f->file, 52 + 32);
    w32(file + 8192 + 16, MB_HEADER_MAGIC);
    w32(file + 8192 + 20, 0);
    w32(file + 8192 + 24, -MB_HEADER_MAGIC);
    assert_int_equal(multiboot_load(f->ram, RAM_SIZE, file, big, "k", &f->img,
                                    &f->err), MB_ERR_NO_HEADER);
    free(file);
}

static void bad_checksum(void **state)
{
    struct fx *f = *state;
    w32(f->file + SEG_OFF + 8, r32(f->file + SEG_OFF + 8) + 1);
    expect(f, MB_ERR_CHECKSUM);
}

static void unsupported_features(void **state)
{
    struct fx *f = *state;
    set_mb_flags(f, 1u << 3);
    expect(f, MB_ERR_FEATURES);
}

static void segment_beyond_ram(void **state)
{
    struct fx *f = *state;
    w32(phdr(f) + 12, RAM_SIZE - 0x100);
    w32(phdr(f) + 8, RAM_SIZE - 0x100);
    expect(f, MB_ERR_RAM);
    /* p_paddr + p_memsz wraps around 4 GiB */
    w32(phdr(f) + 12, 0xffffff00u);
    w32(phdr(f) + 20, 0x200);
    expect(f, MB_ERR_RAM);
}

static void huge_filesz(void **state)
{
    struct fx *f = *state;
    w32(phdr(f) + 16, 0xffffffffu);
    w32(phdr(f) + 20, 0xffffffffu);
    expect(f, MB_ERR_SEGMENT);
}

static void offset_beyond_file(void **state)
{
    struct fx *f = *state;
    w32(phdr(f) + 4, 0xffffff00u);
    expect(f, MB_ERR_SEGMENT);
    w32(phdr(f) + 4, FILE_LEN - 0x10);   /* starts inside, ends outside */
    expect(f, MB_ERR_SEGMENT);
}

static void filesz_above_memsz(void **state)
{
    struct fx *f = *state;
    w32(phdr(f) + 20, SEG_FILESZ - 1);
    expect(f, MB_ERR_SEGMENT);
}

static void program_headers_outside_file(void **state)
{
    struct fx *f = *state;
    w32(f->file + 28, 0xfffffff0u);          /* e_phoff */
    expect(f, MB_ERR_TRUNCATED);
    w32(f->file + 28, 52);
    w16(f->file + 44, 0xfffe);               /* e_phnum */
    expect(f, MB_ERR_TRUNCATED);
    w16(f->file + 44, 1);
    w16(f->file + 42, 8);                    /* e_phentsize too small */
    expect(f, MB_ERR_SEGMENT);
    w16(f->file + 42, 32);
    w16(f->file + 44, 0);
    expect(f, MB_ERR_SEGMENT);
}

static void overlaps_info_area(void **state)
{
    struct fx *f = *state;
    w32(phdr(f) + 8, MB_INFO_ADDR - 0x10);
    w32(phdr(f) + 12, MB_INFO_ADDR - 0x10);
    w32(f->file + 24, MB_INFO_ADDR);
    expect(f, MB_ERR_OVERLAP);
}

static void entry_outside_image(void **state)
{
    struct fx *f = *state;
    w32(f->file + 24, LOAD_PA + SEG_MEMSZ);
    expect(f, MB_ERR_ENTRY);
}

static void entry_translated_from_vaddr(void **state)
{
    struct fx *f = *state;
    w32(phdr(f) + 8, 0xc0100000u);
    w32(f->file + 24, 0xc0100020u);
    expect(f, MB_OK);
    assert_int_equal(f->img.entry, LOAD_PA + 0x20);
}

static void cmdline_too_long(void **state)
{
    struct fx *f = *state;
    char *s = malloc(MB_CMDLINE_MAX + 1);
    memset(s, 'a', MB_CMDLINE_MAX);
    s[MB_CMDLINE_MAX] = '\0';
    assert_int_equal(multiboot_load(f->ram, RAM_SIZE, f->file, f->len, s,
                                    &f->img, &f->err), MB_ERR_CMDLINE);
    s[MB_CMDLINE_MAX - 1] = '\0';
    assert_int_equal(multiboot_load(f->ram, RAM_SIZE, f->file, f->len, s,
                                    &f->img, &f->err), MB_OK);
    free(s);
}

/* Flag 16: load_addr etc. from the header, for a non-ELF image. */
static void address_form(void **state)
{
    struct fx *f = *state;
    uint8_t file[0x200] = { 0 };
    uint8_t *h = file + 0x40;
    uint32_t flags = MB_HF_ADDRESS;
    w32(h, MB_HEADER_MAGIC); w32(h + 4, flags); w32(h + 8, -(MB_HEADER_MAGIC + flags));
    w32(h + 12, 0x200040);   /* header_addr: file offset 0x40 */
    w32(h + 16, 0x200000);   /* load_addr: file offset 0 */
    w32(h + 20, 0x200100);   /* load_end_addr */
    w32(h + 24, 0x200180);   /* bss_end_addr */
    w32(h + 28, 0x200060);   /* entry_addr */
    file[0x80] = 0x5a;
    file[0x150] = 0x77;      /* beyond load_end: not loaded */
    static uint8_t big[4u << 20];
    memset(big, 0xaa, sizeof(big));
    assert_int_equal(multiboot_load(big, sizeof(big), file, sizeof(file), "k",
                                    &f->img, &f->err), MB_OK);
    assert_int_equal(f->img.entry, 0x200060);
    assert_int_equal(big[0x200080], 0x5a);
    assert_int_equal(big[0x200150], 0);      /* bss */
    assert_int_equal(big[0x200180], 0xaa);
    /* bss_end below load_end, entry outside, load_end beyond the file */
    w32(h + 24, 0x2000ff);
    w32(h + 8, -(MB_HEADER_MAGIC + flags));
    assert_int_equal(multiboot_load(big, sizeof(big), file, sizeof(file), "k",
                                    &f->img, &f->err), MB_ERR_SEGMENT);
    w32(h + 24, 0);
    w32(h + 28, 0x300000);
    assert_int_equal(multiboot_load(big, sizeof(big), file, sizeof(file), "k",
                                    &f->img, &f->err), MB_ERR_ENTRY);
    w32(h + 28, 0x200060);
    w32(h + 20, 0x200400);
    assert_int_equal(multiboot_load(big, sizeof(big), file, sizeof(file), "k",
                                    &f->img, &f->err), MB_ERR_SEGMENT);
}

/* Every prefix of a good file and many corrupted copies: a status, never a
 * crash or a write outside RAM (RAM_SIZE is exact: ASan/valgrind see it). */
static void every_truncation_and_corruption(void **state)
{
    struct fx *f = *state;
    uint8_t orig[FILE_LEN];
    memcpy(orig, f->file, FILE_LEN);
    for (size_t len = 0; len <= FILE_LEN; len++) {
        enum mb_status st = multiboot_load(f->ram, RAM_SIZE, orig, len, "k",
                                           &f->img, &f->err);
        assert_true(st == MB_OK ? len == FILE_LEN : f->err.msg[0] != '\0');
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        memcpy(f->file, orig, FILE_LEN);
        for (int k = 0; k < 4; k++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            f->file[(x >> 8) % 0x90] = (uint8_t)x;   /* headers and mb header */
        }
        enum mb_status st = load(f);
        if (st == MB_OK)
            assert_true(f->img.load_end <= RAM_SIZE);
    }
}

static void read_file_errors(void **state)
{
    (void)state;
    struct mb_error err;
    uint8_t *buf;
    size_t len;
    assert_int_equal(multiboot_read_file("/nonexistent/kernel.elf", 1 << 20,
                                         &buf, &len, &err), MB_ERR_READ);
    assert_non_null(strstr(err.msg, "/nonexistent/kernel.elf"));
    assert_int_equal(multiboot_read_file("/", 1 << 20, &buf, &len, &err),
                     MB_ERR_READ);
    char path[] = "/tmp/nsvm-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(multiboot_read_file(path, 1 << 20, &buf, &len, &err),
                     MB_ERR_TRUNCATED);
    assert_int_equal(write(fd, "abcd", 4), 4);
    close(fd);
    assert_int_equal(multiboot_read_file(path, 2, &buf, &len, &err), MB_ERR_READ);
    assert_int_equal(multiboot_read_file(path, 1 << 20, &buf, &len, &err), MB_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "abcd", 4);
    free(buf);
    unlink(path);
}

/* The machine state at entry (multiboot spec 3.2). */
static void entry_state(void **state)
{
    struct fx *f = *state;
    struct cpu *cpu = calloc(1, sizeof(*cpu));
    const struct x86_bus bus = { 0 };
    expect(f, MB_OK);
    assert_int_equal(x86_cpu_init(cpu, f->ram, RAM_SIZE, &bus), 0);
    cpu->gpr[RCX] = 0x1234;
    multiboot_enter(cpu, &f->img);
    assert_int_equal(cpu->gpr[RAX], 0x2badb002);
    assert_int_equal(cpu->gpr[RBX], MB_INFO_ADDR);
    assert_int_equal(cpu->rip, LOAD_PA + 16);
    assert_int_equal(cpu->mode, MODE_PROT32);
    assert_int_equal(cpu->cpl, 0);
    assert_true(cpu->cr0 & CR0_PE);
    assert_false(cpu->cr0 & CR0_PG);
    assert_false(x86_get_rflags(cpu) & FLAG_IF);
    assert_int_equal(x86_get_rflags(cpu) & ~(uint64_t)FLAGS_ARITH, FLAGS_FIXED1);
    for (int s = SEG_ES; s <= SEG_GS; s++) {
        assert_int_equal(cpu->seg[s].base, 0);
        assert_int_equal(cpu->seg[s].limit, 0xffffffffu);
        assert_true(cpu->seg[s].attrib & SEG_ATTR_DB);
        assert_true(cpu->seg[s].attrib & SEG_ATTR_P);
    }
    assert_true(SEG_ATTR_TYPE(cpu->seg[SEG_CS].attrib) & 0x8);   /* code */
    assert_false(SEG_ATTR_TYPE(cpu->seg[SEG_DS].attrib) & 0x8);  /* data */
    assert_true(SEG_ATTR_TYPE(cpu->seg[SEG_SS].attrib) & 0x2);   /* writable */
    x86_cpu_fini(cpu);
    free(cpu);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(good_image), T(info_structure), T(mem_upper_capped_at_4g),
        T(truncated_elf_header), T(wrong_elf_magic), T(elf64_rejected),
        T(wrong_machine), T(no_multiboot_header), T(header_beyond_8k),
        T(bad_checksum), T(unsupported_features), T(segment_beyond_ram),
        T(huge_filesz), T(offset_beyond_file), T(filesz_above_memsz),
        T(program_headers_outside_file), T(overlaps_info_area),
        T(entry_outside_image), T(entry_translated_from_vaddr),
        T(cmdline_too_long), T(address_form),
        T(every_truncation_and_corruption), T(read_file_errors),
        T(entry_state),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
