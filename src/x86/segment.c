/* Segment registers and descriptor tables: MOV Sreg, LGDT,
 * LIDT, SGDT, SIDT, LLDT, SLDT, LTR, STR, LAR, LSL, VERR, VERW, SWAPGS and
 * RD/WR FS/GS BASE (APM vol. 3; vol. 2, 4.6-4.8).
 *
 * SVM: the descriptor-table intercepts (0x66-0x6D) follow the #UD and CPL
 * checks and precede the memory operand (APM 15.7.1). */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/system.h"

/* A 16-bit selector operand (register or memory). */
static uint16_t read_sel(struct cpu *cpu, const struct insn *in,
                         const struct operand *op)
{
    if (op->kind == OP_REG)
        return (uint16_t)reg_read(cpu, op->reg, 2);
    return (uint16_t)mem_read(cpu, op->seg, op_ea(cpu, in, op), 2);
}

/* MOV/SLDT/STR to a register write the selector zero-extended to the
 * operand size (a 16-bit register keeps its upper bits); to memory they
 * write 16 bits (checked on the host for MOV r, Sreg). */
static void write_sel(struct cpu *cpu, const struct insn *in,
                      const struct operand *op, uint16_t sel)
{
    if (op->kind == OP_REG)
        reg_write(cpu, op->reg, op->size, sel);
    else
        mem_write(cpu, op->seg, op_ea(cpu, in, op), 2, sel);
}

void x86_op_mov_sreg(struct cpu *cpu, const struct insn *in)
{
    if (in->op[0].kind == OP_SREG) {
        unsigned seg = in->op[0].reg;
        if (seg == SEG_CS || seg > SEG_GS)
            x86_ud(cpu);
        /* a load of SS opens the interrupt shadow (x86_load_seg) */
        x86_load_seg(cpu, (int)seg, read_sel(cpu, in, &in->op[1]));
    } else {
        if (in->op[1].reg > SEG_GS)
            x86_ud(cpu);
        write_sel(cpu, in, &in->op[0], cpu->seg[in->op[1].reg].sel);
    }
}

/* ---- GDTR and IDTR ---- */

/* LGDT/LIDT m16&32 / m16&64: in 64-bit mode the base is 8 bytes and must
 * be canonical; elsewhere 4 bytes, 24 of them with a 16-bit operand. */
static void load_dtable(struct cpu *cpu, const struct insn *in,
                        struct x86_dtable *dt, uint64_t exit_code)
{
    const struct operand *op = &in->op[0];
    if (prot_mode(cpu))
        require_cpl0(cpu);
    svm_check(cpu, exit_code, 0, 0);
    uint64_t ea = op_ea(cpu, in, op);
    uint16_t limit = (uint16_t)mem_read(cpu, op->seg, ea, 2);
    uint64_t at = (ea + 2) & size_mask(in->asize), base;
    if (cpu->mode == MODE_LONG64) {
        base = mem_read(cpu, op->seg, at, 8);
        if (!x86_canonical(base))
            x86_gp(cpu, 0);
    } else {
        base = mem_read(cpu, op->seg, at, 4);
        if (in->osize == 2)
            base &= 0xffffff;
    }
    dt->limit = limit;
    dt->base = base;
}

/* SGDT/SIDT store the limit, then the base: 8 bytes in 64-bit mode, else
 * all 32 bits whatever the operand size (AMD). */
static void store_dtable(struct cpu *cpu, const struct insn *in,
                         const struct x86_dtable *dt, uint64_t exit_code)
{
    const struct operand *op = &in->op[0];
    svm_check(cpu, exit_code, 0, 0);
    uint64_t ea = op_ea(cpu, in, op);
    unsigned bsize = cpu->mode == MODE_LONG64 ? 8 : 4;
    mem_write(cpu, op->seg, ea, 2, dt->limit);
    mem_write(cpu, op->seg, (ea + 2) & size_mask(in->asize), bsize, dt->base);
}

static void op_lgdt(struct cpu *cpu, const struct insn *in)
{
    load_dtable(cpu, in, &cpu->gdtr, SVM_EXIT_GDTR_WRITE);
}

static void op_lidt(struct cpu *cpu, const struct insn *in)
{
    load_dtable(cpu, in, &cpu->idtr, SVM_EXIT_IDTR_WRITE);
}

static void op_sgdt(struct cpu *cpu, const struct insn *in)
{
    store_dtable(cpu, in, &cpu->gdtr, SVM_EXIT_GDTR_READ);
}

static void op_sidt(struct cpu *cpu, const struct insn *in)
{
    store_dtable(cpu, in, &cpu->idtr, SVM_EXIT_IDTR_READ);
}

/* ---- LDTR and TR ---- */

/* LLDT, SLDT, LTR, STR, LAR, LSL, VERR, VERW: #UD outside protected mode. */
static void require_prot(struct cpu *cpu)
{
    if (!prot_mode(cpu) || (cpu->rflags & FLAG_VM))
        x86_ud(cpu);
}

/* A system descriptor for LDTR/TR must be of one of the given types and
 * present; in long mode its upper half has a zero type field and the base
 * must be canonical. */
