/* Multiplication and division: MUL, IMUL (one, two and three operands),
 * DIV, IDIV, and the flagless BMI2 MULX.
 *
 * The one-operand forms work on rAX (and rDX): 8-bit ones on AX = AH:AL.
 * DIV and IDIV raise #DE on a zero divisor and on a quotient that does not
 * fit, before any register changes.
 *
 * Flags the APM leaves undefined (MUL/IMUL: SF ZF AF PF; DIV/IDIV: all six)
 * are set as on the host AMD EPYC (tests/diff compares them too); see
 * mul_flags() and div_flags(). */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/insn.h"

/* 128-bit products and dividends (GCC/Clang extension). */
__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 s128;

/* CF = OF = "the high half is significant".  SF, ZF, AF, PF are undefined
 * in the APM; AMD leaves them unchanged. */
static inline void mul_flags(struct cpu *cpu, bool overflow)
{
    flags_set(cpu, FLAG_CF | FLAG_OF, overflow ? FLAG_CF | FLAG_OF : 0);
}

/* Store a double-width result: AX for bytes, rDX:rAX otherwise. */
static inline void write_wide(struct cpu *cpu, unsigned size, uint64_t lo,
                              uint64_t hi)
{
    if (size == 1) {
        reg_write(cpu, RAX, 2, (lo & 0xff) | (hi & 0xff) << 8);
        return;
    }
    reg_write(cpu, RAX, size, lo);
    reg_write(cpu, RDX, size, hi);
}

static void op_mul(struct cpu *cpu, const struct insn *in)
{
    const struct operand *s = &in->op[0];
    unsigned size = s->size, bits = size * 8;
    uint64_t b = op_read(cpu, in, s);
    uint64_t a = reg_read(cpu, RAX, size);
    u128 p = (u128)a * b;
    uint64_t lo = (uint64_t)p & size_mask(size);
    uint64_t hi = (uint64_t)(p >> bits) & size_mask(size);
    write_wide(cpu, size, lo, hi);
    mul_flags(cpu, hi != 0);
}

/* Signed product of two operand-size values, as 128 bits. */
static inline s128 smul(uint64_t a, uint64_t b, unsigned size)
{
    return (s128)(int64_t)sign_extend(a, size) *
           (s128)(int64_t)sign_extend(b, size);
}

/* The product does not fit when it differs from its sign-extended low part. */
static inline bool smul_overflow(s128 p, unsigned size)
{
    return (s128)(int64_t)sign_extend((uint64_t)p, size) != p;
}

static void op_imul(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned size = d->size;
    uint64_t lo;
    s128 p;
    if (in->op[1].kind == OP_NONE) {
        p = smul(reg_read(cpu, RAX, size), op_read(cpu, in, d), size);
        lo = (uint64_t)p & size_mask(size);
        write_wide(cpu, size, lo, (uint64_t)(p >> (size * 8)));
    } else {
        const struct operand *b = &in->op[in->op[2].kind != OP_NONE ? 2 : 0];
        p = smul(op_read(cpu, in, &in->op[1]), op_read(cpu, in, b), size);
        lo = (uint64_t)p & size_mask(size);
        reg_write(cpu, d->reg, size, lo);
    }
    mul_flags(cpu, smul_overflow(p, size));
}

/* Flags after DIV/IDIV: all undefined in the APM; AMD keeps CF and OF,
 * sets AF and clears SF, ZF and PF. */
static inline void div_flags(struct cpu *cpu, uint64_t q, uint64_t r,
                             unsigned size)
{
    (void)q;
    (void)r;
    (void)size;
    flags_set(cpu, FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF, FLAG_AF);
}

/* The dividend: AX for bytes, rDX:rAX otherwise. */
static inline u128 read_dividend(const struct cpu *cpu, unsigned size)
{
    if (size == 1)
        return reg_read(cpu, RAX, 2);
    return ((u128)reg_read(cpu, RDX, size) << (size * 8)) |
           reg_read(cpu, RAX, size);
}

/* Quotient in AL / rAX, remainder in AH / rDX. */
static inline void write_divres(struct cpu *cpu, unsigned size, uint64_t q,
                                uint64_t r)
{
    if (size == 1) {
        reg_write(cpu, RAX, 2, (q & 0xff) | (r & 0xff) << 8);
        return;
    }
    reg_write(cpu, RAX, size, q);
    reg_write(cpu, RDX, size, r);
}

static void op_div(struct cpu *cpu, const struct insn *in)
{
    const struct operand *s = &in->op[0];
    unsigned size = s->size;
    uint64_t b = op_read(cpu, in, s);
    if (b == 0)
        x86_raise_noerr(cpu, EXC_DE);
    u128 n = read_dividend(cpu, size);
    u128 q = n / b;
    if (q > size_mask(size))
        x86_raise_noerr(cpu, EXC_DE);
    uint64_t r = (uint64_t)(n % b);
    write_divres(cpu, size, (uint64_t)q, r);
    div_flags(cpu, (uint64_t)q, r, size);
}

/* IDIV on magnitudes (no signed 128-bit overflow is possible): the
 * quotient is negative when the signs differ, the remainder takes the
 * dividend's sign. */
static void op_idiv(struct cpu *cpu, const struct insn *in)
{
    const struct operand *s = &in->op[0];
    unsigned size = s->size, bits = size * 8;
    int64_t b = (int64_t)sign_extend(op_read(cpu, in, s), size);
    if (b == 0)
        x86_raise_noerr(cpu, EXC_DE);
    u128 n = read_dividend(cpu, size);
    unsigned nbits = size == 1 ? 16 : 2 * bits;
    bool nneg = (n >> (nbits - 1)) & 1;
    if (nneg) {   /* sign-extend the 2*bits-wide dividend, then negate */
        if (nbits < 128)
            n |= ~(u128)0 << nbits;
        n = -n;
    }
    u128 mb = b < 0 ? (u128)(0 - (uint64_t)b) : (u128)b;
    u128 q = n / mb, r = n % mb;
    bool qneg = nneg != (b < 0);
    u128 limit = (u128)1 << (bits - 1);   /* |INT_MIN| */
    if (qneg ? q > limit : q >= limit)
        x86_raise_noerr(cpu, EXC_DE);
    uint64_t qv = qneg ? 0 - (uint64_t)q : (uint64_t)q;
    uint64_t rv = nneg ? 0 - (uint64_t)r : (uint64_t)r;
    write_divres(cpu, size, qv & size_mask(size), rv & size_mask(size));
    div_flags(cpu, qv, rv, size);
}

/* MULX hi, lo, src: rDX * src, unsigned; no flags.  When both
 * destinations are the same register it receives the high half. */
static void op_mulx(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->op[0].size;
    uint64_t a = reg_read(cpu, RDX, size);
    u128 p = (u128)a * op_read(cpu, in, &in->op[2]);
    reg_write(cpu, in->op[1].reg, size, (uint64_t)p);
    reg_write(cpu, in->op[0].reg, size, (uint64_t)(p >> (size * 8)));
}

void x86_ops_muldiv(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_MUL] = op_mul;
    t[ZYDIS_MNEMONIC_IMUL] = op_imul;
    t[ZYDIS_MNEMONIC_DIV] = op_div;
    t[ZYDIS_MNEMONIC_IDIV] = op_idiv;
    t[ZYDIS_MNEMONIC_MULX] = op_mulx;
}
