/* Integer ALU: ADD ADC SUB SBB CMP AND OR XOR TEST NOT NEG INC DEC, the
 * condition codes (x86_cond, SETcc, CMOVcc), XADD, CMPXCHG, CMPXCHG8B/16B,
 * the sign extensions of rAX (CBW..CQO) and the direct flag instructions
 * (LAHF SAHF CLC STC CMC).
 *
 * ADD, SUB, CMP, NEG, the logical operations, TEST, INC and DEC leave their
 * flags lazy (flags.h); ADC and SBB compute them at once.  A LOCK prefix
 * changes nothing on a single CPU: the decoder has already rejected it where
 * the APM makes it #UD. */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/insn.h"

static inline uint64_t msb(uint64_t v, unsigned size)
{
    return (v >> (size * 8 - 1)) & 1;
}

/* CF alone from the lazy state, without materialising the other flags
 * (ADC, SBB, INC, DEC and CMC need only CF).  Mirrors flags.c. */
static inline bool cur_cf(struct cpu *cpu)
{
    const struct lazy_flags *lf = &cpu->lf;
    uint64_t m = size_mask(lf->size);
    switch (lf->op) {
    case LAZY_NONE: return (cpu->rflags & FLAG_CF) != 0;
    case LAZY_ADD: return (lf->res & m) < (lf->src1 & m);
    case LAZY_SUB: return (lf->src1 & m) < (lf->src2 & m);
    case LAZY_LOGIC: return false;
    case LAZY_INC:
    case LAZY_DEC: return lf->cf_in;
    default: return flags_cf(cpu);
    }
}

/* ---- two-operand arithmetic and logic ---- */

static void op_add(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t a = op_read(cpu, in, d), b = op_read(cpu, in, &in->op[1]);
    uint64_t r = (a + b) & size_mask(d->size);
    op_write(cpu, in, d, r);
    flags_lazy(cpu, LAZY_ADD, d->size, r, a, b);
}

static void op_sub(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t a = op_read(cpu, in, d), b = op_read(cpu, in, &in->op[1]);
    uint64_t r = (a - b) & size_mask(d->size);
    op_write(cpu, in, d, r);
    flags_lazy(cpu, LAZY_SUB, d->size, r, a, b);
}

static void op_cmp(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t a = op_read(cpu, in, d), b = op_read(cpu, in, &in->op[1]);
    flags_lazy(cpu, LAZY_SUB, d->size, (a - b) & size_mask(d->size), a, b);
}

/* ADC: CF out is set when the true sum a + b + c does not fit. */
static void op_adc(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned size = d->size;
    uint64_t c = cur_cf(cpu);
    uint64_t a = op_read(cpu, in, d), b = op_read(cpu, in, &in->op[1]);
    uint64_t r = (a + b + c) & size_mask(size);
    uint64_t f = flags_szp(r, size) | ((a ^ b ^ r) & FLAG_AF);
    if (c ? r <= a : r < a)
        f |= FLAG_CF;
    if (msb((a ^ r) & (b ^ r), size))
        f |= FLAG_OF;
    op_write(cpu, in, d, r);
    flags_set(cpu, FLAGS_ARITH, f);
}

/* SBB: CF out is the borrow of a - b - c. */
static void op_sbb(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned size = d->size;
    uint64_t c = cur_cf(cpu);
    uint64_t a = op_read(cpu, in, d), b = op_read(cpu, in, &in->op[1]);
    uint64_t r = (a - b - c) & size_mask(size);
    uint64_t f = flags_szp(r, size) | ((a ^ b ^ r) & FLAG_AF);
    if (c ? a <= b : a < b)
        f |= FLAG_CF;
    if (msb((a ^ b) & (a ^ r), size))
        f |= FLAG_OF;
    op_write(cpu, in, d, r);
    flags_set(cpu, FLAGS_ARITH, f);
}

/* AND, OR, XOR: CF = OF = 0; AF is undefined in the APM and 0 on AMD
 * hardware, which is what LAZY_LOGIC yields. */
static void op_and(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t r = op_read(cpu, in, d) & op_read(cpu, in, &in->op[1]);
    op_write(cpu, in, d, r);
    flags_lazy(cpu, LAZY_LOGIC, d->size, r, 0, 0);
}

