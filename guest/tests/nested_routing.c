/*
 * Routing, both ways, for the exits nsvm's L0 always intercepts (CPUID,
 * IOIO, MSR, HLT, SHUTDOWN, VMRUN, VMLOAD, VMSAVE, STGI, CLGI, SKINIT,
 * INVLPGA, VMMCALL): with vmcb12's intercept set, L1 gets the #VMEXIT; with
 * it clear, L2 sees the instruction do what the APM says it does — the
 * device is reached, the MSR read or written, the VMCB loaded or saved —
 * and L1 gets no exit for it.  The exits L0 does not intercept are covered
 * by the svm_* payloads, which run nested too.
 *
 * Also: an exception that results from such an instruction (#GP of a bad
 * MSR, #UD of SKINIT) is an exception of L2 like any other: L1 gets it as
 * #VMEXIT when it intercepts the vector.  And an SVM instruction in an L2
 * whose EFER.SVME is clear is #UD before any intercept (APM vol. 3).
 * Every line is the same bare and nested.
 */
#include "svm.h"

#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })
#define SCRATCH_PORT (SERIAL_PORT + 7)   /* 8250 scratch register */
#define MSR_PAT 0x277

static struct svm_vcpu vcpu;
static uint8_t *page;           /* a page L2 may use (VMCB image, buffers) */

/* ---- L2 faults: counted, then stepped over ---- */

static volatile int l2_vec, l2_count;
static volatile uint64_t l2_rip;
static uint64_t l2_end;

/* Where L2 goes when its code's end faults too: HLT, intercepted. */
extern char l2_bail[];
asm(".pushsection .text\n"
    "l2_bail:\n\t"
    "hlt\n\t"
    "ud2\n"
    ".popsection");

/* A fault ends L2's code: it resumes at the VMMCALL after it, so that a
 * fault in the wrong place is reported (l2_rip), never run into; if that
 * faults as well, at an intercepted HLT. */
static void l2_fault(struct ex_regs *r)
{
	l2_vec = (int)r->vector;
	l2_count++;
	if (r->rip == l2_end || l2_count > 4) {
		r->rip = (uint64_t)l2_bail;
		return;
	}
	l2_rip = r->rip;
	r->rip = l2_end;
}

/* L2 runs code, then the VMMCALL svm_vcpu_set_code appends (intercepted).
 * skip: the length of the code's last instruction, if the test expects it
 * to fault (documentation only: every fault resumes at the VMMCALL). */
static uint64_t prepare(const uint8_t *code, size_t len, uint64_t skip)
{
	uint64_t start;

	(void)skip;
	svm_vcpu_init(&vcpu, NULL);
	l2_vec = -1;
	l2_count = 0;
	l2_rip = 0;
	start = svm_vcpu_set_code(&vcpu, code, len);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_HLT);
	l2_end = start + len;
	return start;
}

static uint64_t go(void)
{
	set_exception_handler(UD_VECTOR, l2_fault);
	set_exception_handler(GP_VECTOR, l2_fault);
	svm_vmrun(&vcpu);
	set_exception_handler(UD_VECTOR, NULL);
	set_exception_handler(GP_VECTOR, NULL);
	return vcpu.vmcb->control.exit_code;
}

/* The run ended at the VMMCALL after the code: no exit for the code. */
static void check_ran_through(struct svm_check *c, uint64_t start, size_t len)
{
	svm_check_exit(c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(c, "rip", vcpu.vmcb->save.rip, start + len);
}

/* ---- CPUID ---- */

static void test_cpuid(void)
{
	uint32_t a, b, c, d;
	struct svm_check k;
	uint64_t start;

	start = prepare(BYTES(0x0f, 0xa2), 0);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CPUID);
	go();
	svm_check_begin(&k, "CPUID intercepted by L1: #VMEXIT(CPUID)");
	svm_check_exit(&k, &vcpu, SVM_EXIT_CPUID, 0, 0);
	svm_check_eq(&k, "rip", vcpu.vmcb->save.rip, start);
	svm_check_end(&k);

	cpuid(0x80000001u, 0, &a, &b, &c, &d);
	start = prepare(BYTES(0x0f, 0xa2), 0);
	vcpu.vmcb->save.rax = 0x80000001u;
	vcpu.regs.rcx = 0;
	go();
	svm_check_begin(&k, "CPUID not intercepted: L2 sees L1's CPU");
	check_ran_through(&k, start, 2);
	svm_check_eq(&k, "eax", vcpu.vmcb->save.rax, a);
	svm_check_eq(&k, "ebx", vcpu.regs.rbx, b);
	svm_check_eq(&k, "ecx", vcpu.regs.rcx, c);
	svm_check_eq(&k, "edx", vcpu.regs.rdx, d);
	svm_check_end(&k);
}

