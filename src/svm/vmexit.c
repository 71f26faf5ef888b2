/* #VMEXIT (APM vol. 2, 15.6): the one routine every exit goes through.
 *
 * It never returns into the instruction or event that caused it: the
 * guest state (with RIP at that instruction) goes to the VMCB with the
 * exit information, the host comes back, and control unwinds to the run
 * loop like a fault — where the emulated host continues after its VMRUN,
 * or x86_run() returns STOP_VMEXIT to a host outside the machine. */
#include <stdlib.h>
#include <string.h>

#include "svm/svm_internal.h"

#define DR7_RESET 0x400ull   /* #VMEXIT disables the host's breakpoints */

/* NRIP (15.7.1): the next sequential RIP for instruction intercepts
 * (15.9), MSR and IOIO intercepts, and the exceptions raised by INT3,
 * INTO and BOUND; zero for every other exit. */
static bool exit_has_nrip(uint64_t code)
{
    if (code < SVM_EXIT_EXCP(0))
        return true;                            /* CR/DR accesses */
    if (code < SVM_EXIT_INTR)
        return code == SVM_EXIT_EXCP(EXC_BP) || code == SVM_EXIT_EXCP(4) ||
               code == SVM_EXIT_EXCP(EXC_BR);
    if (code >= SVM_EXIT_CR0_SEL_WRITE && code <= SVM_EXIT_MSR)
        return true;                            /* CR0 selective ... MSR */
    if (code >= SVM_EXIT_VMRUN && code <= SVM_EXIT_RDPRU)
        return true;                            /* VMRUN ... RDPRU */
    return code >= SVM_EXIT_INVLPGB && code <= SVM_EXIT_TLBSYNC;
}

/* The guest state VMRUN loaded, as it is now. */
void svm_save_guest(struct cpu *cpu, struct vmcb *v)
{
    struct vmcb_save *s = &v->save;
    svm_seg_store(&s->es, &cpu->seg[SEG_ES]);
    svm_seg_store(&s->cs, &cpu->seg[SEG_CS]);
    svm_seg_store(&s->ss, &cpu->seg[SEG_SS]);
    svm_seg_store(&s->ds, &cpu->seg[SEG_DS]);
    s->gdtr.base = cpu->gdtr.base;
    s->gdtr.limit = cpu->gdtr.limit;
    s->idtr.base = cpu->idtr.base;
    s->idtr.limit = cpu->idtr.limit;
    s->efer = cpu->efer;
    s->cr0 = cpu->cr0;
    s->cr2 = cpu->cr2;
    s->cr3 = cpu->cr3;
    s->cr4 = cpu->cr4;
    s->dr6 = cpu->dr6;
    s->dr7 = cpu->dr7;
    s->rflags = x86_get_rflags(cpu);
    s->rip = cpu->rip;
    s->rsp = cpu->gpr[RSP];
    s->rax = cpu->gpr[RAX];
    s->cpl = cpu->cpl;
    if (cpu->svm.npt)
        s->g_pat = cpu->pat;
    struct vmcb_control *c = &v->control;
    c->int_state = (cpu->shadow_until && cpu->icount <= cpu->shadow_until)
                   ? INT_STATE_SHADOW : 0;
    if (cpu->svm.v_intr_masking)
        c->int_ctl = (c->int_ctl & ~INT_CTL_V_TPR_MASK) |
                     (uint32_t)(cpu->cr8 & INT_CTL_V_TPR_MASK);
}

/* The host state of the host-save area (bare host): protected mode, no
 * CR2 or DR6 to restore, breakpoints off, CPL 0. */
static void load_host(struct cpu *cpu, const struct vmcb_save *s)
{
    cpu->efer = s->efer;
    cpu->cr0 = s->cr0 | CR0_PE | CR0_ET;
    cpu->dr7 = DR7_RESET;
    svm_load_state(cpu, s);
    cpu->cpl = 0;
}

void svm_restore_host(struct cpu *cpu)
{
    struct svm_state *svm = &cpu->svm;
    svm->guest_mode = false;
    svm->gif = false;
    cpu->tsc_offset -= svm->tsc_offset;
    svm->tsc_offset = 0;
    svm->tsc_scaled = false;
    if (svm->npt)
        cpu->pat = svm->host_pat;
    if (svm->v_intr_masking)
        cpu->cr8 = svm->host_cr8;
    svm->npt = false;
    svm->v_intr_masking = false;
    x86_clear_event(cpu, EVENT_VIRQ | EVENT_VNMI);   /* the guest's alone */
    memset(svm->intercepts, 0, sizeof(svm->intercepts));
    x86_tlb_enter_host(cpu);
    if (!svm->host_native)
        load_host(cpu, &svm->hsave->save);
    x86_perf_sync(cpu);
    cpu->stop_block = true;
}

void svm_trace_exit(struct cpu *cpu, uint64_t code, uint64_t info1,
                    uint64_t info2)
{
    const struct vmcb_control *c = &cpu->svm.vmcb->control;
    fprintf(cpu->trace_out,
            "vmexit %llu code 0x%llx info1 0x%llx info2 0x%llx rip 0x%llx "
            "nrip 0x%llx intinfo 0x%x\n",
            (unsigned long long)cpu->icount, (unsigned long long)code,
            (unsigned long long)info1, (unsigned long long)info2,
            (unsigned long long)cpu->rip, (unsigned long long)c->next_rip,
            c->exit_int_info);
}

_Noreturn void svm_vmexit(struct cpu *cpu, uint64_t code, uint64_t info1,
                          uint64_t info2)
{
    struct svm_state *svm = &cpu->svm;
    struct vmcb *v = svm->vmcb;
    struct vmcb_control *c = &v->control;
    uint32_t int_err;

    c->exit_int_info = svm_exitintinfo(cpu, &int_err);
    c->exit_int_info_err = int_err;
    svm_save_guest(cpu, v);
    x86_lbr_vmexit(cpu, &v->save);
    svm_vintr_exit(cpu, c);
    c->exit_code = code;
    c->exit_info_1 = info1;
    c->exit_info_2 = info2;
    svm_decode_assist_exit(cpu, c, code, info1);
    c->next_rip = (exit_has_nrip(code) &&
                   (cpu->svm_features & SVM_FEATURE_NRIPS)) ? cpu->next_rip : 0;
    c->event_inj &= ~EVENTINJ_V;
    svm->stat_vmexit++;
    if (cpu->trace & TRACE_EXIT)
        svm_trace_exit(cpu, code, info1, info2);
    if (!svm->host_native)
        svm_ram_written(cpu, svm->vmcb_pa, VMCB_SIZE);

    svm_restore_host(cpu);
    cpu->pending_exc = -1;
    cpu->delivering = -1;
    if (svm->host_native)
        cpu->stop = STOP_VMEXIT;
    if (!cpu->fault_jmp_valid) {
        fprintf(stderr, "nsvm: internal error: #VMEXIT outside the run loop\n");
        abort();
    }
    longjmp(cpu->fault_jmp, 1);
}
