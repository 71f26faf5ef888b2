/* Specialised handlers for the hottest instruction forms.
 *
 * The generic handlers read and write operands through op_read/op_write,
 * which switch on the operand kind and mask by size on every execution.
 * For the forms compilers emit most — MOV, ADD, SUB, CMP, AND, OR, XOR and
 * TEST between 32/64-bit registers and immediates, loads and stores with a
 * base register, and Jcc after CMP/TEST — the decoder picks a handler here
 * that knows its operand kinds.  Each has exactly the semantics (lazy
 * flags included) of the generic handler it replaces. */
#include <Zydis/Zydis.h>

#include "x86/decode.h"
#include "x86/flags.h"

#define GPR(cpu, op) ((cpu)->gpr[(op)->reg])

static inline void wr(struct cpu *cpu, unsigned reg, unsigned size, uint64_t v)
{
    cpu->gpr[reg] = size == 8 ? v : (uint32_t)v;
}

/* [base + disp] with the default segment: ES/CS/SS/DS have base 0 in
 * 64-bit mode, so only FS/GS overrides fall back to the generic path. */
static inline uint64_t ea_base(const struct cpu *cpu, const struct operand *op)
{
    return cpu->gpr[op->base] + (uint64_t)op->disp;
}

/* [base + index*scale + disp] (base may be absent or RIP), flat. */
static inline uint64_t ea_sib(const struct cpu *cpu, const struct operand *op)
{
    uint64_t ea = (uint64_t)op->disp + cpu->gpr[op->index] * op->scale;
    if (op->base < 16)
        ea += cpu->gpr[op->base];
    else if (op->base == REG_RIP)
        ea += cpu->next_rip;
    return ea;
}

/* [RIP + disp] or [disp32], flat. */
static inline uint64_t ea_rip(const struct cpu *cpu, const struct operand *op)
{
    return (uint64_t)op->disp + (op->base == REG_RIP ? cpu->next_rip : 0);
}

/* ---- MOV ---- */

static void mov_rr(struct cpu *cpu, const struct insn *in)
{
    wr(cpu, in->op[0].reg, in->op[0].size, GPR(cpu, &in->op[1]));
}

static void mov_ri(struct cpu *cpu, const struct insn *in)
{
    wr(cpu, in->op[0].reg, in->op[0].size, (uint64_t)in->op[1].disp);
}

#define MOV_MEM_FORMS(sfx, EA)                                               \
    static void mov_rm_##sfx(struct cpu *cpu, const struct insn *in)        \
    {                                                                        \
        const struct operand *m = &in->op[1];                                \
        uint64_t v = mem_read_lin(cpu, EA(cpu, m), m->size,                  \
                                  mem_acc(m->seg, ACC_READ));                \
        reg_write(cpu, in->op[0].reg, m->size, v);                           \
    }                                                                        \
    static void mov_mr_##sfx(struct cpu *cpu, const struct insn *in)        \
    {                                                                        \
        const struct operand *m = &in->op[0];                                \
        mem_write_lin(cpu, EA(cpu, m), m->size,                              \
                      reg_read(cpu, in->op[1].reg, m->size),                 \
                      mem_acc(m->seg, ACC_WRITE));                           \
    }                                                                        \
    static void mov_mi_##sfx(struct cpu *cpu, const struct insn *in)        \
    {                                                                        \
        const struct operand *m = &in->op[0];                                \
        mem_write_lin(cpu, EA(cpu, m), m->size, (uint64_t)in->op[1].disp,    \
                      mem_acc(m->seg, ACC_WRITE));                           \
    }

MOV_MEM_FORMS(base, ea_base)
MOV_MEM_FORMS(sib, ea_sib)
MOV_MEM_FORMS(rip, ea_rip)

/* The form of a flat 64-bit memory operand: 0 none, 1 base+disp, 2 SIB,
 * 3 RIP-relative or absolute. */
static int mem_form(const struct cpu *cpu, const struct insn *in,
                    const struct operand *op)
{
    if (op->kind != OP_MEM || in->asize != 8 || cpu->mode != MODE_LONG64 ||
        op->seg >= SEG_FS || op->size == 0 || op->size > 8)
        return 0;
    if (op->index != REG_NONE)
        return 2;
    if (op->base < 16)
        return 1;
    return 3;
}