/* ---- IOIO ---- */

/* mov $0x5a, %al; mov $0x3ff, %dx; out %al, (%dx) */
#define OUT_SCRATCH BYTES(0xb0, 0x5a, 0x66, 0xba, 0xff, 0x03, 0xee)

static void test_out(const char *name, bool prot, bool bit)
{
	struct svm_check k;
	uint64_t start;

	outb(0, SCRATCH_PORT);
	start = prepare(OUT_SCRATCH, 0);
	svm_iopm_clear_all();
	svm_iopm_set(SCRATCH_PORT, bit);
	if (prot)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_IOIO_PROT);
	go();
	svm_check_begin(&k, name);
	if (prot && bit) {
		svm_check_eq(&k, "exit", vcpu.vmcb->control.exit_code, SVM_EXIT_IOIO);
		svm_check_eq(&k, "port", vcpu.vmcb->control.exit_info_1 >> 16, SCRATCH_PORT);
		svm_check_eq(&k, "rip", vcpu.vmcb->save.rip, start + 6);
		svm_check_eq(&k, "device not reached", inb(SCRATCH_PORT), 0);
	} else {
		check_ran_through(&k, start, 7);
		svm_check_eq(&k, "scratch register", inb(SCRATCH_PORT), 0x5a);
	}
	svm_check_end(&k);
	svm_iopm_clear_all();
}

/* in (%dx), %al with DX = the scratch port: AL gets what L1 wrote */
static void test_in(void)
{
	struct svm_check k;
	uint64_t start;

	outb(0xa5, SCRATCH_PORT);
	start = prepare(BYTES(0xec), 0);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_IOIO_PROT);
	vcpu.vmcb->save.rax = 0x1122334455667700ull;
	vcpu.regs.rdx = SCRATCH_PORT;
	go();
	svm_check_begin(&k, "IN not in L1's IOPM: L2 reads the device, RAX[63:8] kept");
	check_ran_through(&k, start, 1);
	svm_check_eq(&k, "rax", vcpu.vmcb->save.rax, 0x11223344556677a5ull);
	svm_check_end(&k);
}

/* rep outsb (3 bytes) then rep insb (2 bytes), not intercepted */
static void test_string_io(void)
{
	struct svm_check k;
	uint64_t start;

	memset(page, 0, 64);
	page[0] = 0x11;
	page[1] = 0x22;
	page[2] = 0x33;
	start = prepare(BYTES(0xf3, 0x6e), 0);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_IOIO_PROT);
	vcpu.regs.rsi = (uint64_t)page;
	vcpu.regs.rcx = 3;
	vcpu.regs.rdx = SCRATCH_PORT;
	go();
	svm_check_begin(&k, "REP OUTSB not in L1's IOPM: every byte reaches the device");
	check_ran_through(&k, start, 2);
	svm_check_eq(&k, "rcx", vcpu.regs.rcx, 0);
	svm_check_eq(&k, "rsi", vcpu.regs.rsi, (uint64_t)page + 3);
	svm_check_eq(&k, "scratch register", inb(SCRATCH_PORT), 0x33);
	svm_check_end(&k);

	start = prepare(BYTES(0xf3, 0x6c), 0);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_IOIO_PROT);
	vcpu.regs.rdi = (uint64_t)page + 8;
	vcpu.regs.rcx = 2;
	vcpu.regs.rdx = SCRATCH_PORT;
	go();
	svm_check_begin(&k, "REP INSB not in L1's IOPM: L2's memory gets the device's bytes");
	check_ran_through(&k, start, 2);
	svm_check_eq(&k, "rcx", vcpu.regs.rcx, 0);
	svm_check_eq(&k, "rdi", vcpu.regs.rdi, (uint64_t)page + 10);
	svm_check_eq(&k, "bytes", page[8] | page[9] << 8 | page[10] << 16, 0x3333);
	svm_check_end(&k);
}

/* ---- MSR ---- */

/* rdmsr; mov %rdx, %rdi; mov %ebx, %edx; xor %eax, %eax; wrmsr — with
 * ECX = STAR: L2 reads L1's STAR, then writes RBX:0 */
