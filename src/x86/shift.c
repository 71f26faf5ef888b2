/* Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD, and the
 * flagless BMI2 forms SHLX SHRX SARX RORX.
 *
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count
 * of 0 changes no flags (the register is still written, so a 32-bit
 * destination is zero-extended).  All flags are computed eagerly.
 *
 * Flags the APM leaves undefined are set the way the host AMD EPYC sets
 * them (tests/diff compares them too):
 *   - OF for counts other than 1 uses the count-1 formula on the final
 *     result: SHL/ROL/RCL/SHLD: MSB(result) ^ CF; SHR/ROR/RCR/SHRD: the XOR
 *     of the result's two top bits; SAR: 0;
 *   - AF = 1 after SHL/SHR/SAR/SHLD/SHRD with a nonzero count;
 *   - 8- and 16-bit SHL/SHR with a count >= the width: the result is 0
 *     and CF the last bit shifted out (0 once past the operand);
 *   - 16-bit SHLD/SHRD with counts 16..31: see op_shld() and op_shrd(). */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/insn.h"

/* Wide enough for the 65-bit RCL/RCR rotation (GCC/Clang extension). */
__extension__ typedef unsigned __int128 u128;

static inline unsigned count_mask(unsigned size)
{
    return size == 8 ? 63 : 31;
}

static inline uint64_t top_bit(uint64_t v, unsigned size)
{
    return (v >> (size * 8 - 1)) & 1;
}

/* OF as a bit in RFLAGS. */
static inline uint64_t of_if(uint64_t cond)
{
    return cond ? FLAG_OF : 0;
}

/* The masked count (operand n) and the destination's value.  A zero count
 * changes nothing, flags included — but the destination is still written
 * back, so a read-only memory destination faults as it does on hardware:
 * returns false then. */
static bool shift_operands(struct cpu *cpu, const struct insn *in, unsigned n,
                           unsigned *c, uint64_t *a)
{
    const struct operand *d = &in->op[0];
    *c = op_read(cpu, in, &in->op[n]) & count_mask(d->size);
    *a = op_read(cpu, in, d);
    if (*c)
        return true;
    op_write(cpu, in, d, *a);
    return false;
}

/* What a shift or rotate makes of the destination a for a nonzero masked
 * count c: the result and the flags (all of FLAGS_ARITH for shifts, only
 * CF and OF for rotates). */
struct shift_out {
    uint64_t r, flags;
};

static inline struct shift_out shl_out(uint64_t a, unsigned c, unsigned size)
{
    uint64_t r = (a << c) & size_mask(size);
    /* CF: the last bit shifted out; a has at most 16 bits when c can
     * exceed the width, so a << (c - 1) never loses it. */
    uint64_t cf = ((a << (c - 1)) >> (size * 8 - 1)) & 1;
    return (struct shift_out){
        r, flags_szp(r, size) | cf | FLAG_AF | of_if(top_bit(r, size) ^ cf)};
}

static inline struct shift_out shr_out(uint64_t a, unsigned c, unsigned size)
{
    uint64_t r = a >> c;
    uint64_t cf = (a >> (c - 1)) & 1;
    return (struct shift_out){r, flags_szp(r, size) | cf | FLAG_AF |
                                 of_if(top_bit(r ^ (r << 1), size))};
}

static inline struct shift_out sar_out(uint64_t a, unsigned c, unsigned size)
{
    int64_t sa = (int64_t)sign_extend(a, size);
    uint64_t r = (uint64_t)(sa >> c) & size_mask(size);
    uint64_t cf = (uint64_t)(sa >> (c - 1)) & 1;
    return (struct shift_out){r, flags_szp(r, size) | cf | FLAG_AF};
}

static inline struct shift_out rol_out(uint64_t a, unsigned c, unsigned size)
{
    unsigned bits = size * 8, n = c & (bits - 1);
    uint64_t r = n ? ((a << n) | (a >> (bits - n))) & size_mask(size) : a;
    uint64_t cf = r & 1;
    return (struct shift_out){r, cf | of_if(top_bit(r, size) ^ cf)};
}