static void op_or(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t r = op_read(cpu, in, d) | op_read(cpu, in, &in->op[1]);
    op_write(cpu, in, d, r);
    flags_lazy(cpu, LAZY_LOGIC, d->size, r, 0, 0);
}

static void op_xor(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t r = op_read(cpu, in, d) ^ op_read(cpu, in, &in->op[1]);
    op_write(cpu, in, d, r);
    flags_lazy(cpu, LAZY_LOGIC, d->size, r, 0, 0);
}

static void op_test(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t r = op_read(cpu, in, d) & op_read(cpu, in, &in->op[1]);
    flags_lazy(cpu, LAZY_LOGIC, d->size, r, 0, 0);
}

/* ---- one-operand ---- */

static void op_not(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    op_write(cpu, in, d, ~op_read(cpu, in, d));
}

/* NEG is 0 - a: CF = (a != 0), the rest as SUB. */
static void op_neg(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t a = op_read(cpu, in, d);
    uint64_t r = (0 - a) & size_mask(d->size);
    op_write(cpu, in, d, r);
    flags_lazy(cpu, LAZY_SUB, d->size, r, 0, a);
}

/* INC and DEC keep CF: capture it before the lazy state is replaced. */
static inline void keep_cf(struct cpu *cpu)
{
    cpu->lf.cf_in = cur_cf(cpu);
}

static void op_inc(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t a = op_read(cpu, in, d);
    uint64_t r = (a + 1) & size_mask(d->size);
    op_write(cpu, in, d, r);
    keep_cf(cpu);
    flags_lazy(cpu, LAZY_INC, d->size, r, a, 1);
}

static void op_dec(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t a = op_read(cpu, in, d);
    uint64_t r = (a - 1) & size_mask(d->size);
    op_write(cpu, in, d, r);
    keep_cf(cpu);
    flags_lazy(cpu, LAZY_DEC, d->size, r, a, 1);
}

/* ---- condition codes ---- */

/* The eight even conditions in encoding order (O B E BE S P L LE) as bits
 * 0..7; an odd condition is the negation of the even one below it.  Built
 * without branches: Jcc after CMP is the hottest path of an interpreter. */
static inline unsigned cond_bits(unsigned of, unsigned cf, unsigned zf,
                                 unsigned sf, unsigned pf)
{
    unsigned lt = sf ^ of;
    return of | cf << 1 | zf << 2 | (cf | zf) << 3 | sf << 4 | pf << 5 |
           lt << 6 | (lt | zf) << 7;
}

static inline unsigned cond_bits_rflags(uint64_t f)
{
    return cond_bits((f >> 11) & 1, f & 1, (f >> 6) & 1, (f >> 7) & 1,
                     (f >> 2) & 1);
}

/* CF and OF of a lazy result, as flags.c derives them; false for an
 * operation this fast path does not know. */
static inline bool lazy_cf_of(const struct lazy_flags *lf, uint64_t a,
                              uint64_t b, uint64_t r, unsigned sh,
                              unsigned *cf, unsigned *of)
{
    uint64_t sb = 1ull << sh;
    switch (lf->op) {
    case LAZY_SUB: *cf = a < b; *of = (((a ^ b) & (a ^ r)) >> sh) & 1; break;
    case LAZY_LOGIC: *cf = 0; *of = 0; break;
    case LAZY_ADD: *cf = r < a; *of = (((a ^ r) & (b ^ r)) >> sh) & 1; break;
    case LAZY_INC: *cf = lf->cf_in; *of = r == sb; break;
    case LAZY_DEC: *cf = lf->cf_in; *of = r == sb - 1; break;
    default: return false;
    }
    return true;
}

/* Every condition but P/NP (PF needs the parity: those, and anything the
 * fast path does not know, go through RFLAGS). */
bool x86_cond(struct cpu *cpu, unsigned cc)
{
    const struct lazy_flags *lf = &cpu->lf;
    unsigned n = (cc >> 1) & 7, bits, cf, of;
    uint64_t m = size_mask(lf->size);
    uint64_t a = lf->src1 & m, b = lf->src2 & m, r = lf->res & m;
    unsigned sh = lf->size * 8u - 1;
    if (n != 5 && lf->op != LAZY_NONE && lazy_cf_of(lf, a, b, r, sh, &cf, &of))
        bits = cond_bits(of, cf, r == 0, (r >> sh) & 1, 0);
    else
        bits = cond_bits_rflags(x86_get_rflags(cpu));
    return ((bits >> n) ^ cc) & 1;
}