static void check_sys_desc(struct cpu *cpu, uint16_t sel, const struct desc *d,
                           bool type_ok)
{
    uint16_t a = desc_attrib(d->lo);
    if ((a & SEG_ATTR_S) || !type_ok)
        x86_gp(cpu, sel_err(sel));
    if (!(a & SEG_ATTR_P))
        x86_raise(cpu, EXC_NP, sel_err(sel));
    if (x86_long_mode(cpu)) {
        struct x86_seg s;
        desc_unpack(d, sel, &s);
        if (((d->hi >> 40) & 0x1f) || !x86_canonical(s.base))
            x86_gp(cpu, sel_err(sel));
    }
}

static void op_lldt(struct cpu *cpu, const struct insn *in)
{
    struct desc d;
    require_prot(cpu);
    require_cpl0(cpu);
    svm_check(cpu, SVM_EXIT_LDTR_WRITE, 0, 0);
    uint16_t sel = read_sel(cpu, in, &in->op[0]);
    if (sel_null(sel)) {
        cpu->ldtr.sel = sel;
        cpu->ldtr.attrib = 0;   /* unusable */
        return;
    }
    if (sel & 4)
        x86_gp(cpu, sel_err(sel));
    desc_fetch_gp(cpu, sel, true, &d);
    check_sys_desc(cpu, sel, &d, SEG_ATTR_TYPE(desc_attrib(d.lo)) == DESC_LDT);
    desc_unpack(&d, sel, &cpu->ldtr);
}

/* LTR loads an available TSS and marks it busy in the GDT. */
static void op_ltr(struct cpu *cpu, const struct insn *in)
{
    struct desc d;
    require_prot(cpu);
    require_cpl0(cpu);
    svm_check(cpu, SVM_EXIT_TR_WRITE, 0, 0);
    uint16_t sel = read_sel(cpu, in, &in->op[0]);
    if (sel_null(sel))
        x86_gp(cpu, 0);
    if (sel & 4)
        x86_gp(cpu, sel_err(sel));
    desc_fetch_gp(cpu, sel, true, &d);
    unsigned type = SEG_ATTR_TYPE(desc_attrib(d.lo));
    bool avail = type == DESC_TSS_AVL ||
                 (type == DESC_TSS16_AVL && !x86_long_mode(cpu));
    check_sys_desc(cpu, sel, &d, avail);
    desc_set_type_bit(cpu, &d, 2);   /* available -> busy */
    desc_unpack(&d, sel, &cpu->tr);
    cpu->tr.attrib |= 2;
}

static void op_sldt(struct cpu *cpu, const struct insn *in)
{
    require_prot(cpu);
    svm_check(cpu, SVM_EXIT_LDTR_READ, 0, 0);
    write_sel(cpu, in, &in->op[0], cpu->ldtr.sel);
}

static void op_str(struct cpu *cpu, const struct insn *in)
{
    require_prot(cpu);
    svm_check(cpu, SVM_EXIT_TR_READ, 0, 0);
    write_sel(cpu, in, &in->op[0], cpu->tr.sel);
}

/* ---- LAR, LSL, VERR, VERW ---- */

/* System descriptor types LAR may report (bit n = type n): legacy mode
 * knows 16- and 32-bit TSSs, the LDT, call and task gates; long mode only
 * the LDT, 64-bit TSSs and 64-bit call gates.  LSL excludes gates. */
#define LAR_LEGACY 0x1a3eu   /* 1 2 3 4 5 9 B C */
#define LAR_LONG   0x1a04u   /* 2 9 B C */
#define LSL_LEGACY 0x0a0eu   /* 1 2 3 9 B */
#define LSL_LONG   0x0a04u   /* 2 9 B */

/* The descriptor sel names, if the current privilege may see it: a
 * conforming code segment always, anything else with DPL >= CPL and
 * DPL >= RPL.  A null or out-of-range selector is never visible. */
static bool visible_desc(struct cpu *cpu, uint16_t sel, uint16_t sys_types,
                         struct desc *d)
{
    if (sel_null(sel) || !desc_fetch(cpu, sel, false, d))
        return false;
    uint16_t a = desc_attrib(d->lo);
    unsigned dpl = SEG_ATTR_DPL(a);
    if (!(a & SEG_ATTR_S)) {
        if (!((sys_types >> SEG_ATTR_TYPE(a)) & 1))
            return false;
        if (x86_long_mode(cpu) && !desc_fetch(cpu, sel, true, d))
            return false;
    } else if ((a & DESC_CODE) && (a & DESC_CONFORMING)) {
        return true;
    }
    return dpl >= cpu->cpl && dpl >= (sel & 3u);
}

static void set_zf(struct cpu *cpu, bool zf)
{
    flags_set(cpu, FLAG_ZF, zf ? FLAG_ZF : 0);
}

/* LAR: access rights = descriptor bits 55:40 in place (bits 23:8), the
 * limit's bits 19:16 included (host: 0x00cffb00 for a flat 32-bit code
 * segment).  A failing LAR/LSL leaves the destination unwritten. */
