/* Segment-register loads and the descriptor reads they need (APM vol. 2, 4.5–4.8). */
#include "x86/insn.h"

uint64_t x86_read_desc(struct cpu *cpu, uint16_t sel)
{
    const struct x86_dtable *t;
    struct x86_dtable ldt;
    if (sel & 4) {
        if (cpu->ldtr.sel < 4 || !(cpu->ldtr.attrib & SEG_ATTR_P))
            x86_gp(cpu, sel & ~3);
        ldt.base = cpu->ldtr.base;
        ldt.limit = (uint16_t)(cpu->ldtr.limit > 0xffff ? 0xffff : cpu->ldtr.limit);
        t = &ldt;
    } else {
        t = &cpu->gdtr;
    }
    uint32_t off = sel & ~7u;
    if (off + 7 > t->limit)
        x86_gp(cpu, sel & ~3);
    return mem_read_lin(cpu, (t->base + off) & cpu->lin_mask, 8, ACC_READ | ACC_SUPER);
}

void x86_desc_to_seg(uint64_t desc, uint16_t sel, struct x86_seg *seg)
{
    uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
    seg->sel = sel;
    seg->base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000ull);
    seg->attrib = (uint16_t)(((desc >> 40) & 0xff) | ((desc >> 44) & 0xf00));
    seg->limit = (seg->attrib & SEG_ATTR_G) ? (limit << 12) | 0xfff : limit;
}

/* Set the accessed bit of a descriptor in memory. */
static void desc_set_accessed(struct cpu *cpu, uint16_t sel, uint64_t desc)
{
    if (desc & (1ull << 40))
        return;
    uint64_t base = (sel & 4) ? cpu->ldtr.base : cpu->gdtr.base;
    mem_write_lin(cpu, (base + (sel & ~7u) + 5) & cpu->lin_mask, 1,
                  (desc >> 40) | 1, ACC_WRITE | ACC_SUPER);
}

static void load_null(struct cpu *cpu, int seg, uint16_t sel)
{
    bool long64 = cpu->mode == MODE_LONG64;
    if (seg == SEG_SS && !(long64 && cpu->cpl < 3 && (sel & 3) == cpu->cpl))
        x86_gp(cpu, 0);
    cpu->seg[seg].sel = sel;
    cpu->seg[seg].attrib = seg == SEG_SS ? (uint16_t)(cpu->cpl << 5) : 0;
    if (!(long64 && seg >= SEG_FS))
        cpu->seg[seg].base = 0;
    cpu->seg[seg].limit = 0;
}

/* A load of SS that succeeded, in any mode, holds interrupts back until
 * the next instruction has completed (the interrupt shadow). */
static void ss_shadow(struct cpu *cpu, int seg)
{
    if (seg == SEG_SS) {
        cpu->shadow_until = cpu->icount + 1;
        cpu->stop_block = true;
    }
}

/* MOV/POP to a data or stack segment register (not CS). */
void x86_load_seg(struct cpu *cpu, int seg, uint16_t sel)
{
    if (cpu->mode == MODE_REAL || (cpu->rflags & FLAG_VM)) {
        cpu->seg[seg].sel = sel;
        cpu->seg[seg].base = (uint64_t)sel << 4;
        ss_shadow(cpu, seg);
        x86_update_mode(cpu);
        return;
    }
    if ((sel & ~3) == 0 && !(sel & 4)) {
        load_null(cpu, seg, sel);
        ss_shadow(cpu, seg);
        x86_update_mode(cpu);
        return;
    }
    uint64_t desc = x86_read_desc(cpu, sel);
    struct x86_seg s;
    x86_desc_to_seg(desc, sel, &s);
    unsigned type = SEG_ATTR_TYPE(s.attrib), dpl = SEG_ATTR_DPL(s.attrib);
    unsigned rpl = sel & 3;
    bool code = type & 8, writable = !code && (type & 2);
    bool readable = !code || (type & 2), conforming = code && (type & 4);

    if (!(s.attrib & SEG_ATTR_S))
        x86_gp(cpu, sel & ~3);
    if (seg == SEG_SS) {
        if (!writable || rpl != cpu->cpl || dpl != cpu->cpl)
            x86_gp(cpu, sel & ~3);
        if (!(s.attrib & SEG_ATTR_P))
            x86_raise(cpu, EXC_SS, sel & ~3);
    } else {
        if (!readable || (!conforming && (dpl < cpu->cpl || dpl < rpl)))
            x86_gp(cpu, sel & ~3);
        if (!(s.attrib & SEG_ATTR_P))
            x86_raise(cpu, EXC_NP, sel & ~3);
    }
    desc_set_accessed(cpu, sel, desc);
    s.attrib |= 1;
    if (cpu->mode == MODE_LONG64 && seg >= SEG_FS)
        s.base = cpu->seg[seg].base & 0xffffffffull ? s.base : s.base;
    cpu->seg[seg] = s;
    ss_shadow(cpu, seg);
    x86_update_mode(cpu);
}

/* PUSH ES/CS/SS/DS/FS/GS: a 16-bit selector, zero-extended to the operand
 * size (AMD writes the whole slot). */
void x86_op_push_sreg(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->osize;
    uint64_t sp_mask = cpu->mode == MODE_LONG64 ? ~0ull
                     : (cpu->seg[SEG_SS].attrib & SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
    uint64_t rsp = (cpu->gpr[RSP] - size) & sp_mask;
    mem_write(cpu, SEG_SS, rsp, size, cpu->seg[in->op[0].reg].sel);
    cpu->gpr[RSP] = (cpu->gpr[RSP] & ~sp_mask) | rsp;
}

void x86_op_pop_sreg(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->osize;
    uint64_t sp_mask = cpu->mode == MODE_LONG64 ? ~0ull
                     : (cpu->seg[SEG_SS].attrib & SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
    uint64_t rsp = cpu->gpr[RSP] & sp_mask;
    uint16_t sel = (uint16_t)mem_read(cpu, SEG_SS, rsp, size);
    x86_load_seg(cpu, in->op[0].reg, sel);
    cpu->gpr[RSP] = (cpu->gpr[RSP] & ~sp_mask) | ((rsp + size) & sp_mask);
}
