/* Data movement: MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, MOVBE, XLAT, NOP.
 *
 * None of these touch RFLAGS.  MOV to or from control, debug and segment
 * registers is a system instruction: the decoder routes those forms to
 * their own handlers, so every operand seen here is a GPR, memory or an
 * immediate the decoder has already extended to the operand size.  The
 * 32-bit zero-extension rule is reg_write's. */
#include <Zydis/Zydis.h>

#include "x86/insn.h"

/* MOV in all its forms (r/m, imm, moffs, imm64), MOVNTI, and MOVZX (op_read
 * returns the source zero-extended). */
static void op_mov(struct cpu *cpu, const struct insn *in)
{
    op_write(cpu, in, &in->op[0], op_read(cpu, in, &in->op[1]));
}

/* MOVSX and MOVSXD: op_write truncates to the destination size, so
 * MOVSXD with a 32-bit destination is a plain 32-bit move. */
static void op_movsx(struct cpu *cpu, const struct insn *in)
{
    const struct operand *s = &in->op[1];
    op_write(cpu, in, &in->op[0], sign_extend(op_read(cpu, in, s), s->size));
}

/* LEA: the effective address (already truncated to the address size by
 * op_ea), then truncated or zero-extended to the operand size.  No
 * segment base and no memory access. */
static void op_lea(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    reg_write(cpu, d->reg, d->size, op_ea(cpu, in, &in->op[1]));
}

/* XCHG: with a memory operand the store comes first (implicitly locked,
 * which on one CPU changes nothing), so a fault leaves the register. */
static void op_xchg(struct cpu *cpu, const struct insn *in)
{
    const struct operand *a = &in->op[0], *b = &in->op[1];
    uint64_t va = op_read(cpu, in, a), vb = op_read(cpu, in, b);
    if (a->kind == OP_MEM) {
        op_write(cpu, in, a, vb);
        op_write(cpu, in, b, va);
    } else {
        op_write(cpu, in, b, va);
        op_write(cpu, in, a, vb);
    }
}

static uint64_t byte_swap(uint64_t v, unsigned size)
{
    switch (size) {
    case 2: return __builtin_bswap16((uint16_t)v);
    case 4: return __builtin_bswap32((uint32_t)v);
    default: return __builtin_bswap64(v);
    }
}

/* MOVBE: a move with the bytes reversed; one operand is memory. */
static void op_movbe(struct cpu *cpu, const struct insn *in)
{
    const struct operand *s = &in->op[1];
    op_write(cpu, in, &in->op[0], byte_swap(op_read(cpu, in, s), s->size));
}

/* XLAT: AL = [seg:rBX + AL], the sum truncated to the address size. */
static void op_xlat(struct cpu *cpu, const struct insn *in)
{
    unsigned seg = SEG_DS;
    for (unsigned i = 0; i < 3; i++)
        if (in->op[i].kind == OP_MEM)
            seg = in->op[i].seg;
    uint64_t ea = (cpu->gpr[RBX] + (cpu->gpr[RAX] & 0xff)) &
                  size_mask(in->asize);
    reg_write(cpu, RAX, 1, mem_read(cpu, seg, ea, 1));
}

/* NOP in every form, including 0F 1F /0 with a memory operand (which is
 * never accessed), and the hints that live in the NOP space: ENDBR32/64
 * (F3 0F 1E, a NOP without CET) and the PREFETCH family (never faults;
 * AMD decodes every 0F 0D /r as a prefetch). */
static void op_nop(struct cpu *cpu, const struct insn *in)
{
    (void)cpu;
    (void)in;
}

void x86_ops_move(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_MOV] = op_mov;
    t[ZYDIS_MNEMONIC_MOVNTI] = op_mov;
    t[ZYDIS_MNEMONIC_MOVZX] = op_mov;
    t[ZYDIS_MNEMONIC_MOVSX] = op_movsx;
    t[ZYDIS_MNEMONIC_MOVSXD] = op_movsx;
    t[ZYDIS_MNEMONIC_LEA] = op_lea;
    t[ZYDIS_MNEMONIC_XCHG] = op_xchg;
    t[ZYDIS_MNEMONIC_MOVBE] = op_movbe;
    t[ZYDIS_MNEMONIC_XLAT] = op_xlat;
    t[ZYDIS_MNEMONIC_NOP] = op_nop;
    t[ZYDIS_MNEMONIC_ENDBR32] = op_nop;
    t[ZYDIS_MNEMONIC_ENDBR64] = op_nop;
    t[ZYDIS_MNEMONIC_PREFETCH] = op_nop;
    t[ZYDIS_MNEMONIC_PREFETCHW] = op_nop;
    t[ZYDIS_MNEMONIC_PREFETCHWT1] = op_nop;
    t[ZYDIS_MNEMONIC_PREFETCHNTA] = op_nop;
    t[ZYDIS_MNEMONIC_PREFETCHT0] = op_nop;
    t[ZYDIS_MNEMONIC_PREFETCHT1] = op_nop;
    t[ZYDIS_MNEMONIC_PREFETCHT2] = op_nop;
}
