/* Near control transfers: JMP, Jcc, JrCXZ, LOOPcc, CALL, RET.
 *
 * A handler writes the target to cpu->next_rip.  The target is truncated
 * to the operand size: 64-bit mode uses 64 bits (or 16 with a 66h prefix,
 * which AMD honours on near branches), other modes 32 or 16.  A 64-bit
 * target that is not canonical raises #GP(0) at the branch itself, before
 * anything is pushed or popped, so RIP and rSP still describe the branch
 * (APM vol. 3, JMP/CALL/RET).  Relative forms carry the sign-extended
 * displacement in op[0].disp.  Far forms are system instructions and are
 * routed elsewhere by the decoder. */
#include <Zydis/Zydis.h>

#include "x86/insn.h"
#include "x86/stack.h"

static inline uint64_t branch_target(struct cpu *cpu, const struct insn *in,
                                     uint64_t target)
{
    if (in->osize != 8)
        return target & size_mask(in->osize);
    if (unlikely(!x86_canonical(target)))
        x86_gp(cpu, 0);
    return target;
}

static inline uint64_t rel_target(struct cpu *cpu, const struct insn *in)
{
    return branch_target(cpu, in, cpu->next_rip + (uint64_t)in->op[0].disp);
}

/* JMP rel, JMP r/m: an immediate operand is relative, anything else holds
 * the absolute target. */
static void op_jmp(struct cpu *cpu, const struct insn *in)
{
    const struct operand *op = &in->op[0];
    if (op->kind == OP_IMM)
        cpu->next_rip = rel_target(cpu, in);
    else
        cpu->next_rip = branch_target(cpu, in, op_read(cpu, in, op));
}

static void op_jcc(struct cpu *cpu, const struct insn *in)
{
    if (x86_cond(cpu, in->cond))
        cpu->next_rip = rel_target(cpu, in);
}

/* JCXZ/JECXZ/JRCXZ: the count register's width is the address size. */
static void op_jrcxz(struct cpu *cpu, const struct insn *in)
{
    if ((cpu->gpr[RCX] & size_mask(in->asize)) == 0)
        cpu->next_rip = rel_target(cpu, in);
}

/* LOOP, LOOPE, LOOPNE: decrement rCX (address size; a 32-bit count
 * zero-extends into RCX as any 32-bit write does, checked on the host)
 * without touching flags, then branch while rCX != 0 and, for the
 * conditional forms, while ZF matches.  rCX is written only once the
 * target is known to be valid. */
static inline void loop_common(struct cpu *cpu, const struct insn *in,
                               bool cond)
{
    uint64_t count = (cpu->gpr[RCX] - 1) & size_mask(in->asize);
    uint64_t target = cpu->next_rip;
    if (count != 0 && cond)
        target = rel_target(cpu, in);
    reg_write(cpu, RCX, in->asize, count);
    cpu->next_rip = target;
}

static void op_loop(struct cpu *cpu, const struct insn *in)
{
    loop_common(cpu, in, true);
}

static void op_loope(struct cpu *cpu, const struct insn *in)
{
    loop_common(cpu, in, x86_cond(cpu, 4));   /* E: ZF = 1 */
}

static void op_loopne(struct cpu *cpu, const struct insn *in)
{
    loop_common(cpu, in, x86_cond(cpu, 5));   /* NE: ZF = 0 */
}

/* CALL rel, CALL r/m: the target is read (and checked) before the return
 * address is pushed, so CALL [RSP] uses the old rSP. */
static void op_call(struct cpu *cpu, const struct insn *in)
{
    const struct operand *op = &in->op[0];
    uint64_t target;
    if (op->kind == OP_IMM)
        target = rel_target(cpu, in);
    else
        target = branch_target(cpu, in, op_read(cpu, in, op));
    stack_push(cpu, in->osize, cpu->next_rip);
    cpu->next_rip = target;
}

/* RET, RET imm16: pop the target, then release imm16 more bytes. */
static void op_ret(struct cpu *cpu, const struct insn *in)
{
    uint64_t target = branch_target(cpu, in, stack_peek(cpu, in->osize, 0));
    uint64_t extra = in->op[0].kind == OP_IMM
                     ? ((uint64_t)in->op[0].disp & 0xffff) : 0;
    stack_release(cpu, in->osize + extra);
    cpu->next_rip = target;
}

void x86_ops_branch(insn_fn *t)
{
    static const uint16_t jcc[] = {
        ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB,
        ZYDIS_MNEMONIC_JNB, ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ,
        ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE, ZYDIS_MNEMONIC_JS,
        ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
        ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE,
        ZYDIS_MNEMONIC_JNLE,
    };
    for (unsigned i = 0; i < sizeof jcc / sizeof jcc[0]; i++)
        t[jcc[i]] = op_jcc;
    t[ZYDIS_MNEMONIC_JMP] = op_jmp;
    t[ZYDIS_MNEMONIC_JCXZ] = op_jrcxz;
    t[ZYDIS_MNEMONIC_JECXZ] = op_jrcxz;
    t[ZYDIS_MNEMONIC_JRCXZ] = op_jrcxz;
    t[ZYDIS_MNEMONIC_LOOP] = op_loop;
    t[ZYDIS_MNEMONIC_LOOPE] = op_loope;
    t[ZYDIS_MNEMONIC_LOOPNE] = op_loopne;
    t[ZYDIS_MNEMONIC_CALL] = op_call;
    t[ZYDIS_MNEMONIC_RET] = op_ret;
}
