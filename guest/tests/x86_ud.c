/*
 * #UD: UD2, UD0/UD1, opcodes invalid in 64-bit mode, misused LOCK, MOV to
 * CS, SYSENTER on AMD long mode. Each case's bytes are placed in a slot of
 * a code page followed by RET; the fault must be #UD with no error code,
 * RIP at the first byte of the instruction (prefixes included) and RAX/RSP
 * unchanged.
 */
#include "libguest.h"

struct ud_case {
	const char *name;
	uint8_t bytes[8];
	uint8_t len;
};

static const struct ud_case cases[] = {
	{ "ud2", { 0x0f, 0x0b }, 2 },
	{ "ud2 with 66 prefix", { 0x66, 0x0f, 0x0b }, 3 },
	{ "ud1 (0f b9 /r)", { 0x0f, 0xb9, 0xc0 }, 3 },
	{ "ud0 (0f ff)", { 0x0f, 0xff, 0xc0 }, 3 },
	{ "push es (06)", { 0x06 }, 1 },
	{ "pop es (07)", { 0x07 }, 1 },
	{ "push cs (0e)", { 0x0e }, 1 },
	{ "push ss (16)", { 0x16 }, 1 },
	{ "pop ss (17)", { 0x17 }, 1 },
	{ "push ds (1e)", { 0x1e }, 1 },
	{ "pop ds (1f)", { 0x1f }, 1 },
	{ "daa (27)", { 0x27 }, 1 },
	{ "das (2f)", { 0x2f }, 1 },
	{ "aaa (37)", { 0x37 }, 1 },
	{ "aas (3f)", { 0x3f }, 1 },
	{ "pusha (60)", { 0x60 }, 1 },
	{ "popa (61)", { 0x61 }, 1 },
	{ "into (ce)", { 0xce }, 1 },
	{ "aam (d4 0a)", { 0xd4, 0x0a }, 2 },
	{ "aad (d5 0a)", { 0xd5, 0x0a }, 2 },
	{ "salc (d6)", { 0xd6 }, 1 },
	{ "far call ptr16:32 (9a)", { 0x9a, 0, 0, 0, 0, 0x08, 0 }, 7 },
	{ "far jmp ptr16:32 (ea)", { 0xea, 0, 0, 0, 0, 0x08, 0 }, 7 },
	{ "lock nop", { 0xf0, 0x90 }, 2 },
	{ "lock add reg, reg", { 0xf0, 0x01, 0xc0 }, 3 },
	{ "mov cs, ax (8e c8)", { 0x8e, 0xc8 }, 2 },
	{ "lea with register operand", { 0x48, 0x8d, 0xc0 }, 3 },
	{ "sysenter in long mode (AMD)", { 0x0f, 0x34 }, 2 },
	{ "sysexit in long mode (AMD)", { 0x0f, 0x35 }, 2 },
};

#define SLOT 16
static uint8_t code[4096] __attribute__((aligned(4096)));

typedef void (*code_fn)(void *);

static code_fn slot_fn(size_t i)
{
	return (code_fn)(uintptr_t)(code + i * SLOT);
}

static void fill_slots(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t *p = code + i * SLOT;
		memset(p, 0xcc, SLOT);  /* int3 if a buggy decoder runs past */
		memcpy(p, cases[i].bytes, cases[i].len);
		p[cases[i].len] = 0xc3; /* ret */
	}
}

static void check_case(size_t i, bool user)
{
	struct ex_regs r;
	char name[80];
	uint64_t slot = (uint64_t)(uintptr_t)(code + i * SLOT);
	int v = user ? run_in_user(slot_fn(i), NULL, &r)
		     : catch_exception(slot_fn(i), NULL, &r);

	snprintf(name, sizeof(name), "%s%s", cases[i].name, user ? " at CPL 3" : "");
	if (v != UD_VECTOR)
		report_fail(name, "vector %d, want 6", v);
	else if (r.rip != slot)
		report_fail(name, "rip 0x%lx, want 0x%lx", r.rip, slot);
	else if (r.error_code != 0)
		report_fail(name, "error code 0x%lx", r.error_code);
	else
		report_pass(name);
}

/* The frame of a #UD keeps the registers of the faulting context. */
static uint64_t seen_rsp;
static void ud_with_regs(void *arg)
{
	(void)arg;
	asm volatile("mov $0x1122334455667788, %%rax\n\t"
		     "mov %%rsp, %0\n\t"
		     "ud2" : "=m"(seen_rsp) :: "rax", "memory");
}

static void check_registers(void)
{
	struct ex_regs r;

	catch_exception(ud_with_regs, NULL, &r);
	report_eq("#UD frame: rax of the faulting context", r.rax, 0x1122334455667788ull);
	report_eq("#UD frame: rsp of the faulting context", r.rsp, seen_rsp);
	report_eq("#UD frame: cs", r.cs, KERNEL_CS);
}

int main(void)
{
	fill_slots();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_case(i, false);
	check_case(0, true);
	check_case(4, true);
	check_registers();
	return report_summary();
}
