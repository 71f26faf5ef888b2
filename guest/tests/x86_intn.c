/*
 * INT n and INT3: the vector delivered, RIP after the instruction (they
 * are traps), the gate DPL check for software interrupts at CPL 3 (#GP
 * with error code vector << 3 | 2), not-present gates (#NP) and vectors
 * beyond the IDT limit (#GP), and a handler that changes registers.
 */
#include "libguest.h"

static uint64_t insn_at, insn_end;

/* Each records the instruction's address and end, then executes it. */
#define DEFINE_INT(fname, text)                                            \
	static void fname(void *arg)                                       \
	{                                                                  \
		(void)arg;                                                 \
		asm volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, %0\n\t" \
			     "lea 2f(%%rip), %%rax\n\tmov %%rax, %1\n"   \
			     "1: " text "\n2:"                             \
			     : "=m"(insn_at), "=m"(insn_end) :: "rax", "memory"); \
	}
DEFINE_INT(do_int3, "int3")
DEFINE_INT(do_int_3, ".byte 0xcd, 0x03")        /* int $3, the two-byte form */
DEFINE_INT(do_int41, "int $0x41")
DEFINE_INT(do_int90, "int $0x90")

static void expect(const char *name, int v, const struct ex_regs *r,
		   int want_vector, uint64_t want_error, uint64_t want_rip)
{
	if (v != want_vector)
		report_fail(name, "vector %d, want %d", v, want_vector);
	else if (r->error_code != want_error)
		report_fail(name, "error code 0x%lx, want 0x%lx", r->error_code, want_error);
	else if (r->rip != want_rip)
		report_fail(name, "rip 0x%lx, want 0x%lx", r->rip, want_rip);
	else
		report_pass(name);
}

static void check_cpl0(void)
{
	struct ex_regs r;
	int v;

	v = catch_exception(do_int3, NULL, &r);
	expect("int3: #BP, rip after it", v, &r, BP_VECTOR, 0, insn_end);
	v = catch_exception(do_int_3, NULL, &r);
	expect("int $3: #BP, rip after it", v, &r, BP_VECTOR, 0, insn_end);
	v = catch_exception(do_int41, NULL, &r);
	expect("int $0x41: vector 0x41, rip after it", v, &r, 0x41, 0, insn_end);
}

static void check_dpl(void)
{
	struct ex_regs r;
	int v;

	v = run_in_user(do_int41, NULL, &r);
	expect("int $0x41 at CPL 3, gate DPL 0: #GP(0x41 << 3 | 2)", v, &r, GP_VECTOR,
	       (0x41 << 3) | 2, insn_at);
	v = run_in_user(do_int3, NULL, &r);
	expect("int3 at CPL 3, gate DPL 0: #GP(3 << 3 | 2)", v, &r, GP_VECTOR,
	       (3 << 3) | 2, insn_at);

	idt_set_gate_attrs(0x41, 3, 0, true);
	idt_set_gate_attrs(BP_VECTOR, 3, 0, true);
	v = run_in_user(do_int41, NULL, &r);
	expect("int $0x41 at CPL 3, gate DPL 3: delivered", v, &r, 0x41, 0, insn_end);
	report_eq("int $0x41 at CPL 3: frame cs", r.cs, USER_CS);
	report_eq("int $0x41 at CPL 3: frame ss", r.ss, USER_DS);
	v = run_in_user(do_int3, NULL, &r);
	expect("int3 at CPL 3, gate DPL 3: #BP", v, &r, BP_VECTOR, 0, insn_end);
	idt_set_gate_attrs(0x41, 0, 0, true);
	idt_set_gate_attrs(BP_VECTOR, 0, 0, true);
}

static void check_gates(void)
{
	struct ex_regs r;
	struct desc_ptr idtr, small;
	int v;

	idt_set_gate_attrs(0x41, 0, 0, false);
	v = catch_exception(do_int41, NULL, &r);
	expect("int $0x41, gate not present: #NP(0x41 << 3 | 2)", v, &r, NP_VECTOR,
	       (0x41 << 3) | 2, insn_at);
	idt_set_gate_attrs(0x41, 0, 0, true);

	sidt(&idtr);
	small = idtr;
	small.limit = 0x80 * 16 - 1;    /* vectors 0..0x7f */
	lidt(&small);
	v = catch_exception(do_int90, NULL, &r);
	lidt(&idtr);
	expect("int $0x90 beyond the IDT limit: #GP(0x90 << 3 | 2)", v, &r, GP_VECTOR,
	       (0x90 << 3) | 2, insn_at);
}

static void handler_41(struct ex_regs *r)
{
	r->rax = r->rbx + 1;
	r->rdx = r->vector;
}

static void check_handler_return(void)
{
	uint64_t rax = 0, rdx = 0;

	set_exception_handler(0x41, handler_41);
	asm volatile("mov $41, %%ebx\n\tint $0x41" : "+a"(rax), "+d"(rdx) :: "rbx", "memory");
	set_exception_handler(0x41, NULL);
	report_eq("handler's rax reaches the interrupted code", rax, 42);
	report_eq("handler saw vector 0x41", rdx, 0x41);
}

int main(void)
{
	check_cpl0();
	check_dpl();
	check_gates();
	check_handler_return();
	return report_summary();
}
