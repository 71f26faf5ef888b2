/* Decoded instructions and operand access.
 *
 * Zydis decodes each instruction once into a struct insn: the handler to
 * call and the operands, pre-extracted so that execution never looks at
 * Zydis structures again.  Handlers have one signature:
 *
 *     void handler(struct cpu *cpu, const struct insn *in);
 *
 * Before the call cpu->next_rip holds the address of the following
 * instruction; a branch writes its target there.  A handler that faults
 * calls x86_raise() before changing any architectural state it cannot
 * restart from (write memory before registers; RSP last). */
#ifndef NSVM_X86_INSN_H
#define NSVM_X86_INSN_H

#include <stdint.h>

#include "x86/cpu.h"

struct insn;
typedef void (*insn_fn)(struct cpu *cpu, const struct insn *in);

enum op_kind {
    OP_NONE,
    OP_REG,   /* general-purpose register */
    OP_MEM,   /* memory: seg:[base + index*scale + disp] */
    OP_IMM,   /* immediate (sign- or zero-extended by the decoder) */
    OP_SREG,  /* segment register: reg = SEG_* */
    OP_CR,    /* control register: reg = n */
    OP_DR,    /* debug register: reg = n */
};

#define REG_NONE  0xff
#define REG_RIP   0xfe   /* base of a RIP-relative address */
/* Byte registers AH, CH, DH, BH are bits 15:8 of RAX..RBX: reg = REG_HIGH8 + n */
#define REG_HIGH8 16

struct operand {
    uint8_t kind;    /* enum op_kind */
    uint8_t size;    /* bytes: 1, 2, 4, 8 (10/16 for memory operands of lgdt etc.) */
    uint8_t reg;     /* OP_REG/OP_SREG/OP_CR/OP_DR */
    uint8_t base;    /* OP_MEM: GPR or REG_NONE/REG_RIP */
    uint8_t index;   /* OP_MEM: GPR or REG_NONE */
    uint8_t scale;   /* OP_MEM: 1, 2, 4, 8 */
    uint8_t seg;     /* OP_MEM: effective segment (SEG_*) */
    uint8_t pad;
    int64_t disp;    /* OP_MEM: displacement; OP_IMM: the value (a far
                        pointer ptr16:32 is selector << 32 | offset) */
};

/* Prefix / property bits in insn->flags. */
#define INSN_REP    (1u << 0)   /* REP / REPE / REPZ */
#define INSN_REPNE  (1u << 1)   /* REPNE / REPNZ */
#define INSN_LOCK   (1u << 2)
#define INSN_BRANCH (1u << 3)   /* ends a block */
#define INSN_CROSS  (1u << 4)   /* spans two pages: never cached */

struct insn {
    insn_fn exec;
    uint16_t mnemonic;   /* ZydisMnemonic, for tracing and shared handlers */
    uint8_t len;
    uint8_t osize;       /* operand size in bytes */
    uint8_t asize;       /* address size in bytes */
    uint8_t flags;       /* INSN_* */
    uint8_t nops;
    uint8_t cond;        /* Jcc/SETcc/CMOVcc condition code 0..15 */
    struct operand op[3];
};

/* ---- operand access (inline: this is the hot path) ---- */

#include "x86/mem.h"