static inline struct shift_out ror_out(uint64_t a, unsigned c, unsigned size)
{
    unsigned bits = size * 8, n = c & (bits - 1);
    uint64_t r = n ? ((a >> n) | (a << (bits - n))) & size_mask(size) : a;
    uint64_t cf = top_bit(r, size);
    return (struct shift_out){r, cf | of_if(cf ^ ((r >> (bits - 2)) & 1))};
}

/* RCL and RCR rotate the (width + 1)-bit value CF:dest (cf_in the carry
 * flag before); 8- and 16-bit counts are taken modulo 9 and 17, and RCR
 * by n is RCL by width + 1 - n. */
static inline struct shift_out rc_out(uint64_t a, unsigned c, unsigned size,
                                      uint64_t cf_in, bool right)
{
    unsigned bits = size * 8;
    unsigned n = bits < 32 ? c % (bits + 1) : c;
    if (right && n)
        n = bits + 1 - n;
    u128 v = ((u128)cf_in << bits) | a;
    u128 w = ((u128)1 << (bits + 1)) - 1;
    if (n)
        v = ((v << n) | (v >> (bits + 1 - n))) & w;
    uint64_t r = (uint64_t)v & size_mask(size);
    uint64_t cf = (uint64_t)(v >> bits) & 1;
    uint64_t of = top_bit(r, size) ^ (right ? (r >> (bits - 2)) & 1 : cf);
    return (struct shift_out){r, cf | of_if(of)};
}

/* SHLD dest, src, count: dest:src shifted left, the top half kept.  OF is
 * MSB(result) ^ CF for counts below the width.  16-bit counts 16..31
 * (result and flags undefined in the APM for counts above 16): AMD gives
 * OF = CF; from 17 on it rotates src left by count - 16 with CF = 0. */
static inline struct shift_out shld_out(uint64_t a, uint64_t s, unsigned c,
                                        unsigned size)
{
    unsigned bits = size * 8;
    uint64_t r, cf = 0, of = 0;
    if (c < bits) {
        r = ((a << c) | (s >> (bits - c))) & size_mask(size);
        cf = (a >> (bits - c)) & 1;
        of = top_bit(r, size) ^ cf;
    } else if (c == 16) {
        r = s;
        of = cf = a & 1;
    } else {
        r = ((s << (c - 16)) | (s >> (32 - c))) & 0xffff;
    }
    return (struct shift_out){
        r, flags_szp(r, size) | cf | FLAG_AF | of_if(of)};
}

/* SHRD dest, src, count: src:dest shifted right, the low half kept.  OF is
 * the XOR of the result's two top bits for every count.  16-bit counts
 * 17..31: AMD rotates src right by count - 16, CF = 0. */
static inline struct shift_out shrd_out(uint64_t a, uint64_t s, unsigned c,
                                        unsigned size)
{
    unsigned bits = size * 8;
    uint64_t r, cf = 0;
    if (c <= bits) {
        r = ((a >> c) | (s << (bits - c))) & size_mask(size);
        cf = (a >> (c - 1)) & 1;
    } else {
        r = ((s >> (c - 16)) | (s << (32 - c))) & 0xffff;
    }
    return (struct shift_out){r, flags_szp(r, size) | cf | FLAG_AF |
                                 of_if(top_bit(r ^ (r << 1), size))};
}

enum shift_op { SHL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD };

/* The frame all of them share: count and destination, nothing more for a
 * zero count, the result written back, the flags set.  Always inlined with
 * a constant op, so each handler below compiles to its own direct code. */
