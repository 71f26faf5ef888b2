/* The SVM instructions other than VMRUN and VMMCALL, which L0 intercepts.
 *
 * For L1, L0 emulates them: VMLOAD and VMSAVE move the VMLOAD state
 * (APM 15.5.2) between the CPU and the VMCB at rAX in L1's RAM; STGI and
 * CLGI set L1's global interrupt flag, which L0 keeps (the hardware's is
 * set by every VMRUN of vmcb01); INVLPGA flushes the TLB.
 *
 * For L2 (L1 did not intercept the instruction, and L2's EFER.SVME is set:
 * nested_exit.c turned the other case into #UD), the hardware does what it
 * would do without L0: L0 clears that one intercept in vmcb02 and lets L2
 * execute the instruction again; the intercept returns at the next exit. */
#include "hv/internal.h"

/* The checks the hardware makes before the intercept (APM vol. 3, VMLOAD
 * and the others): the hardware saw the real CPL and EFER.SVME = 1, so L0
 * checks the level's own EFER.SVME. */
bool hv_svm_insn_allowed(struct hv *hv)
{
    if (!hv_svme(hv)) {
        hv_queue_exception(hv, EXC_UD, 0, false);
        return false;
    }
    if (hv->vmcb->save.cpl != 0) {
        hv_queue_exception(hv, EXC_GP, 0, true);
        return false;
    }
    return true;
}

/* L2: run the instruction on the hardware without L0's intercept. */
static enum x86_stop pass_to_hardware(struct hv *hv, unsigned intercept)
{
    vmcb_clr_intercept(&hv->vmcb02, intercept);
    hv->open_intercept = intercept;
    return STOP_NONE;
}

void hv_close_intercept(struct hv *hv)
{
    vmcb_set_intercept(&hv->vmcb02, hv->open_intercept);
    hv->open_intercept = 0;
}

/* The VMCB at L1's rAX, or NULL after queueing #GP: not page-aligned,
 * beyond the physical address width, or outside RAM. */
static struct vmcb *l1_vmcb_at_rax(struct hv *hv)
{
    uint64_t pa = hv_rax_addr(hv->vmcb);
    struct vmcb *v = NULL;

    if (!(pa & 0xfff) && !(pa >> PHYS_ADDR_BITS))
        v = phys_ptr(hv->cpu, pa, VMCB_SIZE);
    if (!v)
        hv_queue_exception(hv, EXC_GP, 0, true);
    return v;
}

static uint64_t canonical(uint64_t v)
{
    return (uint64_t)((int64_t)(v << (64 - LIN_ADDR_BITS)) >> (64 - LIN_ADDR_BITS));
}

/* As the hardware loads a segment from a VMCB: attributes [11:0], the
 * base made canonical. */
static void seg_load(struct x86_seg *s, const struct vmcb_seg *v)
{
    s->sel = v->selector;
    s->attrib = v->attrib & 0x0fff;
    s->limit = v->limit;
    s->base = canonical(v->base);
}

static void seg_save(struct vmcb_seg *v, const struct x86_seg *s)
{
    v->selector = s->sel;
    v->attrib = s->attrib;
    v->limit = s->limit;
    v->base = s->base;
}

enum x86_stop hv_emulate_vmload(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;
    const struct vmcb *v;

    if (hv->nested.guest_mode)
        return pass_to_hardware(hv, INTERCEPT_VMLOAD);
    if (!hv_svm_insn_allowed(hv) || !(v = l1_vmcb_at_rax(hv)))
        return STOP_NONE;
    seg_load(&cpu->seg[SEG_FS], &v->save.fs);
    seg_load(&cpu->seg[SEG_GS], &v->save.gs);
    seg_load(&cpu->tr, &v->save.tr);
    seg_load(&cpu->ldtr, &v->save.ldtr);
    cpu->kernel_gs_base = canonical(v->save.kernel_gs_base);   /* a base */
    cpu->star = v->save.star;
    cpu->lstar = v->save.lstar;
    cpu->cstar = v->save.cstar;
    cpu->sfmask = v->save.sfmask;
    cpu->sysenter_cs = v->save.sysenter_cs;
    cpu->sysenter_esp = v->save.sysenter_esp;
    cpu->sysenter_eip = v->save.sysenter_eip;
    hv_skip_insn(hv);
    return STOP_NONE;
}

enum x86_stop hv_emulate_vmsave(struct hv *hv)
{
    struct cpu *cpu = hv->cpu;
    struct vmcb *v;

    if (hv->nested.guest_mode)
        return pass_to_hardware(hv, INTERCEPT_VMSAVE);
    if (!hv_svm_insn_allowed(hv) || !(v = l1_vmcb_at_rax(hv)))
        return STOP_NONE;
    seg_save(&v->save.fs, &cpu->seg[SEG_FS]);
    seg_save(&v->save.gs, &cpu->seg[SEG_GS]);
    seg_save(&v->save.tr, &cpu->tr);
    seg_save(&v->save.ldtr, &cpu->ldtr);
    v->save.kernel_gs_base = cpu->kernel_gs_base;
    v->save.star = cpu->star;
    v->save.lstar = cpu->lstar;
    v->save.cstar = cpu->cstar;
    v->save.sfmask = cpu->sfmask;
    v->save.sysenter_cs = cpu->sysenter_cs;
    v->save.sysenter_esp = cpu->sysenter_esp;
    v->save.sysenter_eip = cpu->sysenter_eip;
    phys_invalidate(cpu, hv_rax_addr(hv->vmcb), VMCB_SIZE);
    hv_skip_insn(hv);
    return STOP_NONE;
}

enum x86_stop hv_emulate_stgi(struct hv *hv)
{
    if (hv->nested.guest_mode)
        return pass_to_hardware(hv, INTERCEPT_STGI);
    if (!hv_svm_insn_allowed(hv))
        return STOP_NONE;
    hv->gif = true;
    hv_skip_insn(hv);
    return STOP_NONE;
}

enum x86_stop hv_emulate_clgi(struct hv *hv)
{
    if (hv->nested.guest_mode)
        return pass_to_hardware(hv, INTERCEPT_CLGI);
    if (!hv_svm_insn_allowed(hv))
        return STOP_NONE;
    hv->gif = false;
    hv_skip_insn(hv);
    return STOP_NONE;
}

/* INVLPGA rAX, ECX: the page at rAX in the translations of ASID ECX, which
 * for L1 are those of the hardware ASID L0 gives that ASID. */
enum x86_stop hv_emulate_invlpga(struct hv *hv)
{
    uint64_t lin = hv_rax_addr(hv->vmcb);

    if (hv->nested.guest_mode)
        return pass_to_hardware(hv, INTERCEPT_INVLPGA);
    if (!hv_svm_insn_allowed(hv))
        return STOP_NONE;
    x86_tlb_flush_asid_page(hv->cpu, hv_hw_asid((uint32_t)hv->cpu->gpr[RCX]), lin);
    hv_skip_insn(hv);
    return STOP_NONE;
}