static insn_fn mov_mem_handler(const struct cpu *cpu, const struct insn *in)
{
    static const insn_fn rm[] = { NULL, mov_rm_base, mov_rm_sib, mov_rm_rip };
    static const insn_fn mr[] = { NULL, mov_mr_base, mov_mr_sib, mov_mr_rip };
    static const insn_fn mi[] = { NULL, mov_mi_base, mov_mi_sib, mov_mi_rip };
    const struct operand *a = &in->op[0], *b = &in->op[1];
    if (a->kind == OP_REG && a->size == b->size)
        return rm[mem_form(cpu, in, b)];
    if (b->kind == OP_REG && a->size == b->size)
        return mr[mem_form(cpu, in, a)];
    if (b->kind == OP_IMM)
        return mi[mem_form(cpu, in, a)];
    return NULL;
}

/* ---- ALU between registers and immediates (32/64-bit) ---- */

#define ALU_FORMS(name, lazy, expr, store)                                   \
    static void name##_rr(struct cpu *cpu, const struct insn *in)           \
    {                                                                        \
        unsigned size = in->op[0].size;                                      \
        uint64_t m = size_mask(size);                                        \
        uint64_t a = GPR(cpu, &in->op[0]) & m, b = GPR(cpu, &in->op[1]) & m; \
        uint64_t r = (expr) & m;                                             \
        if (store)                                                           \
            wr(cpu, in->op[0].reg, size, r);                                 \
        flags_lazy(cpu, lazy, size, r, a, b);                                \
    }                                                                        \
    static void name##_ri(struct cpu *cpu, const struct insn *in)           \
    {                                                                        \
        unsigned size = in->op[0].size;                                      \
        uint64_t m = size_mask(size);                                        \
        uint64_t a = GPR(cpu, &in->op[0]) & m, b = (uint64_t)in->op[1].disp & m; \
        uint64_t r = (expr) & m;                                             \
        if (store)                                                           \
            wr(cpu, in->op[0].reg, size, r);                                 \
        flags_lazy(cpu, lazy, size, r, a, b);                                \
    }

ALU_FORMS(add, LAZY_ADD, a + b, 1)
ALU_FORMS(sub, LAZY_SUB, a - b, 1)
ALU_FORMS(cmp, LAZY_SUB, a - b, 0)
ALU_FORMS(and, LAZY_LOGIC, a & b, 1)
ALU_FORMS(or, LAZY_LOGIC, a | b, 1)
ALU_FORMS(xor, LAZY_LOGIC, a ^ b, 1)
ALU_FORMS(test, LAZY_LOGIC, a & b, 0)

/* ---- Jcc ---- */

/* Jcc after CMP/SUB or a logic result: one handler per condition code,
 * chosen at decode, evaluates the condition straight from the lazy
 * operands (no flags, no switch); anything else takes x86_cond().  In
 * each pair the odd code is the negation of the even one. */
static inline void jcc_take(struct cpu *cpu, const struct insn *in)
{
    uint64_t target = cpu->next_rip + (uint64_t)in->op[0].disp;
    if (unlikely(!x86_canonical(target)))
        x86_gp(cpu, 0);
    cpu->next_rip = target;
}

/* a, b: the operands of the SUB; r: the result; sa, sb, sr: the same
 * shifted so that the operand's sign is bit 63. */
#define JCC_FORM(name, cc, sub_cond, logic_cond)                             \
    static void name(struct cpu *cpu, const struct insn *in)               \
    {                                                                        \
        const struct lazy_flags *lf = &cpu->lf;                              \
        unsigned sh = (64 - lf->size * 8) & 63;                              \
        uint64_t a = lf->src1, b = lf->src2;                                 \
        int64_t sa = (int64_t)(a << sh), sb = (int64_t)(b << sh);            \
        int64_t sr = (int64_t)(lf->res << sh);                               \
        bool t;                                                              \
        (void)sa, (void)sb, (void)sr;                                        \
        if (lf->op == LAZY_SUB)                                              \
            t = (sub_cond);                                                  \
        else if (lf->op == LAZY_LOGIC)                                       \
            t = (logic_cond);                                                \
        else                                                                 \
            t = x86_cond(cpu, (cc) & ~1u);                                   \
        if (t ^ ((cc) & 1))                                                  \
            jcc_take(cpu, in);                                               \
    }

