/* Deriving CF, PF, AF, ZF, SF and OF from the last lazy operation. */
#include "x86/flags.h"

static uint64_t sign_bit(unsigned size)
{
    return 1ull << (size * 8 - 1);
}

static uint64_t lazy_flags(const struct lazy_flags *lf)
{
    unsigned size = lf->size;
    uint64_t m = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
    uint64_t res = lf->res & m, a = lf->src1 & m, b = lf->src2 & m;
    uint64_t sb = sign_bit(size);
    uint64_t f = flags_szp(res, size);

    switch (lf->op) {
    case LAZY_ADD:
        /* res = a + b (ADC computes its flags eagerly) */
        if (res < a)
            f |= FLAG_CF;
        if ((a ^ res) & (b ^ res) & sb)
            f |= FLAG_OF;
        f |= (a ^ b ^ res) & FLAG_AF;
        break;
    case LAZY_SUB:
        /* res = a - b (SBB computes its flags eagerly) */
        if (a < b)
            f |= FLAG_CF;
        if ((a ^ b) & (a ^ res) & sb)
            f |= FLAG_OF;
        f |= (a ^ b ^ res) & FLAG_AF;
        break;
    case LAZY_LOGIC:
        break;
    case LAZY_INC:
        if (res == sb)
            f |= FLAG_OF;
        if ((res & 0xf) == 0)
            f |= FLAG_AF;
        if (lf->cf_in)
            f |= FLAG_CF;
        break;
    case LAZY_DEC:
        if (res == sb - 1)
            f |= FLAG_OF;
        if ((res & 0xf) == 0xf)
            f |= FLAG_AF;
        if (lf->cf_in)
            f |= FLAG_CF;
        break;
    }
    return f;
}

void flags_materialize(struct cpu *cpu)
{
    if (cpu->lf.op == LAZY_NONE)
        return;
    cpu->rflags = (cpu->rflags & ~(uint64_t)FLAGS_ARITH) | lazy_flags(&cpu->lf);
    cpu->lf.op = LAZY_NONE;
}

bool flags_cf(struct cpu *cpu)
{
    return flags_get(cpu, FLAG_CF);
}

uint64_t x86_get_rflags(struct cpu *cpu)
{
    flags_materialize(cpu);
    return cpu->rflags;
}

void x86_set_rflags(struct cpu *cpu, uint64_t val)
{
    uint64_t old = cpu->rflags;
    cpu->lf.op = LAZY_NONE;
    cpu->rflags = (val & ~0xffc08028ull) | FLAGS_FIXED1;
    if ((old ^ cpu->rflags) & FLAG_AC)
        x86_update_ac(cpu);
}
