/* Arithmetic flags, computed lazily.
 *
 * The hot ALU operations (ADD, SUB/CMP, logic/TEST, INC, DEC) record their
 * operands and result in cpu->lf; CF, PF, AF, ZF, SF and OF are derived only
 * when something reads them (Jcc, SETcc, CMOVcc, ADC, PUSHF, ...).  Every
 * other flag-writing instruction computes its flags eagerly with
 * flags_set(). */
#ifndef NSVM_X86_FLAGS_H
#define NSVM_X86_FLAGS_H

#include "x86/cpu.h"

static inline void flags_lazy(struct cpu *cpu, enum lazy_op op, unsigned size,
                              uint64_t res, uint64_t src1, uint64_t src2)
{
    cpu->lf.op = (uint8_t)op;
    cpu->lf.size = (uint8_t)size;
    cpu->lf.res = res;
    cpu->lf.src1 = src1;
    cpu->lf.src2 = src2;
}

/* Materialise the lazy flags into cpu->rflags (no-op when already there). */
void flags_materialize(struct cpu *cpu);

/* Replace the flags selected by mask with those in val (other bits kept). */
static inline void flags_set(struct cpu *cpu, uint64_t mask, uint64_t val)
{
    if (cpu->lf.op != LAZY_NONE && (mask & FLAGS_ARITH) != FLAGS_ARITH)
        flags_materialize(cpu);
    cpu->lf.op = LAZY_NONE;
    cpu->rflags = (cpu->rflags & ~mask) | (val & mask);
}

/* Current value of one arithmetic flag. */
bool flags_cf(struct cpu *cpu);
static inline bool flags_get(struct cpu *cpu, uint64_t flag)
{
    if (cpu->lf.op != LAZY_NONE)
        flags_materialize(cpu);
    return (cpu->rflags & flag) != 0;
}

/* PF, ZF and SF of a result of the given size. */
static inline uint64_t flags_szp(uint64_t res, unsigned size)
{
    uint64_t f = 0;
    uint64_t m = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    if ((res & m) == 0)
        f |= FLAG_ZF;
    if ((res >> (size * 8 - 1)) & 1)
        f |= FLAG_SF;
    if (!__builtin_parity((unsigned)(res & 0xff)))
        f |= FLAG_PF;
    return f;
}

#endif
