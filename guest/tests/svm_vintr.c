/*
 * SVM's virtual interrupts (APM vol. 2, 15.21): V_IRQ with V_INTR_VECTOR,
 * V_INTR_PRIO, V_IGN_TPR and V_TPR; the VINTR intercept; V_INTR_MASKING
 * (physical interrupts are masked by the host's RFLAGS.IF; the guest's CR8
 * as V_TPR is in svm_vtpr.c); the interrupt shadow in the VMCB's interrupt state; virtual
 * GIF (15.33.2) and virtual NMI (15.21.10).
 *
 * L2 shares L1's IDT, so the handlers below run in L2 when the virtual
 * interrupt or NMI is delivered there; they record RBX and RIP of the
 * interrupted L2 code, which counts instructions with INC RBX, so each
 * test knows after exactly which instruction the event was taken.
 */
#include "svm.h"

#define VVEC        0x41        /* V_INTR_VECTOR */
#define PIPI_VEC    0xe1        /* a physical self-IPI */
#define APIC_MMIO   0xfee00000ull
#define APIC_EOI    0x0b0
#define APIC_SVR    0x0f0
#define APIC_ICR_LO 0x300
#define ICR_SELF    (1u << 18)
#define VM_CR_MSR   0xc0010114u

static struct svm_vcpu vcpu;
static volatile unsigned vcount, ncount, pcount;
static volatile uint64_t v_rbx, v_rip, n_rbx;

static void apic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(APIC_MMIO + reg) = v;
}

static void vintr_handler(struct ex_regs *r)
{
	vcount++;
	v_rbx = r->rbx;
	v_rip = r->rip;
}

static void vnmi_handler(struct ex_regs *r)
{
	ncount++;
	n_rbx = r->rbx;
}

static void pipi_handler(struct ex_regs *r)
{
	(void)r;
	pcount++;
	apic_write(APIC_EOI, 0);
}

/* L2 code: INC RBX (48 FF C3) n times after the given prefix. */
static uint64_t l2_code(const uint8_t *prefix, size_t plen, unsigned incs)
{
	uint8_t buf[64];
	size_t len = 0;

	for (size_t i = 0; i < plen; i++)
		buf[len++] = prefix[i];
	for (unsigned i = 0; i < incs; i++) {
		buf[len++] = 0x48;
		buf[len++] = 0xff;
		buf[len++] = 0xc3;
	}
	return svm_vcpu_set_code(&vcpu, buf, len);
}

static void setup(uint32_t int_ctl, bool l2_if)
{
	svm_vcpu_init(&vcpu, NULL);
	vcpu.vmcb->control.int_ctl = int_ctl;
	vcpu.vmcb->control.int_vector = VVEC;
	if (l2_if)
		vcpu.vmcb->save.rflags |= RFLAGS_IF;
	else
		vcpu.vmcb->save.rflags &= ~(uint64_t)RFLAGS_IF;
	vcount = ncount = pcount = 0;
	v_rbx = v_rip = n_rbx = ~0ull;
}

#define PRIO(p) ((uint32_t)(p) << INT_CTL_V_INTR_PRIO_SHIFT)

/* V_IRQ with IF = 1: taken before L2's first instruction; V_IRQ cleared. */
static void test_virq_taken(void)
{
	struct svm_check c;
	uint64_t start;

	setup(INT_CTL_V_IRQ | INT_CTL_V_IGN_TPR, true);
	start = l2_code(NULL, 0, 2);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "V_IRQ with IF = 1 is taken before L2's first instruction");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "taken", vcount, 1);
	svm_check_eq(&c, "at rip", v_rip, start);
	svm_check_eq(&c, "rbx then", v_rbx, 0);
	svm_check_eq(&c, "V_IRQ written back", vcpu.vmcb->control.int_ctl & INT_CTL_V_IRQ, 0);
	svm_check_eq(&c, "V_INTR_VECTOR kept", vcpu.vmcb->control.int_vector, VVEC);
	svm_check_end(&c);
}

/* IF = 0, then STI: taken after the instruction that follows STI. */
static void test_virq_sti_shadow(void)
{
	static const uint8_t sti[] = { 0xfb };
	struct svm_check c;
	uint64_t start;

	setup(INT_CTL_V_IRQ | INT_CTL_V_IGN_TPR, false);
	start = l2_code(sti, sizeof(sti), 3);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "V_IRQ waits for IF and the STI shadow");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "taken", vcount, 1);
	svm_check_eq(&c, "rbx then", v_rbx, 1);
	svm_check_eq(&c, "at rip", v_rip, start + 1 + 3);
	svm_check_end(&c);

	setup(INT_CTL_V_IRQ | INT_CTL_V_IGN_TPR, false);
	l2_code(NULL, 0, 2);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "V_IRQ with IF = 0 stays pending");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "taken", vcount, 0);
	svm_check_eq(&c, "V_IRQ still set", vcpu.vmcb->control.int_ctl & INT_CTL_V_IRQ,
		     INT_CTL_V_IRQ);
	svm_check_end(&c);
}

