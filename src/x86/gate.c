/* Far JMP and CALL through a system descriptor (APM vol. 2, 4.11.2-4.11.4
 * and 12.3; vol. 3, JMP and CALL (Far)): call gates, and in legacy mode
 * task gates and TSSs, which switch tasks (task.c).  In long mode only
 * the 16-byte 64-bit call gate is a legal target; any other system type
 * is #GP(sel).
 *
 * A call gate names a code segment and an entry offset.  JMP keeps the
 * CPL; CALL to a non-conforming segment of a more privileged DPL switches
 * to that level's stack from the TSS and pushes the caller's SS:rSP (and,
 * through a 16/32-bit gate, copies the gate's parameter count of words or
 * doublewords from the caller's stack).  The return (RETF, far.c) pops
 * them.  Everything is read and written before CS, SS or rSP change. */
#include "x86/system.h"

#define DESC_CALLGATE16 0x4u
#define DESC_TASKGATE   0x5u

struct callgate {
    uint16_t sel;       /* the gate's selector (error codes) */
    uint16_t cs_sel;    /* the target code segment */
    uint64_t offset;
    unsigned width;     /* 2, 4 or 8: 16-, 32-, 64-bit gate */
    unsigned params;    /* CALL to more privilege: items to copy */
};

static void decode_gate(const struct desc *d, uint16_t sel, struct callgate *g)
{
    unsigned type = SEG_ATTR_TYPE(desc_attrib(d->lo));
    g->sel = sel;
    g->cs_sel = (uint16_t)(d->lo >> 16);
    g->offset = (d->lo & 0xffff) | ((d->lo >> 32) & 0xffff0000ull);
    g->params = (unsigned)(d->lo >> 32) & 0x1f;
    if (type == DESC_CALLGATE16) {
        g->width = 2;
        g->offset &= 0xffff;
    } else {
        g->width = 4;
    }
}

/* The code segment a call gate names: present, code, DPL <= CPL; a JMP
 * to a non-conforming one needs DPL = CPL; in long mode a 64-bit one. */
static void gate_cs(struct cpu *cpu, const struct callgate *g, bool call,
                    struct x86_seg *cs)
{
    struct desc d;
    if (sel_null(g->cs_sel) && !(g->cs_sel & 4))
        x86_gp(cpu, 0);
    desc_fetch_gp(cpu, g->cs_sel, false, &d);
    uint16_t a = desc_attrib(d.lo);
    unsigned dpl = SEG_ATTR_DPL(a);
    bool conforming = a & DESC_CONFORMING;
    if (!(a & SEG_ATTR_S) || !(a & DESC_CODE) || dpl > cpu->cpl)
        x86_gp(cpu, sel_err(g->cs_sel));
    if (!call && !conforming && dpl != cpu->cpl)
        x86_gp(cpu, sel_err(g->cs_sel));
    if (!(a & SEG_ATTR_P))
        x86_raise(cpu, EXC_NP, sel_err(g->cs_sel));
    if (x86_long_mode(cpu) && (!(a & SEG_ATTR_L) || (a & SEG_ATTR_DB)))
        x86_gp(cpu, sel_err(g->cs_sel));
    desc_set_type_bit(cpu, &d, DESC_ACCESSED);
    unsigned new_cpl = (call && !conforming) ? dpl : cpu->cpl;
    desc_unpack(&d, (uint16_t)((g->cs_sel & ~3u) | new_cpl), cs);
    cs->attrib |= DESC_ACCESSED;
}

/* CALL through a gate at the same privilege, or JMP: CS:rIP pushed as
 * wide as the gate (CALL only) on the current stack. */