static void test_msr(const char *name, bool prot, bool rd, bool wr,
		     uint64_t want_exit, uint64_t want_info1)
{
	const uint64_t l1_star = 0x0023001000000000ull;
	const uint64_t l2_star = 0x001b000800000000ull;
	struct svm_check k;
	uint64_t start;

	wrmsr(MSR_STAR, l1_star);
	start = prepare(BYTES(0x0f, 0x32, 0x48, 0x89, 0xd7, 0x89, 0xda, 0x31, 0xc0,
			      0x0f, 0x30), 0);
	svm_msrpm_clear_all();
	svm_msrpm_set(MSR_STAR, rd, wr);
	if (prot)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_MSR_PROT);
	vcpu.regs.rcx = MSR_STAR;
	vcpu.regs.rbx = l2_star >> 32;
	go();
	svm_check_begin(&k, name);
	if (want_exit) {
		svm_check_exit(&k, &vcpu, want_exit, want_info1, 0);
		svm_check_eq(&k, "rip", vcpu.vmcb->save.rip, start + (want_info1 ? 9 : 0));
	} else {
		check_ran_through(&k, start, 11);
		svm_check_eq(&k, "L2 read L1's STAR (edx)", vcpu.regs.rdi, l1_star >> 32);
		svm_check_eq(&k, "L2's write reached STAR", rdmsr(MSR_STAR), l2_star);
	}
	svm_check_end(&k);
	svm_msrpm_clear_all();
	wrmsr(MSR_STAR, 0);
}

/* An MSR outside the MSRPM's ranges: always an exit under MSR_PROT; else
 * the WRMSR's #GP is L2's, and L1 gets it as #VMEXIT if it asks. */
static void test_msr_gp(void)
{
	struct svm_check k;
	uint64_t start;

	start = prepare(BYTES(0x0f, 0x30), 2);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_MSR_PROT);
	vcpu.regs.rcx = 0x40001234;
	go();
	svm_expect_exit("MSR outside the MSRPM ranges: #VMEXIT(MSR) though the map is clear",
			&vcpu, SVM_EXIT_MSR, 1, 0);

	start = prepare(BYTES(0x0f, 0x30), 2);
	vcpu.regs.rcx = 0x40001234;
	go();
	svm_check_begin(&k, "WRMSR of no MSR, not intercepted: #GP(0) in L2");
	check_ran_through(&k, start, 2);
	svm_check_eq(&k, "vector", (uint64_t)l2_vec, GP_VECTOR);
	svm_check_eq(&k, "at", l2_rip, start);
	svm_check_end(&k);

	start = prepare(BYTES(0x0f, 0x30), 2);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(GP_VECTOR));
	vcpu.regs.rcx = 0x40001234;
	go();
	svm_check_begin(&k, "WRMSR of no MSR, #GP intercepted: #VMEXIT(0x4d)");
	svm_check_exit(&k, &vcpu, SVM_EXIT_EXCP(GP_VECTOR), 0, 0);
	svm_check_eq(&k, "rip", vcpu.vmcb->save.rip, start);
	svm_check_eq(&k, "L2 handler ran", (uint64_t)l2_count, 0);
	svm_check_end(&k);
}

/* ---- the SVM instructions ---- */

static void test_svm_insn(const char *name, const uint8_t *code, size_t len,
			  unsigned intercept, uint64_t exit_code)
{
	char buf[96];
	uint64_t start;

	/* set: the exit, RIP at the instruction; the page holds L1's own
	 * VMLOAD state, so that a VMLOAD in L2 changes nothing */
	vmsave((uint64_t)page);
	start = prepare(code, len, 3);
	vcpu.vmcb->save.rax = (uint64_t)page;
	vmcb_set_intercept(vcpu.vmcb, intercept);
	go();
	snprintf(buf, sizeof(buf), "%s intercepted by L1: #VMEXIT", name);
	report(vcpu.vmcb->control.exit_code == exit_code &&
	       vcpu.vmcb->save.rip == start && l2_count == 0, buf);

	/* clear: L2 executes it; no exit until the VMMCALL after it */
	vmsave((uint64_t)page);
	start = prepare(code, len, 3);
	vcpu.vmcb->save.rax = (uint64_t)page;
	vmcb_clr_intercept(vcpu.vmcb, intercept);
	go();
	snprintf(buf, sizeof(buf), "%s not intercepted: executed in L2", name);
	report(vcpu.vmcb->control.exit_code == SVM_EXIT_VMMCALL &&
	       vcpu.vmcb->save.rip == start + 3 && l2_count == 0, buf);
}

