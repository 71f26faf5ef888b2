/*
 * Integer instructions: results and the flags the APM defines for them
 * (undefined flags are masked out), partial-register writes, and flags
 * that an instruction must leave alone.
 */
#include "libguest.h"

#define CF RFLAGS_CF
#define PF RFLAGS_PF
#define AF RFLAGS_AF
#define ZF RFLAGS_ZF
#define SF RFLAGS_SF
#define OF RFLAGS_OF
#define ARITH (CF | PF | AF | ZF | SF | OF)

struct alu {
	uint64_t a, c, d, flags;
};

/* Runs insn with RAX=a, RCX=c, RDX=d and RFLAGS=fl (IF=0), returns all. */
#define ALU(insn, A, C, D, FL)                                                \
	({                                                                    \
		struct alu r_ = { (A), (C), (D), (FL) | 2 };                  \
		asm volatile("push %[f]\n\tpopfq\n\t" insn "\n\tpushfq\n\tpop %[f]" \
			     : "+a"(r_.a), "+c"(r_.c), "+d"(r_.d), [f] "+r"(r_.flags) \
			     :: "cc");                                        \
		r_;                                                           \
	})

static void check(const char *name, struct alu r, uint64_t want_a,
		  uint64_t want_flags, uint64_t mask)
{
	if (r.a != want_a)
		report_fail(name, "result 0x%lx, want 0x%lx", r.a, want_a);
	else if ((r.flags & mask) != want_flags)
		report_fail(name, "flags 0x%lx, want 0x%lx (mask 0x%lx)",
			    r.flags & mask, want_flags, mask);
	else
		report_pass(name);
}

static void check_add_sub(void)
{
	check("addl 0x7fffffff + 1: OF SF AF PF",
	      ALU("addl %%ecx, %%eax", 0x7fffffff, 1, 0, 0), 0x80000000, OF | SF | AF | PF, ARITH);
	check("addq -1 + 1: CF ZF AF PF",
	      ALU("addq %%rcx, %%rax", ~0ull, 1, 0, 0), 0, CF | ZF | AF | PF, ARITH);
	check("subq 0 - 1: CF SF AF PF",
	      ALU("subq %%rcx, %%rax", 0, 1, 0, 0), ~0ull, CF | SF | AF | PF, ARITH);
	check("subl 0x80000000 - 1: OF",
	      ALU("subl %%ecx, %%eax", 0x80000000, 1, 0, 0), 0x7fffffff, OF | AF | PF, ARITH);
	check("cmp 5, 5: ZF PF, operand unchanged",
	      ALU("cmpq %%rcx, %%rax", 5, 5, 0, CF | SF), 5, ZF | PF, ARITH);
	check("adcq 1 + 1 + CF",
	      ALU("adcq %%rcx, %%rax", 1, 1, 0, CF), 3, PF, ARITH);
	check("sbbq 0 - 0 - CF",
	      ALU("sbbq %%rcx, %%rax", 0, 0, 0, CF), ~0ull, CF | SF | AF | PF, ARITH);
	check("negq 0: CF clear",
	      ALU("negq %%rax", 0, 0, 0, CF), 0, ZF | PF, ARITH);
	check("negq 1: CF set",
	      ALU("negq %%rax", 1, 0, 0, 0), ~0ull, CF | SF | AF | PF, ARITH);
	check("incq 0x7fff...: OF, CF preserved",
	      ALU("incq %%rax", 0x7fffffffffffffffull, 0, 0, CF), 0x8000000000000000ull,
	      CF | OF | SF | AF | PF, ARITH);
	check("decl 1: ZF, CF preserved clear",
	      ALU("decl %%eax", 1, 0, 0, 0), 0, ZF | PF, ARITH);
}

