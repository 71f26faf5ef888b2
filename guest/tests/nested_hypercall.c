/*
 * L1's hypercalls under nsvm's L0, which offers the KVM ABI (Linux
 * Documentation/virt/kvm/x86/hypercalls.rst): VMMCALL with the number in
 * RAX and arguments in RBX, RCX, RDX, RSI; the result in RAX; no other
 * register changes; execution continues after the 3-byte VMMCALL.  At
 * CPL > 0 the result is -KVM_EPERM (-1); an unknown number gives
 * -KVM_ENOSYS (-1000).  Outside 64-bit mode the number and the result are
 * 32 bits wide.
 *
 * Only meaningful under a KVM-style hypervisor: on bare hardware (no
 * "KVMKVMKVM" signature at CPUID 0x40000000) every test is skipped — there
 * VMMCALL outside guest mode is #UD (svm_vmmcall, nested_vmmcall).
 */
#include "libguest.h"

/* The ABI's numbers and errors, as the KVM documentation gives them. */
#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_HC_MMU_OP         2
#define KVM_HC_KICK_CPU       5
#define KVM_HC_SCHED_YIELD    11
#define KVM_ENOSYS            1000
#define KVM_EPERM             1
#define KVM_FEATURE_PV_UNHALT      (1u << 7)
#define KVM_FEATURE_PV_SCHED_YIELD (1u << 13)

/* Every general-purpose register, in and out of one hypercall. */
struct hc_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/*
 * hc_call(regs): loads every register from *regs, executes VMMCALL, then
 * INC R15 — which must run exactly once if RIP moved by exactly 3 — and
 * stores every register back.  The pointer stays on the stack meanwhile.
 */
void hc_call(struct hc_regs *r);
asm(".pushsection .text\n"
    ".global hc_call\n"
    "hc_call:\n\t"
    "push %rbx\n\t push %rbp\n\t push %r12\n\t push %r13\n\t push %r14\n\t push %r15\n\t"
    "push %rdi\n\t"
    "mov 0(%rdi), %rax\n\t mov 8(%rdi), %rbx\n\t mov 16(%rdi), %rcx\n\t"
    "mov 24(%rdi), %rdx\n\t mov 32(%rdi), %rsi\n\t mov 48(%rdi), %rbp\n\t"
    "mov 56(%rdi), %r8\n\t mov 64(%rdi), %r9\n\t mov 72(%rdi), %r10\n\t"
    "mov 80(%rdi), %r11\n\t mov 88(%rdi), %r12\n\t mov 96(%rdi), %r13\n\t"
    "mov 104(%rdi), %r14\n\t mov 112(%rdi), %r15\n\t mov 40(%rdi), %rdi\n\t"
    "vmmcall\n\t"
    "inc %r15\n\t"
    "xchg %rdi, (%rsp)\n\t"
    "mov %rax, 0(%rdi)\n\t mov %rbx, 8(%rdi)\n\t mov %rcx, 16(%rdi)\n\t"
    "mov %rdx, 24(%rdi)\n\t mov %rsi, 32(%rdi)\n\t mov %rbp, 48(%rdi)\n\t"
    "mov %r8, 56(%rdi)\n\t mov %r9, 64(%rdi)\n\t mov %r10, 72(%rdi)\n\t"
    "mov %r11, 80(%rdi)\n\t mov %r12, 88(%rdi)\n\t mov %r13, 96(%rdi)\n\t"
    "mov %r14, 104(%rdi)\n\t mov %r15, 112(%rdi)\n\t"
    "pop %rax\n\t mov %rax, 40(%rdi)\n\t"
    "pop %r15\n\t pop %r14\n\t pop %r13\n\t pop %r12\n\t pop %rbp\n\t pop %rbx\n\t"
    "ret\n"
    ".popsection");

_Static_assert(offsetof(struct hc_regs, rdi) == 40, "hc_regs.rdi");
_Static_assert(offsetof(struct hc_regs, r15) == 112, "hc_regs.r15");

/*
 * hc_compat(rax, cs32, cs64): far-returns to the compatibility-mode code
 * segment cs32, executes VMMCALL there with RAX as given (its upper half
 * set in 64-bit mode), far-returns to cs64 and gives back RAX.
 */
uint64_t hc_compat(uint64_t rax, uint64_t cs32, uint64_t cs64);
asm(".pushsection .text\n"
    ".global hc_compat\n"
    "hc_compat:\n\t"
    "mov %rdi, %rax\n\t"
    "lea 1f(%rip), %rcx\n\t"
    "push %rsi\n\t"
    "push %rcx\n\t"
    "lretq\n"
    ".code32\n"
    "1:\n\t"
    "vmmcall\n\t"
    "push %edx\n\t"
    "push $2f\n\t"
    "lret\n"
    ".code64\n"
    "2:\n\t"
    "ret\n"
    ".popsection");

static const uint64_t SEED[15] = {
	0, 0xb0b0b0b0b0b0b0b0ull, 0xc0c0c0c0c0c0c0c0ull, 0xd0d0d0d0d0d0d0d0ull,
	0x5151515151515151ull, 0xd1d1d1d1d1d1d1d1ull, 0xbbbbbbbbbbbbbbbbull,
	0x0808080808080808ull, 0x0909090909090909ull, 0x1010101010101010ull,
	0x1111111111111111ull, 0x1212121212121212ull, 0x1313131313131313ull,
	0x1414141414141414ull, 0x1515151515151515ull,
};

static void seed_regs(struct hc_regs *r, uint64_t nr)
{
	memcpy(r, SEED, sizeof(*r));
	r->rax = nr;
}