static void op_setcc(struct cpu *cpu, const struct insn *in)
{
    op_write(cpu, in, &in->op[0], x86_cond(cpu, in->cond));
}

/* CMOVcc reads its source whatever the condition (a memory source faults
 * either way), and a 32-bit destination is zero-extended even when the
 * condition is false (APM vol. 3, CMOVcc). */
static void op_cmovcc(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    uint64_t v = op_read(cpu, in, &in->op[1]);
    if (x86_cond(cpu, in->cond))
        reg_write(cpu, d->reg, d->size, v);
    else if (d->size == 4)
        cpu->gpr[d->reg] = (uint32_t)cpu->gpr[d->reg];
}

/* ---- exchange and compare ---- */

/* XADD: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP.  With a memory
 * destination the store comes first so that a fault leaves the register
 * intact; with two registers the destination is written last, so that
 * XADD r, r (same register) leaves the sum. */
static void op_xadd(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0], *s = &in->op[1];
    uint64_t a = op_read(cpu, in, d), b = op_read(cpu, in, s);
    uint64_t r = (a + b) & size_mask(d->size);
    if (d->kind == OP_MEM) {
        op_write(cpu, in, d, r);
        reg_write(cpu, s->reg, s->size, a);
    } else {
        reg_write(cpu, s->reg, s->size, a);
        reg_write(cpu, d->reg, d->size, r);
    }
    flags_lazy(cpu, LAZY_ADD, d->size, r, a, b);
}

/* CMPXCHG: flags as CMP rAX, DEST.  Equal: DEST = SRC.  Not equal: rAX =
 * DEST, and a memory destination is written back with its own value (the
 * processor always writes: a read-only page faults either way).  A register
 * destination is left alone: on AMD a 32-bit one is not zero-extended. */
static void op_cmpxchg(struct cpu *cpu, const struct insn *in)
{
    const struct operand *d = &in->op[0];
    unsigned size = d->size;
    uint64_t acc = reg_read(cpu, RAX, size);
    uint64_t v = op_read(cpu, in, d);
    if (acc == v) {
        op_write(cpu, in, d, op_read(cpu, in, &in->op[1]));
    } else {
        if (d->kind == OP_MEM)
            op_write(cpu, in, d, v);
        reg_write(cpu, RAX, size, v);
    }
    flags_lazy(cpu, LAZY_SUB, size, (acc - v) & size_mask(size), acc, v);
}

/* CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W): compare rDX:rAX with the memory
 * operand; equal: ZF = 1, memory = rCX:rBX; else ZF = 0, rDX:rAX = memory.
 * Only ZF changes.  CMPXCHG16B needs a 16-byte aligned operand, else #GP(0). */
static void op_cmpxchg8b(struct cpu *cpu, const struct insn *in)
{
    const struct operand *m = &in->op[0];
    unsigned half = in->osize == 8 ? 8 : 4;
    uint64_t ea = op_ea(cpu, in, m);
    uint64_t ea_hi = (ea + half) & size_mask(in->asize);
    if (half == 8 && (ea & 15))
        x86_gp(cpu, 0);
    uint64_t lo = mem_read(cpu, m->seg, ea, half);
    uint64_t hi = mem_read(cpu, m->seg, ea_hi, half);
    bool eq = lo == reg_read(cpu, RAX, half) && hi == reg_read(cpu, RDX, half);
    if (eq) {
        lo = reg_read(cpu, RBX, half);
        hi = reg_read(cpu, RCX, half);
    }
    mem_probe_write(cpu, seg_linear(cpu, m->seg, ea), half * 2);
    mem_write(cpu, m->seg, ea, half, lo);
    mem_write(cpu, m->seg, ea_hi, half, hi);
    if (!eq) {
        reg_write(cpu, RAX, half, lo);
        reg_write(cpu, RDX, half, hi);
    }
    flags_set(cpu, FLAG_ZF, eq ? FLAG_ZF : 0);
}