/* V_INTR_PRIO against V_TPR unless V_IGN_TPR. */
static void test_virq_priority(void)
{
	struct svm_check c;

	setup(INT_CTL_V_IRQ | PRIO(3) | 3, true);
	l2_code(NULL, 0, 1);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "V_INTR_PRIO 3 with V_TPR 3: held");
	svm_check_eq(&c, "taken", vcount, 0);
	svm_check_eq(&c, "V_IRQ", vcpu.vmcb->control.int_ctl & INT_CTL_V_IRQ, INT_CTL_V_IRQ);
	svm_check_end(&c);

	setup(INT_CTL_V_IRQ | PRIO(4) | 3, true);
	l2_code(NULL, 0, 1);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "V_INTR_PRIO 4 with V_TPR 3: taken");
	svm_check_eq(&c, "taken", vcount, 1);
	svm_check_end(&c);

	setup(INT_CTL_V_IRQ | INT_CTL_V_IGN_TPR | PRIO(1) | 15, true);
	l2_code(NULL, 0, 1);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "V_IGN_TPR: V_INTR_PRIO 1 with V_TPR 15 taken");
	svm_check_eq(&c, "taken", vcount, 1);
	svm_check_end(&c);

}

/* The VINTR intercept: #VMEXIT instead of the delivery, V_IRQ kept. */
static void test_vintr_intercept(void)
{
	static const uint8_t sti[] = { 0xfb };
	struct svm_check c;
	uint64_t start;

	setup(INT_CTL_V_IRQ | INT_CTL_V_IGN_TPR, false);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_VINTR);
	start = l2_code(sti, sizeof(sti), 3);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "VINTR intercept: #VMEXIT(VINTR) when the window opens");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VINTR, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, start + 1 + 3);
	svm_check_eq(&c, "rbx", vcpu.regs.rbx, 1);
	svm_check_eq(&c, "delivered", vcount, 0);
	svm_check_eq(&c, "V_IRQ kept", vcpu.vmcb->control.int_ctl & INT_CTL_V_IRQ, INT_CTL_V_IRQ);
	svm_check_eq(&c, "EXITINTINFO", vcpu.vmcb->control.exit_int_info, 0);
	svm_check_end(&c);
}

/* INT_STATE_SHADOW: VMRUN starts L2 inside a shadow; #VMEXIT reports one. */
static void test_int_state(void)
{
	static const uint8_t sti[] = { 0xfb };
	struct svm_check c;
	uint64_t start;

	setup(INT_CTL_V_IRQ | INT_CTL_V_IGN_TPR, true);
	vcpu.vmcb->control.int_state = INT_STATE_SHADOW;
	start = l2_code(NULL, 0, 2);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "INT_STATE_SHADOW at VMRUN holds V_IRQ for one instruction");
	svm_check_eq(&c, "taken", vcount, 1);
	svm_check_eq(&c, "rbx then", v_rbx, 1);
	svm_check_eq(&c, "at rip", v_rip, start + 3);
	svm_check_end(&c);

	setup(0, false);
	l2_code(sti, sizeof(sti), 0);   /* STI; VMMCALL (in the shadow) */
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "#VMEXIT inside the STI shadow sets INT_STATE_SHADOW");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "int_state", vcpu.vmcb->control.int_state & INT_STATE_SHADOW,
		     INT_STATE_SHADOW);
	svm_check_end(&c);
}

/* V_INTR_MASKING: a physical interrupt not intercepted reaches L2 only
 * while L1's RFLAGS.IF (at VMRUN) is set; without it L2's IF decides. */
static void test_physical_masking(void)
{
	struct svm_check c;

	for (int host_if = 0; host_if < 2; host_if++) {
		setup(INT_CTL_V_INTR_MASKING, true);
		l2_code(NULL, 0, 2);
		cli();
		clgi();
		apic_write(APIC_ICR_LO, ICR_SELF | PIPI_VEC);
		if (host_if)
			sti();
		svm_vmrun_raw((uint64_t)vcpu.vmcb, &vcpu.regs);
		svm_check_begin(&c, host_if ? "V_INTR_MASKING, host IF = 1: L2 takes the interrupt"
					    : "V_INTR_MASKING, host IF = 0: L2 does not");
		svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
		svm_check_eq(&c, "taken in L2", pcount, (unsigned)host_if);
		cli();
		stgi();
		sti();
		for (int i = 0; i < 50; i++)
			asm volatile("nop");
		cli();
		svm_check_eq(&c, "taken in all", pcount, 1);
		svm_check_end(&c);
	}
}