static void op_lar(struct cpu *cpu, const struct insn *in)
{
    struct desc d;
    require_prot(cpu);
    uint16_t sel = read_sel(cpu, in, &in->op[1]);
    bool ok = visible_desc(cpu, sel, x86_long_mode(cpu) ? LAR_LONG : LAR_LEGACY, &d);
    if (ok)
        reg_write(cpu, in->op[0].reg, in->op[0].size, (d.lo >> 32) & 0x00ffff00);
    set_zf(cpu, ok);
}

/* LSL: the limit in bytes (scaled by G). */
static void op_lsl(struct cpu *cpu, const struct insn *in)
{
    struct desc d;
    require_prot(cpu);
    uint16_t sel = read_sel(cpu, in, &in->op[1]);
    bool ok = visible_desc(cpu, sel, x86_long_mode(cpu) ? LSL_LONG : LSL_LEGACY, &d);
    if (ok) {
        struct x86_seg s;
        desc_unpack(&d, sel, &s);
        reg_write(cpu, in->op[0].reg, in->op[0].size, s.limit);
    }
    set_zf(cpu, ok);
}

/* VERR: a readable segment (data, or readable code); VERW: writable data. */
static void verify(struct cpu *cpu, const struct insn *in, bool write)
{
    struct desc d;
    require_prot(cpu);
    uint16_t sel = read_sel(cpu, in, &in->op[0]);
    bool ok = visible_desc(cpu, sel, 0, &d);
    if (ok) {
        uint16_t a = desc_attrib(d.lo);
        if (!(a & SEG_ATTR_S))
            ok = false;
        else if (a & DESC_CODE)
            ok = !write && (a & DESC_READABLE);
        else
            ok = !write || (a & DESC_WRITABLE);
    }
    set_zf(cpu, ok);
}

static void op_verr(struct cpu *cpu, const struct insn *in)
{
    verify(cpu, in, false);
}

static void op_verw(struct cpu *cpu, const struct insn *in)
{
    verify(cpu, in, true);
}

/* ---- 64-bit mode: SWAPGS, FS/GS base ---- */

static void op_swapgs(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (cpu->mode != MODE_LONG64)
        x86_ud(cpu);
    require_cpl0(cpu);
    uint64_t base = cpu->seg[SEG_GS].base;
    cpu->seg[SEG_GS].base = cpu->kernel_gs_base;
    cpu->seg_lin_base[SEG_GS] = cpu->kernel_gs_base;
    cpu->kernel_gs_base = base;
}

/* RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE: 64-bit mode with CR4.FSGSBASE. */
static unsigned fsgsbase_seg(struct cpu *cpu, const struct insn *in)
{
    if (cpu->mode != MODE_LONG64 || !(cpu->cr4 & CR4_FSGSBASE))
        x86_ud(cpu);
    return in->mnemonic == ZYDIS_MNEMONIC_RDFSBASE ||
           in->mnemonic == ZYDIS_MNEMONIC_WRFSBASE ? SEG_FS : SEG_GS;
}

static void op_rdsegbase(struct cpu *cpu, const struct insn *in)
{
    unsigned seg = fsgsbase_seg(cpu, in);
    reg_write(cpu, in->op[0].reg, in->op[0].size, cpu->seg[seg].base);
}

static void op_wrsegbase(struct cpu *cpu, const struct insn *in)
{
    unsigned seg = fsgsbase_seg(cpu, in);
    uint64_t base = reg_read(cpu, in->op[0].reg, in->op[0].size);
    if (!x86_canonical(base))
        x86_gp(cpu, 0);
    cpu->seg[seg].base = base;
    cpu->seg_lin_base[seg] = base;
}

void sys_ops_segment(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_LGDT] = op_lgdt;
    t[ZYDIS_MNEMONIC_LIDT] = op_lidt;
    t[ZYDIS_MNEMONIC_SGDT] = op_sgdt;
    t[ZYDIS_MNEMONIC_SIDT] = op_sidt;
    t[ZYDIS_MNEMONIC_LLDT] = op_lldt;
    t[ZYDIS_MNEMONIC_LTR] = op_ltr;
    t[ZYDIS_MNEMONIC_SLDT] = op_sldt;
    t[ZYDIS_MNEMONIC_STR] = op_str;
    t[ZYDIS_MNEMONIC_LAR] = op_lar;
    t[ZYDIS_MNEMONIC_LSL] = op_lsl;
    t[ZYDIS_MNEMONIC_VERR] = op_verr;
    t[ZYDIS_MNEMONIC_VERW] = op_verw;
    t[ZYDIS_MNEMONIC_SWAPGS] = op_swapgs;
    t[ZYDIS_MNEMONIC_RDFSBASE] = op_rdsegbase;
    t[ZYDIS_MNEMONIC_RDGSBASE] = op_rdsegbase;
    t[ZYDIS_MNEMONIC_WRFSBASE] = op_wrsegbase;
    t[ZYDIS_MNEMONIC_WRGSBASE] = op_wrsegbase;
}
