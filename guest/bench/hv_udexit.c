/*
 * #UD round-trip benchmark: L2 executes VMMCALL in a loop (vmmcall; jmp
 * back) with the VMMCALL intercept clear and the #UD intercept set, so
 * each VMMCALL is #UD (APM vol. 3, VMMCALL), which L1 gets as #VMEXIT(0x46);
 * L1 moves L2's RIP past the VMMCALL (to the JMP) and executes VMRUN
 * again.  Under nsvm's L0 each round trip is the L2 exit to L0, L0's #UD,
 * its reflection to L1, and L1's VMRUN.  `iters=N` sets the number of
 * round trips (default 5,000,000).
 */
#include "svm.h"

#define DEFAULT_TRIPS 5000000ull

static struct svm_vcpu vcpu;

/* The loop, with the VMCB address in RAX and the count in RCX (L2 touches
 * neither).  Returns the trips left (0 on success). */
static uint64_t trips(uint64_t vmcb_pa, uint64_t n)
{
	uint64_t left = n;

	asm volatile(
		"1:\n\t"
		"vmrun %%rax\n\t"
		"cmpq $0x46, 0x70(%%rax)\n\t"           /* exit_code == EXCP 6 */
		"jne 2f\n\t"
		"addq $3, 0x578(%%rax)\n\t"             /* save.rip past VMMCALL */
		"dec %%rcx\n\t"
		"jnz 1b\n"
		"2:"
		: "+c"(left), "+a"(vmcb_pa)
		:
		: "rdx", "rbx", "rsi", "rdi", "r8", "r9", "r10", "r11",
		  "r12", "r13", "r14", "r15", "memory", "cc");
	return left;
}

int main(void)
{
	/* vmmcall; jmp -5 (back to the vmmcall) */
	static const uint8_t l2[] = { 0x0f, 0x01, 0xd9, 0xeb, 0xfb };
	uint64_t n = DEFAULT_TRIPS;

	if (svm_skip_if_unsupported())
		return report_summary();
	cmdline_get_u64("iters", &n);
	if (n == 0)
		n = 1;
	svm_enable();
	svm_vcpu_init(&vcpu, NULL);
	svm_vcpu_set_code(&vcpu, l2, sizeof(l2));
	vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMMCALL);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(UD_VECTOR));
	vcpu.vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	printf("hv_udexit: %lu round trips of L2 VMMCALL -> #UD -> L1 -> VMRUN\n", n);

	uint64_t left = trips((uint64_t)vcpu.vmcb, n);
	stgi();
	if (left) {
		printf("hv_udexit: exit 0x%lx after %lu trips\n",
		       vcpu.vmcb->control.exit_code, n - left);
		return 1;
	}
	printf("hv_udexit: round trips: %lu\n", n);
	return 0;
}