/* VMSAVE in L2 writes L1's (shared) STAR into the page; VMLOAD in L2
 * loads the page's KernelGSBase into the CPU, which L1 then sees. */
static void test_vmload_vmsave_effects(void)
{
	const uint64_t kgs = 0xffff800012345000ull, saved = rdmsr(MSR_KERNEL_GS_BASE);
	struct vmcb *v = (struct vmcb *)page;

	vmsave((uint64_t)page);
	v->save.star = 0;
	wrmsr(MSR_STAR, 0x0013000800000000ull);
	prepare(BYTES(0x0f, 0x01, 0xdb), 3);
	vcpu.vmcb->save.rax = (uint64_t)page;
	go();
	report_eq("VMSAVE in L2: the page gets STAR", v->save.star, 0x0013000800000000ull);

	v->save.kernel_gs_base = kgs;
	prepare(BYTES(0x0f, 0x01, 0xda), 3);
	vcpu.vmcb->save.rax = (uint64_t)page;
	go();
	report_eq("VMLOAD in L2: KernelGSBase loaded", rdmsr(MSR_KERNEL_GS_BASE), kgs);
	wrmsr(MSR_KERNEL_GS_BASE, saved);
	wrmsr(MSR_STAR, 0);
}

/* SKINIT is not implemented: not intercepted, it is #UD in L2; with #UD
 * intercepted, L1 gets #VMEXIT(0x46). */
static void test_skinit(void)
{
	uint64_t start;

	start = prepare(BYTES(0x0f, 0x01, 0xde), 3);
	vcpu.vmcb->save.rax = (uint64_t)page;
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_SKINIT);
	go();
	report(vcpu.vmcb->control.exit_code == SVM_EXIT_SKINIT && vcpu.vmcb->save.rip == start,
	       "SKINIT intercepted by L1: #VMEXIT(SKINIT)");

	start = prepare(BYTES(0x0f, 0x01, 0xde), 3);
	vcpu.vmcb->save.rax = (uint64_t)page;
	go();
	report(vcpu.vmcb->control.exit_code == SVM_EXIT_VMMCALL && l2_vec == UD_VECTOR &&
	       l2_rip == start, "SKINIT not intercepted: #UD in L2");

	start = prepare(BYTES(0x0f, 0x01, 0xde), 3);
	vcpu.vmcb->save.rax = (uint64_t)page;
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(UD_VECTOR));
	go();
	report(vcpu.vmcb->control.exit_code == SVM_EXIT_EXCP(UD_VECTOR) &&
	       vcpu.vmcb->save.rip == start && l2_count == 0,
	       "SKINIT not intercepted, #UD intercepted: #VMEXIT(0x46)");
}

/* L2 clears its EFER.SVME (WRMSR, not intercepted), then VMLOAD with the
 * VMLOAD intercept set: #UD comes before the intercept. */
static void test_l2_svme_clear(void)
{
	static const uint8_t code[] = {
		0xb9, 0x80, 0x00, 0x00, 0xc0,   /* mov $MSR_EFER, %ecx */
		0x0f, 0x32,                     /* rdmsr */
		0x0f, 0xba, 0xf0, 0x0c,         /* btr $12, %eax */
		0x0f, 0x30,                     /* wrmsr */
		0x48, 0x89, 0xf8,               /* mov %rdi, %rax */
		0x0f, 0x01, 0xda,               /* vmload */
	};
	uint64_t start = prepare(code, sizeof(code), 3);
	struct svm_check k;

	vcpu.regs.rdi = (uint64_t)page;
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_VMLOAD);
	vmsave((uint64_t)page);
	go();
	svm_check_begin(&k, "L2 with EFER.SVME clear: VMLOAD is #UD before its intercept");
	check_ran_through(&k, start, sizeof(code));
	svm_check_eq(&k, "vector", (uint64_t)l2_vec, UD_VECTOR);
	svm_check_eq(&k, "at", l2_rip, start + 16);
	svm_check_eq(&k, "L2 efer.svme in vmcb12", vcpu.vmcb->save.efer & EFER_SVME, 0);
	svm_check_eq(&k, "L1 efer.svme", rdmsr(MSR_EFER) & EFER_SVME, EFER_SVME);
	svm_check_end(&k);
}

/* ---- HLT and SHUTDOWN, intercepted (not intercepted they end the run) ---- */

