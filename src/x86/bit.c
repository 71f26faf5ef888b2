/* Bit operations: BT BTS BTR BTC, BSF BSR, LZCNT TZCNT POPCNT, BSWAP, and
 * the BMI1/BMI2 ones (ANDN BLSI BLSR BLSMSK BEXTR BZHI PDEP PEXT).
 *
 * Flags the APM leaves undefined are set as the host AMD EPYC sets them
 * (tests/diff compares them too). */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/insn.h"

/* ---- BT, BTS, BTR, BTC ---- */

enum bt_kind { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

/* With a register bit offset and a memory operand, the offset is signed
 * and selects an operand-size unit anywhere around the effective address
 * (APM vol. 3, BT): ea += (offset >> log2(width)) * size.  Otherwise the
 * offset is taken modulo the width.  Only CF changes: OF, SF, AF, PF are
 * undefined in the APM and AMD leaves them (and ZF) unchanged. */
static void bit_test(struct cpu *cpu, const struct insn *in, enum bt_kind k)
{
    const struct operand *d = &in->op[0], *s = &in->op[1];
    unsigned size = d->size, bits = size * 8;
    uint64_t off = op_read(cpu, in, s);
    uint64_t v, ea = 0, mask;
    if (d->kind == OP_MEM) {
        ea = op_ea(cpu, in, d);
        if (s->kind == OP_REG) {
            int64_t so = (int64_t)sign_extend(off, size);
            unsigned lg = __builtin_ctz(bits);
            ea = (ea + (uint64_t)(so >> lg) * size) & size_mask(in->asize);
        }
        v = mem_read(cpu, d->seg, ea, size);
    } else {
        v = reg_read(cpu, d->reg, size);
    }
    mask = 1ull << (off & (bits - 1));
    uint64_t cf = (v & mask) ? FLAG_CF : 0;
    if (k != BT_TEST) {
        if (k == BT_SET)
            v |= mask;
        else if (k == BT_RESET)
            v &= ~mask;
        else
            v ^= mask;
        if (d->kind == OP_MEM)
            mem_write(cpu, d->seg, ea, size, v);
        else
            reg_write(cpu, d->reg, size, v);
    }
    flags_set(cpu, FLAG_CF, cf);
}

static void op_bt(struct cpu *cpu, const struct insn *in)
{
    bit_test(cpu, in, BT_TEST);
}

static void op_bts(struct cpu *cpu, const struct insn *in)
{
    bit_test(cpu, in, BT_SET);
}

static void op_btr(struct cpu *cpu, const struct insn *in)
{
    bit_test(cpu, in, BT_RESET);
}

static void op_btc(struct cpu *cpu, const struct insn *in)
{
    bit_test(cpu, in, BT_COMPLEMENT);
}

/* ---- scans and counts ---- */

/* BSF/BSR: a zero source sets ZF and leaves the destination unchanged
 * (AMD documents this; a 32-bit one is not zero-extended either);
 * otherwise ZF = 0 and dest = the bit index.  CF, OF, SF, AF, PF are
 * undefined in the APM and AMD leaves them unchanged. */
static void op_bsf(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t s = op_read(cpu, in, &in->op[1]);
    if (s == 0) {
        flags_set(cpu, FLAG_ZF, FLAG_ZF);
        return;
    }
    reg_write(cpu, d->reg, d->size, (uint64_t)__builtin_ctzll(s));
    flags_set(cpu, FLAG_ZF, 0);
}

static void op_bsr(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t s = op_read(cpu, in, &in->op[1]);
    if (s == 0) {
        flags_set(cpu, FLAG_ZF, FLAG_ZF);
        return;
    }
    reg_write(cpu, d->reg, d->size, 63 - (uint64_t)__builtin_clzll(s));
    flags_set(cpu, FLAG_ZF, 0);
}

/* LZCNT/TZCNT: CF = (source == 0), ZF = (result == 0).  SF, AF, PF are
 * undefined in the APM and cleared by AMD; OF (also undefined) is kept. */
#define FLAGS_CNT (FLAG_CF | FLAG_ZF | FLAG_SF | FLAG_AF | FLAG_PF)
static void op_lzcnt(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned bits = d->size * 8;
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t r = s ? (uint64_t)__builtin_clzll(s) - (64 - bits) : bits;
    reg_write(cpu, d->reg, d->size, r);
    flags_set(cpu, FLAGS_CNT, (s ? 0 : FLAG_CF) | (r ? 0 : FLAG_ZF));
}

static void op_tzcnt(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned bits = d->size * 8;
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t r = s ? (uint64_t)__builtin_ctzll(s) : bits;
    reg_write(cpu, d->reg, d->size, r);
    flags_set(cpu, FLAGS_CNT, (s ? 0 : FLAG_CF) | (r ? 0 : FLAG_ZF));
}

/* POPCNT: ZF = (source == 0); CF, PF, AF, SF, OF cleared. */
static void op_popcnt(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t s = op_read(cpu, in, &in->op[1]);
    reg_write(cpu, d->reg, d->size, (uint64_t)__builtin_popcountll(s));
    flags_set(cpu, FLAGS_ARITH, s ? 0 : FLAG_ZF);
}

static void op_bswap(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t v = cpu->gpr[d->reg];
    if (d->size == 8)
        v = __builtin_bswap64(v);
    else if (d->size == 4)
        v = __builtin_bswap32((uint32_t)v);
    else   /* 16-bit: undefined in the APM; AMD clears the register */
        v = 0;
    reg_write(cpu, d->reg, d->size, v);
}

/* ---- BMI1 / BMI2 ---- */

/* Flags of the BMI1/BMI2 logic group: SF, ZF from the result, OF = 0, CF
 * as given.  AF and PF are undefined in the APM: AMD computes PF from the
 * result and clears AF.  BEXTR (af set) differs: SF is undefined there too,
 * and AMD gives AF = 1, SF = 0. */
static inline void bmi_flags(struct cpu *cpu, uint64_t r, unsigned size,
                             bool cf, uint64_t af)
{
    uint64_t f = flags_szp(r, size) | af;
    if (af)
        f &= ~(uint64_t)FLAG_SF;
    flags_set(cpu, FLAGS_ARITH, f | (cf ? FLAG_CF : 0));
}

/* ANDN dest, src1, src2: dest = ~src1 & src2; CF = 0. */
static void op_andn(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t r = ~op_read(cpu, in, &in->op[1]) & op_read(cpu, in, &in->op[2]);
    r &= size_mask(d->size);
    reg_write(cpu, d->reg, d->size, r);
    bmi_flags(cpu, r, d->size, false, 0);
}

/* BLSI: isolate the lowest set bit; CF = (source != 0). */
static void op_blsi(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t r = s & (0 - s) & size_mask(d->size);
    reg_write(cpu, d->reg, d->size, r);
    bmi_flags(cpu, r, d->size, s != 0, 0);
}

/* BLSR: clear the lowest set bit; CF = (source == 0). */
static void op_blsr(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t r = s & (s - 1) & size_mask(d->size);
    reg_write(cpu, d->reg, d->size, r);
    bmi_flags(cpu, r, d->size, s == 0, 0);
}

/* BLSMSK: mask up to and including the lowest set bit; CF = (source == 0). */
static void op_blsmsk(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t r = (s ^ (s - 1)) & size_mask(d->size);
    reg_write(cpu, d->reg, d->size, r);
    bmi_flags(cpu, r, d->size, s == 0, 0);
}

/* BEXTR dest, src, ctl: ctl[7:0] = start, ctl[15:8] = length; CF = 0. */
static void op_bextr(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned bits = d->size * 8;
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t ctl = op_read(cpu, in, &in->op[2]);
    unsigned start = ctl & 0xff, len = (ctl >> 8) & 0xff;
    uint64_t r = start < bits ? s >> start : 0;
    if (len < 64)
        r &= (1ull << len) - 1;
    reg_write(cpu, d->reg, d->size, r);
    bmi_flags(cpu, r, d->size, false, FLAG_AF);
}

/* BZHI dest, src, index: clear bits from index[7:0] up; CF = (index is
 * past the operand). */
static void op_bzhi(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned bits = d->size * 8;
    uint64_t s = op_read(cpu, in, &in->op[1]);
    unsigned n = op_read(cpu, in, &in->op[2]) & 0xff;
    uint64_t r = n < bits ? s & ((1ull << n) - 1) : s;
    reg_write(cpu, d->reg, d->size, r);
    bmi_flags(cpu, r, d->size, n >= bits, 0);
}

/* PDEP dest, src, mask: scatter the low bits of src to the mask's set bits. */
static void op_pdep(struct cpu *cpu, const struct insn *in)
{
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t m = op_read(cpu, in, &in->op[2]), r = 0;
    for (uint64_t k = 1; m; m &= m - 1, k <<= 1)
        if (s & k)
            r |= m & (0 - m);
    reg_write(cpu, in->op[0].reg, in->op[0].size, r);
}

/* PEXT dest, src, mask: gather the src bits at the mask's set bits. */
static void op_pext(struct cpu *cpu, const struct insn *in)
{
    uint64_t s = op_read(cpu, in, &in->op[1]);
    uint64_t m = op_read(cpu, in, &in->op[2]), r = 0;
    for (uint64_t k = 1; m; m &= m - 1, k <<= 1)
        if (s & m & (0 - m))
            r |= k;
    reg_write(cpu, in->op[0].reg, in->op[0].size, r);
}

void x86_ops_bit(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_BT] = op_bt;
    t[ZYDIS_MNEMONIC_BTS] = op_bts;
    t[ZYDIS_MNEMONIC_BTR] = op_btr;
    t[ZYDIS_MNEMONIC_BTC] = op_btc;
    t[ZYDIS_MNEMONIC_BSF] = op_bsf;
    t[ZYDIS_MNEMONIC_BSR] = op_bsr;
    t[ZYDIS_MNEMONIC_LZCNT] = op_lzcnt;
    t[ZYDIS_MNEMONIC_TZCNT] = op_tzcnt;
    t[ZYDIS_MNEMONIC_POPCNT] = op_popcnt;
    t[ZYDIS_MNEMONIC_BSWAP] = op_bswap;
    t[ZYDIS_MNEMONIC_ANDN] = op_andn;
    t[ZYDIS_MNEMONIC_BLSI] = op_blsi;
    t[ZYDIS_MNEMONIC_BLSR] = op_blsr;
    t[ZYDIS_MNEMONIC_BLSMSK] = op_blsmsk;
    t[ZYDIS_MNEMONIC_BEXTR] = op_bextr;
    t[ZYDIS_MNEMONIC_BZHI] = op_bzhi;
    t[ZYDIS_MNEMONIC_PDEP] = op_pdep;
    t[ZYDIS_MNEMONIC_PEXT] = op_pext;
}
