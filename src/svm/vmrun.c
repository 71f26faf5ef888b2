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

/* ---- consistency checks (15.5.1), one named predicate each ---- */

struct vmrun_check {
    const char *name;
    bool (*bad)(const struct cpu *cpu, const struct vmcb *v);
};

#define PHYS_LIMIT (1ull << PHYS_ADDR_BITS)

static bool long_mode_paging(const struct vmcb_save *s)
{
    return (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
}

/* A permission map must end below the physical address width. */
static bool map_beyond_maxphyaddr(uint64_t base, uint64_t size)
{
    return (base & ~0xfffull) + size - 1 >= PHYS_LIMIT;
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

#define CHECK(fn, expr)                                                    \
    static bool fn(const struct cpu *cpu, const struct vmcb *v)            \
    {                                                                      \
        const struct vmcb_save *s = &v->save;                              \
        const struct vmcb_control *c = &v->control;                        \
        (void)cpu; (void)s; (void)c;                                       \
        return (expr);                                                     \
    }

CHECK(efer_svme_clear, !(s->efer & EFER_SVME))
CHECK(cr0_cd_clear_nw_set, !(s->cr0 & CR0_CD) && (s->cr0 & CR0_NW))
CHECK(cr0_high_bits, (s->cr0 >> 32) != 0)
/* long mode: CR3 bits 63:52 MBZ, and no address beyond the width */
CHECK(cr3_mbz, long_mode_paging(s) && (s->cr3 >> PHYS_ADDR_BITS) != 0)
CHECK(cr4_mbz, (s->cr4 & ~CR4_VALID) != 0)
CHECK(dr6_high_bits, (s->dr6 >> 32) != 0)
CHECK(dr7_high_bits, (s->dr7 >> 32) != 0)
CHECK(efer_mbz, (s->efer & ~EFER_VALID) != 0)
/* "EFER.LMA or LME set and long mode unsupported": nsvm has long mode */
CHECK(efer_lme_pg_without_pae, long_mode_paging(s) && !(s->cr4 & CR4_PAE))
CHECK(efer_lme_pg_without_pe, long_mode_paging(s) && !(s->cr0 & CR0_PE))
CHECK(efer_lme_pg_pae_cs_l_and_d,
      long_mode_paging(s) && (s->cr4 & CR4_PAE) &&
      (s->cs.attrib & SEG_ATTR_L) && (s->cs.attrib & SEG_ATTR_DB))
CHECK(vmrun_intercept_clear, !vmcb_is_intercept(c, INTERCEPT_VMRUN))
CHECK(msrpm_beyond_maxphyaddr,
      !cpu->svm.host_msrpm && map_beyond_maxphyaddr(c->msrpm_base_pa, MSRPM_SIZE))
CHECK(iopm_beyond_maxphyaddr,
      !cpu->svm.host_iopm && map_beyond_maxphyaddr(c->iopm_base_pa, IOPM_SIZE))
CHECK(eventinj_illegal, !svm_eventinj_legal(c->event_inj))
CHECK(asid_zero, c->asid == 0)
/* nested paging (15.25.3): a legal nCR3 and gPAT, a host with paging */
CHECK(np_ncr3_mbz, (c->misc_ctl & MISC_CTL_NP_ENABLE) &&
      (c->nested_cr3 >> PHYS_ADDR_BITS) != 0)
CHECK(np_gpat_invalid, (c->misc_ctl & MISC_CTL_NP_ENABLE) && !pat_valid(s->g_pat))
CHECK(np_host_paging_off, (c->misc_ctl & MISC_CTL_NP_ENABLE) &&
      !cpu->svm.host_native && !(cpu->cr0 & CR0_PG))
#undef CHECK

static const struct vmrun_check vmrun_checks[] = {
    { "EFER.SVME is zero", efer_svme_clear },
    { "CR0.CD is zero and CR0.NW is set", cr0_cd_clear_nw_set },
    { "CR0[63:32] are not zero", cr0_high_bits },
    { "an MBZ bit of CR3 is set", cr3_mbz },
    { "an MBZ bit of CR4 is set", cr4_mbz },
    { "DR6[63:32] are not zero", dr6_high_bits },
    { "DR7[63:32] are not zero", dr7_high_bits },
    { "an MBZ bit of EFER is set", efer_mbz },
    { "EFER.LME and CR0.PG are set and CR4.PAE is zero", efer_lme_pg_without_pae },
    { "EFER.LME and CR0.PG are set and CR0.PE is zero", efer_lme_pg_without_pe },
    { "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D are all set", efer_lme_pg_pae_cs_l_and_d },
    { "the VMRUN intercept bit is clear", vmrun_intercept_clear },
    { "the MSRPM extends beyond the physical address width", msrpm_beyond_maxphyaddr },
    { "the IOPM extends beyond the physical address width", iopm_beyond_maxphyaddr },
    { "illegal event injection (EVENTINJ)", eventinj_illegal },
    { "ASID is zero", asid_zero },
    { "nested paging: an MBZ bit of nCR3 is set", np_ncr3_mbz },
    { "nested paging: G_PAT holds an invalid memory type", np_gpat_invalid },
    { "nested paging: the host does not have paging enabled", np_host_paging_off },
};

const char *svm_vmrun_check(const struct cpu *cpu, const struct vmcb *v)
{
    for (size_t i = 0; i < sizeof(vmrun_checks) / sizeof(vmrun_checks[0]); i++)
        if (vmrun_checks[i].bad(cpu, v))
            return vmrun_checks[i].name;
    return NULL;
}

/* ---- the world switch in ---- */

/* The host state VMRUN saves (the host-save area uses the VMCB format). */
static void save_host(struct cpu *cpu, struct vmcb *h)
{
    struct vmcb_save *s = &h->save;
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
    s->cr3 = cpu->cr3;
    s->cr4 = cpu->cr4;
    s->rflags = x86_get_rflags(cpu);
    s->rip = cpu->next_rip;
    s->rsp = cpu->gpr[RSP];
    s->rax = cpu->gpr[RAX];
    s->g_pat = cpu->pat;
    s->cpl = 0;
}

static void load_guest_state(struct cpu *cpu, const struct vmcb_save *s)
{
    svm_seg_load(&cpu->seg[SEG_ES], &s->es);
    svm_seg_load(&cpu->seg[SEG_CS], &s->cs);
    svm_seg_load(&cpu->seg[SEG_SS], &s->ss);
    svm_seg_load(&cpu->seg[SEG_DS], &s->ds);
    cpu->gdtr.base = s->gdtr.base;
    cpu->gdtr.limit = (uint16_t)s->gdtr.limit;
    cpu->idtr.base = s->idtr.base;
    cpu->idtr.limit = (uint16_t)s->idtr.limit;
    /* LMA follows from LME and paging (the checks made them coherent) */
    cpu->efer = s->efer & ~EFER_LMA;
    if (long_mode_paging(s))
        cpu->efer |= EFER_LMA;
    cpu->cr0 = s->cr0 | CR0_ET;
    cpu->cr2 = s->cr2;
    cpu->cr3 = s->cr3;
    cpu->cr4 = s->cr4;
    cpu->dr6 = s->dr6;
    cpu->dr7 = s->dr7;
    x86_set_rflags(cpu, s->rflags);
    cpu->rip = cpu->next_rip = s->rip;
    cpu->gpr[RSP] = s->rsp;
    cpu->gpr[RAX] = s->rax;
    x86_update_mode(cpu);
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
    svm->npt = (c->misc_ctl & MISC_CTL_NP_ENABLE) != 0;
    svm->ncr3 = c->nested_cr3;
    if (svm->npt) {
        /* the guest's PAT is G_PAT; the host's comes back at #VMEXIT */
        svm->host_pat = cpu->pat;
        cpu->pat = v->save.g_pat;
    }
    svm->v_intr_masking = (c->int_ctl & INT_CTL_V_INTR_MASKING) != 0;
    if (svm->v_intr_masking) {
        svm->host_cr8 = cpu->cr8;
        cpu->cr8 = c->int_ctl & INT_CTL_V_TPR_MASK;
    }
    if (c->int_state & INT_STATE_SHADOW)
        cpu->shadow_until = cpu->icount + 1;
}

void svm_enter_guest(struct cpu *cpu, struct vmcb *v)
{
    struct svm_state *svm = &cpu->svm;
    svm->vmcb = v;
    /* EFER.NXE of the host governs NX in the nested tables */
    svm->npt_nxe = svm->host_native || (cpu->efer & EFER_NXE);
    cache_controls(cpu, v);
    load_guest_state(cpu, &v->save);
    /* TLB_CONTROL: no ASID tags here, so every entry goes — flushing
     * more than asked is allowed (15.16.1); the address space changed */
    x86_tlb_flush(cpu);
    svm->guest_mode = true;
    svm->gif = true;
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
