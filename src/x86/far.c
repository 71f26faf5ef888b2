/* Far control transfers: JMP far, CALL far, RETF, IRET/IRETD/IRETQ
 * (APM vol. 3).  Real mode loads CS as base = selector << 4; protected and
 * long mode go through the descriptor checks of desc.c.  Every value is
 * read and every check made before CS, SS, rSP or RFLAGS change.
 *
 * Transfers to code segments at the same privilege and RETF/IRET to an
 * outer privilege are here; call gates, task gates and TSSs as JMP/CALL
 * targets in gate.c, task switches (and IRET with NT = 1 outside long
 * mode) in task.c.  Not implemented: IRET to virtual-8086 mode (#GP(0)). */
#include <Zydis/Zydis.h>

#include "x86/system.h"

/* Flags IRET may write at any privilege (16-bit image). */
#define IRET_FLAGS16 (FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT)

static void real_cs(struct x86_seg *cs, uint16_t sel, const struct x86_seg *old)
{
    *cs = *old;
    cs->sel = sel;
    cs->base = (uint64_t)sel << 4;
}

/* The ptr16:16/32 immediate (selector << 32 | offset) or m16:16/32/64. */
static void far_pointer(struct cpu *cpu, const struct insn *in, uint64_t *off,
                        uint16_t *sel)
{
    const struct operand *op = &in->op[0];
    if (op->kind == OP_IMM) {
        *off = (uint64_t)op->disp & size_mask(in->osize);
        *sel = (uint16_t)((uint64_t)op->disp >> 32);
        return;
    }
    uint64_t ea = op_ea(cpu, in, op);
    *off = mem_read(cpu, op->seg, ea, in->osize);
    *sel = (uint16_t)mem_read(cpu, op->seg, (ea + in->osize) & size_mask(in->asize), 2);
}

static void far_target(struct cpu *cpu, uint16_t sel, uint64_t off,
                       struct x86_seg *cs)
{
    if (prot_mode(cpu))
        desc_branch_cs(cpu, sel, cs);
    else
        real_cs(cs, sel, &cpu->seg[SEG_CS]);
    check_far_target(cpu, cs, off);
}

void x86_op_jmp_far(struct cpu *cpu, const struct insn *in)
{
    uint64_t off;
    uint16_t sel;
    struct x86_seg cs;
    far_pointer(cpu, in, &off, &sel);
    if (prot_mode(cpu) && x86_far_system(cpu, sel, false))
        return;
    far_target(cpu, sel, off, &cs);
    commit_cs(cpu, &cs, off);
}

/* CALL far pushes CS then the return offset, each in an operand-size
 * slot (the selector zero-extended), on the current stack. */
void x86_op_call_far(struct cpu *cpu, const struct insn *in)
{
    uint64_t off;
    uint16_t sel;
    struct x86_seg cs;
    unsigned v = in->osize, ss = stack_size(cpu);
    far_pointer(cpu, in, &off, &sel);
    if (prot_mode(cpu) && x86_far_system(cpu, sel, true))
        return;
    far_target(cpu, sel, off, &cs);
    uint64_t sp = cpu->gpr[RSP];
    uint64_t at_cs = (sp - v) & size_mask(ss), at_ip = (sp - 2 * v) & size_mask(ss);
    mem_write_lin(cpu, stack_linear(cpu, at_cs), v, cpu->seg[SEG_CS].sel, ACC_WRITE);
    mem_write_lin(cpu, stack_linear(cpu, at_ip), v, cpu->next_rip, ACC_WRITE);
    stack_set_sp(cpu, ss, at_ip);
    commit_cs(cpu, &cs, off);
}

/* rSP after a return that switches stacks: the popped value plus the
 * RETF immediate, as wide as the new stack (64-bit mode: all of RSP). */
static void set_new_sp(struct cpu *cpu, const struct x86_seg *cs,
                       const struct x86_seg *ss, uint64_t sp)
{
    if (x86_long_mode(cpu) && (cs->attrib & SEG_ATTR_L))
        cpu->gpr[RSP] = sp;
    else
        stack_set_sp(cpu, (ss->attrib & SEG_ATTR_DB) ? 4 : 2, sp);
}

/* The stack segment of a return to cs's privilege (checked, not loaded). */
static void outer_ss(struct cpu *cpu, const struct x86_seg *cs, uint16_t ss_sel,
                     struct x86_seg *ss)
{
    unsigned cpl = cs->sel & 3u;
    bool to64 = x86_long_mode(cpu) && (cs->attrib & SEG_ATTR_L);
    desc_return_ss(cpu, ss_sel, cpl, to64 && cpl < 3, ss);
}

/* Switch to the stack and privilege of a RETF/IRET whose checks passed. */
static void switch_stack(struct cpu *cpu, const struct x86_seg *cs,
                         const struct x86_seg *ss, uint64_t sp)
{
    cpu->seg[SEG_SS] = *ss;
    set_new_sp(cpu, cs, ss, sp);
    cpu->cpl = cs->sel & 3u;
    desc_null_inaccessible(cpu);
}

static void retf_real(struct cpu *cpu, const struct insn *in, uint64_t imm)
{
    unsigned v = in->osize;
    struct x86_seg cs;
    uint64_t off = stack_peek(cpu, v, 0);
    uint16_t sel = (uint16_t)stack_peek(cpu, 2, v);
    real_cs(&cs, sel, &cpu->seg[SEG_CS]);
    check_far_target(cpu, &cs, off);
    stack_release(cpu, 2 * v + imm);
    commit_cs(cpu, &cs, off);
}

