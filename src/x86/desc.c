/* Descriptor tables for the system instructions: reading GDT/LDT entries,
 * and the checks of far transfers (APM vol. 2, 4.7-4.11; vol. 3, JMP,
 * CALL, RETF, IRET).  Every check here runs before anything is committed,
 * so a fault leaves the instruction restartable. */
#include "x86/system.h"

/* Descriptor tables are reached with implicit supervisor accesses; their
 * linear addresses are 32-bit outside long mode. */
static uint64_t table_lin(const struct cpu *cpu, uint64_t lin)
{
    return x86_long_mode(cpu) ? lin : (uint32_t)lin;
}

bool desc_fetch(struct cpu *cpu, uint16_t sel, bool sys16, struct desc *d)
{
    uint64_t base, limit;
    if (sel & 4) {
        /* TI = 1: the LDT, which must exist (a null LDTR is unusable) */
        if (sel_null(cpu->ldtr.sel) || !(cpu->ldtr.attrib & SEG_ATTR_P))
            return false;
        base = cpu->ldtr.base;
        limit = cpu->ldtr.limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    uint64_t off = sel & ~7u;
    unsigned size = sys16 && x86_long_mode(cpu) ? 16 : 8;
    if (off + size - 1 > limit)
        return false;
    d->lin = table_lin(cpu, base + off);
    d->lo = mem_read_lin(cpu, d->lin, 8, ACC_READ | ACC_SUPER);
    d->hi = size == 16 ? mem_read_lin(cpu, table_lin(cpu, d->lin + 8), 8,
                                      ACC_READ | ACC_SUPER)
                       : 0;
    return true;
}

void desc_fetch_gp(struct cpu *cpu, uint16_t sel, bool sys16, struct desc *d)
{
    if (!desc_fetch(cpu, sel, sys16, d))
        x86_gp(cpu, sel_err(sel));
}

/* Bits 47:40 and 55:52 of a descriptor, packed as the VMCB packs them. */
uint16_t desc_attrib(uint64_t lo)
{
    return (uint16_t)(((lo >> 40) & 0xff) | ((lo >> 44) & 0xf00));
}

void desc_unpack(const struct desc *d, uint16_t sel, struct x86_seg *seg)
{
    x86_desc_to_seg(d->lo, sel, seg);
    seg->base |= d->hi << 32;
}

void desc_set_type_bit(struct cpu *cpu, const struct desc *d, unsigned bit)
{
    uint8_t access = (uint8_t)(d->lo >> 40);
    if (!(access & bit))
        mem_write_lin(cpu, table_lin(cpu, d->lin + 5), 1, access | bit,
                      ACC_SUPER);
}

/* A code segment usable by 64-bit mode or compatibility mode: L and D
 * together are reserved in long mode. */
static void check_long_cs(struct cpu *cpu, uint16_t attrib, uint16_t sel)
{
    if (x86_long_mode(cpu) && (attrib & SEG_ATTR_L) && (attrib & SEG_ATTR_DB))
        x86_gp(cpu, sel_err(sel));
}

/* Far JMP/CALL directly to a code segment: the CPL does not change.
 * Conforming: DPL <= CPL; non-conforming: RPL <= CPL and DPL = CPL.
 * Gates and TSSs went to gate.c before: a system descriptor here is #GP. */
void desc_branch_cs(struct cpu *cpu, uint16_t sel, struct x86_seg *cs)
{
    struct desc d;
    if (sel_null(sel))
        x86_gp(cpu, 0);
    desc_fetch_gp(cpu, sel, false, &d);
    uint16_t a = desc_attrib(d.lo);
    unsigned dpl = SEG_ATTR_DPL(a);
    if (!(a & SEG_ATTR_S) || !(a & DESC_CODE))
        x86_gp(cpu, sel_err(sel));
    if (a & DESC_CONFORMING) {
        if (dpl > cpu->cpl)
            x86_gp(cpu, sel_err(sel));
    } else if ((sel & 3u) > cpu->cpl || dpl != cpu->cpl) {
        x86_gp(cpu, sel_err(sel));
    }
    if (!(a & SEG_ATTR_P))
        x86_raise(cpu, EXC_NP, sel_err(sel));
    check_long_cs(cpu, a, sel);
    desc_set_type_bit(cpu, &d, DESC_ACCESSED);
    desc_unpack(&d, (uint16_t)((sel & ~3u) | cpu->cpl), cs);
    cs->attrib |= DESC_ACCESSED;
}

/* RETF/IRET: the popped CS names the privilege returned to (its RPL),
 * which may not be more privileged than the CPL. */
void desc_return_cs(struct cpu *cpu, uint16_t sel, struct x86_seg *cs)
{
    struct desc d;
    unsigned rpl = sel & 3u;
    if (sel_null(sel))
        x86_gp(cpu, 0);
    desc_fetch_gp(cpu, sel, false, &d);
    uint16_t a = desc_attrib(d.lo);
    unsigned dpl = SEG_ATTR_DPL(a);
    if (!(a & SEG_ATTR_S) || !(a & DESC_CODE) || rpl < cpu->cpl)
        x86_gp(cpu, sel_err(sel));
    if ((a & DESC_CONFORMING) ? dpl > rpl : dpl != rpl)
        x86_gp(cpu, sel_err(sel));
    if (!(a & SEG_ATTR_P))
        x86_raise(cpu, EXC_NP, sel_err(sel));
    check_long_cs(cpu, a, sel);
    desc_set_type_bit(cpu, &d, DESC_ACCESSED);
    desc_unpack(&d, sel, cs);
    cs->attrib |= DESC_ACCESSED;
}

/* The new SS must be a present writable data segment with RPL = DPL = the
 * new CPL.  In 64-bit mode a null SS is legal below CPL 3; it keeps its
 * selector and an attribute word that carries the DPL (= CPL), as
 * x86_load_seg leaves a null SS. */
void desc_return_ss(struct cpu *cpu, uint16_t sel, unsigned cpl, bool null_ok,
                    struct x86_seg *ss)
{
    struct desc d;
    if (sel_null(sel) && !(sel & 4)) {
        if (!null_ok || (sel & 3u) != cpl)
            x86_gp(cpu, 0);
        ss->sel = sel;
        ss->base = 0;
        ss->limit = 0;
        ss->attrib = (uint16_t)(cpl << 5);
        return;
    }
    if ((sel & 3u) != cpl)
        x86_gp(cpu, sel_err(sel));
    desc_fetch_gp(cpu, sel, false, &d);
    uint16_t a = desc_attrib(d.lo);
    if (!(a & SEG_ATTR_S) || (a & DESC_CODE) || !(a & DESC_WRITABLE) ||
        SEG_ATTR_DPL(a) != cpl)
        x86_gp(cpu, sel_err(sel));
    if (!(a & SEG_ATTR_P))
        x86_raise(cpu, EXC_SS, sel_err(sel));
    desc_set_type_bit(cpu, &d, DESC_ACCESSED);
    desc_unpack(&d, sel, ss);
    ss->attrib |= DESC_ACCESSED;
}

void desc_null_inaccessible(struct cpu *cpu)
{
    static const uint8_t segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
    for (unsigned i = 0; i < sizeof segs; i++) {
        struct x86_seg *s = &cpu->seg[segs[i]];
        uint16_t a = s->attrib;
        bool conforming_code = (a & DESC_CODE) && (a & DESC_CONFORMING);
        if (!sel_null(s->sel) && !conforming_code &&
            SEG_ATTR_DPL(a) < cpu->cpl) {
            s->sel = 0;
            s->attrib = 0;   /* unusable; the base is kept (AMD) */
        }
    }
}
