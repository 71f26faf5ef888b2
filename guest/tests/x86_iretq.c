/*
 * IRETQ in 64-bit mode: always pops RIP, CS, RFLAGS, RSP and SS; to the
 * same privilege it loads exactly the frame; to CPL 3 it also nulls data
 * segment registers whose DPL is below the new CPL; at CPL 3 it cannot
 * change IF or IOPL; a return to a more privileged CS is a #GP(selector).
 */
#include "libguest.h"

#define STATUS_FLAGS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | \
		      RFLAGS_SF | RFLAGS_OF)

struct seen {
	uint64_t rsp, rflags, cs, ss, ds;
};

static uint8_t alt_stack[4096] __attribute__((aligned(16)));

/* IRETQ to a label with the given frame; records what the CPU loaded. */
static void iret_to(struct seen *s, uint64_t cs, uint64_t ss, uint64_t rsp,
		    uint64_t rflags)
{
	asm volatile("mov %%rsp, %%r12\n\t"
		     "pushq %[ss]\n\tpushq %[rsp]\n\tpushq %[fl]\n\tpushq %[cs]\n\t"
		     "lea 1f(%%rip), %%rax\n\tpushq %%rax\n\t"
		     "iretq\n"
		     "1: mov %%rsp, 0(%[s])\n\t"
		     "pushfq\n\tpopq 8(%[s])\n\t"
		     "mov %%cs, %%eax\n\tmov %%rax, 16(%[s])\n\t"
		     "mov %%ss, %%eax\n\tmov %%rax, 24(%[s])\n\t"
		     "mov %%ds, %%eax\n\tmov %%rax, 32(%[s])\n\t"
		     "mov %%r12, %%rsp\n\t"
		     "pushq $2\n\tpopfq"
		     :: [s] "r"(s), [cs] "r"(cs), [ss] "r"(ss), [rsp] "r"(rsp),
			[fl] "r"(rflags)
		     : "rax", "r12", "memory", "cc");
}

static void check_same_privilege(void)
{
	struct seen s = { 0 };
	uint64_t rsp = (uint64_t)(alt_stack + sizeof(alt_stack) - 64);
	uint64_t fl = 0x2 | STATUS_FLAGS | RFLAGS_IOPL;
	uint64_t saved = read_rflags();

	iret_to(&s, KERNEL_CS, KERNEL_DS, rsp, fl);
	write_rflags(saved);
	report_eq("iretq to CPL 0: rsp from the frame", s.rsp, rsp);
	report_eq("iretq to CPL 0: rflags from the frame", s.rflags, fl);
	report_eq("iretq to CPL 0: cs", s.cs, KERNEL_CS);
	report_eq("iretq to CPL 0: ss", s.ss, KERNEL_DS);
	iret_to(&s, KERNEL_CS, 0, rsp, 0x2);
	report_eq("iretq to CPL 0 with a null ss: ss", s.ss, 0);
	report_eq("iretq to CPL 0 with a null ss: rflags", s.rflags, 0x2);
	asm volatile("mov %0, %%ss" :: "r"(KERNEL_DS));
}

/* Runs at CPL 0 under catch_exception: IRETQ to CPL 3, look, then ud2. */
static struct seen user_seen;
static void to_user(void *arg)
{
	uint64_t rsp = (uint64_t)(alt_stack + sizeof(alt_stack) - 128);

	(void)arg;
	asm volatile("mov %0, %%ds" :: "r"(KERNEL_DS));
	asm volatile("pushq %[ss]\n\tpushq %[rsp]\n\tpushq %[fl]\n\tpushq %[cs]\n\t"
		     "lea 1f(%%rip), %%rax\n\tpushq %%rax\n\t"
		     "iretq\n"
		     "1: mov %%rsp, 0(%[s])\n\t"
		     "pushfq\n\tpopq 8(%[s])\n\t"
		     "mov %%cs, %%eax\n\tmov %%rax, 16(%[s])\n\t"
		     "mov %%ss, %%eax\n\tmov %%rax, 24(%[s])\n\t"
		     "mov %%ds, %%eax\n\tmov %%rax, 32(%[s])\n\t"
		     "ud2"
		     :: [s] "r"(&user_seen), [cs] "i"(USER_CS), [ss] "i"(USER_DS),
			[rsp] "r"(rsp), [fl] "i"(0x2 | RFLAGS_CF | RFLAGS_ZF)
		     : "rax", "memory");
}

static void check_to_user(void)
{
	struct ex_regs r;
	uint64_t rsp = (uint64_t)(alt_stack + sizeof(alt_stack) - 128);
	int v = catch_exception(to_user, NULL, &r);

	asm volatile("mov %0, %%ds; mov %0, %%es" :: "r"(KERNEL_DS));
	report_eq("iretq to CPL 3: ends with the #UD at CPL 3", v, UD_VECTOR);
	report_eq("iretq to CPL 3: cs", user_seen.cs, USER_CS);
	report_eq("iretq to CPL 3: ss", user_seen.ss, USER_DS);
	report_eq("iretq to CPL 3: rsp", user_seen.rsp, rsp);
	report_eq("iretq to CPL 3: rflags", user_seen.rflags, 0x2 | RFLAGS_CF | RFLAGS_ZF);
	report_eq("iretq to CPL 3: DPL 0 ds nulled", user_seen.ds, 0);
	report_eq("#UD frame from CPL 3: cs", r.cs, USER_CS);
	report_eq("#UD frame from CPL 3: rsp", r.rsp, rsp);
}

/* At CPL 3 with IOPL 0: IRETQ may change status flags, not IF or IOPL. */
static struct seen u_seen;
static void user_iret_flags(void *arg)
{
	(void)arg;
	iret_to(&u_seen, USER_CS, USER_DS,
		(uint64_t)(alt_stack + sizeof(alt_stack) - 256),
		0x2 | RFLAGS_IF | RFLAGS_IOPL | RFLAGS_CF | RFLAGS_SF);
}

static void user_iret_to_kernel(void *arg)
{
	(void)arg;
	iret_to(&u_seen, KERNEL_CS, KERNEL_DS,
		(uint64_t)(alt_stack + sizeof(alt_stack) - 256), 0x2);
}

static void check_at_cpl3(void)
{
	struct ex_regs r;
	int v;

	v = run_in_user(user_iret_flags, NULL, &r);
	report_eq("iretq at CPL 3: returns", (uint64_t)(int64_t)v, (uint64_t)-1);
	report_eq("iretq at CPL 3: IF and IOPL unchanged, CF and SF loaded",
		  u_seen.rflags, 0x2 | RFLAGS_CF | RFLAGS_SF);
	v = run_in_user(user_iret_to_kernel, NULL, &r);
	if (v != GP_VECTOR)
		report_fail("iretq at CPL 3 to CS RPL 0: #GP(selector)", "vector %d", v);
	else
		report_eq("iretq at CPL 3 to CS RPL 0: #GP(selector)", r.error_code,
			  KERNEL_CS);
}

int main(void)
{
	check_same_privilege();
	check_to_user();
	check_at_cpl3();
	return report_summary();
}