static inline __attribute__((always_inline)) void
shift(struct cpu *cpu, const struct insn *in, enum shift_op op)
{
    const struct operand *d = &in->op[0];
    unsigned size = d->size, c;
    bool dbl = op == SHLD || op == SHRD;
    uint64_t a;
    if (!shift_operands(cpu, in, dbl ? 2 : 1, &c, &a))
        return;
    uint64_t s = dbl ? reg_read(cpu, in->op[1].reg, size) : 0;
    struct shift_out o;
    switch (op) {
    case SHL:   o = shl_out(a, c, size); break;
    case SHR:   o = shr_out(a, c, size); break;
    case SAR:   o = sar_out(a, c, size); break;
    case ROL:   o = rol_out(a, c, size); break;
    case ROR:   o = ror_out(a, c, size); break;
    case RCL:   o = rc_out(a, c, size, flags_cf(cpu), false); break;
    case RCR:   o = rc_out(a, c, size, flags_cf(cpu), true); break;
    case SHLD:  o = shld_out(a, s, c, size); break;
    default:    o = shrd_out(a, s, c, size); break;   /* SHRD */
    }
    op_write(cpu, in, d, o.r);
    /* rotates change only CF and OF */
    bool rotate = op >= ROL && op <= RCR;
    flags_set(cpu, rotate ? FLAG_CF | FLAG_OF : FLAGS_ARITH, o.flags);
}

static void op_shl(struct cpu *c, const struct insn *i) { shift(c, i, SHL); }
static void op_shr(struct cpu *c, const struct insn *i) { shift(c, i, SHR); }
static void op_sar(struct cpu *c, const struct insn *i) { shift(c, i, SAR); }
static void op_rol(struct cpu *c, const struct insn *i) { shift(c, i, ROL); }
static void op_ror(struct cpu *c, const struct insn *i) { shift(c, i, ROR); }
static void op_rcl(struct cpu *c, const struct insn *i) { shift(c, i, RCL); }
static void op_rcr(struct cpu *c, const struct insn *i) { shift(c, i, RCR); }
static void op_shld(struct cpu *c, const struct insn *i) { shift(c, i, SHLD); }
static void op_shrd(struct cpu *c, const struct insn *i) { shift(c, i, SHRD); }

/* ---- BMI2: no flags, count from a register (RORX: immediate) ---- */

static void op_shlx(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->op[0].size;
    unsigned c = op_read(cpu, in, &in->op[2]) & count_mask(size);
    reg_write(cpu, in->op[0].reg, size, op_read(cpu, in, &in->op[1]) << c);
}

static void op_shrx(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->op[0].size;
    unsigned c = op_read(cpu, in, &in->op[2]) & count_mask(size);
    reg_write(cpu, in->op[0].reg, size, op_read(cpu, in, &in->op[1]) >> c);
}

static void op_sarx(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->op[0].size;
    unsigned c = op_read(cpu, in, &in->op[2]) & count_mask(size);
    int64_t v = (int64_t)sign_extend(op_read(cpu, in, &in->op[1]), size);
    reg_write(cpu, in->op[0].reg, size, (uint64_t)(v >> c));
}

static void op_rorx(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->op[0].size, bits = size * 8;
    unsigned n = op_read(cpu, in, &in->op[2]) & (bits - 1);
    uint64_t a = op_read(cpu, in, &in->op[1]);
    uint64_t r = n ? (a >> n) | (a << (bits - n)) : a;
    reg_write(cpu, in->op[0].reg, size, r);
}

void x86_ops_shift(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_SHL] = op_shl;
    t[ZYDIS_MNEMONIC_SHR] = op_shr;
    t[ZYDIS_MNEMONIC_SAR] = op_sar;
    t[ZYDIS_MNEMONIC_ROL] = op_rol;
    t[ZYDIS_MNEMONIC_ROR] = op_ror;
    t[ZYDIS_MNEMONIC_RCL] = op_rcl;
    t[ZYDIS_MNEMONIC_RCR] = op_rcr;
    t[ZYDIS_MNEMONIC_SHLD] = op_shld;
    t[ZYDIS_MNEMONIC_SHRD] = op_shrd;
    t[ZYDIS_MNEMONIC_SHLX] = op_shlx;
    t[ZYDIS_MNEMONIC_SHRX] = op_shrx;
    t[ZYDIS_MNEMONIC_SARX] = op_sarx;
    t[ZYDIS_MNEMONIC_RORX] = op_rorx;
}
