/*
 * The TSC ratio MSR (APM vol. 2, 15.30.5; CPUID 8000_000A EDX[4]).
 *
 * TSC_RATIO (MSR C000_0104h) is an 8.32 fixed-point multiplier, 1.0
 * (0x1_0000_0000) at reset; bits 63:40 are reserved (#GP).  In guest mode
 * the guest reads host TSC x TSC_RATIO + TSC_OFFSET (RDTSC, RDTSCP, RDMSR
 * of the TSC); outside guest mode the ratio does not apply.
 *
 * L2 reads the TSC twice around a fixed run of NOPs.  The two reads are D
 * host cycles apart, which L1 measures with the ratio at 1.0; with ratio r
 * the difference of the two scaled reads is D x r, to within one (each
 * read is truncated).  The first read itself lies between L1's TSC before
 * VMRUN and after #VMEXIT, scaled, plus the offset.
 */
#include "svm.h"

#define MSR_TSC       0x10
#define RATIO_ONE     0x100000000ull
#define NOPS          1000

static struct svm_vcpu vcpu;
/* without the TSC ratio MSR every test is skipped by name */
static const char *skip_why;

static void report_or_skip(bool ok, const char *name)
{
	if (skip_why)
		report_skip(name, skip_why);
	else
		report(ok, name);
}
static uint8_t code[NOPS + 64];
static size_t code_len;

/* rdtsc / rdtscp / rdmsr(TSC) into RBX, NOPS nops, the same into RCX. */
enum reader { RDTSC, RDTSCP, RDMSR };

static size_t emit_read(uint8_t *p, enum reader r, unsigned dst)
{
	size_t n = 0;

	switch (r) {
	case RDTSC:  p[n++] = 0x0f; p[n++] = 0x31; break;
	case RDTSCP: p[n++] = 0x0f; p[n++] = 0x01; p[n++] = 0xf9; break;
	case RDMSR:  /* mov $0x10, %ecx; rdmsr */
		p[n++] = 0xb9; p[n++] = MSR_TSC; p[n++] = 0; p[n++] = 0; p[n++] = 0;
		p[n++] = 0x0f; p[n++] = 0x32; break;
	}
	/* shl $32, %rdx; or %rax, %rdx; mov %rdx, %dst */
	p[n++] = 0x48; p[n++] = 0xc1; p[n++] = 0xe2; p[n++] = 0x20;
	p[n++] = 0x48; p[n++] = 0x09; p[n++] = 0xc2;
	p[n++] = 0x49; p[n++] = 0x89; p[n++] = (uint8_t)(0xd0 | dst);   /* r8+dst */
	return n;
}

static void build_code(enum reader r)
{
	size_t n = emit_read(code, r, 0);                /* %r8 */
	for (int i = 0; i < NOPS; i++)
		code[n++] = 0x90;
	n += emit_read(code + n, r, 1);                  /* %r9 */
	code_len = n;
}

struct sample {
	uint64_t t1, t2;        /* L2's two reads */
	uint64_t before, after; /* L1's TSC around VMRUN */
	uint32_t aux;           /* RDTSCP: ECX */
	uint64_t exit_code;
};

static struct sample run_l2(enum reader r, uint64_t ratio, uint64_t offset)
{
	struct sample s;

	build_code(r);
	svm_vcpu_init(&vcpu, NULL);
	svm_vcpu_set_code(&vcpu, code, code_len);
	vcpu.vmcb->control.tsc_offset = offset;
	wrmsr(MSR_TSC_RATIO, ratio);
	s.before = rdtsc();
	s.exit_code = svm_vmrun(&vcpu);
	s.after = rdtsc();
	wrmsr(MSR_TSC_RATIO, RATIO_ONE);
	s.t1 = vcpu.regs.r8;
	s.t2 = vcpu.regs.r9;
	s.aux = (uint32_t)vcpu.regs.rcx;
	return s;
}

static uint64_t scale(uint64_t tsc, uint64_t ratio)
{
	return (uint64_t)(((unsigned __int128)tsc * ratio) >> 32);
}

/* |got - d x ratio| < 1 */
static bool scaled_delta_ok(uint64_t got, uint64_t d, uint64_t ratio)
{
	unsigned __int128 exact = (unsigned __int128)d * ratio;
	unsigned __int128 g = (unsigned __int128)got << 32;

	return g > exact ? g - exact < RATIO_ONE : exact - g < RATIO_ONE;
}

