/* kut_boot's library: COM1 as kvm-unit-tests drives it, printf, report
 * lines, exit through isa-debug-exit, fw_cfg. */
#include "kut.h"

#define COM1 0x3f8

static unsigned tests, failures, skipped;

void serial_init(void)
{
	outb(inb(COM1 + 3) | 0x80, COM1 + 3);   /* DLAB */
	outb(0x01, COM1 + 0);                   /* 115200 baud */
	outb(0x00, COM1 + 1);
	outb(inb(COM1 + 3) & ~0x80, COM1 + 3);
	outb(0x00, COM1 + 1);                   /* IER: no interrupts */
	outb(0x03, COM1 + 3);                   /* 8N1 */
	outb(0x00, COM1 + 2);                   /* FIFOs off */
	outb(0x03, COM1 + 4);                   /* DTR, RTS */
}

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20))         /* LSR.THRE */
		;
	outb((uint8_t)c, COM1);
}

static void put_str(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void put_num(uint64_t v, unsigned base)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (i)
		putc_serial(buf[--i]);
}

/* %s, %c, %d, %u, %x with an optional l. */
int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			putc_serial(*p);
			continue;
		}
		bool l = p[1] == 'l';
		p += l ? 2 : 1;
		uint64_t v;
		switch (*p) {
		case 's': put_str(va_arg(ap, const char *)); break;
		case 'c': putc_serial((char)va_arg(ap, int)); break;
		case 'd':
			v = l ? (uint64_t)va_arg(ap, long) : (uint64_t)(int64_t)va_arg(ap, int);
			if ((int64_t)v < 0) {
				putc_serial('-');
				v = -v;
			}
			put_num(v, 10);
			break;
		case 'u': case 'x':
			v = l ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(v, *p == 'x' ? 16 : 10);
			break;
		default: putc_serial(*p); break;
		}
	}
	va_end(ap);
	return 0;
}

void report(bool ok, const char *name)
{
	tests++;
	if (!ok)
		failures++;
	printf("%s: %s\n", ok ? "PASS" : "FAIL", name);
}

void report_eq(const char *name, uint64_t got, uint64_t want)
{
	tests++;
	if (got == want) {
		printf("PASS: %s\n", name);
		return;
	}
	failures++;
	printf("FAIL: %s (got 0x%lx, want 0x%lx)\n", name, got, want);
}

void report_skip(const char *name, const char *why)
{
	tests++;
	skipped++;
	printf("SKIP: %s (%s)\n", name, why);
}

int report_summary(void)
{
	printf("SUMMARY: %u tests, %u unexpected failures, %u skipped\n", tests,
	       failures, skipped);
	return failures ? 1 : 0;
}

/* QEMU's isa-debug-exit takes a 32-bit write; Bochs' port 0x8900 next. */
void kut_exit(int status)
{
	outl((uint32_t)status, 0xf4);
	for (const char *s = "Shutdown"; *s; s++)
		outb((uint8_t)*s, 0x8900);
	for (;;)
		asm volatile("cli; hlt");
}

void kut_exception(uint64_t vector, uint64_t error, uint64_t rip)
{
	printf("FAIL: unexpected exception %lu, error code 0x%lx, at rip 0x%lx\n",
	       vector, error, rip);
	kut_exit(3);
}

/* fw_cfg: 16-bit selector at 0x510, data bytes at 0x511, little-endian. */
uint64_t fw_cfg_read(uint16_t key, unsigned bytes)
{
	uint64_t v = 0;

	outw(key, 0x510);
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)inb(0x511) << (8 * i);
	return v;
}

int kut_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

void kut_strlcpy(char *dst, const char *src, size_t n)
{
	size_t i = 0;

	for (; i + 1 < n && src[i]; i++)
		dst[i] = src[i];
	dst[i] = 0;
}