/* RAX is the result; every other register is as it was, but R15, which
 * the INC after the VMMCALL incremented exactly once. */
static void check_call(const char *name, uint64_t nr, uint64_t a0, uint64_t want)
{
	struct hc_regs in, out;
	const uint64_t *o = (const uint64_t *)&out, *i = (const uint64_t *)&in;

	seed_regs(&in, nr);
	in.rbx = a0;
	out = in;
	hc_call(&out);
	if (out.rax != want) {
		report_fail(name, "rax 0x%lx, want 0x%lx", out.rax, want);
		return;
	}
	if (out.r15 != in.r15 + 1) {
		report_fail(name, "the instruction after VMMCALL ran %ld times",
			    (long)(out.r15 - in.r15));
		return;
	}
	for (size_t k = 1; k < 14; k++) {
		if (o[k] != i[k]) {
			report_fail(name, "register #%zu changed: 0x%lx, was 0x%lx",
				    k, o[k], i[k]);
			return;
		}
	}
	report_pass(name);
}

/* ---- CPL 3 ---- */

static struct hc_regs user_regs;

static void user_hypercall(void *arg)
{
	(void)arg;
	hc_call(&user_regs);
}

static void test_cpl3(void)
{
	struct hc_regs in;
	int vec;

	seed_regs(&in, KVM_HC_VAPIC_POLL_IRQ);
	user_regs = in;
	vec = run_in_user(user_hypercall, NULL, NULL);
	if (vec != -1) {
		report_fail("CPL 3 hypercall: -KVM_EPERM", "exception %d", vec);
		return;
	}
	report_eq("CPL 3 hypercall: -KVM_EPERM", user_regs.rax, (uint64_t)-KVM_EPERM);
	report_eq("CPL 3 hypercall: RBX..RSI unchanged",
		  (user_regs.rbx ^ in.rbx) | (user_regs.rcx ^ in.rcx) |
		  (user_regs.rdx ^ in.rdx) | (user_regs.rsi ^ in.rsi), 0);
}

/* ---- compatibility mode ---- */

static volatile uint64_t compat_rax;

static void user_compat(void *arg)
{
	compat_rax = hc_compat(*(const uint64_t *)arg, USER_CS32, USER_CS);
}

static void test_compat(void)
{
	uint64_t nr = 0xdeadbeef00000000ull | KVM_HC_VAPIC_POLL_IRQ;
	uint64_t unknown = 0xdeadbeef0000ffffull;
	int vec;

	/* the upper half of RAX is not part of the number: nr is 1 */
	report_eq("compatibility mode: RAX[63:32] ignored, result 0",
		  hc_compat(nr, KERNEL_CS32, KERNEL_CS), 0);
	/* -1000 as a 32-bit result: RAX[63:32] are zero */
	report_eq("compatibility mode: unknown number, 32-bit -KVM_ENOSYS",
		  hc_compat(unknown, KERNEL_CS32, KERNEL_CS),
		  (uint32_t)-KVM_ENOSYS);
	compat_rax = 0;
	vec = run_in_user(user_compat, &nr, NULL);
	if (vec != -1)
		report_fail("compatibility mode CPL 3: 32-bit -KVM_EPERM",
			    "exception %d", vec);
	else
		report_eq("compatibility mode CPL 3: 32-bit -KVM_EPERM", compat_rax,
			  (uint32_t)-KVM_EPERM);
}

static bool kvm_signature(uint32_t *features)
{
	uint32_t a, b, c, d;
	char sig[13];

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 31)))
		return false;
	cpuid(0x40000000u, 0, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	if (memcmp(sig, "KVMKVMKVM\0\0\0", 12) || a < 0x40000001u)
		return false;
	cpuid(0x40000001u, 0, features, &b, &c, &d);
	return true;
}

int main(void)
{
	uint32_t features;

	if (!kvm_signature(&features)) {
		report_skip("hypercalls", "no KVM hypervisor signature at CPUID 0x40000000");
		return report_summary();
	}
	check_call("KVM_HC_VAPIC_POLL_IRQ: 0, RIP + 3, other registers kept",
		   KVM_HC_VAPIC_POLL_IRQ, 0, 0);
	if (features & KVM_FEATURE_PV_SCHED_YIELD)
		check_call("KVM_HC_SCHED_YIELD: 0", KVM_HC_SCHED_YIELD, 0, 0);
	else
		report_skip("KVM_HC_SCHED_YIELD: 0", "PV_SCHED_YIELD not advertised");
	check_call("unknown number: -KVM_ENOSYS", 0xffff, 0, (uint64_t)-KVM_ENOSYS);
	check_call("KVM_HC_MMU_OP (removed): -KVM_ENOSYS", KVM_HC_MMU_OP, 0,
		   (uint64_t)-KVM_ENOSYS);
	if (!(features & KVM_FEATURE_PV_UNHALT))
		check_call("KVM_HC_KICK_CPU without PV_UNHALT: -KVM_ENOSYS",
			   KVM_HC_KICK_CPU, 0, (uint64_t)-KVM_ENOSYS);
	check_call("64-bit mode: RAX[63:32] are part of the number",
		   (1ull << 32) | KVM_HC_VAPIC_POLL_IRQ, 0, (uint64_t)-KVM_ENOSYS);
	test_cpl3();
	test_compat();

	/* the VMMCALL intercept comes before EFER.SVME's #UD */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_SVME);
	check_call("EFER.SVME = 0: still a hypercall", KVM_HC_VAPIC_POLL_IRQ, 0, 0);
	return report_summary();
}
