/* Stack instructions: PUSH, POP, PUSHA/POPA, ENTER, LEAVE.
 *
 * The operand size (in->osize) is the number of bytes moved: 8 by default
 * in 64-bit mode, 2 with a 66h prefix.  Memory is written before rSP
 * moves, so a #PF or #SS leaves every register as it was.  PUSHF/POPF and
 * PUSH/POP of a segment register are system instructions (IOPL and
 * descriptor rules): the decoder routes them to their own handlers. */
#include <Zydis/Zydis.h>

#include "x86/insn.h"
#include "x86/stack.h"

static void op_push(struct cpu *cpu, const struct insn *in)
{
    /* The value is read before rSP moves: PUSH RSP and PUSH [RSP] see the
     * old rSP. */
    stack_push(cpu, in->osize, op_read(cpu, in, &in->op[0]));
}

static void pop_to_memory(struct cpu *cpu, const struct insn *in,
                          uint64_t val)
{
    /* APM: a POP to memory that uses rSP as base computes the address
     * after rSP is incremented.  rSP is put back until the store has
     * succeeded, so a fault leaves it unchanged. */
    uint64_t old_sp = cpu->gpr[RSP];
    stack_release(cpu, in->osize);
    uint64_t new_sp = cpu->gpr[RSP];
    uint64_t ea = op_ea(cpu, in, &in->op[0]);
    cpu->gpr[RSP] = old_sp;
    mem_write(cpu, in->op[0].seg, ea, in->op[0].size, val);
    cpu->gpr[RSP] = new_sp;
}

static void op_pop(struct cpu *cpu, const struct insn *in)
{
    const struct operand *op = &in->op[0];
    uint64_t val = stack_peek(cpu, in->osize, 0);
    if (op->kind == OP_REG) {
        /* rSP first: POP RSP leaves the popped value in RSP. */
        stack_release(cpu, in->osize);
        reg_write(cpu, op->reg, op->size, val);
    } else {
        pop_to_memory(cpu, in, val);
    }
}

/* PUSHA/PUSHAD (legacy modes only; the decoder makes them #UD in 64-bit
 * mode): eAX, eCX, eDX, eBX, the original eSP, eBP, eSI, eDI. */
static void op_pusha(struct cpu *cpu, const struct insn *in)
{
    unsigned ss = stack_size(cpu), v = in->osize;
    uint64_t sp = cpu->gpr[RSP];
    for (unsigned r = RAX; r <= RDI; r++) {
        uint64_t at = (sp - (r + 1) * v) & size_mask(ss);
        mem_write_lin(cpu, stack_linear(cpu, at), v, cpu->gpr[r], ACC_WRITE);
    }
    stack_set_sp(cpu, ss, sp - 8 * v);
}

/* POPA/POPAD: the reverse order; the stored eSP is skipped. */
static void op_popa(struct cpu *cpu, const struct insn *in)
{
    unsigned v = in->osize;
    uint64_t val[8];
    for (unsigned r = RAX; r <= RDI; r++)
        val[r] = stack_peek(cpu, v, (7 - r) * v);
    stack_release(cpu, 8 * v);
    for (unsigned r = RAX; r <= RDI; r++)
        if (r != RSP)
            reg_write(cpu, r, v, val[r]);
}

/* ENTER alloc, level (APM vol. 3): push rBP; with a nesting level, copy
 * level-1 frame pointers from the enclosing frame and push the new frame
 * pointer; rBP = frame; rSP -= alloc.  All stores first, registers last. */
static void op_enter(struct cpu *cpu, const struct insn *in)
{
    unsigned ss = stack_size(cpu), v = in->osize;
    uint64_t smask = size_mask(ss);
    uint64_t alloc = (uint64_t)in->op[0].disp & 0xffff;
    unsigned level = (unsigned)in->op[1].disp & 0x1f;
    uint64_t sp = (cpu->gpr[RSP] - v) & smask;

    mem_write_lin(cpu, stack_linear(cpu, sp), v, cpu->gpr[RBP], ACC_WRITE);
    uint64_t frame = sp;
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            uint64_t from = (cpu->gpr[RBP] - (uint64_t)i * v) & smask;
            uint64_t data = mem_read_lin(cpu, stack_linear(cpu, from), v,
                                         ACC_READ);
            sp = (sp - v) & smask;
            mem_write_lin(cpu, stack_linear(cpu, sp), v, data, ACC_WRITE);
        }
        sp = (sp - v) & smask;
        mem_write_lin(cpu, stack_linear(cpu, sp), v, frame, ACC_WRITE);
    }
    stack_set_sp(cpu, ss, sp - alloc);
    reg_write(cpu, RBP, v, frame);
}

/* LEAVE: rSP = rBP (stack size), then pop rBP (operand size). */
static void op_leave(struct cpu *cpu, const struct insn *in)
{
    unsigned ss = stack_size(cpu), v = in->osize;
    uint64_t bp = cpu->gpr[RBP] & size_mask(ss);
    uint64_t val = mem_read_lin(cpu, stack_linear(cpu, bp), v, ACC_READ);
    stack_set_sp(cpu, ss, bp + v);
    reg_write(cpu, RBP, v, val);
}

void x86_ops_stack(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_PUSH] = op_push;
    t[ZYDIS_MNEMONIC_POP] = op_pop;
    t[ZYDIS_MNEMONIC_PUSHA] = op_pusha;
    t[ZYDIS_MNEMONIC_PUSHAD] = op_pusha;
    t[ZYDIS_MNEMONIC_POPA] = op_popa;
    t[ZYDIS_MNEMONIC_POPAD] = op_popa;
    t[ZYDIS_MNEMONIC_ENTER] = op_enter;
    t[ZYDIS_MNEMONIC_LEAVE] = op_leave;
}
