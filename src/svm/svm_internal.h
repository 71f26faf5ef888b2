/* Private to src/svm: what vmrun.c, vmexit.c, event.c, intercept.c,
 * npt.c and svm_insn.c share. */
#ifndef NSVM_SVM_INTERNAL_H
#define NSVM_SVM_INTERNAL_H

#include "svm/svm.h"
#include "svm/vmcb.h"
#include "x86/mem.h"

/* ---- segments: the VMCB and struct x86_seg pack attributes alike ---- */

static inline uint64_t svm_canonical(uint64_t v)
{
    return (uint64_t)((int64_t)(v << (64 - LIN_ADDR_BITS)) >> (64 - LIN_ADDR_BITS));
}

static inline void svm_seg_load(struct x86_seg *seg, const struct vmcb_seg *v)
{
    seg->sel = v->selector;
    seg->attrib = v->attrib & 0x0fff;
    seg->limit = v->limit;
    seg->base = svm_canonical(v->base);
}

static inline void svm_seg_store(struct vmcb_seg *v, const struct x86_seg *seg)
{
    v->selector = seg->sel;
    v->attrib = seg->attrib;
    v->limit = seg->limit;
    v->base = seg->base;
}

/* What VMRUN (guest state) and #VMEXIT (host state) load alike from a VMCB
 * save area: ES, CS, SS, DS, GDTR, IDTR, CR3, CR4, RFLAGS, RIP, RSP, RAX,
 * then the mode they select.  The caller sets EFER, CR0, CR2, DR6 and DR7
 * before (RFLAGS.AC and the mode depend on them) and CPL after. */
static inline void svm_load_state(struct cpu *cpu, const struct vmcb_save *s)
{
    svm_seg_load(&cpu->seg[SEG_ES], &s->es);
    svm_seg_load(&cpu->seg[SEG_CS], &s->cs);
    svm_seg_load(&cpu->seg[SEG_SS], &s->ss);
    svm_seg_load(&cpu->seg[SEG_DS], &s->ds);
    cpu->gdtr.base = s->gdtr.base;
    cpu->gdtr.limit = (uint16_t)s->gdtr.limit;
    cpu->idtr.base = s->idtr.base;
    cpu->idtr.limit = (uint16_t)s->idtr.limit;
    cpu->cr3 = s->cr3;
    cpu->cr4 = s->cr4;
    x86_set_rflags(cpu, s->rflags);
    cpu->rip = cpu->next_rip = s->rip;
    cpu->gpr[RSP] = s->rsp;
    cpu->gpr[RAX] = s->rax;
    x86_update_mode(cpu);
}

/* A page of RAM as a host pointer, or NULL when pa is not page-aligned,
 * lies beyond the physical address width or is not entirely RAM. */
static inline struct vmcb *svm_ram_page(struct cpu *cpu, uint64_t pa)
{
    if ((pa & 0xfff) || (pa >> PHYS_ADDR_BITS))
        return NULL;
    return phys_ptr(cpu, pa, VMCB_SIZE);
}

/* Stores behind the CPU's back into a page that may hold decoded code. */
static inline void svm_ram_written(struct cpu *cpu, uint64_t pa, uint64_t len)
{
    if (pa < cpu->ram_size && cpu->code_pages[pa >> 12])
        phys_invalidate(cpu, pa, len);
}

/* The SVM instructions' common rules (APM vol. 3, VMRUN/VMLOAD/...):
 * #UD unless EFER.SVME and protected mode, #GP(0) unless CPL 0. */
static inline void svm_insn_prologue(struct cpu *cpu)
{
    if (!(cpu->efer & EFER_SVME) || !(cpu->cr0 & CR0_PE) ||
        (cpu->rflags & FLAG_VM))
        x86_ud(cpu);
    if (cpu->cpl != 0)
        x86_gp(cpu, 0);
}

/* ---- world switch (vmrun.c, vmexit.c) ---- */

/* The name of the first APM 15.5.1 consistency check the VMCB fails, or
 * NULL when VMRUN may load it. */
const char *svm_vmrun_check(const struct cpu *cpu, const struct vmcb *v);
/* Loads the guest state and caches the controls; enters guest mode. */
void svm_enter_guest(struct cpu *cpu, struct vmcb *v);
/* VMRUN of the emulated host, after the instruction's checks: the VMCB at
 * vmcb_pa (v) and the host-save area (hsave) are pages of RAM. */
void svm_vmrun(struct cpu *cpu, uint64_t vmcb_pa, struct vmcb *v,
               struct vmcb *hsave);

/* ---- virtual interrupts (vintr.c) ---- */

/* VMRUN: cache int_ctl and the vector (before guest mode is entered);
 * then, in guest mode, raise the events for what waits. */
void svm_vintr_enter(struct cpu *cpu, const struct vmcb_control *c);
void svm_vintr_events(struct cpu *cpu);
/* #VMEXIT: V_IRQ, V_GIF and the vNMI bits back into the VMCB. */
void svm_vintr_exit(struct cpu *cpu, struct vmcb_control *c);

/* ---- pause filter (pause_filter.c), decode assists (decode_assist.c) ---- */

/* VMRUN: load the pause filter's counter and threshold (15.14.4). */
void svm_pause_filter_enter(struct cpu *cpu, const struct vmcb_control *c);
/* #VMEXIT: the number of bytes fetched and the guest instruction bytes
 * (15.33.4) for an exit code and its EXITINFO1. */
void svm_decode_assist_exit(struct cpu *cpu, struct vmcb_control *c,
                            uint64_t code, uint64_t info1);

/* ---- events (event.c) ---- */

/* EVENTINJ is legal (15.20): a valid bit that is clear, or a known type
 * with a vector that fits it. */
bool svm_eventinj_legal(uint32_t eventinj);
/* Delivers the VMCB's EVENTINJ through the guest's IDT, not subject to
 * intercepts; faults during delivery are (EXITINTINFO = the event). */
void svm_inject_event(struct cpu *cpu, const struct vmcb *v);
/* EXITINTINFO for the event being delivered when a #VMEXIT happens. */
uint32_t svm_exitintinfo(const struct cpu *cpu, uint32_t *err);

/* ---- tracing ---- */
void svm_trace_exit(struct cpu *cpu, uint64_t code, uint64_t info1,
                    uint64_t info2);

#endif
