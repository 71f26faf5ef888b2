/* Building the cases of a form: random state from a fixed seed, then the
 * slots' values (edge values crossed, or random), then the form's fixup. */
#include <string.h>

#include "cases.h"

uint64_t rng_next(struct rng *r)
{
    /* xorshift64* */
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t mask_of(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static const uint8_t count_edges[] = {
    0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 128,
    255,
};

static const int16_t bitoff_edges[] = {
    0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, -1, -2, -8, -16, -31, -32,
    -33, -64, -65, 1000, -1000, 8191, -8192,
};

unsigned case_edges(unsigned cls, unsigned size, uint64_t *out)
{
    uint64_t m = mask_of(size), sb = 1ull << (size * 8 - 1);
    unsigned n = 0;
    switch (cls) {
    case V_COUNT:
        for (unsigned i = 0; i < sizeof(count_edges); i++)
            out[n++] = count_edges[i];
        break;
    case V_BITOFF:
        for (unsigned i = 0; i < sizeof(bitoff_edges) / 2; i++)
            out[n++] = (uint64_t)(int64_t)bitoff_edges[i] & m;
        break;
    case V_CTL: {
        static const uint8_t v[8] = { 0, 1, 7, 31, 32, 63, 64, 200 };
        for (unsigned s = 0; s < 8; s++)
            for (unsigned l = 0; l < 8; l++)
                out[n++] = (uint64_t)v[l] << 8 | v[s];
        break;
    }
    default: {
        const uint64_t v[] = {
            0, 1, 2, sb - 1, sb, sb + 1, m, m - 1,
            0x5555555555555555ull & m, 0xaaaaaaaaaaaaaaaaull & m, 0xff, 0x80,
        };
        for (unsigned i = 0; i < (size > 1 ? 12u : 10u); i++)
            out[n++] = v[i];
    }
    }
    return n;
}

static uint64_t random_value(struct rng *r, unsigned cls, unsigned size)
{
    uint64_t x = rng_next(r), y = rng_next(r);
    switch (cls) {
    case V_COUNT:
        return x & 1 ? y & 0xff : y % 70;
    case V_BITOFF:
        return (uint64_t)((int64_t)(y % 16384) - 8192) & mask_of(size);
    case V_CTL:
        return x & 1 ? y : ((y % 70) << 8 | (y >> 32) % 70);
    default:
        switch (x % 6) {
        case 3: return (uint64_t)((int64_t)(y % 33) - 16);
        case 4: return (1ull << (y % (size * 8))) + (x >> 8) % 3 - 1;
        case 5: return (1ull << (size * 8 - 1)) + (y % 5) - 2;
        default: return y;
        }
    }
}

static uint8_t *slot_mem(struct kase *k, const struct form *f,
                         const struct slot *s)
{
    unsigned off = MEM_OFF + f->mem_adj;
    if (s->loc == LOC_MEM_HI)
        off += s->size;
    return &k->buf[off];
}

void slot_put(struct kase *k, const struct form *f, const struct slot *s,
              uint64_t v)
{
    uint64_t m = mask_of(s->size);
    if (s->loc < 16) {
        k->r.gpr[s->loc] = (k->r.gpr[s->loc] & ~m) | (v & m);
    } else if (s->loc < LOC_HIGH8 + 4) {
        uint64_t *g = &k->r.gpr[s->loc - LOC_HIGH8];
        *g = (*g & ~0xff00ull) | (v & 0xff) << 8;
    } else if (s->loc == LOC_IMM) {
        memcpy(&k->code[f->imm_off], &v, f->imm_size);
    } else {
        memcpy(slot_mem(k, f, s), &v, s->size);
    }
}

uint64_t slot_get(const struct kase *k, const struct form *f,
                  const struct slot *s)
{
    uint64_t v = 0;
    if (s->loc < 16)
        return k->r.gpr[s->loc] & mask_of(s->size);
    if (s->loc < LOC_HIGH8 + 4)
        return (k->r.gpr[s->loc - LOC_HIGH8] >> 8) & 0xff;
    if (s->loc == LOC_IMM)
        memcpy(&v, &k->code[f->imm_off], f->imm_size);
    else
        memcpy(&v, slot_mem((struct kase *)k, f, s), s->size);
    return v;
}

static void fixup(struct kase *k, const struct form *f, struct rng *r)
{
    const struct slot *s = f->slot;
    uint64_t x = rng_next(r);
    switch (f->fix) {
    case FIX_DIV:    /* high half below the divisor: the quotient fits */
        if (x % 4) {
            uint64_t d = slot_get(k, f, &s[0]);
            if (d)
                slot_put(k, f, &s[2], slot_get(k, f, &s[2]) % d);
        }
        break;
    case FIX_IDIV:   /* high half = sign of the low half */
        if (x % 4) {
            uint64_t lo = slot_get(k, f, &s[1]);
            bool neg = (lo >> (s[1].size * 8 - 1)) & 1;
            slot_put(k, f, &s[2], neg ? ~0ull : 0);
        }
        break;
    case FIX_EQUAL:
        if (x % 2)
            slot_put(k, f, &s[1], slot_get(k, f, &s[0]));
        break;
    case FIX_EQUAL2:
        if (x % 2) {
            slot_put(k, f, &s[2], slot_get(k, f, &s[0]));
            slot_put(k, f, &s[3], slot_get(k, f, &s[1]));
        }
        break;
    }
}

void case_build(struct kase *k, const struct form *f, const uint8_t *tmpl,
                struct rng *r, const uint64_t *edge, int cf)
{
    for (unsigned i = 0; i < 16; i++)
        k->r.gpr[i] = rng_next(r);
    k->r.gpr[RSP] = 0x7ff0;
    if (f->mem) {
        static const int32_t disp[4] = {
            0, MEM_D8, MEM_D32, MEM_SIB_DISP + 8 * MEM_SIB_INDEX,
        };
        k->r.gpr[RSI] = MEM_OFF + f->mem_adj - (int64_t)disp[f->mem_mode & 3];
        if (f->mem_mode == MEM_SIB)
            k->r.gpr[RDI] = MEM_SIB_INDEX;
    }
    uint64_t fl = rng_next(r) & FLAGS_ARITH;
    if (cf >= 0)
        fl = (fl & ~(uint64_t)FLAG_CF) | (cf ? FLAG_CF : 0);
    k->r.rflags = FLAGS_FIXED1 | FLAG_IF | fl;

    memcpy(k->buf, tmpl, BUF_SIZE);
    for (unsigned i = 0; i < 64; i += 8) {
        uint64_t v = rng_next(r);
        memcpy(&k->buf[MEM_OFF - 16 + i], &v, 8);
    }
    memcpy(k->code, f->bytes, f->len);

    for (unsigned i = 0; i < f->nslots; i++) {
        const struct slot *s = &f->slot[i];
        uint64_t v = edge && i < 2 ? edge[i] : random_value(r, s->cls, s->size);
        slot_put(k, f, s, v);
    }
    fixup(k, f, r);
}