static void gate_same(struct cpu *cpu, const struct callgate *g, bool call,
                      const struct x86_seg *cs)
{
    check_far_target(cpu, cs, g->offset);
    if (call) {
        unsigned w = g->width, ss = stack_size(cpu);
        uint64_t sp = cpu->gpr[RSP];
        uint64_t at_cs = (sp - w) & size_mask(ss), at_ip = (sp - 2 * w) & size_mask(ss);
        mem_write_lin(cpu, stack_linear(cpu, at_cs), w, cpu->seg[SEG_CS].sel, ACC_WRITE);
        mem_write_lin(cpu, stack_linear(cpu, at_ip), w, cpu->next_rip, ACC_WRITE);
        stack_set_sp(cpu, ss, at_ip);
    }
    commit_cs(cpu, cs, g->offset);
}

/* The inner stack of privilege cpl from the TSS: SS:ESP (16- or 32-bit
 * TSS), or RSPn with a null SS in long mode.  Beyond the TSS limit: #TS. */
static void inner_stack(struct cpu *cpu, unsigned cpl, struct x86_seg *ss,
                        uint64_t *sp)
{
    const struct x86_seg *tr = &cpu->tr;
    unsigned at, size;
    bool is32 = SEG_ATTR_TYPE(tr->attrib) & 8;
    if (x86_long_mode(cpu)) {
        at = 4 + 8 * cpl;
        size = 8;
    } else {
        at = is32 ? 4 + 8 * cpl : 2 + 4 * cpl;
        size = is32 ? 4 : 2;
    }
    unsigned last = x86_long_mode(cpu) ? at + size - 1 : at + size + 1;   /* SS follows */
    if (last > tr->limit)
        x86_raise(cpu, EXC_TS, sel_err(tr->sel));
    uint64_t base = x86_long_mode(cpu) ? tr->base : (uint32_t)tr->base;
    *sp = mem_read_lin(cpu, base + at, size, ACC_READ | ACC_SUPER);
    if (x86_long_mode(cpu)) {
        if (!x86_canonical(*sp))
            x86_raise(cpu, EXC_SS, 0);
        *ss = (struct x86_seg){ .sel = (uint16_t)cpl, .attrib = (uint16_t)(cpl << 5) };
        return;
    }
    uint16_t sel = (uint16_t)mem_read_lin(cpu, (uint32_t)(base + at + size), 2,
                                          ACC_READ | ACC_SUPER);
    struct desc d;
    if ((sel_null(sel) && !(sel & 4)) || !desc_fetch(cpu, sel, false, &d))
        x86_raise(cpu, EXC_TS, sel_err(sel));
    uint16_t a = desc_attrib(d.lo);
    if ((sel & 3u) != cpl || SEG_ATTR_DPL(a) != cpl || !(a & SEG_ATTR_S) ||
        (a & DESC_CODE) || !(a & DESC_WRITABLE))
        x86_raise(cpu, EXC_TS, sel_err(sel));
    if (!(a & SEG_ATTR_P))
        x86_raise(cpu, EXC_SS, sel_err(sel));
    desc_set_type_bit(cpu, &d, DESC_ACCESSED);
    desc_unpack(&d, sel, ss);
    ss->attrib |= DESC_ACCESSED;
}

/* Linear address of off on a stack segment (64-bit: RSP itself). */
static uint64_t on_stack(const struct cpu *cpu, const struct x86_seg *ss,
                         uint64_t off)
{
    if (x86_long_mode(cpu))
        return off;
    return (uint32_t)(ss->base + off);
}

static uint64_t stack_mask(const struct cpu *cpu, const struct x86_seg *ss)
{
    if (x86_long_mode(cpu))
        return ~0ull;
    return (ss->attrib & SEG_ATTR_DB) ? 0xffffffffull : 0xffffull;
}

/* CALL to a more privileged non-conforming segment: the new stack gets
 * the caller's SS and rSP, the parameters, CS and rIP (APM 4.11.4). */