static void check_logic(void)
{
	const uint64_t defined = CF | PF | ZF | SF | OF;        /* AF undefined */

	check("andq 0xf0 & 0x0f: ZF PF, CF OF cleared",
	      ALU("andq %%rcx, %%rax", 0xf0, 0x0f, 0, CF | OF), 0, ZF | PF, defined);
	check("orq sign bit: SF PF",
	      ALU("orq %%rcx, %%rax", 0x8000000000000000ull, 0, 0, 0),
	      0x8000000000000000ull, SF | PF, defined);
	check("xorl eax, eax: zero, upper half cleared",
	      ALU("xorl %%eax, %%eax", 0xffffffff12345678ull, 0, 0, 0), 0, ZF | PF, defined);
	check("testq leaves its operand: SF",
	      ALU("testq %%rcx, %%rax", 0x8000000000000001ull, 0x8000000000000000ull, 0, 0),
	      0x8000000000000001ull, SF | PF, defined);
	check("notq changes no flag",
	      ALU("notq %%rax", 0, 0, 0, CF | ZF | OF), ~0ull, CF | ZF | OF, ARITH);
}

static void check_shifts(void)
{
	check("shlq $1 0xc000...: CF, OF = 0",
	      ALU("shlq $1, %%rax", 0xc000000000000000ull, 0, 0, 0),
	      0x8000000000000000ull, CF | SF | PF, CF | OF | SF | ZF | PF);
	check("shlq $1 0x4000...: OF = 1",
	      ALU("shlq $1, %%rax", 0x4000000000000000ull, 0, 0, 0),
	      0x8000000000000000ull, OF | SF | PF, CF | OF | SF | ZF | PF);
	check("shrq $1 of 1: CF ZF, OF = 0",
	      ALU("shrq $1, %%rax", 1, 0, 0, 0), 0, CF | ZF | PF, CF | OF | SF | ZF | PF);
	check("sarq $63 of INT64_MIN: all ones",
	      ALU("sarq $63, %%rax", 0x8000000000000000ull, 0, 0, 0), ~0ull,
	      SF | PF, CF | SF | ZF | PF);
	check("shlq %%cl with cl = 0: no flag changes",
	      ALU("shlq %%cl, %%rax", 0x1234, 0, 0, CF | ZF | OF), 0x1234, CF | ZF | OF, ARITH);
	check("shlq %%cl masks the count to 6 bits",
	      ALU("shlq %%cl, %%rax", 1, 65, 0, 0), 2, 0, CF | ZF);
	check("shll %%cl masks the count to 5 bits",
	      ALU("shll %%cl, %%eax", 1, 33, 0, 0), 2, 0, CF | ZF);
	check("rolq $1: CF OF only, ZF kept",
	      ALU("rolq $1, %%rax", 0x8000000000000001ull, 0, 0, ZF), 3, CF | OF | ZF, ARITH);
	check("rcrq $1: CF in at the top",
	      ALU("rcrq $1, %%rax", 2, 0, 0, CF), 0x8000000000000001ull, 0, CF);
	check("shldq $4",
	      ALU("shldq $4, %%rcx, %%rax", 0x0123456789abcdefull, 0xf000000000000000ull, 0, 0),
	      0x123456789abcdeffull, 0, CF);
}

static void check_mul_div(void)
{
	struct alu r = ALU("mulq %%rcx", ~0ull, 2, 0, 0);

	check("mulq -1 * 2: low half, CF OF", r, ~0ull - 1, CF | OF, CF | OF);
	report_eq("mulq -1 * 2: high half in rdx", r.d, 1);
	r = ALU("mulq %%rcx", 3, 5, 0x99, CF | OF);
	check("mulq 3 * 5: CF OF clear", r, 15, 0, CF | OF);
	report_eq("mulq 3 * 5: rdx zero", r.d, 0);
	check("imulq 2^32 * 2^32 overflows: CF OF",
	      ALU("imulq %%rcx, %%rax", 1ull << 32, 1ull << 32, 0, 0), 0, CF | OF, CF | OF);
	check("imulq -3 * 5 fits",
	      ALU("imulq %%rcx, %%rax", (uint64_t)-3, 5, 0, CF | OF), (uint64_t)-15, 0, CF | OF);
	r = ALU("imulq %%rcx", (uint64_t)-2, 3, 0, 0);
	report_eq("imulq one-operand: rdx sign extension", r.d, ~0ull);
}

