/*
 * SYSCALL/SYSRET in 64-bit mode: SYSCALL saves RIP in RCX and RFLAGS in
 * R11, loads CS/SS from STAR[47:32], RIP from LSTAR and masks RFLAGS with
 * SFMASK, leaving RSP alone; SYSRETQ returns to CS = STAR[63:48] + 16,
 * SS = STAR[63:48] + 8 (RPL 3) with RFLAGS from R11. With EFER.SCE clear
 * both are #UD; SYSRET at CPL 3 is #GP(0).
 */
#include "libguest.h"

struct observed {
	uint64_t k_rcx, k_r11, k_rflags, k_cs, k_ss, k_rsp;     /* in the kernel */
	uint64_t u_next, u_rsp, u_rflags, u_cs, u_ss, u_rcx;    /* in user mode */
};
struct observed seen;

#define USER_FLAGS (0x2 | RFLAGS_CF | RFLAGS_DF | RFLAGS_AC | RFLAGS_ZF)
#define SFMASK (RFLAGS_DF | RFLAGS_AC | RFLAGS_IF | RFLAGS_TF | RFLAGS_ZF)

void syscall_entry(void);
void user_syscall(void *arg);
asm(".text\n"
    "syscall_entry:\n\t"
    "mov %rcx, seen+0(%rip)\n\t"
    "mov %r11, seen+8(%rip)\n\t"
    "mov %rsp, seen+40(%rip)\n\t"
    "pushfq\n\t"
    "popq seen+16(%rip)\n\t"
    "mov %cs, %eax\n\tmov %rax, seen+24(%rip)\n\t"
    "mov %ss, %eax\n\tmov %rax, seen+32(%rip)\n\t"
    "sysretq\n"
    "user_syscall:\n\t"
    "push %rbx\n\t"
    "lea 1f(%rip), %rax\n\tmov %rax, seen+48(%rip)\n\t"
    "mov %rsp, seen+56(%rip)\n\t"
    "pushq $" "0x40443" "\n\tpopfq\n\t"        /* USER_FLAGS */
    "syscall\n"
    "1: pushfq\n\tpopq seen+64(%rip)\n\t"
    "mov %rcx, seen+88(%rip)\n\t"
    "pushq $2\n\tpopfq\n\t"
    "mov %cs, %eax\n\tmov %rax, seen+72(%rip)\n\t"
    "mov %ss, %eax\n\tmov %rax, seen+80(%rip)\n\t"
    "pop %rbx\n\t"
    "ret\n");
_Static_assert(USER_FLAGS == 0x40443, "the asm pushes USER_FLAGS");

static void check_round_trip(void)
{
	uint64_t efer = rdmsr(MSR_EFER);
	struct ex_regs r;

	wrmsr(MSR_STAR, (uint64_t)STAR_SELECTORS << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, SFMASK);
	wrmsr(MSR_EFER, efer | EFER_SCE);
	int v = run_in_user(user_syscall, NULL, &r);
	wrmsr(MSR_EFER, efer);

	report_eq("syscall/sysret round trip completes", (uint64_t)(int64_t)v, (uint64_t)-1);
	report_eq("syscall: rcx = next rip", seen.k_rcx, seen.u_next);
	report_eq("syscall: r11 = user rflags", seen.k_r11, USER_FLAGS);
	report_eq("syscall: rflags = user rflags & ~SFMASK", seen.k_rflags,
		  USER_FLAGS & ~SFMASK);
	report_eq("syscall: cs = STAR[47:32]", seen.k_cs, KERNEL_CS);
	report_eq("syscall: ss = STAR[47:32] + 8", seen.k_ss, KERNEL_DS);
	report_eq("syscall: rsp unchanged", seen.k_rsp, seen.u_rsp);
	report_eq("sysret: cs = STAR[63:48] + 16 | 3", seen.u_cs, USER_CS);
	report_eq("sysret: ss = STAR[63:48] + 8 | 3", seen.u_ss, USER_DS);
	report_eq("sysret: rflags = r11", seen.u_rflags, USER_FLAGS);
	report_eq("sysret: rcx kept", seen.u_rcx, seen.u_next);
}

static void do_syscall(void *arg) { (void)arg; asm volatile("syscall" ::: "rcx", "r11", "memory"); }
static void do_sysret(void *arg)
{
	(void)arg;
	asm volatile("lea 1f(%%rip), %%rcx\n\tmov $2, %%r11d\n\tsysretq\n1:" ::: "rcx", "r11", "memory");
}

static void check_faults(void)
{
	uint64_t efer = rdmsr(MSR_EFER);
	struct ex_regs r;
	int v;

	wrmsr(MSR_EFER, efer & ~EFER_SCE);
	v = run_in_user(do_syscall, NULL, &r);
	report_eq("syscall with EFER.SCE=0: #UD", v, UD_VECTOR);
	v = catch_exception(do_sysret, NULL, &r);
	report_eq("sysret with EFER.SCE=0: #UD", v, UD_VECTOR);
	wrmsr(MSR_EFER, efer | EFER_SCE);
	v = run_in_user(do_sysret, NULL, &r);
	wrmsr(MSR_EFER, efer);
	if (v != GP_VECTOR)
		report_fail("sysret at CPL 3: #GP(0)", "vector %d", v);
	else
		report_eq("sysret at CPL 3: #GP(0)", r.error_code, 0);
}

int main(void)
{
	check_round_trip();
	check_faults();
	return report_summary();
}
