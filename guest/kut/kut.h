/* kut_boot's own small library: serial output, report lines, port I/O,
 * fw_cfg, the multiboot information layout (Multiboot 0.6.96, 3.3). */
#ifndef KUT_H
#define KUT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
} __attribute__((packed));

struct mb_mmap_entry {
	uint32_t size;
	uint64_t base, length;
	uint32_t type;
} __attribute__((packed));

static inline void outb(uint8_t v, uint16_t port) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t v, uint16_t port) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint32_t v, uint16_t port) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

void serial_init(void);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report(bool ok, const char *name);
void report_eq(const char *name, uint64_t got, uint64_t want);
void report_skip(const char *name, const char *why);
int report_summary(void);
void kut_exit(int status) __attribute__((noreturn));
void kut_exception(uint64_t vector, uint64_t error, uint64_t rip) __attribute__((noreturn));

uint64_t fw_cfg_read(uint16_t key, unsigned bytes);
int kut_strcmp(const char *a, const char *b);
void kut_strlcpy(char *dst, const char *src, size_t n);

void test_cpu_setup(uint64_t *gdt, uint64_t *tss, size_t tss_size, uint64_t *idt,
		    uint8_t *percpu);
void test_apic(void);

#endif