/* RETF [imm16]: pop offset and CS; to an outer privilege also pop rSP and
 * SS, and release imm16 bytes on both stacks. */
void x86_op_ret_far(struct cpu *cpu, const struct insn *in)
{
    unsigned v = in->osize;
    uint64_t imm = in->op[0].kind == OP_IMM ? (uint64_t)in->op[0].disp & 0xffff : 0;
    struct x86_seg cs;
    if (!prot_mode(cpu)) {
        retf_real(cpu, in, imm);
        return;
    }
    uint64_t off = stack_peek(cpu, v, 0);
    uint16_t sel = (uint16_t)stack_peek(cpu, 2, v);
    desc_return_cs(cpu, sel, &cs);
    if ((sel & 3u) == cpu->cpl) {
        check_far_target(cpu, &cs, off);
        stack_release(cpu, 2 * v + imm);
    } else {
        struct x86_seg ss;
        uint64_t sp = stack_peek(cpu, v, 2 * v + imm);
        outer_ss(cpu, &cs, (uint16_t)stack_peek(cpu, 2, 3 * v + imm), &ss);
        check_far_target(cpu, &cs, off);
        switch_stack(cpu, &cs, &ss, sp + imm);
    }
    commit_cs(cpu, &cs, off);
}

/* RFLAGS from an IRET image: which bits may change depends on the CPL
 * before the return and on IOPL (APM vol. 3, IRET; vol. 2, 3.1.6). */
static void iret_flags(struct cpu *cpu, uint64_t image, unsigned v,
                       unsigned old_cpl)
{
    uint64_t mask = IRET_FLAGS16;
    if (!prot_mode(cpu) || old_cpl <= rflags_iopl(cpu))
        mask |= FLAG_IF;
    if (!prot_mode(cpu) || old_cpl == 0)
        mask |= FLAG_IOPL;
    if (v >= 4) {
        mask |= FLAG_RF | FLAG_AC | FLAG_ID;
        if (prot_mode(cpu) && old_cpl == 0)
            mask |= FLAG_VIF | FLAG_VIP;
    }
    uint64_t fl = x86_get_rflags(cpu);
    x86_set_rflags(cpu, (fl & ~mask) | (image & mask));
}

static void iret_real(struct cpu *cpu, const struct insn *in)
{
    unsigned v = in->osize;
    struct x86_seg cs;
    uint64_t off = stack_peek(cpu, v, 0);
    uint16_t sel = (uint16_t)stack_peek(cpu, 2, v);
    uint64_t fl = stack_peek(cpu, v, 2 * v);
    real_cs(&cs, sel, &cpu->seg[SEG_CS]);
    check_far_target(cpu, &cs, off);
    stack_release(cpu, 3 * v);
    iret_flags(cpu, fl, v, 0);
    commit_cs(cpu, &cs, off);
}

/* IRET in protected and long mode.  64-bit mode always pops SS:rSP;
 * elsewhere only a return to an outer privilege does. */
static void iret_prot(struct cpu *cpu, const struct insn *in)
{
    unsigned v = in->osize, old_cpl = cpu->cpl;
    struct x86_seg cs;
    if (cpu->rflags & FLAG_NT) {
        if (x86_long_mode(cpu))
            x86_gp(cpu, 0);   /* no task switches in long mode */
        x86_task_return(cpu);
        return;
    }
    uint64_t off = stack_peek(cpu, v, 0);
    uint16_t sel = (uint16_t)stack_peek(cpu, 2, v);
    uint64_t fl = stack_peek(cpu, v, 2 * v);
    if ((fl & FLAG_VM) && !x86_long_mode(cpu) && old_cpl == 0)
        x86_gp(cpu, 0);   /* return to virtual-8086 mode: not implemented */
    desc_return_cs(cpu, sel, &cs);
    if (cpu->mode == MODE_LONG64 || (sel & 3u) != old_cpl) {
        struct x86_seg ss;
        uint64_t sp = stack_peek(cpu, v, 3 * v);
        outer_ss(cpu, &cs, (uint16_t)stack_peek(cpu, 2, 4 * v), &ss);
        check_far_target(cpu, &cs, off);
        iret_flags(cpu, fl, v, old_cpl);
        switch_stack(cpu, &cs, &ss, sp);
    } else {
        check_far_target(cpu, &cs, off);
        stack_release(cpu, 3 * v);
        iret_flags(cpu, fl, v, old_cpl);
    }
    commit_cs(cpu, &cs, off);
}

/* The IRET intercept is checked before any exception IRET can raise
 * (APM 15.7.1; it is one of the intercepts ahead of the #GP checks). */
static void op_iret(struct cpu *cpu, const struct insn *in)
{
    svm_check(cpu, SVM_EXIT_IRET, 0, 0);
    if (prot_mode(cpu))
        iret_prot(cpu, in);
    else
        iret_real(cpu, in);
    cpu->nmi_blocked = false;   /* IRET ends NMI blocking (APM 8.2.3) */
}

void sys_ops_far(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_IRET] = op_iret;
    t[ZYDIS_MNEMONIC_IRETD] = op_iret;
    t[ZYDIS_MNEMONIC_IRETQ] = op_iret;
}