static void test_hlt_shutdown(void)
{
	uint64_t start;

	start = prepare(BYTES(0xf4), 0);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_HLT);
	go();
	report(vcpu.vmcb->control.exit_code == SVM_EXIT_HLT && vcpu.vmcb->save.rip == start,
	       "HLT intercepted by L1: #VMEXIT(HLT)");

	/* ud2 with an IDT of limit 0: #UD, #GP, #DF can't be delivered */
	prepare(BYTES(0x0f, 0x0b), 0);
	vcpu.vmcb->save.idtr.limit = 0;
	go();
	report(vcpu.vmcb->control.exit_code == SVM_EXIT_SHUTDOWN,
	       "triple fault in L2, SHUTDOWN intercepted by L1: #VMEXIT(SHUTDOWN)");
}

/* ---- L1 single-steps instructions L0 emulates: #DB after each ---- */

static volatile uint64_t db_rips[8];
static volatile unsigned db_count;

static void l1_db(struct ex_regs *r)
{
	if (db_count < 8)
		db_rips[db_count] = r->rip;
	db_count++;
}

/* TF on; CPUID, IN, RDMSR (each emulated by L0 in nested mode); TF off.
 * Stores the address after each of the three. */
static void single_step(uint64_t after[3])
{
	asm volatile(
		"pushfq\n\t orq $0x100, (%%rsp)\n\t popfq\n\t"
		"xor %%eax, %%eax\n\t cpuid\n1:\n\t"
		"mov $0x3ff, %%edx\n\t inb %%dx, %%al\n2:\n\t"
		"mov $0xc0000081, %%ecx\n\t rdmsr\n3:\n\t"
		"pushfq\n\t andq $~0x100, (%%rsp)\n\t popfq\n\t"
		"lea 1b(%%rip), %%rcx\n\t mov %%rcx, 0(%0)\n\t"
		"lea 2b(%%rip), %%rcx\n\t mov %%rcx, 8(%0)\n\t"
		"lea 3b(%%rip), %%rcx\n\t mov %%rcx, 16(%0)"
		:
		: "r"(after)
		: "rax", "rbx", "rcx", "rdx", "memory", "cc");
}

static void test_single_step(void)
{
	uint64_t after[3];
	bool seen[3] = { false, false, false };

	db_count = 0;
	set_exception_handler(DB_VECTOR, l1_db);
	single_step(after);
	set_exception_handler(DB_VECTOR, NULL);
	for (unsigned i = 0; i < db_count && i < 8; i++)
		for (int k = 0; k < 3; k++)
			seen[k] |= db_rips[i] == after[k];
	report(seen[0] && seen[1] && seen[2],
	       "L1 single-steps CPUID, IN, RDMSR: a #DB trap after each");
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	page = alloc_page();

	test_cpuid();
	test_out("OUT, port in L1's IOPM: #VMEXIT(IOIO), device not reached", true, true);
	test_out("OUT, port not in L1's IOPM: L2 reaches the device", true, false);
	test_out("OUT, IOIO_PROT clear: L2 reaches the device", false, true);
	test_in();
	test_string_io();
	test_msr("RDMSR in L1's MSRPM: #VMEXIT(MSR, read)", true, true, false,
		 SVM_EXIT_MSR, MSR_EXITINFO1_READ);
	test_msr("WRMSR in L1's MSRPM: #VMEXIT(MSR, write)", true, false, true,
		 SVM_EXIT_MSR, MSR_EXITINFO1_WRITE);
	test_msr("RDMSR/WRMSR not in L1's MSRPM: L2 uses the MSR", true, false, false, 0, 0);
	test_msr("RDMSR/WRMSR, MSR_PROT clear: L2 uses the MSR", false, true, true, 0, 0);
	test_msr_gp();
	test_svm_insn("VMLOAD", BYTES(0x0f, 0x01, 0xda), INTERCEPT_VMLOAD, SVM_EXIT_VMLOAD);
	test_svm_insn("VMSAVE", BYTES(0x0f, 0x01, 0xdb), INTERCEPT_VMSAVE, SVM_EXIT_VMSAVE);
	test_svm_insn("STGI", BYTES(0x0f, 0x01, 0xdc), INTERCEPT_STGI, SVM_EXIT_STGI);
	test_svm_insn("CLGI", BYTES(0x0f, 0x01, 0xdd), INTERCEPT_CLGI, SVM_EXIT_CLGI);
	test_svm_insn("INVLPGA", BYTES(0x0f, 0x01, 0xdf), INTERCEPT_INVLPGA, SVM_EXIT_INVLPGA);
	test_vmload_vmsave_effects();
	test_skinit();
	test_hlt_shutdown();
	test_single_step();
	test_l2_svme_clear();
	return report_summary();
}
