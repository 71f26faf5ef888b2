/*
 * Event injection (APM vol. 2, 15.20): VMRUN delivers the event in EVENTINJ
 * through L2's IDT before L2's first instruction, as if it had occurred in
 * L2 (with the error code when EV = 1), whatever RFLAGS.IF is; for TYPE = NMI
 * the vector field is ignored and vector 2 is used.  Injected events are not
 * subject to intercepts.
 */
#include "svm.h"

struct inj_case {
	const char *name;
	uint32_t type;
	uint32_t vector;        /* EVENTINJ vector field */
	int delivered;          /* vector L2's IDT sees */
	bool ev;
	uint32_t err;
	unsigned intercept;     /* an intercept that must not apply (0: none) */
};

static const struct inj_case cases[] = {
	{ "external interrupt 0x30", EVENTINJ_TYPE_INTR, 0x30, 0x30, false, 0, 0 },
	{ "NMI", EVENTINJ_TYPE_NMI, NMI_VECTOR, NMI_VECTOR, false, 0, 0 },
	{ "NMI with vector field 0 (ignored)", EVENTINJ_TYPE_NMI, 0, NMI_VECTOR, false, 0, 0 },
	{ "exception #UD (no error code)", EVENTINJ_TYPE_EXCEPTION, UD_VECTOR, UD_VECTOR, false, 0, 0 },
	{ "exception #GP with error code", EVENTINJ_TYPE_EXCEPTION, GP_VECTOR, GP_VECTOR, true, 0x1234, 0 },
	{ "exception #PF with error code", EVENTINJ_TYPE_EXCEPTION, PF_VECTOR, PF_VECTOR, true, PFERR_W | PFERR_P, 0 },
	{ "software interrupt 0x31", EVENTINJ_TYPE_SOFT_INT, 0x31, 0x31, false, 0, 0 },
	/* not subject to intercepts */
	{ "exception #UD with #UD intercepted", EVENTINJ_TYPE_EXCEPTION, UD_VECTOR, UD_VECTOR,
	  false, 0, INTERCEPT_EXCEPTION(UD_VECTOR) },
	{ "exception #GP with #GP intercepted", EVENTINJ_TYPE_EXCEPTION, GP_VECTOR, GP_VECTOR,
	  true, 0, INTERCEPT_EXCEPTION(GP_VECTOR) },
	{ "external interrupt with INTR intercepted", EVENTINJ_TYPE_INTR, 0x30, 0x30, false, 0,
	  INTERCEPT_INTR },
	{ "NMI with NMI intercepted", EVENTINJ_TYPE_NMI, NMI_VECTOR, NMI_VECTOR, false, 0, INTERCEPT_NMI },
	{ "software interrupt with INTn intercepted", EVENTINJ_TYPE_SOFT_INT, 0x31, 0x31, false, 0,
	  INTERCEPT_INTN },
};

static struct svm_vcpu vcpu;
static volatile int seen_vector, seen_count;
static volatile uint64_t seen_rip, seen_err, seen_rflags;

static void l2_handler(struct ex_regs *r)
{
	seen_vector = (int)r->vector;
	seen_count++;
	seen_rip = r->rip;
	seen_err = r->error_code;
	seen_rflags = r->rflags;
}

static const int vectors[] = { NMI_VECTOR, UD_VECTOR, GP_VECTOR, PF_VECTOR, 0x30, 0x31 };

static void test_case(const struct inj_case *k)
{
	static const uint8_t nop[] = { 0x90 };
	struct svm_check c;
	char name[128];
	uint64_t start;

	svm_vcpu_init(&vcpu, NULL);
	start = svm_vcpu_set_code(&vcpu, nop, sizeof(nop));
	vcpu.vmcb->control.event_inj = EVENTINJ_V | k->type | k->vector | (k->ev ? EVENTINJ_EV : 0);
	vcpu.vmcb->control.event_inj_err = k->err;
	/* a software interrupt returns to nRIP where it is saved: keep both equal */
	vcpu.vmcb->control.next_rip = start;
	if (k->intercept)
		vmcb_set_intercept(vcpu.vmcb, k->intercept);
	seen_vector = -1;
	seen_count = 0;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++)
		set_exception_handler(vectors[i], l2_handler);
	svm_vmrun(&vcpu);
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++)
		set_exception_handler(vectors[i], NULL);

	snprintf(name, sizeof(name), "EVENTINJ %s: delivered to L2", k->name);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, start + sizeof(nop));
	svm_check_eq(&c, "L2 vector", (uint64_t)seen_vector, (uint64_t)k->delivered);
	svm_check_eq(&c, "deliveries", (uint64_t)seen_count, 1);
	svm_check_eq(&c, "frame rip", seen_rip, start);
	svm_check_eq(&c, "frame rflags.IF", seen_rflags & RFLAGS_IF, 0);
	if (k->ev)
		svm_check_eq(&c, "error code", seen_err, k->err);
	svm_check_eq(&c, "exitintinfo.V", vcpu.vmcb->control.exit_int_info & EVENTINJ_V, 0);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		test_case(&cases[i]);
	return report_summary();
}