static inline uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t sign_extend(uint64_t v, unsigned size)
{
    unsigned sh = 64 - size * 8;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

static inline __attribute__((always_inline)) uint64_t reg_read(const struct cpu *cpu, unsigned reg,
                                unsigned size)
{
    if (reg >= REG_HIGH8)
        return (cpu->gpr[reg - REG_HIGH8] >> 8) & 0xff;
    return cpu->gpr[reg] & size_mask(size);
}

/* Writes follow the AMD64 rule: a 32-bit destination zero-extends into the
 * full register, 8- and 16-bit destinations merge. */
static inline __attribute__((always_inline)) void reg_write(struct cpu *cpu, unsigned reg, unsigned size,
                             uint64_t val)
{
    switch (size) {
    case 8: cpu->gpr[reg] = val; break;
    case 4: cpu->gpr[reg] = (uint32_t)val; break;
    case 2: cpu->gpr[reg] = (cpu->gpr[reg] & ~0xffffull) | (uint16_t)val; break;
    default:
        if (reg >= REG_HIGH8) {
            uint64_t *r = &cpu->gpr[reg - REG_HIGH8];
            *r = (*r & ~0xff00ull) | ((val & 0xff) << 8);
        } else {
            cpu->gpr[reg] = (cpu->gpr[reg] & ~0xffull) | (uint8_t)val;
        }
    }
}

/* Effective address (offset within the segment), truncated to the
 * address size. */
static inline __attribute__((always_inline)) uint64_t op_ea(const struct cpu *cpu, const struct insn *in,
                             const struct operand *op)
{
    uint64_t ea = (uint64_t)op->disp;
    if (op->base < 16)
        ea += cpu->gpr[op->base];
    else if (op->base == REG_RIP)
        ea += cpu->next_rip;
    if (op->index != REG_NONE)
        ea += cpu->gpr[op->index] * op->scale;
    return ea & size_mask(in->asize);
}

static inline __attribute__((always_inline)) uint64_t op_read(struct cpu *cpu, const struct insn *in,
                               const struct operand *op)
{
    switch (op->kind) {
    case OP_REG: return reg_read(cpu, op->reg, op->size);
    case OP_IMM: return (uint64_t)op->disp & size_mask(op->size);
    default:     return mem_read(cpu, op->seg, op_ea(cpu, in, op), op->size);
    }
}

static inline __attribute__((always_inline)) void op_write(struct cpu *cpu, const struct insn *in,
                            const struct operand *op, uint64_t val)
{
    if (op->kind == OP_REG)
        reg_write(cpu, op->reg, op->size, val);
    else
        mem_write(cpu, op->seg, op_ea(cpu, in, op), op->size, val);
}

/* Handler registration: each ops file fills the mnemonic table with its
 * handlers (designated by ZydisMnemonic). */
void x86_ops_alu(insn_fn *table);
void x86_ops_shift(insn_fn *table);
void x86_ops_muldiv(insn_fn *table);
void x86_ops_bit(insn_fn *table);
void x86_ops_move(insn_fn *table);
void x86_ops_stack(insn_fn *table);
void x86_ops_branch(insn_fn *table);
void x86_ops_string(insn_fn *table);
void x86_ops_system(insn_fn *table);
void x86_ops_io(insn_fn *table);
void x86_ops_svm(insn_fn *table);
void x86_ops_x87(insn_fn *table);

/* MOV forms with a control, debug or segment register operand: the decoder
 * routes them here instead of to the MOV handler (system.c). */
void x86_op_mov_cr(struct cpu *cpu, const struct insn *in);
void x86_op_mov_dr(struct cpu *cpu, const struct insn *in);
void x86_op_mov_sreg(struct cpu *cpu, const struct insn *in);
void x86_op_push_sreg(struct cpu *cpu, const struct insn *in);
void x86_op_pop_sreg(struct cpu *cpu, const struct insn *in);
/* Far JMP/CALL/RET share their mnemonics with the near forms: the decoder
 * routes the far ones (Zydis branch type FAR) here (far.c). */
void x86_op_jmp_far(struct cpu *cpu, const struct insn *in);
void x86_op_call_far(struct cpu *cpu, const struct insn *in);
void x86_op_ret_far(struct cpu *cpu, const struct insn *in);
/* JMP/CALL far to a system descriptor (gate.c): call gates, and outside
 * long mode task gates and TSSs; false if sel names no system descriptor.
 * Task switches (task.c): JMP/CALL to a TSS, IRET with NT = 1. */
bool x86_far_system(struct cpu *cpu, uint16_t sel, bool call);
void x86_task_far(struct cpu *cpu, uint16_t tss_sel, bool call);
void x86_task_return(struct cpu *cpu);

/* Condition codes as encoded in Jcc/SETcc/CMOVcc (low 4 bits of opcode). */
bool x86_cond(struct cpu *cpu, unsigned cc);

#endif