static void check_bits(void)
{
	check("btq $3 of 8: CF", ALU("btq $3, %%rax", 8, 0, 0, 0), 8, CF, CF);
	check("btsq $0: CF = old bit, bit set", ALU("btsq $0, %%rax", 0, 0, 0, CF), 1, 0, CF);
	check("btrq %%rcx: register bit offset mod 64",
	      ALU("btrq %%rcx, %%rax", 0x10, 68, 0, 0), 0, CF, CF);
	check("bsfq 0x10: 4, ZF clear", ALU("bsfq %%rcx, %%rax", 0, 0x10, 0, ZF), 4, 0, ZF);
	check("bsrq: highest set bit", ALU("bsrq %%rcx, %%rax", 0, 0x8000000000000100ull, 0, 0),
	      63, 0, ZF);
	struct alu r = ALU("bsfq %%rcx, %%rax", 0x77, 0, 0, 0);
	report((r.flags & ZF) != 0, "bsfq 0: ZF set");
	check("bswapq", ALU("bswapq %%rax", 0x0102030405060708ull, 0, 0, 0),
	      0x0807060504030201ull, 0, 0);
}

static void check_partial_registers(void)
{
	check("addb keeps bits 63:8", ALU("addb %%cl, %%al", 0x11223344556677ffull, 1, 0, 0),
	      0x1122334455667700ull, CF | ZF | PF | AF, ARITH);
	check("movw keeps bits 63:16", ALU("movw %%cx, %%ax", 0x1122334455667788ull, 0xabcd, 0, 0),
	      0x112233445566abcdull, 0, 0);
	check("movl zero-extends", ALU("movl %%ecx, %%eax", 0x1122334455667788ull, 0xabcd, 0, 0),
	      0xabcd, 0, 0);
	check("addb to ah", ALU("addb $1, %%ah", 0xff00, 0, 0, 0), 0x0000, CF | ZF | PF | AF, ARITH);
	check("movsxd", ALU("movslq %%ecx, %%rax", 0, 0x80000000, 0, 0), 0xffffffff80000000ull, 0, 0);
	check("movzbl", ALU("movzbl %%cl, %%eax", ~0ull, 0x1ff, 0, 0), 0xff, 0, 0);
	check("cqo", ALU("cqo\n\tmov %%rdx, %%rax", 0x8000000000000000ull, 0, 0, 0), ~0ull, 0, 0);
}

static void check_conditional(void)
{
	check("setb after cmp 1, 2", ALU("cmpq %%rcx, %%rax\n\tsetb %%al", 1, 2, 0, 0), 1, CF, CF);
	check("setg after cmp -1, 1 (signed)",
	      ALU("cmpq %%rcx, %%rax\n\tsetg %%al\n\tmovzbl %%al, %%eax", (uint64_t)-1, 1, 0, 0), 0, 0, 0);
	check("cmovl taken", ALU("cmpq %%rcx, %%rax\n\tcmovl %%rcx, %%rax", (uint64_t)-5, 3, 0, 0), 3, 0, 0);
	check("cmovnel not taken still zero-extends",
	      ALU("cmpl %%ecx, %%eax\n\tcmovnel %%ecx, %%eax", 0xffffffff00000007ull, 7, 0, 0), 7, 0, 0);
	check("cmpxchgq equal: ZF, stored", ALU("cmpxchgq %%rcx, %%rdx\n\tmov %%rdx, %%rax", 5, 9, 5, 0),
	      9, ZF, ZF);
	check("cmpxchgq not equal: rax loaded", ALU("cmpxchgq %%rcx, %%rdx", 4, 9, 5, ZF), 5, 0, ZF);
	/* rax = old rcx (3), rcx = 2 + 3; then rax + rcx */
	check("xaddq", ALU("xaddq %%rax, %%rcx\n\tadd %%rcx, %%rax", 2, 3, 0, 0), 8, 0, 0);
	check("lahf", ALU("lahf\n\tshr $8, %%eax\n\tand $0xff, %%eax", 0, 0, 0, SF | ZF | CF),
	      0x80 | 0x40 | 0x02 | 0x01, 0, 0);
}

int main(void)
{
	check_add_sub();
	check_logic();
	check_shifts();
	check_mul_div();
	check_bits();
	check_partial_registers();
	check_conditional();
	return report_summary();
}
