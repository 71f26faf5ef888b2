/*
 * Last-branch recording (APM vol. 2, 13.1.1): with DebugCtl.LBR set the
 * LastBranchFromIP/ToIP MSRs (0x1DB, 0x1DC) hold the source and target of
 * the last control transfer taken (JMP, a CALL followed by a RET, not a
 * conditional branch not taken); an exception moves that pair into
 * LastExceptionFromIP/ToIP (0x1DD, 0x1DE) and records itself (the faulting
 * instruction and the handler); a #DB clears DebugCtl.LBR and is not
 * recorded.  DebugCtl.BTF with RFLAGS.TF traps after the next control
 * transfer only.  Reserved DebugCtl bits #GP.  Expected addresses are the
 * payload's own labels (flat 64-bit code: RIP = the label's address).
 */
#include "libguest.h"

#define MSR_DEBUGCTL      0x1d9
#define MSR_BR_FROM       0x1db
#define MSR_BR_TO         0x1dc
#define MSR_LASTEXCP_FROM 0x1dd
#define MSR_LASTEXCP_TO   0x1de
#define DEBUGCTL_LBR 1ull
#define DEBUGCTL_BTF 2ull

extern char lbr_jmp_from[], lbr_jmp_to[];
extern char lbr_ret_from[], lbr_ret_to[];
extern char lbr_ud_jmp[], lbr_ud_insn[], lbr_ud_stub[];
extern char lbr_db_jmp[], lbr_db_to[], lbr_db_stub[];
extern char lbr_btf_to[];
volatile uint64_t lbr_db_rip;
volatile uint32_t lbr_db_count;

/* Enable LBR (EDX:EAX = 0:1 into ECX = DebugCtl) and leave it off after. */
#define LBR_ON  "mov $0x1d9, %%ecx\n\tmov $1, %%eax\n\txor %%edx, %%edx\n\twrmsr\n\t"
#define LBR_OFF "mov $0x1d9, %%ecx\n\txor %%eax, %%eax\n\txor %%edx, %%edx\n\twrmsr\n\t"

static void __attribute__((noinline)) run_jmp(void)
{
	asm volatile(LBR_ON
		     "lbr_jmp_from: jmp lbr_jmp_to\n\t"
		     "ud2\n"
		     "lbr_jmp_to:\n\t"
		     "xor %%eax, %%eax\n\t"
		     "cmp $1, %%eax\n\t"
		     "je lbr_jmp_from\n\t"   /* not taken */
		     LBR_OFF
		     ::: "rax", "rcx", "rdx", "memory", "cc");
}

static void __attribute__((noinline)) run_call_ret(void)
{
	asm volatile("jmp 1f\n"
		     "lbr_ret_from: ret\n"
		     "1:\n\t"
		     LBR_ON
		     "call lbr_ret_from\n"
		     "lbr_ret_to:\n\t"
		     LBR_OFF
		     ::: "rax", "rcx", "rdx", "memory", "cc");
}

/* #UD handler entered straight from the IDT: LBR off first, then resume
 * after the UD2. */
asm(".pushsection .text\n"
    "lbr_ud_stub:\n\t"
    "push %rax; push %rcx; push %rdx\n\t"
    "mov $0x1d9, %ecx; xor %eax, %eax; xor %edx, %edx; wrmsr\n\t"
    "addq $2, 24(%rsp)\n\t"
    "pop %rdx; pop %rcx; pop %rax\n\t"
    "iretq\n"
    /* #DB handler: count, remember the RIP it returns to, clear TF */
    "lbr_db_stub:\n\t"
    "push %rax\n\t"
    "mov 8(%rsp), %rax\n\t"
    "mov %rax, lbr_db_rip(%rip)\n\t"
    "incl lbr_db_count(%rip)\n\t"
    "andq $~0x100, 24(%rsp)\n\t"
    "pop %rax\n\t"
    "iretq\n"
    ".popsection");

static void __attribute__((noinline)) run_ud(void)
{
	asm volatile(LBR_ON
		     "lbr_ud_jmp: jmp lbr_ud_insn\n\t"
		     "nop\n"
		     "lbr_ud_insn: ud2\n\t"
		     ::: "rax", "rcx", "rdx", "memory", "cc");
}

static void __attribute__((noinline)) run_db(void)
{
	asm volatile(LBR_ON
		     "lbr_db_jmp: jmp lbr_db_to\n"
		     "lbr_db_to:\n\t"
		     "pushfq\n\t"
		     "orq $0x100, (%%rsp)\n\t"
		     "popfq\n\t"
		     "nop\n\t"               /* #DB (single step) after this */
		     "nop\n\t"
		     ::: "rax", "rcx", "rdx", "memory", "cc");
}