static void gate_inner(struct cpu *cpu, const struct callgate *g,
                       const struct x86_seg *cs)
{
    unsigned cpl = cs->sel & 3u, w = g->width;
    struct x86_seg ss;
    uint64_t sp;
    inner_stack(cpu, cpl, &ss, &sp);
    check_far_target(cpu, cs, g->offset);

    uint64_t mask = stack_mask(cpu, &ss), old_mask = size_mask(stack_size(cpu));
    uint64_t old_sp = cpu->gpr[RSP], frame[4 + 31];
    unsigned n = 0, acc = ACC_WRITE | (cpl < 3 ? ACC_SUPER : 0);
    frame[n++] = cpu->seg[SEG_SS].sel;
    frame[n++] = old_sp;
    for (unsigned i = g->params; i-- > 0;)
        frame[n++] = mem_read_lin(cpu, seg_linear(cpu, SEG_SS, (old_sp + i * w) & old_mask),
                                  w, ACC_READ);
    frame[n++] = cpu->seg[SEG_CS].sel;
    frame[n++] = cpu->next_rip;
    for (unsigned k = 0; k < n; k++)
        mem_write_lin(cpu, on_stack(cpu, &ss, (sp - w * (k + 1)) & mask), w,
                      frame[k], acc);
    cpu->seg[SEG_SS] = ss;
    if (x86_long_mode(cpu))
        cpu->gpr[RSP] = sp - w * n;
    else
        stack_set_sp(cpu, (ss.attrib & SEG_ATTR_DB) ? 4 : 2, sp - w * n);
    commit_cs(cpu, cs, g->offset);
}

static void call_gate(struct cpu *cpu, const struct desc *d, uint16_t sel,
                      bool call)
{
    struct callgate g;
    struct x86_seg cs;
    decode_gate(d, sel, &g);
    if (x86_long_mode(cpu)) {
        g.width = 8;
        g.params = 0;
        g.offset |= d->hi << 32;
    }
    gate_cs(cpu, &g, call, &cs);
    if ((cs.sel & 3u) < cpu->cpl)
        gate_inner(cpu, &g, &cs);
    else
        gate_same(cpu, &g, call, &cs);
}

/* The checks every gate and TSS target shares: DPL >= CPL and >= RPL,
 * then presence. */
static void check_gate(struct cpu *cpu, uint16_t sel, uint16_t attrib)
{
    unsigned dpl = SEG_ATTR_DPL(attrib);
    if (dpl < cpu->cpl || dpl < (sel & 3u))
        x86_gp(cpu, sel_err(sel));
    if (!(attrib & SEG_ATTR_P))
        x86_raise(cpu, EXC_NP, sel_err(sel));
}

bool x86_far_system(struct cpu *cpu, uint16_t sel, bool call)
{
    struct desc d;
    if (sel_null(sel) || !desc_fetch(cpu, sel, false, &d))
        return false;   /* desc_branch_cs raises the fault */
    uint16_t a = desc_attrib(d.lo);
    if (a & SEG_ATTR_S)
        return false;
    unsigned type = SEG_ATTR_TYPE(a);
    if (x86_long_mode(cpu)) {
        if (type != DESC_CALLGATE)
            x86_gp(cpu, sel_err(sel));
        desc_fetch_gp(cpu, sel, true, &d);
        if ((d.hi >> 40) & 0x1f)
            x86_gp(cpu, sel_err(sel));   /* the upper half's type must be 0 */
        check_gate(cpu, sel, a);
        call_gate(cpu, &d, sel, call);
        return true;
    }
    switch (type) {
    case DESC_CALLGATE:
    case DESC_CALLGATE16:
        check_gate(cpu, sel, a);
        call_gate(cpu, &d, sel, call);
        return true;
    case DESC_TASKGATE:
        check_gate(cpu, sel, a);
        x86_task_far(cpu, (uint16_t)(d.lo >> 16), call);
        return true;
    case DESC_TSS_AVL:
    case DESC_TSS16_AVL:
        check_gate(cpu, sel, a);
        x86_task_far(cpu, sel, call);
        return true;
    default:
        x86_gp(cpu, sel_err(sel));
    }
}
