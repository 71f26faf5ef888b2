/*
 * World-switch benchmark: L1 runs an L2 whose code is a VMMCALL loop
 * (vmmcall; jmp back).  Each #VMEXIT(VMMCALL) returns to L1, which moves
 * L2's RIP to nRIP (the JMP) and executes VMRUN again: one round trip is
 * two world switches and three instructions (JMP and VMMCALL in L2, the
 * rest in L1's loop below).  `iters=N` on the multiboot command line sets
 * the number of round trips (default 5,000,000).  Prints the count; exits
 * 1 if an exit was not the VMMCALL one or L2 did not end after it.
 * Round trips per second = N / wall time (bench/bench.sh).
 */
#include "svm.h"

#define DEFAULT_TRIPS 5000000ull

static struct svm_vcpu vcpu;

/*
 * The loop, with the VMCB address in RAX (VMRUN's operand, which #VMEXIT
 * gives back) and the count in RCX — L2 never touches RCX, and VMRUN and
 * #VMEXIT do not switch it.  L2's RIP moves to nRIP, or (without NRIP
 * save) past the 3-byte VMMCALL.  Returns the trips left (0 on success).
 */
static uint64_t trips(uint64_t vmcb_pa, uint64_t n, bool nrip)
{
	uint64_t left = n;

	if (nrip)
		asm volatile(
			"1:\n\t"
			"vmrun %%rax\n\t"
			"cmpq $0x81, 0x70(%%rax)\n\t"   /* exit_code == VMMCALL */
			"jne 2f\n\t"
			"mov 0xc8(%%rax), %%rdx\n\t"    /* next_rip */
			"mov %%rdx, 0x578(%%rax)\n\t"   /* save.rip */
			"dec %%rcx\n\t"
			"jnz 1b\n"
			"2:"
			: "+c"(left), "+a"(vmcb_pa) : : "rdx", "memory", "cc");
	else
		asm volatile(
			"1:\n\t"
			"vmrun %%rax\n\t"
			"cmpq $0x81, 0x70(%%rax)\n\t"
			"jne 2f\n\t"
			"addq $3, 0x578(%%rax)\n\t"     /* save.rip past VMMCALL */
			"dec %%rcx\n\t"
			"jnz 1b\n"
			"2:"
			: "+c"(left), "+a"(vmcb_pa) : : "memory", "cc");
	return left;
}

int main(void)
{
	/* vmmcall; jmp -5 (back to the vmmcall) */
	static const uint8_t l2[] = { 0x0f, 0x01, 0xd9, 0xeb, 0xfb };
	uint64_t n = DEFAULT_TRIPS, start;

	if (svm_skip_if_unsupported())
		return report_summary();
	cmdline_get_u64("iters", &n);
	if (n == 0)
		n = 1;
	svm_enable();
	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, l2, sizeof(l2));
	vcpu.vmcb->control.tlb_ctl = TLB_CONTROL_DO_NOTHING;
	printf("worldswitch: %lu round trips of L2 VMMCALL -> L1 -> VMRUN\n", n);

	bool nrip = svm_has(SVM_FEATURE_NRIPS);
	uint64_t left = trips((uint64_t)vcpu.vmcb, n, nrip);
	stgi();
	if (left) {
		printf("worldswitch: exit 0x%lx after %lu trips\n",
		       vcpu.vmcb->control.exit_code, n - left);
		return 1;
	}
	if (vcpu.vmcb->save.rip != start + 3) {
		printf("worldswitch: L2 RIP 0x%lx, want 0x%lx\n",
		       vcpu.vmcb->save.rip, start + 3);
		return 1;
	}
	printf("worldswitch: round trips: %lu\n", n);
	return 0;
}