/* BTF: TF set, then straight-line code, a conditional branch not taken
 * and a taken JMP: one #DB, after the JMP. */
static void __attribute__((noinline)) run_btf(void)
{
	asm volatile("mov $0x1d9, %%ecx\n\tmov $2, %%eax\n\txor %%edx, %%edx\n\twrmsr\n\t"
		     "pushfq\n\t"
		     "orq $0x100, (%%rsp)\n\t"
		     "popfq\n\t"
		     "nop\n\t"
		     "xor %%eax, %%eax\n\t"
		     "test %%eax, %%eax\n\t"
		     "jnz 1f\n\t"            /* not taken */
		     "nop\n\t"
		     "jmp lbr_btf_to\n\t"
		     "nop\n"
		     "lbr_btf_to:\n\t"
		     "nop\n"
		     "1:\n\t"
		     "pushfq\n\t"
		     "andq $~0x100, (%%rsp)\n\t"
		     "popfq\n\t"
		     LBR_OFF
		     ::: "rax", "rcx", "rdx", "memory", "cc");
}

static void check_msrs(void)
{
	report_eq("DebugCtl reads 0 at start", rdmsr(MSR_DEBUGCTL), 0);
	report_eq("DebugCtl bit 6 (reserved): #GP",
		  (uint64_t)wrmsr_safe(MSR_DEBUGCTL, 1ull << 6), GP_VECTOR);
	report_eq("DebugCtl bit 63 (reserved): #GP",
		  (uint64_t)wrmsr_safe(MSR_DEBUGCTL, 1ull << 63), GP_VECTOR);
	wrmsr(MSR_DEBUGCTL, 0);
}

static void check_branches(void)
{
	run_jmp();
	report_eq("JMP: LastBranchFromIP", rdmsr(MSR_BR_FROM), (uint64_t)lbr_jmp_from);
	report_eq("JMP: LastBranchToIP", rdmsr(MSR_BR_TO), (uint64_t)lbr_jmp_to);
	run_call_ret();
	report_eq("RET: LastBranchFromIP", rdmsr(MSR_BR_FROM), (uint64_t)lbr_ret_from);
	report_eq("RET: LastBranchToIP", rdmsr(MSR_BR_TO), (uint64_t)lbr_ret_to);
}

static void check_exception(void)
{
	idt_set_target(UD_VECTOR, (uint64_t)lbr_ud_stub);
	run_ud();
	idt_set_target(UD_VECTOR, idt_default_target(UD_VECTOR));
	report_eq("#UD: LastBranchFromIP = the UD2", rdmsr(MSR_BR_FROM), (uint64_t)lbr_ud_insn);
	report_eq("#UD: LastBranchToIP = the handler", rdmsr(MSR_BR_TO), (uint64_t)lbr_ud_stub);
	report_eq("#UD: LastExceptionFromIP = the JMP before", rdmsr(MSR_LASTEXCP_FROM),
		  (uint64_t)lbr_ud_jmp);
	report_eq("#UD: LastExceptionToIP = its target", rdmsr(MSR_LASTEXCP_TO),
		  (uint64_t)lbr_ud_insn);
}

static void check_db(void)
{
	lbr_db_count = 0;
	idt_set_target(DB_VECTOR, (uint64_t)lbr_db_stub);
	run_db();
	uint64_t debugctl = rdmsr(MSR_DEBUGCTL);
	wrmsr(MSR_DEBUGCTL, 0);
	report_eq("#DB (single step) taken once", lbr_db_count, 1);
	report_eq("#DB clears DebugCtl.LBR", debugctl, 0);
	report_eq("#DB: not recorded, LastBranchFromIP = the JMP", rdmsr(MSR_BR_FROM),
		  (uint64_t)lbr_db_jmp);
	report_eq("#DB: LastBranchToIP = its target", rdmsr(MSR_BR_TO), (uint64_t)lbr_db_to);

	lbr_db_count = 0;
	lbr_db_rip = 0;
	run_btf();
	idt_set_target(DB_VECTOR, idt_default_target(DB_VECTOR));
	report_eq("BTF: one #DB over 5 instructions and 2 branches", lbr_db_count, 1);
	report_eq("BTF: the #DB follows the taken JMP", lbr_db_rip, (uint64_t)lbr_btf_to);
	report_eq("BTF: DebugCtl after", rdmsr(MSR_DEBUGCTL), 0);
}

int main(void)
{
	uint64_t v;

	if (rdmsr_safe(MSR_BR_FROM, &v) >= 0) {
		report_skip("last-branch recording", "RDMSR LastBranchFromIP faults");
		return report_summary();
	}
	check_msrs();
	check_branches();
	check_exception();
	check_db();
	return report_summary();
}
