/*
 * V_INTR_MASKING and V_TPR (APM vol. 2, 15.21.1-15.21.2): with
 * V_INTR_MASKING the guest's CR8 is the VMCB's V_TPR — VMRUN loads it,
 * guest writes change only it, #VMEXIT writes it back and the host's TPR
 * is untouched — and a pending V_IRQ is compared with it: lowering CR8
 * below V_INTR_PRIO lets the virtual interrupt in right after the write.
 */
#include "svm.h"

#define VVEC 0x42

static struct svm_vcpu vcpu;
static volatile unsigned vcount;
static volatile uint64_t v_rip, v_cr8;

static void vintr_handler(struct ex_regs *r)
{
	vcount++;
	v_rip = r->rip;
	v_cr8 = read_cr8();
}

int main(void)
{
	static const uint8_t code[] = {
		0x44, 0x0f, 0x20, 0xc3,         /* mov rbx, cr8 */
		0xb8, 0x03, 0x00, 0x00, 0x00,   /* mov eax, 3 */
		0x44, 0x0f, 0x22, 0xc0,         /* mov cr8, rax */
		0x48, 0xff, 0xc1,               /* inc rcx */
	};
	struct svm_check c;
	uint64_t start;

	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	outb(0xff, 0x21);   /* no 8259 interrupts: only the virtual one */
	outb(0xff, 0xa1);
	set_exception_handler(VVEC, vintr_handler);
	write_cr8(1);

	svm_vcpu_init(&vcpu, NULL);
	vcpu.vmcb->control.int_ctl = INT_CTL_V_IRQ | INT_CTL_V_INTR_MASKING |
				     (4u << INT_CTL_V_INTR_PRIO_SHIFT) | 5;
	vcpu.vmcb->control.int_vector = VVEC;
	vcpu.vmcb->save.rflags |= RFLAGS_IF;
	start = svm_vcpu_set_code(&vcpu, code, sizeof(code));
	svm_vmrun(&vcpu);

	svm_check_begin(&c, "V_INTR_MASKING: the guest's CR8 is V_TPR");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "CR8 read in L2", vcpu.regs.rbx, 5);
	svm_check_eq(&c, "V_TPR written back", vcpu.vmcb->control.int_ctl & INT_CTL_V_TPR_MASK, 3);
	svm_check_eq(&c, "L1's CR8 after #VMEXIT", read_cr8(), 1);
	svm_check_end(&c);

	svm_check_begin(&c, "V_INTR_MASKING: MOV CR8 below V_INTR_PRIO lets V_IRQ in");
	svm_check_eq(&c, "taken", vcount, 1);
	svm_check_eq(&c, "at rip", v_rip, start + 13);
	svm_check_eq(&c, "CR8 in the handler", v_cr8, 3);
	svm_check_eq(&c, "V_IRQ written back", vcpu.vmcb->control.int_ctl & INT_CTL_V_IRQ, 0);
	svm_check_end(&c);
	write_cr8(0);
	return report_summary();
}