JCC_FORM(jb_jae, 0x2, a < b, false)
JCC_FORM(jae_jb, 0x3, a < b, false)
JCC_FORM(je_jne, 0x4, sr == 0, sr == 0)
JCC_FORM(jne_je, 0x5, sr == 0, sr == 0)
JCC_FORM(jbe_ja, 0x6, a <= b, sr == 0)
JCC_FORM(ja_jbe, 0x7, a <= b, sr == 0)
JCC_FORM(js_jns, 0x8, sr < 0, sr < 0)
JCC_FORM(jns_js, 0x9, sr < 0, sr < 0)
JCC_FORM(jl_jge, 0xc, sa < sb, sr < 0)
JCC_FORM(jge_jl, 0xd, sa < sb, sr < 0)
JCC_FORM(jle_jg, 0xe, sa <= sb, sr <= 0)
JCC_FORM(jg_jle, 0xf, sa <= sb, sr <= 0)

/* O, NO, P, NP: rare after compilers' compares; the general path. */
static void jcc_general(struct cpu *cpu, const struct insn *in)
{
    if (x86_cond(cpu, in->cond))
        jcc_take(cpu, in);
}

static const insn_fn jcc_handlers[16] = {
    jcc_general, jcc_general, jb_jae, jae_jb, je_jne, jne_je, jbe_ja, ja_jbe,
    js_jns, jns_js, jcc_general, jcc_general, jl_jge, jge_jl, jle_jg, jg_jle,
};

/* ---- selection ---- */

static bool is_jcc(unsigned mnemonic)
{
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNLE:
        return true;
    default:
        return false;
    }
}

static bool is_gpr(const struct operand *op)
{
    return op->kind == OP_REG && op->reg < 16 && (op->size == 4 || op->size == 8);
}

insn_fn x86_fast_handler(const struct cpu *cpu, const struct insn *in)
{
    static const struct { uint16_t mnemonic; insn_fn rr, ri; } alu[] = {
        { ZYDIS_MNEMONIC_ADD, add_rr, add_ri },   { ZYDIS_MNEMONIC_SUB, sub_rr, sub_ri },
        { ZYDIS_MNEMONIC_CMP, cmp_rr, cmp_ri },   { ZYDIS_MNEMONIC_AND, and_rr, and_ri },
        { ZYDIS_MNEMONIC_OR, or_rr, or_ri },      { ZYDIS_MNEMONIC_XOR, xor_rr, xor_ri },
        { ZYDIS_MNEMONIC_TEST, test_rr, test_ri },
    };
    const struct operand *a = &in->op[0], *b = &in->op[1];

    if (in->flags & (INSN_LOCK | INSN_REP | INSN_REPNE))
        return NULL;
    if (is_jcc(in->mnemonic) && in->nops == 1 && a->kind == OP_IMM &&
        cpu->mode == MODE_LONG64 && in->osize == 8)
        return jcc_handlers[in->cond & 15];
    if (in->nops != 2)
        return NULL;
    if (in->mnemonic == ZYDIS_MNEMONIC_MOV) {
        if (is_gpr(a) && is_gpr(b) && a->size == b->size)
            return mov_rr;
        if (is_gpr(a) && b->kind == OP_IMM)
            return mov_ri;
        return mov_mem_handler(cpu, in);
    }
    for (size_t i = 0; i < sizeof(alu) / sizeof(alu[0]); i++) {
        if (alu[i].mnemonic != in->mnemonic || !is_gpr(a))
            continue;
        if (is_gpr(b) && a->size == b->size)
            return alu[i].rr;
        if (b->kind == OP_IMM)
            return alu[i].ri;
    }
    return NULL;
}
