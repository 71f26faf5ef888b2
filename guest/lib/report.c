/* PASS/FAIL/SKIP lines, the summary, and exit(). */
#include "internal.h"

static int tests, failures, skipped;

void report_pass(const char *name)
{
	tests++;
	printf("PASS: %s\n", name);
}

static void vreport_fail(const char *name, const char *fmt, va_list ap)
{
	tests++;
	failures++;
	printf("FAIL: %s", name);
	if (fmt && *fmt) {
		printf(" (");
		vprintf(fmt, ap);
		printf(")");
	}
	printf("\n");
}

void report_fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport_fail(name, fmt, ap);
	va_end(ap);
}

void report_skip(const char *name, const char *why)
{
	tests++;
	skipped++;
	printf("SKIP: %s (%s)\n", name, why);
}

void report(bool ok, const char *name)
{
	if (ok)
		report_pass(name);
	else
		report_fail(name, NULL);
}

void report_eq(const char *name, uint64_t got, uint64_t want)
{
	if (got == want)
		report_pass(name);
	else
		report_fail(name, "got 0x%lx want 0x%lx", got, want);
}

void report_exception(const char *name, int vector, const struct ex_regs *r,
		      int want_vector, uint64_t want_error)
{
	if (vector != want_vector)
		report_fail(name, "vector %d, want %d", vector, want_vector);
	else if (vector >= 0 && r->error_code != want_error)
		report_fail(name, "error code 0x%lx, want 0x%lx", r->error_code, want_error);
	else
		report_pass(name);
}

int report_summary(void)
{
	printf("SUMMARY: %d tests, %d unexpected failures, %d skipped\n",
	       tests, failures, skipped);
	return failures;
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport_fail("panic", fmt, ap);
	va_end(ap);
	report_summary();
	exit(1);
}

void report_unexpected_exception(struct ex_regs *r)
{
	tests++;
	failures++;
	printf("FAIL: unexpected exception %lu (error 0x%lx, rip 0x%lx",
	       r->vector, r->error_code, r->rip);
	if (r->vector == PF_VECTOR)
		printf(", cr2 0x%lx", r->cr2);
	printf(")\n");
	report_summary();
	exit(1);
}

_Noreturn void exit(int status)
{
	/* 256 failures must not wrap around to a passing 0 */
	if (status < 0 || status > 255)
		status = 255;
	outb((uint8_t)status, DEBUG_EXIT_PORT);
	for (;;)
		asm volatile("cli; hlt");
}
