/* The INIT signal (APM vol. 2, 14.1 "Processor Initialization", 15.13.3
 * "INIT Intercept", 15.30.1 "VM_CR MSR").
 *
 * INIT is taken between instructions once GIF is set (intr.c, above NMI).
 * In guest mode the INIT intercept comes first: the #VMEXIT leaves the
 * INIT pending, and as #VMEXIT clears GIF the host decides when it is
 * taken.  When it is taken, VM_CR.R_INIT turns it into a #SX exception
 * with error code 1 (the host regains control through its IDT); otherwise
 * the processor is initialised: the state of reset but for the x87 and
 * SSE state, the MSRs that INIT leaves alone (MTRRs, PAT, the SYSCALL
 * and SVM MSRs, the TSC) and the local APIC's base, and it resumes at the
 * reset vector F000:FFF0.  An INIT in guest mode that the VMCB does not
 * intercept initialises the whole processor: guest mode ends with it.
 *
 * nsvm is a single-CPU machine without firmware: after an INIT the BSP
 * fetches from FFFFFFF0h, where there is no ROM (open bus reads all ones),
 * exactly as after a reset. */
#include "svm/svm.h"
#include "x86/cpu.h"

void x86_init_processor(struct cpu *cpu)
{
    struct x87_state fpu = cpu->fpu;
    uint64_t pat = cpu->pat, apic_base = cpu->apic_base;

    if (cpu->svm.guest_mode)
        svm_restore_host(cpu);
    struct svm_state svm = cpu->svm;   /* VM_CR, VM_HSAVE_PA, the host's set-up */
    x86_reset(cpu);
    cpu->svm = svm;
    cpu->svm.gif = true;
    cpu->fpu = fpu;
    cpu->pat = pat;
    cpu->apic_base = apic_base;
    cpu->nmi_blocked = false;
    cpu->stop_block = true;
    if (cpu->intc.init)
        cpu->intc.init(cpu->intc.opaque);
}

void x86_take_init(struct cpu *cpu)
{
    cpu->next_rip = cpu->rip;
    cpu->halted = false;
    svm_check(cpu, SVM_EXIT_INIT, 0, 0);
    x86_clear_event(cpu, EVENT_INIT);
    if (cpu->svm.vm_cr & VM_CR_R_INIT) {
        /* an exception like any other: subject to the #SX intercept */
        cpu->pending_exc = EXC_SX;
        cpu->pending_err = 1;
        cpu->pending_has_err = true;
        x86_deliver_pending(cpu);
        return;
    }
    x86_init_processor(cpu);
}
