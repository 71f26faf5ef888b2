/* The stack: push and pop with the APM's stack-size rules.
 *
 * The stack address size (".s" in the APM's pseudocode) is 8 in 64-bit
 * mode, else 4 when SS.B is set and 2 when it is clear; it decides how
 * much of rSP moves and wraps.  The operand size (".v") decides how many
 * bytes are moved.  Every helper writes memory before it moves rSP, so a
 * fault leaves rSP untouched and the instruction can be restarted.
 *
 * Shared by the stack, branch and system handlers (CALL/RET, INT/IRET). */
#ifndef NSVM_X86_STACK_H
#define NSVM_X86_STACK_H

#include "x86/insn.h"

static inline unsigned stack_size(const struct cpu *cpu)
{
    if (cpu->mode == MODE_LONG64)
        return 8;
    return (cpu->seg[SEG_SS].attrib & SEG_ATTR_DB) ? 4 : 2;
}

/* Set rSP to val with the stack size: SP merges, ESP and RSP replace. */
static inline void stack_set_sp(struct cpu *cpu, unsigned ss, uint64_t val)
{
    if (ss == 2)
        cpu->gpr[RSP] = (cpu->gpr[RSP] & ~0xffffull) | (uint16_t)val;
    else
        cpu->gpr[RSP] = val & size_mask(ss);
}

/* Linear address of SS:off.  A non-canonical stack reference in 64-bit
 * mode is #SS(0), not #GP (APM vol. 3, PUSH/POP exceptions). */
static inline uint64_t stack_linear(struct cpu *cpu, uint64_t off)
{
    uint64_t lin = seg_linear(cpu, SEG_SS, off);
    if (unlikely(cpu->mode == MODE_LONG64 && !x86_canonical(lin)))
        x86_raise(cpu, EXC_SS, 0);
    return lin;
}

/* Store size bytes at rSP - size and move rSP. */
static inline void stack_push(struct cpu *cpu, unsigned size, uint64_t val)
{
    unsigned ss = stack_size(cpu);
    uint64_t sp = (cpu->gpr[RSP] - size) & size_mask(ss);
    mem_write_lin(cpu, stack_linear(cpu, sp), size, val, ACC_WRITE);
    stack_set_sp(cpu, ss, sp);
}

/* Read size bytes at rSP + off without moving rSP. */
static inline uint64_t stack_peek(struct cpu *cpu, unsigned size, uint64_t off)
{
    uint64_t sp = (cpu->gpr[RSP] + off) & size_mask(stack_size(cpu));
    return mem_read_lin(cpu, stack_linear(cpu, sp), size, ACC_READ);
}

/* Move rSP up by n bytes (after the popped value has been used). */
static inline void stack_release(struct cpu *cpu, uint64_t n)
{
    unsigned ss = stack_size(cpu);
    stack_set_sp(cpu, ss, cpu->gpr[RSP] + n);
}

/* Read size bytes at rSP and move rSP past them. */
static inline uint64_t stack_pop(struct cpu *cpu, unsigned size)
{
    uint64_t val = stack_peek(cpu, size, 0);
    stack_release(cpu, size);
    return val;
}

#endif
