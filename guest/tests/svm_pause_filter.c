/*
 * Pause intercept filtering (APM vol. 2, 15.14.4; CPUID 8000_000A EDX[10]
 * PauseFilter, EDX[12] PauseFilterThreshold).
 *
 * VMRUN loads an internal counter from PAUSE_FILTER_COUNT (VMCB 0x03E);
 * with the PAUSE intercept set, each PAUSE decrements it and the PAUSE
 * that finds it at zero is #VMEXIT(PAUSE): a count of N lets N PAUSEs
 * complete.  With PAUSE_FILTER_THRESHOLD (0x03C) not zero, a PAUSE more
 * than that many cycles after the previous one reloads the counter first,
 * so PAUSEs spread out in time never exit.
 *
 * L2 loops on PAUSE and counts the PAUSEs that completed in RBX.
 */
#include "svm.h"

static struct svm_vcpu vcpu;
/* why a test is skipped (the feature is not offered), else NULL */
static const char *skip_why;

/* pause; inc %rbx; [mov $delay, %ecx; 1: dec %ecx; jnz 1b;]
 * cmp $limit, %rbx; jne top  -- then VMMCALL */
static void set_loop(uint32_t delay, uint8_t limit)
{
	uint8_t c[32];
	size_t n = 0;

	c[n++] = 0xf3; c[n++] = 0x90;                   /* pause */
	c[n++] = 0x48; c[n++] = 0xff; c[n++] = 0xc3;    /* inc %rbx */
	if (delay) {
		c[n++] = 0xb9;                          /* mov $delay, %ecx */
		memcpy(&c[n], &delay, 4);
		n += 4;
		c[n++] = 0xff; c[n++] = 0xc9;           /* dec %ecx */
		c[n++] = 0x75; c[n++] = 0xfc;           /* jnz .-2 */
	}
	c[n++] = 0x48; c[n++] = 0x83; c[n++] = 0xfb; c[n++] = limit; /* cmp $limit, %rbx */
	c[n++] = 0x75; c[n] = (uint8_t)(-(int)(n + 1)); n++;        /* jne top */
	svm_vcpu_init(&vcpu, NULL);
	svm_vcpu_set_code(&vcpu, c, n);
}

static void run(bool intercept, uint16_t count, uint16_t threshold)
{
	if (intercept)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_PAUSE);
	vcpu.vmcb->control.pause_filter_count = count;
	vcpu.vmcb->control.pause_filter_thresh = threshold;
	svm_vmrun(&vcpu);
}

static void expect(const char *name, uint64_t code, uint64_t pauses)
{
	struct svm_check c;

	if (skip_why) {
		report_skip(name, skip_why);
		return;
	}
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, code, 0, 0);
	svm_check_eq(&c, "PAUSEs completed", vcpu.regs.rbx, pauses);
	svm_check_end(&c);
}

static void test_count(uint16_t count)
{
	char name[80];

	set_loop(0, 100);
	run(true, count, 0);
	snprintf(name, sizeof(name), "count %u: PAUSE number %u exits", count, count + 1);
	expect(name, SVM_EXIT_PAUSE, count);
	snprintf(name, sizeof(name),
		 "count %u: RIP at the PAUSE, which has not completed", count);
	if (skip_why)
		report_skip(name, skip_why);
	else
		report(vcpu.vmcb->save.rip == (uint64_t)vcpu.code &&
		       vcpu.vmcb->control.exit_code == SVM_EXIT_PAUSE, name);
}

static void test_filter(void)
{
	set_loop(0, 20);
	run(false, 0, 0);
	expect("no PAUSE intercept: 20 PAUSEs, no exit", SVM_EXIT_VMMCALL, 20);

	set_loop(0, 20);
	run(false, 3, 0);
	expect("no PAUSE intercept, count 3: no exit", SVM_EXIT_VMMCALL, 20);

	test_count(0);
	test_count(1);
	test_count(7);
	test_count(60);

	/* the exit leaves RIP at the PAUSE; the next VMRUN reloads the count */
	set_loop(0, 100);
	run(true, 7, 0);
	svm_vmrun(&vcpu);
	expect("VMRUN reloads the counter: 7 more PAUSEs, then an exit",
	       SVM_EXIT_PAUSE, 14);
}

static void test_threshold(void)
{
	/* PAUSEs about 20 cycles apart, threshold 5000: they add up */
	set_loop(10, 50);
	run(true, 5, 5000);
	expect("threshold 5000, PAUSEs close together: PAUSE number 6 exits",
	       SVM_EXIT_PAUSE, 5);

	/* PAUSEs some 40000 cycles apart: each one reloads the counter */
	set_loop(20000, 12);
	run(true, 5, 5000);
	expect("threshold 5000, PAUSEs far apart: the counter reloads, no exit",
	       SVM_EXIT_VMMCALL, 12);

	/* a threshold of 0 is the count alone */
	set_loop(20000, 12);
	run(true, 5, 0);
	expect("threshold 0, PAUSEs far apart: PAUSE number 6 exits",
	       SVM_EXIT_PAUSE, 5);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	/* without the feature the VMCB fields are ignored: every intercepted
	 * PAUSE exits, so the tests are skipped by name */
	if (!svm_has(SVM_FEATURE_PAUSE_FILTER))
		skip_why = "CPUID 0x8000000A EDX[10] PauseFilter is clear";
	test_filter();
	if (!svm_has(SVM_FEATURE_PF_THRESHOLD))
		skip_why = "CPUID 0x8000000A EDX[12] PauseFilterThreshold is clear";
	test_threshold();
	return report_summary();
}
