/* CPU life cycle, execution mode, and the control registers. */
#include <stdlib.h>
#include <string.h>

#include "svm/svm.h"
#include "x86/decode.h"
#include "x86/mem.h"

void x86_reset(struct cpu *cpu)
{
    memset(cpu->gpr, 0, sizeof(cpu->gpr));
    cpu->rflags = FLAGS_FIXED1;
    cpu->lf.op = LAZY_NONE;
    cpu->rip = 0xfff0;
    for (int s = 0; s < 6; s++)
        cpu->seg[s] = (struct x86_seg){ 0, 0x93, 0xffff, 0 };
    cpu->seg[SEG_CS] = (struct x86_seg){ 0xf000, 0x9b, 0xffff, 0xffff0000ull };
    cpu->ldtr = (struct x86_seg){ 0, 0x82, 0xffff, 0 };
    cpu->tr = (struct x86_seg){ 0, 0x8b, 0xffff, 0 };
    cpu->gdtr = (struct x86_dtable){ 0, 0xffff };
    cpu->idtr = (struct x86_dtable){ 0, 0xffff };
    cpu->cr0 = CR0_ET | CR0_CD | CR0_NW;
    cpu->cr2 = cpu->cr3 = cpu->cr4 = cpu->cr8 = cpu->efer = 0;
    memset(cpu->dr, 0, sizeof(cpu->dr));
    cpu->dr6 = 0xffff0ff0;
    cpu->dr7 = 0x400;
    cpu->pat = 0x0007040600070406ull;
    cpu->apic_base = 0xfee00900ull;
    cpu->pending_exc = -1;
    cpu->delivering = -1;
    cpu->halted = false;
    cpu->shadow_until = 0;
    x86_smm_reset(cpu);
    memset(&cpu->svm, 0, sizeof(cpu->svm));
    cpu->svm.gif = true;
    cpu->svm.tsc_ratio = TSC_RATIO_DEFAULT;
    x87_reset(cpu);
    x86_update_mode(cpu);
    cpu->tlb = cpu->tlb_store[0];
    cpu->tlb_ctx = 0;
    x86_tlb_flush_all(cpu);
}

int x86_cpu_init(struct cpu *cpu, uint8_t *ram, uint64_t ram_size,
                 const struct x86_bus *bus)
{
    uint64_t pages = (ram_size + 4095) / 4096;
    memset(cpu, 0, sizeof(*cpu));
    cpu->ram = ram;
    cpu->ram_size = ram_size;
    cpu->bus = *bus;
    cpu->code_pages = calloc(pages, 1);
    cpu->page_gen = calloc(pages, sizeof(uint32_t));
    cpu->dc = decode_cache_new();
    cpu->icount_limit = UINT64_MAX;
    cpu->trace_out = stderr;
    cpu->has_svm = true;                          /* AMD-V, src/svm */
    cpu->svm_features = SVM_FEATURES_IMPLEMENTED;
    if (!cpu->code_pages || !cpu->page_gen || !cpu->dc) {
        x86_cpu_fini(cpu);
        return -1;
    }
    x86_reset(cpu);
    return 0;
}

void x86_cpu_fini(struct cpu *cpu)
{
    free(cpu->code_pages);
    free(cpu->page_gen);
    decode_cache_free(cpu->dc);
    cpu->code_pages = NULL;
    cpu->page_gen = NULL;
    cpu->dc = NULL;
}

/* Recompute everything derived from CR0, EFER and CS: the execution mode,
 * CPL, and the per-segment bases used for linear addresses. */
void x86_update_mode(struct cpu *cpu)
{
    const struct x86_seg *cs = &cpu->seg[SEG_CS];
    if (!(cpu->cr0 & CR0_PE))
        cpu->mode = MODE_REAL;
    else if (cpu->efer & EFER_LMA)
        cpu->mode = (cs->attrib & SEG_ATTR_L) ? MODE_LONG64
                  : (cs->attrib & SEG_ATTR_DB) ? MODE_COMPAT32 : MODE_COMPAT16;
    else
        cpu->mode = (cs->attrib & SEG_ATTR_DB) ? MODE_PROT32 : MODE_PROT16;

    if (cpu->mode == MODE_REAL)
        cpu->cpl = 0;
    else if (cpu->rflags & FLAG_VM)
        cpu->cpl = 3;
    else
        cpu->cpl = cs->sel & 3;

    bool flat = cpu->mode == MODE_LONG64;
    for (int s = 0; s < 6; s++)
        cpu->seg_lin_base[s] = (flat && s < SEG_FS) ? 0 : cpu->seg[s].base;
    cpu->seg_lin_base[6] = cpu->seg_lin_base[SEG_NONE] = 0;
    cpu->lin_mask = flat ? ~0ull : 0xffffffffull;
    cpu->tlb_epoch++;   /* CPL and segment bases change what RIP maps to */
    cpu->stop_block = true;
    x86_update_ac(cpu);
    if (unlikely(cpu->perf.filtered))
        x86_perf_sync(cpu);   /* counters that count at some CPLs only */
}

void x86_write_cr0(struct cpu *cpu, uint64_t val)
{
    val |= CR0_ET;
    if ((val >> 32) || ((val & CR0_NW) && !(val & CR0_CD)) ||
        ((val & CR0_PG) && !(val & CR0_PE)))
        x86_gp(cpu, 0);
    bool enabling_pg = (val & CR0_PG) && !(cpu->cr0 & CR0_PG);
    if (enabling_pg && (cpu->efer & EFER_LME)) {
        /* activating long mode (APM 14.6.1) */
        if (!(cpu->cr4 & CR4_PAE) || (cpu->seg[SEG_CS].attrib & SEG_ATTR_L))
            x86_gp(cpu, 0);
        cpu->efer |= EFER_LMA;
    }
    if (!(val & CR0_PG) && (cpu->cr0 & CR0_PG) && (cpu->efer & EFER_LMA)) {
        if (cpu->mode == MODE_LONG64)
            x86_gp(cpu, 0);
        cpu->efer &= ~EFER_LMA;
    }
    if ((val ^ cpu->cr0) & (CR0_PG | CR0_WP | CR0_PE))
        x86_tlb_flush(cpu);
    cpu->cr0 = val;
    x86_update_mode(cpu);
}

void x86_write_cr3(struct cpu *cpu, uint64_t val)
{
    if ((cpu->efer & EFER_LMA) && (val >> 52))
        x86_gp(cpu, 0);   /* bits 63:52 MBZ */
    cpu->cr3 = val;
    x86_tlb_flush(cpu);
    cpu->stop_block = true;
}

void x86_write_cr4(struct cpu *cpu, uint64_t val)
{
    if (val & ~CR4_VALID)
        x86_gp(cpu, 0);
    if ((cpu->efer & EFER_LMA) && !(val & CR4_PAE))
        x86_gp(cpu, 0);
    if ((val ^ cpu->cr4) & (CR4_PAE | CR4_PSE | CR4_PGE))
        x86_tlb_flush(cpu);
    cpu->cr4 = val;
    cpu->stop_block = true;
}
