/*
 * #DE: division by zero and quotient overflow for DIV and IDIV at every
 * operand size. A #DE is a fault: RIP points at the divide, RAX and RDX
 * keep their values. Divisions that do not overflow give the exact
 * quotient and remainder.
 */
#include "libguest.h"

struct div_result {
	int vector;             /* -1 if no exception */
	uint64_t rax, rdx;      /* after the instruction (or the fault) */
	uint64_t insn, fault_rip;
};

/* One divide instruction, run with RAX/RDX preset and a fixup after it. */
#define DEFINE_DIV(fname, insn_text)                                          \
	static struct div_result fname(uint64_t rax, uint64_t rdx, uint64_t d) \
	{                                                                     \
		struct div_result res;                                        \
		ex_fixup_reset();                                             \
		asm volatile("lea 1f(%%rip), %[at]\n"                         \
			     "1: " insn_text " %[d]\n"                        \
			     "2:\n\t" ASM_EXTABLE("1b", "2b")                  \
			     : "+a"(rax), "+d"(rdx), [at] "=&r"(res.insn)      \
			     : [d] "r"(d) : "cc", "memory");                   \
		res.vector = ex_fixup_vector;                                 \
		res.fault_rip = ex_fixup_regs.rip;                            \
		res.rax = rax;                                                \
		res.rdx = rdx;                                                \
		return res;                                                   \
	}

DEFINE_DIV(div64, "divq")
DEFINE_DIV(idiv64, "idivq")
DEFINE_DIV(div32, "divl %k[d]\n\t#")
DEFINE_DIV(idiv32, "idivl %k[d]\n\t#")
DEFINE_DIV(div8, "divb %b[d]\n\t#")
DEFINE_DIV(idiv8, "idivb %b[d]\n\t#")
DEFINE_DIV(div16, "divw %w[d]\n\t#")

static void expect_de(const char *name, struct div_result r, uint64_t rax,
		      uint64_t rdx)
{
	if (r.vector != DE_VECTOR)
		report_fail(name, "vector %d, want 0", r.vector);
	else if (r.fault_rip != r.insn)
		report_fail(name, "rip 0x%lx, want 0x%lx", r.fault_rip, r.insn);
	else if (r.rax != rax || r.rdx != rdx)
		report_fail(name, "rax 0x%lx rdx 0x%lx changed by the fault", r.rax, r.rdx);
	else
		report_pass(name);
}

static void expect_ok(const char *name, struct div_result r, uint64_t rax,
		      uint64_t rdx)
{
	if (r.vector != -1)
		report_fail(name, "unexpected vector %d", r.vector);
	else if (r.rax != rax || r.rdx != rdx)
		report_fail(name, "rax 0x%lx rdx 0x%lx, want 0x%lx 0x%lx",
			    r.rax, r.rdx, rax, rdx);
	else
		report_pass(name);
}

int main(void)
{
	const uint64_t min64 = 0x8000000000000000ull, m1 = ~0ull;

	expect_de("div r64 by zero", div64(1234, 0, 0), 1234, 0);
	expect_de("idiv r64 by zero", idiv64(1234, 0, 0), 1234, 0);
	expect_de("div r32 by zero", div32(7, 0, 0), 7, 0);
	expect_de("div r16 by zero", div16(7, 0, 0), 7, 0);
	expect_de("div r8 by zero", div8(7, 0, 0), 7, 0);
	expect_de("idiv r8 by zero", idiv8(7, 0, 0), 7, 0);
	expect_de("idiv r64 INT64_MIN / -1", idiv64(min64, m1, m1), min64, m1);
	expect_de("idiv r32 INT32_MIN / -1", idiv32(0x80000000u, 0xffffffffu, m1),
		  0x80000000u, 0xffffffffu);
	expect_de("idiv r8 -32768 / -1", idiv8(0x8000, 0, 0xff), 0x8000, 0);
	expect_de("div r64 quotient overflow", div64(0, 5, 5), 0, 5);
	expect_de("div r32 quotient overflow", div32(0, 1, 1), 0, 1);
	expect_de("div r8 quotient overflow", div8(0x100, 0, 1), 0x100, 0);

	expect_ok("div r64 128-bit dividend", div64(0, 1, 3), 0x5555555555555555ull, 1);
	expect_ok("idiv r64 -7 / 2", idiv64((uint64_t)-7, m1, 2), (uint64_t)-3, (uint64_t)-1);
	expect_ok("idiv r64 INT64_MIN / 1", idiv64(min64, m1, 1), min64, 0);
	expect_ok("div r32 zero-extends", div32(0xffffffff00000064ull, 0xffffffff00000000ull, 7),
		  14, 2);
	expect_ok("div r8 ax / r8", div8(0xffff0000000003e9ull, 0x77, 10),
		  0xffff000000000164ull, 0x77);   /* AL = 100, AH = 1 */
	expect_ok("idiv r8 -100 / 7", idiv8(0xff9c, 0, 7), 0xfef2, 0); /* -14 rem -2 */
	return report_summary();
}
