/* VMRUN: the consistency checks, the world switch into the guest, and
 * VMRUN for a host outside the machine (APM vol. 2, 15.5; vol. 3 VMRUN).
 *
 * Order, as in the APM's VMRUN pseudo-code: the instruction's own #UD and
 * #GP checks and the VMRUN intercept (svm_insn.c); then the consistency
 * checks of 15.5.1 — nothing has changed yet, so a failing check is a
 * #VMEXIT(VMEXIT_INVALID) that leaves the host exactly as it was; then the
 * host state goes to the host-save area, the guest state and the controls
 * come from the VMCB (read once: every control is cached in cpu->svm),
 * GIF = 1, and EVENTINJ is delivered in the guest. */
#include <setjmp.h>
#include <string.h>

#include "svm/svm_internal.h"

/* ---- consistency checks (15.5.1), one line each ---- */

#define PHYS_LIMIT (1ull << PHYS_ADDR_BITS)

static bool long_mode_paging(const struct vmcb_save *s)
{
    return (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
}

/* A permission map read from memory must end below the physical address
 * width. */
static bool map_beyond_maxphyaddr(bool in_memory, uint64_t base, uint64_t size)
{
    return in_memory && (base & ~0xfffull) + size - 1 >= PHYS_LIMIT;
}

static bool pat_valid(uint64_t pat)
{
    for (int i = 0; i < 8; i++) {
        unsigned t = (pat >> (i * 8)) & 0xff;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

/* A failing check names itself: the trace (--trace=exit) prints it. */
#define CHECK(illegal, name)                                               \
    do {                                                                   \
        if (illegal)                                                       \
            return name;                                                   \
    } while (0)

const char *svm_vmcb_check(const struct vmcb_control *c,
                           const struct vmcb_save *s, uint64_t host_cr0,
                           bool maps_in_memory)
{
    bool lmp = long_mode_paging(s);
    bool np = (c->misc_ctl & MISC_CTL_NP_ENABLE) != 0;

    CHECK(!(s->efer & EFER_SVME), "EFER.SVME is zero");
    CHECK(!(s->cr0 & CR0_CD) && (s->cr0 & CR0_NW), "CR0.CD is zero and CR0.NW is set");
    CHECK(s->cr0 >> 32, "CR0[63:32] are not zero");
    /* long mode: CR3 bits 63:52 MBZ, and no address beyond the width */
    CHECK(lmp && (s->cr3 >> PHYS_ADDR_BITS), "an MBZ bit of CR3 is set");
    CHECK(s->cr4 & ~CR4_VALID, "an MBZ bit of CR4 is set");
    CHECK(s->dr6 >> 32, "DR6[63:32] are not zero");
    CHECK(s->dr7 >> 32, "DR7[63:32] are not zero");
    CHECK(s->efer & ~EFER_VALID, "an MBZ bit of EFER is set");
    /* "EFER.LMA or LME set and long mode unsupported": nsvm has long mode */
    CHECK(lmp && !(s->cr4 & CR4_PAE), "EFER.LME and CR0.PG are set and CR4.PAE is zero");
    CHECK(lmp && !(s->cr0 & CR0_PE), "EFER.LME and CR0.PG are set and CR0.PE is zero");
    CHECK(lmp && (s->cr4 & CR4_PAE) && (s->cs.attrib & SEG_ATTR_L) &&
          (s->cs.attrib & SEG_ATTR_DB), "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D are all set");
    CHECK(!vmcb_is_intercept(c, INTERCEPT_VMRUN), "the VMRUN intercept bit is clear");
    CHECK(map_beyond_maxphyaddr(maps_in_memory, c->msrpm_base_pa, MSRPM_SIZE),
          "the MSRPM extends beyond the physical address width");
    CHECK(map_beyond_maxphyaddr(maps_in_memory, c->iopm_base_pa, IOPM_SIZE),
          "the IOPM extends beyond the physical address width");
    CHECK(!svm_eventinj_legal(c->event_inj), "illegal event injection (EVENTINJ)");
    CHECK(c->asid == 0, "ASID is zero");
    /* nested paging (15.25.3): a legal nCR3 and gPAT, a host with paging */
    CHECK(np && (c->nested_cr3 >> PHYS_ADDR_BITS), "nested paging: an MBZ bit of nCR3 is set");
    CHECK(np && !pat_valid(s->g_pat), "nested paging: G_PAT holds an invalid memory type");
    CHECK(np && !(host_cr0 & CR0_PG),
          "nested paging: the host does not have paging enabled");
    return NULL;
}

const char *svm_vmrun_check(const struct cpu *cpu, const struct vmcb *v)
{
    /* a native host's maps are host buffers; it runs with paging on */
    const struct svm_state *svm = &cpu->svm;
    return svm_vmcb_check(&v->control, &v->save,
                          svm->host_native ? CR0_PG : cpu->cr0,
                          !svm->host_iopm);
}
#undef CHECK

/* ---- the world switch in ---- */

/* The host state VMRUN saves: the host-save area uses the VMCB format, so
 * it is the state a #VMEXIT would save, with the host resuming after its
 * VMRUN at CPL 0. */
static void save_host(struct cpu *cpu, struct vmcb *h)
{
    svm_save_guest(cpu, h);
    h->save.rip = cpu->next_rip;
    h->save.g_pat = cpu->pat;
    h->save.cpl = 0;
}

static void load_guest_state(struct cpu *cpu, const struct vmcb_save *s)
{
    /* LMA follows from LME and paging (the checks made them coherent) */
    cpu->efer = s->efer & ~EFER_LMA;
    if (long_mode_paging(s))
        cpu->efer |= EFER_LMA;
    cpu->cr0 = s->cr0 | CR0_ET;
    cpu->cr2 = s->cr2;
    cpu->dr6 = s->dr6;
    cpu->dr7 = s->dr7;
    svm_load_state(cpu, s);
    /* CPL comes from the VMCB; real mode forces 0, virtual-8086 mode 3 */
    if (cpu->mode != MODE_REAL && !(cpu->rflags & FLAG_VM))
        cpu->cpl = s->cpl & 3;
}

static void cache_controls(struct cpu *cpu, const struct vmcb *v)
{
    const struct vmcb_control *c = &v->control;
    struct svm_state *svm = &cpu->svm;
    memcpy(svm->intercepts, c->intercepts, sizeof(svm->intercepts));
    svm->iopm_pa = c->iopm_base_pa & ~0xfffull;
    svm->msrpm_pa = c->msrpm_base_pa & ~0xfffull;
    svm->tsc_offset = c->tsc_offset;
    cpu->tsc_offset += c->tsc_offset;
    svm->tsc_scaled = svm->tsc_ratio != TSC_RATIO_DEFAULT;   /* 15.30.5 */
    svm_pause_filter_enter(cpu, c);
    svm->npt = (c->misc_ctl & MISC_CTL_NP_ENABLE) != 0;
    svm->ncr3 = c->nested_cr3;
    if (svm->npt) {
        /* the guest's PAT is G_PAT; the host's comes back at #VMEXIT */
        svm->host_pat = cpu->pat;
        cpu->pat = v->save.g_pat;
    }
    svm_vintr_enter(cpu, c);
    svm->v_intr_masking = (c->int_ctl & INT_CTL_V_INTR_MASKING) != 0;
    if (svm->v_intr_masking) {
        svm->host_cr8 = cpu->cr8;
        cpu->cr8 = c->int_ctl & INT_CTL_V_TPR_MASK;
    }
    /* the shadow covers the guest's first instruction: the VMRUN
     * instruction retires after this (icount + 1); a native host's VMRUN
     * is not an instruction of the machine, so the next one is the guest's */
    if (c->int_state & INT_STATE_SHADOW)
        cpu->shadow_until = cpu->icount + (svm->host_native ? 0 : 1);
}

void svm_enter_guest(struct cpu *cpu, struct vmcb *v)
{
    struct svm_state *svm = &cpu->svm;
    svm->vmcb = v;
    /* EFER.NXE of the host governs NX in the nested tables */
    svm->npt_nxe = svm->host_native || (cpu->efer & EFER_NXE);
    cache_controls(cpu, v);
    load_guest_state(cpu, &v->save);
    /* TLB_CONTROL (15.16.2): the guest's translations are tagged with its
     * ASID and kept across world switches unless a flush is asked for */
    uint8_t tlb_ctl = v->control.tlb_ctl;
    if (tlb_ctl == TLB_CONTROL_FLUSH_ALL)
        x86_tlb_flush_all(cpu);
    x86_tlb_enter_guest(cpu, v->control.asid,
                        svm->ncr3 | ((uint64_t)svm->npt_nxe << 63),
                        tlb_ctl != TLB_CONTROL_DO_NOTHING);
    svm->guest_mode = true;
    svm->gif = true;
    x86_lbr_vmrun(cpu, &v->save, (v->control.misc_ctl2 & MISC_CTL2_LBR_VIRT) &&
                  (cpu->svm_features & SVM_FEATURE_LBRV));
    x86_perf_sync(cpu);   /* counters that count only in the host or guest */
    svm_vintr_events(cpu);
    svm->stat_vmrun++;
    cpu->stop_block = true;
    if (cpu->trace & TRACE_EXIT)
        fprintf(cpu->trace_out, "vmrun %llu vmcb 0x%llx rip 0x%llx%s\n",
                (unsigned long long)cpu->icount,
                (unsigned long long)svm->vmcb_pa,
                (unsigned long long)cpu->rip, svm->npt ? " npt" : "");
}

static bool vmrun_checks_pass(struct cpu *cpu, struct vmcb *v)
{
    const char *bad = svm_vmrun_check(cpu, v);
    if (!bad)
        return true;
    if (cpu->trace & TRACE_EXIT)
        fprintf(cpu->trace_out,
                "vmrun %llu vmcb 0x%llx: VMEXIT_INVALID: %s\n",
                (unsigned long long)cpu->icount,
                (unsigned long long)cpu->svm.vmcb_pa, bad);
    v->control.exit_code = SVM_EXIT_INVALID;
    v->control.exit_info_1 = 0;
    v->control.exit_info_2 = 0;
    return false;
}

/* VMRUN by the emulated host, after the instruction's own checks: RAX
 * names the VMCB (vmcb), the host-save area is valid RAM (hsave). */
void svm_vmrun(struct cpu *cpu, uint64_t vmcb_pa, struct vmcb *v,
               struct vmcb *hsave)
{
    struct svm_state *svm = &cpu->svm;
    svm->host_native = false;
    svm->host_iopm = svm->host_msrpm = NULL;
    svm->vmcb_pa = vmcb_pa;
    if (!vmrun_checks_pass(cpu, v)) {
        /* #VMEXIT(INVALID) with the host untouched: GIF = 0, then the
         * instruction after VMRUN */
        svm->gif = false;
        svm_ram_written(cpu, vmcb_pa, VMCB_CONTROL_SIZE);
        return;
    }
    svm->hsave = hsave;
    save_host(cpu, hsave);
    svm_ram_written(cpu, svm->hsave_pa, VMCB_SIZE);
    svm_enter_guest(cpu, v);
    svm_inject_event(cpu, v);
}

/* ---- VMRUN for a host outside the machine ---- */

enum x86_stop svm_vmrun_native(struct cpu *cpu, struct vmcb *v)
{
    struct svm_state *svm = &cpu->svm;
    svm->host_native = true;
    svm->vmcb_pa = 0;
    svm->hsave = NULL;
    if (!vmrun_checks_pass(cpu, v)) {
        svm->gif = false;
        return STOP_VMEXIT;
    }
    svm_enter_guest(cpu, v);
    /* Injection may fault or exit: catch that here as x86_run() would;
     * a fault stays pending and x86_run() delivers (or intercepts) it. */
    cpu->stop = STOP_NONE;
    cpu->pending_exc = -1;
    cpu->fault_jmp_valid = true;
    if (setjmp(cpu->fault_jmp) == 0)
        svm_inject_event(cpu, v);
    cpu->fault_jmp_valid = false;
    if (cpu->stop != STOP_NONE)
        return cpu->stop;
    return x86_run(cpu);
}
