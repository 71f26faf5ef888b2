/*
 * Port I/O: the 8250 scratch register (0x3ff) keeps what is written to
 * it, reads from an unassigned port return all ones, and the string forms
 * INS/OUTS with REP move the right bytes in the right direction and
 * update RCX, RSI and RDI.
 */
#include "libguest.h"

#define SCRATCH (SERIAL_PORT + 7)
#define UNASSIGNED 0x0e0         /* nothing decodes this port */

static void check_scratch(void)
{
	static const uint8_t values[] = { 0x00, 0x5a, 0xa5, 0xff, 0x01 };
	bool ok = true;

	for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
		outb(values[i], SCRATCH);
		uint8_t got = inb(SCRATCH);
		if (got != values[i]) {
			report_fail("scratch register round trip", "wrote 0x%x read 0x%x",
				    values[i], got);
			ok = false;
		}
	}
	if (ok)
		report_pass("scratch register round trip");
}

static void check_unassigned(void)
{
	report_eq("inb from an unassigned port", inb(UNASSIGNED), 0xff);
	report_eq("inw from an unassigned port", inw(UNASSIGNED), 0xffff);
	report_eq("inl from an unassigned port", inl(UNASSIGNED), 0xffffffff);
	outb(0x12, UNASSIGNED);  /* must be ignored */
	report_eq("outb to an unassigned port is ignored", inb(UNASSIGNED), 0xff);
}

struct string_regs {
	uint64_t rcx, rsi, rdi;
};

static void check_outs(void)
{
	static const uint8_t src[4] = { 0x11, 0x22, 0x33, 0x44 };
	struct string_regs r = { 4, (uint64_t)src, 0 };

	asm volatile("cld\n\trep outsb" : "+c"(r.rcx), "+S"(r.rsi) : "d"(SCRATCH) : "memory");
	report_eq("rep outsb: last byte in the scratch register", inb(SCRATCH), 0x44);
	report_eq("rep outsb: rcx", r.rcx, 0);
	report_eq("rep outsb: rsi advanced", r.rsi, (uint64_t)src + 4);

	r.rcx = 3;
	r.rsi = (uint64_t)&src[3];
	asm volatile("std\n\trep outsb\n\tcld" : "+c"(r.rcx), "+S"(r.rsi) : "d"(SCRATCH) : "memory");
	report_eq("rep outsb DF=1: last byte", inb(SCRATCH), 0x22);
	report_eq("rep outsb DF=1: rsi moved down", r.rsi, (uint64_t)&src[0]);
}

static void check_ins(void)
{
	uint8_t buf[8];
	struct string_regs r;

	memset(buf, 0, sizeof(buf));
	outb(0x77, SCRATCH);
	r.rcx = 5;
	r.rdi = (uint64_t)&buf[1];
	asm volatile("cld\n\trep insb" : "+c"(r.rcx), "+D"(r.rdi) : "d"(SCRATCH) : "memory");
	report(buf[0] == 0 && buf[1] == 0x77 && buf[5] == 0x77 && buf[6] == 0,
	       "rep insb: fills exactly rcx bytes");
	report_eq("rep insb: rdi advanced", r.rdi, (uint64_t)&buf[6]);
	report_eq("rep insb: rcx", r.rcx, 0);

	memset(buf, 0, sizeof(buf));
	outb(0x3c, SCRATCH);
	r.rcx = 2;
	r.rdi = (uint64_t)&buf[6];
	asm volatile("std\n\trep insb\n\tcld" : "+c"(r.rcx), "+D"(r.rdi) : "d"(SCRATCH) : "memory");
	report(buf[4] == 0 && buf[5] == 0x3c && buf[6] == 0x3c && buf[7] == 0,
	       "rep insb DF=1: fills downwards");
	report_eq("rep insb DF=1: rdi moved down", r.rdi, (uint64_t)&buf[4]);

	uint16_t words[3] = { 0, 0, 0 };
	r.rcx = 2;
	r.rdi = (uint64_t)words;
	asm volatile("cld\n\trep insw" : "+c"(r.rcx), "+D"(r.rdi) : "d"(UNASSIGNED) : "memory");
	report(words[0] == 0xffff && words[1] == 0xffff && words[2] == 0,
	       "rep insw from an unassigned port: all ones");
	report_eq("rep insw: rdi advanced by 4", r.rdi, (uint64_t)&words[2]);
}

static void check_zero_count(void)
{
	uint8_t buf[2] = { 0xaa, 0xbb };
	struct string_regs r = { 0, 0, (uint64_t)buf };

	outb(0x99, SCRATCH);
	asm volatile("cld\n\trep insb" : "+c"(r.rcx), "+D"(r.rdi) : "d"(SCRATCH) : "memory");
	report(buf[0] == 0xaa && r.rdi == (uint64_t)buf, "rep insb with rcx=0 does nothing");
}

int main(void)
{
	check_scratch();
	check_unassigned();
	check_outs();
	check_ins();
	check_zero_count();
	return report_summary();
}
