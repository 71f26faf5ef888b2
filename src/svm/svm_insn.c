/* The SVM instructions (APM vol. 3, chapter 4; vol. 2, 15.5-15.17).
 *
 * Each begins with the same prologue in the APM's order: EFER.SVME clear
 * or not in protected mode → #UD; CPL > 0 → #GP(0); a VMCB address in rAX
 * that is not page-aligned or beyond the physical address width → #GP(0);
 * intercepted → #VMEXIT; then the work.  rAX is RAX, EAX or AX by the
 * address size.  A VMCB address that is not RAM is #GP(0) too (nsvm keeps
 * no VMCB outside RAM; hardware would read open bus). */
#include <Zydis/Zydis.h>

#include "svm/svm_internal.h"
#include "x86/insn.h"

static uint64_t vmcb_address(struct cpu *cpu, const struct insn *in)
{
    uint64_t pa = cpu->gpr[RAX] & size_mask(in->asize);
    if ((pa & 0xfff) || (pa >> PHYS_ADDR_BITS))
        x86_gp(cpu, 0);
    return pa;
}

static struct vmcb *ram_vmcb(struct cpu *cpu, uint64_t pa)
{
    struct vmcb *v = svm_ram_page(cpu, pa);
    if (!v)
        x86_gp(cpu, 0);
    return v;
}

static void op_vmrun(struct cpu *cpu, const struct insn *in)
{
    svm_insn_prologue(cpu);
    uint64_t pa = vmcb_address(cpu, in);
    svm_check(cpu, SVM_EXIT_VMRUN, 0, 0);
    struct vmcb *v = ram_vmcb(cpu, pa);
    struct vmcb *hsave = ram_vmcb(cpu, cpu->svm.hsave_pa);
    svm_vmrun(cpu, pa, v, hsave);
}

/* VMMCALL: intercepted → #VMEXIT, else #UD — at any CPL, whatever
 * EFER.SVME says (the intercept is checked first). */
static void op_vmmcall(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    svm_check(cpu, SVM_EXIT_VMMCALL, 0, 0);
    x86_ud(cpu);
}

/* VMLOAD and VMSAVE move exactly this state (15.5.2). */
static void op_vmload(struct cpu *cpu, const struct insn *in)
{
    svm_insn_prologue(cpu);
    uint64_t pa = vmcb_address(cpu, in);
    svm_check(cpu, SVM_EXIT_VMLOAD, 0, 0);
    const struct vmcb_save *s = &ram_vmcb(cpu, pa)->save;
    svm_seg_load(&cpu->seg[SEG_FS], &s->fs);
    svm_seg_load(&cpu->seg[SEG_GS], &s->gs);
    svm_seg_load(&cpu->tr, &s->tr);
    svm_seg_load(&cpu->ldtr, &s->ldtr);
    cpu->kernel_gs_base = svm_canonical(s->kernel_gs_base);   /* a base */
    cpu->star = s->star;
    cpu->lstar = s->lstar;
    cpu->cstar = s->cstar;
    cpu->sfmask = s->sfmask;
    cpu->sysenter_cs = s->sysenter_cs;
    cpu->sysenter_esp = s->sysenter_esp;
    cpu->sysenter_eip = s->sysenter_eip;
    uint8_t cpl = cpu->cpl;
    x86_update_mode(cpu);   /* the FS and GS bases */
    cpu->cpl = cpl;
}

static void op_vmsave(struct cpu *cpu, const struct insn *in)
{
    svm_insn_prologue(cpu);
    uint64_t pa = vmcb_address(cpu, in);
    svm_check(cpu, SVM_EXIT_VMSAVE, 0, 0);
    struct vmcb_save *s = &ram_vmcb(cpu, pa)->save;
    svm_seg_store(&s->fs, &cpu->seg[SEG_FS]);
    svm_seg_store(&s->gs, &cpu->seg[SEG_GS]);
    svm_seg_store(&s->tr, &cpu->tr);
    svm_seg_store(&s->ldtr, &cpu->ldtr);
    s->kernel_gs_base = cpu->kernel_gs_base;
    s->star = cpu->star;
    s->lstar = cpu->lstar;
    s->cstar = cpu->cstar;
    s->sfmask = cpu->sfmask;
    s->sysenter_cs = cpu->sysenter_cs;
    s->sysenter_esp = cpu->sysenter_esp;
    s->sysenter_eip = cpu->sysenter_eip;
    svm_ram_written(cpu, pa, VMCB_SIZE);
}

/* STGI/CLGI: the global interrupt flag.  While it is clear, interrupts
 * and NMIs are held pending (15.17); the block ends so that a pending
 * event is looked at.  A guest with VGIF enabled writes V_GIF instead. */
static void op_stgi(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    svm_insn_prologue(cpu);
    svm_check(cpu, SVM_EXIT_STGI, 0, 0);
    if (!svm_vgif_write(cpu, true))
        cpu->svm.gif = true;
    cpu->stop_block = true;
}

static void op_clgi(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    svm_insn_prologue(cpu);
    svm_check(cpu, SVM_EXIT_CLGI, 0, 0);
    if (!svm_vgif_write(cpu, false))
        cpu->svm.gif = false;
}

/* SKINIT is not advertised (CPUID 0x80000001 ECX[12] clear): after the
 * common checks and its intercept, #UD. */
static void op_skinit(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    svm_insn_prologue(cpu);
    svm_check(cpu, SVM_EXIT_SKINIT, 0, 0);
    x86_ud(cpu);
}

/* INVLPGA rAX, ECX: the page rAX in the TLB contexts of ASID ECX. */
static void op_invlpga(struct cpu *cpu, const struct insn *in)
{
    svm_insn_prologue(cpu);
    uint64_t lin = cpu->gpr[RAX] & size_mask(in->asize);
    svm_check(cpu, SVM_EXIT_INVLPGA, lin, 0);
    x86_tlb_flush_asid_page(cpu, (uint32_t)cpu->gpr[RCX], lin);
}

void x86_ops_svm(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_VMRUN] = op_vmrun;
    t[ZYDIS_MNEMONIC_VMMCALL] = op_vmmcall;
    t[ZYDIS_MNEMONIC_VMLOAD] = op_vmload;
    t[ZYDIS_MNEMONIC_VMSAVE] = op_vmsave;
    t[ZYDIS_MNEMONIC_STGI] = op_stgi;
    t[ZYDIS_MNEMONIC_CLGI] = op_clgi;
    t[ZYDIS_MNEMONIC_SKINIT] = op_skinit;
    t[ZYDIS_MNEMONIC_INVLPGA] = op_invlpga;
}