/* ---- rAX sign extensions ---- */

/* CBW / CWDE / CDQE: rAX = sign-extended lower half of rAX. */
static void op_cbw(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->osize;
    reg_write(cpu, RAX, size, sign_extend(cpu->gpr[RAX], size / 2));
}

/* CWD / CDQ / CQO: rDX = the sign of rAX, replicated. */
static void op_cwd(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->osize;
    reg_write(cpu, RDX, size, msb(cpu->gpr[RAX], size) ? ~0ull : 0);
}

/* ---- flags ---- */

#define FLAGS_LAHF (FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF)

static void op_lahf(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    uint64_t f = (x86_get_rflags(cpu) & FLAGS_LAHF) | FLAGS_FIXED1;
    reg_write(cpu, REG_HIGH8 + RAX, 1, f);
}

static void op_sahf(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    flags_set(cpu, FLAGS_LAHF, (cpu->gpr[RAX] >> 8) & 0xff);
}

static void op_clc(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    flags_set(cpu, FLAG_CF, 0);
}

static void op_stc(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    flags_set(cpu, FLAG_CF, FLAG_CF);
}

static void op_cmc(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    flags_set(cpu, FLAG_CF, cur_cf(cpu) ? 0 : FLAG_CF);
}

void x86_ops_alu(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_ADD] = op_add;
    t[ZYDIS_MNEMONIC_ADC] = op_adc;
    t[ZYDIS_MNEMONIC_SUB] = op_sub;
    t[ZYDIS_MNEMONIC_SBB] = op_sbb;
    t[ZYDIS_MNEMONIC_CMP] = op_cmp;
    t[ZYDIS_MNEMONIC_AND] = op_and;
    t[ZYDIS_MNEMONIC_OR] = op_or;
    t[ZYDIS_MNEMONIC_XOR] = op_xor;
    t[ZYDIS_MNEMONIC_TEST] = op_test;
    t[ZYDIS_MNEMONIC_NOT] = op_not;
    t[ZYDIS_MNEMONIC_NEG] = op_neg;
    t[ZYDIS_MNEMONIC_INC] = op_inc;
    t[ZYDIS_MNEMONIC_DEC] = op_dec;

    static const uint16_t setcc[16] = {
        ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,
        ZYDIS_MNEMONIC_SETNB, ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ,
        ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE, ZYDIS_MNEMONIC_SETS,
        ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
        ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE,
        ZYDIS_MNEMONIC_SETNLE,
    };
    static const uint16_t cmovcc[16] = {
        ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,
        ZYDIS_MNEMONIC_CMOVNB, ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ,
        ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE, ZYDIS_MNEMONIC_CMOVS,
        ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
        ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE,
        ZYDIS_MNEMONIC_CMOVNLE,
    };
    for (unsigned cc = 0; cc < 16; cc++) {
        t[setcc[cc]] = op_setcc;
        t[cmovcc[cc]] = op_cmovcc;
    }

    t[ZYDIS_MNEMONIC_XADD] = op_xadd;
    t[ZYDIS_MNEMONIC_CMPXCHG] = op_cmpxchg;
    t[ZYDIS_MNEMONIC_CMPXCHG8B] = op_cmpxchg8b;
    t[ZYDIS_MNEMONIC_CMPXCHG16B] = op_cmpxchg8b;
    t[ZYDIS_MNEMONIC_CBW] = op_cbw;
    t[ZYDIS_MNEMONIC_CWDE] = op_cbw;
    t[ZYDIS_MNEMONIC_CDQE] = op_cbw;
    t[ZYDIS_MNEMONIC_CWD] = op_cwd;
    t[ZYDIS_MNEMONIC_CDQ] = op_cwd;
    t[ZYDIS_MNEMONIC_CQO] = op_cwd;
    t[ZYDIS_MNEMONIC_LAHF] = op_lahf;
    t[ZYDIS_MNEMONIC_SAHF] = op_sahf;
    t[ZYDIS_MNEMONIC_CLC] = op_clc;
    t[ZYDIS_MNEMONIC_STC] = op_stc;
    t[ZYDIS_MNEMONIC_CMC] = op_cmc;
}