/* Virtual GIF: V_GIF masks V_IRQ; STGI/CLGI in L2 write V_GIF. */
static void test_vgif(void)
{
	static const uint8_t stgi_b[] = { 0x0f, 0x01, 0xdc };
	static const uint8_t clgi_b[] = { 0x0f, 0x01, 0xdd };
	struct svm_check c;
	uint64_t start;

	if (!svm_has(SVM_FEATURE_VGIF)) {
		report_skip("VGIF: V_GIF = 0 holds V_IRQ until L2's STGI", "CPUID 0x8000000A EDX[16] clear");
		report_skip("VGIF: L2's CLGI clears V_GIF", "CPUID 0x8000000A EDX[16] clear");
		return;
	}
	setup(INT_CTL_V_IRQ | INT_CTL_V_IGN_TPR | INT_CTL_V_GIF_ENABLE, true);
	start = l2_code(stgi_b, sizeof(stgi_b), 2);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "VGIF: V_GIF = 0 holds V_IRQ until L2's STGI");
	svm_check_eq(&c, "taken", vcount, 1);
	svm_check_eq(&c, "at rip", v_rip, start + 3);
	svm_check_eq(&c, "V_GIF written back", vcpu.vmcb->control.int_ctl & INT_CTL_V_GIF,
		     INT_CTL_V_GIF);
	svm_check_end(&c);

	setup(INT_CTL_V_GIF_ENABLE | INT_CTL_V_GIF, true);
	l2_code(clgi_b, sizeof(clgi_b), 0);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "VGIF: L2's CLGI clears V_GIF");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "V_GIF", vcpu.vmcb->control.int_ctl & INT_CTL_V_GIF, 0);
	svm_check_end(&c);
}

/* Virtual NMI: V_NMI_PENDING is delivered as NMI in L2 (not subject to
 * the NMI intercept) and moves to V_NMI_BLOCKING; blocking holds it. */
static void test_vnmi(void)
{
	struct svm_check c;
	const uint32_t on = INT_CTL_V_NMI_ENABLE | INT_CTL_V_NMI_PENDING;

	static const char *const names[] = {
		"vNMI: a pending virtual NMI is taken (IF = 0, NMI intercepted)",
		"vNMI: V_NMI_BLOCKING holds the pending virtual NMI",
		"vNMI: V_GIF = 0 holds the virtual NMI",
	};

	if (!svm_has(SVM_FEATURE_VNMI)) {
		for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			report_skip(names[i], "CPUID 0x8000000A EDX[25] clear");
		return;
	}
	setup(on, false);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_NMI);
	l2_code(NULL, 0, 1);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, names[0]);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "taken", ncount, 1);
	svm_check_eq(&c, "rbx then", n_rbx, 0);
	/* the handler returned with IRET: blocking is over again */
	svm_check_eq(&c, "int_ctl vNMI bits", vcpu.vmcb->control.int_ctl & on, INT_CTL_V_NMI_ENABLE);
	svm_check_eq(&c, "V_NMI_BLOCKING", vcpu.vmcb->control.int_ctl & INT_CTL_V_NMI_BLOCKING, 0);
	svm_check_end(&c);

	setup(on | INT_CTL_V_NMI_BLOCKING, false);
	l2_code(NULL, 0, 1);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, names[1]);
	svm_check_eq(&c, "taken", ncount, 0);
	svm_check_eq(&c, "int_ctl vNMI bits",
		     vcpu.vmcb->control.int_ctl & (on | INT_CTL_V_NMI_BLOCKING),
		     on | INT_CTL_V_NMI_BLOCKING);
	svm_check_end(&c);

	setup(on | INT_CTL_V_GIF_ENABLE, false);
	l2_code(NULL, 0, 1);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, names[2]);
	svm_check_eq(&c, "taken", ncount, 0);
	svm_check_end(&c);
}

static bool apic_ready(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(d & (1u << 9)))
		return false;
	*(volatile uint32_t *)(APIC_MMIO + APIC_SVR) |= 0x1ff;
	return true;
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	/* no 8259 interrupts (a PC's timer on IRQ 0): only what the tests send */
	outb(0xff, 0x21);
	outb(0xff, 0xa1);
	set_exception_handler(VVEC, vintr_handler);
	set_exception_handler(NMI_VECTOR, vnmi_handler);
	set_exception_handler(PIPI_VEC, pipi_handler);

	test_virq_taken();
	test_virq_sti_shadow();
	test_virq_priority();
	test_vintr_intercept();
	test_int_state();
	if (apic_ready())
		test_physical_masking();
	else
		report_skip("V_INTR_MASKING physical", "no local APIC");
	test_vgif();
	test_vnmi();
	return report_summary();
}