static void test_msr(void)
{
	uint64_t v = 0;

	if (skip_why) {
		report_skip("TSC_RATIO reads 0x1_0000_0000 (1.0) at reset", skip_why);
		report_skip("TSC_RATIO bit 40 set: #GP", skip_why);
		report_skip("TSC_RATIO bit 63 set: #GP", skip_why);
		report_skip("TSC_RATIO takes 255.5 (bits 39:0)", skip_why);
		return;
	}
	report(rdmsr_safe(MSR_TSC_RATIO, &v) < 0 && v == RATIO_ONE,
	       "TSC_RATIO reads 0x1_0000_0000 (1.0) at reset");
	report(wrmsr_safe(MSR_TSC_RATIO, 1ull << 40) == GP_VECTOR,
	       "TSC_RATIO bit 40 set: #GP");
	report(wrmsr_safe(MSR_TSC_RATIO, 1ull << 63) == GP_VECTOR,
	       "TSC_RATIO bit 63 set: #GP");
	report(wrmsr_safe(MSR_TSC_RATIO, 0xff80000000ull) < 0 &&
	       rdmsr(MSR_TSC_RATIO) == 0xff80000000ull,
	       "TSC_RATIO takes 255.5 (bits 39:0)");
	wrmsr(MSR_TSC_RATIO, RATIO_ONE);
}

/* L1's own TSC over the same NOPs, with the ratio at 1.0 and at 2.0. */
static uint64_t l1_delta(void)
{
	uint64_t a = rdtsc();
	asm volatile(".rept 1000\n\tnop\n\t.endr" ::: "memory");
	return rdtsc() - a;
}

static void test_host_unaffected(void)
{
	uint64_t d1 = l1_delta(), d2;

	if (skip_why) {
		report_skip("outside guest mode the ratio does not apply", skip_why);
		return;
	}
	wrmsr(MSR_TSC_RATIO, 2 * RATIO_ONE);
	d2 = l1_delta();
	wrmsr(MSR_TSC_RATIO, RATIO_ONE);
	report(d2 < d1 + d1 / 2, "outside guest mode the ratio does not apply");
}

static const char *reader_name(enum reader r)
{
	return r == RDTSC ? "RDTSC" : r == RDTSCP ? "RDTSCP" : "RDMSR TSC";
}

static void test_ratio(enum reader r, uint64_t d, uint64_t ratio,
		       const char *rname, uint64_t offset)
{
	struct sample s;
	struct svm_check c;
	char name[96];

	snprintf(name, sizeof(name), "%s in L2, ratio %s, offset 0x%llx",
		 reader_name(r), rname, (unsigned long long)offset);
	if (skip_why) {
		report_skip(name, skip_why);
		return;
	}
	s = run_l2(r, ratio, offset);
	svm_check_begin(&c, name);
	svm_check_eq(&c, "exit", s.exit_code, SVM_EXIT_VMMCALL);
	if (!scaled_delta_ok(s.t2 - s.t1, d, ratio))
		svm_check_eq(&c, "t2 - t1 (D x ratio)", s.t2 - s.t1, scale(d, ratio));
	svm_check_true(&c, "t1 - offset >= before x ratio",
		       s.t1 - offset >= scale(s.before, ratio));
	svm_check_true(&c, "t1 - offset <= after x ratio",
		       s.t1 - offset <= scale(s.after, ratio));
	if (r == RDTSCP)
		svm_check_eq(&c, "ecx (TSC_AUX)", s.aux, 0x5a);
	svm_check_end(&c);
}

int main(void)
{
	static const struct {
		uint64_t ratio;
		const char *name;
		uint64_t offset;
	} ratios[] = {
		{ 2 * RATIO_ONE, "2.0", 0 },
		{ RATIO_ONE / 2, "0.5", 0x1000000000ull },
		{ RATIO_ONE + RATIO_ONE / 2, "1.5", 0 },
		{ 0x1234567890ull, "0x12.34567890", (uint64_t)-0x100000ll },
	};

	if (svm_skip_if_unsupported())
		return report_summary();
	if (!svm_has(SVM_FEATURE_TSC_RATE))
		skip_why = "CPUID 0x8000000A EDX[4] TscRateMsr is clear";
	svm_enable();
	wrmsr(MSR_TSC_AUX, 0x5a);
	test_msr();
	test_host_unaffected();
	for (int r = RDTSC; r <= RDMSR; r++) {
		struct sample base = { 0 };
		uint64_t d;

		if (!skip_why)
			base = run_l2((enum reader)r, RATIO_ONE, 0);
		d = base.t2 - base.t1;
		report_or_skip(base.exit_code == SVM_EXIT_VMMCALL && d >= NOPS,
		       r == RDTSC ? "RDTSC in L2, ratio 1.0: D cycles over the NOPs" :
		       r == RDTSCP ? "RDTSCP in L2, ratio 1.0: D cycles over the NOPs" :
		       "RDMSR TSC in L2, ratio 1.0: D cycles over the NOPs");
		for (size_t i = 0; i < ARRAY_SIZE(ratios); i++)
			test_ratio((enum reader)r, d, ratios[i].ratio, ratios[i].name,
				   ratios[i].offset);
	}
	return report_summary();
}
