/* String instructions: MOVS, STOS, LODS, CMPS, SCAS (1, 2, 4, 8 bytes),
 * with and without REP/REPE/REPNE.
 *
 * rSI, rDI and rCX are used with the address size (16/32/64 bits); the
 * source may take a segment override, the destination is always ES.  DF
 * selects the direction.  Architectural state is exact at every fault:
 * registers are advanced only over elements that are complete, so a #PF
 * on element k leaves rSI/rDI/rCX pointing at element k and RIP at the
 * instruction, ready to restart it.
 *
 * REP runs take a fast path page by page: when the current source and
 * destination pages both hit the software TLB, the elements that lie in
 * those pages are processed through host pointers in one go; anything
 * else (a TLB miss, an element that straddles a page, MMIO, a page that
 * holds decoded code) goes one element at a time through mem_read/
 * mem_write, which also fills the TLB for the next round.  After
 * STRING_BUDGET elements a REP yields (RIP stays at the instruction), so a
 * run of 2^64 iterations over open bus cannot hang the host and pending
 * interrupts and the instruction budget are seen in between. */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/insn.h"

#define STRING_BUDGET (1u << 16)   /* elements per execution of a REP */
/* What an element taken one at a time spends of that budget: as much work
 * as a thousand fast-path elements (page walks, MMIO), so a REP over open
 * bus yields after 64 of them and one execution stays short whatever the
 * guest aims it at (the instruction budget and --timeout count executions) */
#define STRING_SLOW_COST 1024u
#define PAGE_SIZE 4096u

static inline int64_t str_delta(const struct cpu *cpu, unsigned size)
{
    return (cpu->rflags & FLAG_DF) ? -(int64_t)size : (int64_t)size;
}

/* The source segment: that of the memory operand based on rSI (it carries
 * any override), DS when the decoder did not supply one. */
static inline unsigned str_src_seg(const struct insn *in)
{
    for (unsigned i = 0; i < 3; i++)
        if (in->op[i].kind == OP_MEM && in->op[i].base == RSI)
            return in->op[i].seg;
    return SEG_DS;
}

/* Move a pointer or count register by n elements (address size). */
static inline void str_advance(struct cpu *cpu, const struct insn *in,
                               unsigned reg, int64_t by)
{
    reg_write(cpu, reg, in->asize, cpu->gpr[reg] + (uint64_t)by);
}

/* Leave the REP unfinished: the registers hold the progress so far and
 * the instruction runs again from the top. */
static inline void str_yield(struct cpu *cpu)
{
    cpu->next_rip = cpu->rip;
    cpu->stop_block = true;
}

/* The host address of the page holding lin, for a page the TLB does not
 * hold: walk it now (A/D bits and faults exactly as the element path would
 * raise them, in the same order: source before destination).  NULL for
 * MMIO, for a store to a page holding decoded code (the element path
 * invalidates it), and for a non-canonical address (the element path
 * raises the fault). */
static uint8_t *str_translate(struct cpu *cpu, uint64_t lin, bool write)
{
    if ((cpu->efer & EFER_LMA) && !x86_canonical(lin))
        return NULL;
    uint64_t pa = x86_translate(cpu, lin, write ? ACC_WRITE : ACC_READ);
    uint64_t ppage = pa & ~(uint64_t)(PAGE_SIZE - 1);
    uint8_t *host = phys_ptr(cpu, ppage, PAGE_SIZE);
    if (!host || (write && cpu->code_pages[ppage >> 12]))
        return NULL;
    return host;
}

/* A host pointer to the element at lin (offset ea); *n is how many
 * elements, stepping by size in the direction of DF, stay in that page
 * without wrapping the address size.  The TLB answers first; a miss walks
 * the page tables directly, so a source and a destination that share a
 * TLB slot do not evict each other element after element.  NULL sends
 * the caller to the element-at-a-time path. */
static uint8_t *str_host(struct cpu *cpu, uint64_t lin, uint64_t ea,
                         uint64_t amask, unsigned size, bool down, bool write,
                         uint64_t *n)
{
    uint64_t off = lin & (PAGE_SIZE - 1);
    if (off > PAGE_SIZE - size || ea > amask - (size - 1))
        return NULL;
    if (cpu->cpl == 3 && x86_ac_armed(cpu))
        return NULL;   /* alignment checks: element by element */
    struct tlb_entry *e = tlb_slot(cpu, lin, write ? ACC_WRITE : ACC_READ);
    uint8_t *host;
    if ((write ? e->tag_write : e->tag_read) == (lin & ~(uint64_t)0xfff))
        host = (uint8_t *)(uintptr_t)(lin + e->addend);
    else if (!(host = str_translate(cpu, lin, write)))
        return NULL;
    else
        host += off;
    uint64_t room, more;
    if (down) {
        room = off / size + 1;
        more = ea / size;
    } else {
        room = (PAGE_SIZE - off) / size;
        more = (amask - (size - 1) - ea) / size;
    }
    *n = more < room - 1 ? more + 1 : room;
    return host;
}

static inline uint64_t str_spend(uint64_t budget, uint64_t cost)
{
    return cost < budget ? budget - cost : 0;
}

static inline uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* ---- MOVS ---- */

static inline void movs_one(struct cpu *cpu, const struct insn *in,
                            unsigned size, unsigned seg)
{
    uint64_t amask = size_mask(in->asize);
    uint64_t v = mem_read(cpu, seg, cpu->gpr[RSI] & amask, size);
    mem_write(cpu, SEG_ES, cpu->gpr[RDI] & amask, size, v);
    int64_t d = str_delta(cpu, size);
    str_advance(cpu, in, RSI, d);
    str_advance(cpu, in, RDI, d);
}

/* Copy n elements between host pointers in the architectural order.
 * Disjoint ranges take memcpy; overlapping ones go element by element,
 * which reproduces the pattern replication of an overlapping MOVS. */
static void movs_host(uint8_t *dst, const uint8_t *src, uint64_t n,
                      unsigned size, bool down)
{
    uint64_t bytes = n * size;
    const uint8_t *s_lo = down ? src - (bytes - size) : src;
    uint8_t *d_lo = down ? dst - (bytes - size) : dst;
    if (s_lo + bytes <= d_lo || d_lo + bytes <= s_lo) {
        memcpy(d_lo, s_lo, bytes);
        return;
    }
    int64_t step = down ? -(int64_t)size : (int64_t)size;
    for (uint64_t k = 0; k < n; k++, src += step, dst += step)
        host_store(dst, size, host_load(src, size));
}

/* ---- STOS ---- */

static inline void stos_one(struct cpu *cpu, const struct insn *in,
                            unsigned size)
{
    mem_write(cpu, SEG_ES, cpu->gpr[RDI] & size_mask(in->asize), size,
              cpu->gpr[RAX]);
    str_advance(cpu, in, RDI, str_delta(cpu, size));
}

/* Fill n elements ending (down) or starting (up) at dst: every element
 * holds the same value, so the order does not matter. */
static void stos_host(uint8_t *dst, uint64_t n, unsigned size, bool down,
                      uint64_t val)
{
    uint8_t *lo = down ? dst - (n - 1) * size : dst;
    if (size == 1) {
        memset(lo, (int)(val & 0xff), n);
        return;
    }
    for (uint64_t k = 0; k < n; k++, lo += size)
        host_store(lo, size, val);
}

/* ---- REP MOVS and REP STOS ---- */

/* The REP loop both share: MOVS (movs true) copies [seg:rSI] to [ES:rDI],
 * STOS stores rAX there.  Source page before destination page, as the
 * element path faults in that order. */
static inline __attribute__((always_inline)) void
rep_store(struct cpu *cpu, const struct insn *in, unsigned size, bool movs)
{
    uint64_t amask = size_mask(in->asize);
    unsigned seg = movs ? str_src_seg(in) : SEG_ES;
    bool down = (cpu->rflags & FLAG_DF) != 0;
    uint64_t count = cpu->gpr[RCX] & amask, budget = STRING_BUDGET;

    while (count) {
        if (budget == 0) {
            str_yield(cpu);
            return;
        }
        uint64_t si = cpu->gpr[RSI] & amask, di = cpu->gpr[RDI] & amask;
        uint64_t ns = UINT64_MAX, nd = 0, n = 1;
        const uint8_t *ps = NULL;
        if (movs)
            ps = str_host(cpu, seg_linear(cpu, seg, si), si, amask, size,
                          down, false, &ns);
        uint8_t *pd = str_host(cpu, seg_linear(cpu, SEG_ES, di), di, amask,
                               size, down, true, &nd);
        if (pd && (ps || !movs)) {
            n = min3(count, budget, ns < nd ? ns : nd);
            if (movs)
                movs_host(pd, ps, n, size, down);
            else
                stos_host(pd, n, size, down, cpu->gpr[RAX]);
            int64_t by = str_delta(cpu, size) * (int64_t)n;
            if (movs)
                str_advance(cpu, in, RSI, by);
            str_advance(cpu, in, RDI, by);
            budget -= n;
        } else {
            if (movs)
                movs_one(cpu, in, size, seg);
            else
                stos_one(cpu, in, size);
            budget = str_spend(budget, STRING_SLOW_COST);
        }
        count -= n;
        reg_write(cpu, RCX, in->asize, count);
    }
}

static void rep_movs(struct cpu *cpu, const struct insn *in, unsigned size)
{
    rep_store(cpu, in, size, true);
}

static inline void op_movs(struct cpu *cpu, const struct insn *in,
                           unsigned size)
{
    if (in->flags & (INSN_REP | INSN_REPNE))
        rep_movs(cpu, in, size);
    else
        movs_one(cpu, in, size, str_src_seg(in));
}

static void rep_stos(struct cpu *cpu, const struct insn *in, unsigned size)
{
    rep_store(cpu, in, size, false);
}

static inline void op_stos(struct cpu *cpu, const struct insn *in,
                           unsigned size)
{
    if (in->flags & (INSN_REP | INSN_REPNE))
        rep_stos(cpu, in, size);
    else
        stos_one(cpu, in, size);
}

/* ---- LODS (REP LODS is legal and rare: element by element) ---- */

static inline void lods_one(struct cpu *cpu, const struct insn *in,
                            unsigned size, unsigned seg)
{
    uint64_t v = mem_read(cpu, seg, cpu->gpr[RSI] & size_mask(in->asize),
                          size);
    reg_write(cpu, RAX, size, v);
    str_advance(cpu, in, RSI, str_delta(cpu, size));
}

static inline void op_lods(struct cpu *cpu, const struct insn *in,
                           unsigned size)
{
    unsigned seg = str_src_seg(in);
    if (!(in->flags & (INSN_REP | INSN_REPNE))) {
        lods_one(cpu, in, size, seg);
        return;
    }
    uint64_t count = cpu->gpr[RCX] & size_mask(in->asize);
    for (uint64_t budget = STRING_BUDGET; count;
         budget = str_spend(budget, STRING_SLOW_COST)) {
        if (budget == 0) {
            str_yield(cpu);
            return;
        }
        lods_one(cpu, in, size, seg);
        reg_write(cpu, RCX, in->asize, --count);
    }
}

/* ---- CMPS and SCAS ----
 *
 * Both compare first - second as SUB does (flags lazy) without storing.
 * CMPS: [seg:rSI] - [ES:rDI], advancing both; SCAS: rAX - [ES:rDI].
 * REPE repeats while equal, REPNE while different, both while rCX != 0;
 * the flags are those of the last comparison. */

static inline void cmp_flags(struct cpu *cpu, unsigned size, uint64_t a,
                             uint64_t b)
{
    flags_lazy(cpu, LAZY_SUB, size, (a - b) & size_mask(size), a, b);
}

static inline bool cmps_one(struct cpu *cpu, const struct insn *in,
                            unsigned size, unsigned seg)
{
    uint64_t amask = size_mask(in->asize);
    uint64_t a = mem_read(cpu, seg, cpu->gpr[RSI] & amask, size);
    uint64_t b = mem_read(cpu, SEG_ES, cpu->gpr[RDI] & amask, size);
    int64_t d = str_delta(cpu, size);
    str_advance(cpu, in, RSI, d);
    str_advance(cpu, in, RDI, d);
    cmp_flags(cpu, size, a, b);
    return a == b;
}

static inline bool scas_one(struct cpu *cpu, const struct insn *in,
                            unsigned size)
{
    uint64_t a = cpu->gpr[RAX] & size_mask(size);
    uint64_t b = mem_read(cpu, SEG_ES, cpu->gpr[RDI] & size_mask(in->asize),
                          size);
    str_advance(cpu, in, RDI, str_delta(cpu, size));
    cmp_flags(cpu, size, a, b);
    return a == b;
}

/* Compare up to n elements through host pointers (ps NULL: SCAS against
 * val).  Returns how many were consumed: it stops after the first element
 * whose equality differs from want_equal.  last_a and last_b receive the
 * last compared pair. */
static uint64_t cmp_host(const uint8_t *ps, const uint8_t *pd, uint64_t n,
                         unsigned size, bool down, bool want_equal,
                         uint64_t val, uint64_t *last_a, uint64_t *last_b)
{
    int64_t step = down ? -(int64_t)size : (int64_t)size;
    uint64_t a = val, b = 0, k = 0;
    while (k < n) {
        if (ps) {
            a = host_load(ps, size);
            ps += step;
        }
        b = host_load(pd, size);
        pd += step;
        k++;
        if ((a == b) != want_equal)
            break;
    }
    *last_a = a;
    *last_b = b;
    return k;
}

/* One REPE/REPNE round for CMPS (scas false) or SCAS (scas true).
 * Returns false when the repetition is over. */
static bool rep_cmp_round(struct cpu *cpu, const struct insn *in,
                          unsigned size, unsigned seg, bool scas,
                          uint64_t *count, uint64_t budget)
{
    uint64_t amask = size_mask(in->asize);
    bool down = (cpu->rflags & FLAG_DF) != 0;
    bool want_equal = !(in->flags & INSN_REPNE);
    uint64_t si = cpu->gpr[RSI] & amask, di = cpu->gpr[RDI] & amask;
    uint64_t ns = UINT64_MAX, nd = 0, n = 1, a, b;
    const uint8_t *ps = NULL;
    bool go_on;

    if (!scas)
        ps = str_host(cpu, seg_linear(cpu, seg, si), si, amask, size, down,
                      false, &ns);
    const uint8_t *pd = str_host(cpu, seg_linear(cpu, SEG_ES, di), di, amask,
                                 size, down, false, &nd);
    if (pd && (scas || ps)) {
        n = cmp_host(ps, pd, min3(*count, budget, ns < nd ? ns : nd), size,
                     down, want_equal, cpu->gpr[RAX] & size_mask(size),
                     &a, &b);
        int64_t by = str_delta(cpu, size) * (int64_t)n;
        if (!scas)
            str_advance(cpu, in, RSI, by);
        str_advance(cpu, in, RDI, by);
        cmp_flags(cpu, size, a, b);
        go_on = (a == b) == want_equal;
    } else {
        go_on = (scas ? scas_one(cpu, in, size)
                      : cmps_one(cpu, in, size, seg)) == want_equal;
    }
    *count -= n;
    reg_write(cpu, RCX, in->asize, *count);
    return go_on && *count != 0;
}

static void rep_cmp(struct cpu *cpu, const struct insn *in, unsigned size,
                    bool scas)
{
    unsigned seg = scas ? SEG_ES : str_src_seg(in);
    uint64_t count = cpu->gpr[RCX] & size_mask(in->asize);
    uint64_t budget = STRING_BUDGET, before;
    if (count == 0)
        return;
    do {
        if (budget == 0) {
            str_yield(cpu);
            return;
        }
        before = count;
        if (!rep_cmp_round(cpu, in, size, seg, scas, &count, budget))
            return;
        /* one element: possibly the element path */
        budget = str_spend(budget, before - count == 1 ? STRING_SLOW_COST
                                                       : before - count);
    } while (true);
}

static inline void op_cmps(struct cpu *cpu, const struct insn *in,
                           unsigned size)
{
    if (in->flags & (INSN_REP | INSN_REPNE))
        rep_cmp(cpu, in, size, false);
    else
        cmps_one(cpu, in, size, str_src_seg(in));
}

static inline void op_scas(struct cpu *cpu, const struct insn *in,
                           unsigned size)
{
    if (in->flags & (INSN_REP | INSN_REPNE))
        rep_cmp(cpu, in, size, true);
    else
        scas_one(cpu, in, size);
}

/* ---- one handler per mnemonic, so the element size is a constant ---- */

static void op_movsb(struct cpu *c, const struct insn *i) { op_movs(c, i, 1); }
static void op_movsw(struct cpu *c, const struct insn *i) { op_movs(c, i, 2); }
static void op_movsd(struct cpu *c, const struct insn *i) { op_movs(c, i, 4); }
static void op_movsq(struct cpu *c, const struct insn *i) { op_movs(c, i, 8); }
static void op_stosb(struct cpu *c, const struct insn *i) { op_stos(c, i, 1); }
static void op_stosw(struct cpu *c, const struct insn *i) { op_stos(c, i, 2); }
static void op_stosd(struct cpu *c, const struct insn *i) { op_stos(c, i, 4); }
static void op_stosq(struct cpu *c, const struct insn *i) { op_stos(c, i, 8); }
static void op_lodsb(struct cpu *c, const struct insn *i) { op_lods(c, i, 1); }
static void op_lodsw(struct cpu *c, const struct insn *i) { op_lods(c, i, 2); }
static void op_lodsd(struct cpu *c, const struct insn *i) { op_lods(c, i, 4); }
static void op_lodsq(struct cpu *c, const struct insn *i) { op_lods(c, i, 8); }
static void op_cmpsb(struct cpu *c, const struct insn *i) { op_cmps(c, i, 1); }
static void op_cmpsw(struct cpu *c, const struct insn *i) { op_cmps(c, i, 2); }
static void op_cmpsd(struct cpu *c, const struct insn *i) { op_cmps(c, i, 4); }
static void op_cmpsq(struct cpu *c, const struct insn *i) { op_cmps(c, i, 8); }
static void op_scasb(struct cpu *c, const struct insn *i) { op_scas(c, i, 1); }
static void op_scasw(struct cpu *c, const struct insn *i) { op_scas(c, i, 2); }
static void op_scasd(struct cpu *c, const struct insn *i) { op_scas(c, i, 4); }
static void op_scasq(struct cpu *c, const struct insn *i) { op_scas(c, i, 8); }

/* ZYDIS_MNEMONIC_MOVSD and CMPSD also name the SSE2 scalar-double
 * instructions; the decoder gives those their own handlers. */
void x86_ops_string(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_MOVSB] = op_movsb;
    t[ZYDIS_MNEMONIC_MOVSW] = op_movsw;
    t[ZYDIS_MNEMONIC_MOVSD] = op_movsd;
    t[ZYDIS_MNEMONIC_MOVSQ] = op_movsq;
    t[ZYDIS_MNEMONIC_STOSB] = op_stosb;
    t[ZYDIS_MNEMONIC_STOSW] = op_stosw;
    t[ZYDIS_MNEMONIC_STOSD] = op_stosd;
    t[ZYDIS_MNEMONIC_STOSQ] = op_stosq;
    t[ZYDIS_MNEMONIC_LODSB] = op_lodsb;
    t[ZYDIS_MNEMONIC_LODSW] = op_lodsw;
    t[ZYDIS_MNEMONIC_LODSD] = op_lodsd;
    t[ZYDIS_MNEMONIC_LODSQ] = op_lodsq;
    t[ZYDIS_MNEMONIC_CMPSB] = op_cmpsb;
    t[ZYDIS_MNEMONIC_CMPSW] = op_cmpsw;
    t[ZYDIS_MNEMONIC_CMPSD] = op_cmpsd;
    t[ZYDIS_MNEMONIC_CMPSQ] = op_cmpsq;
    t[ZYDIS_MNEMONIC_SCASB] = op_scasb;
    t[ZYDIS_MNEMONIC_SCASW] = op_scasw;
    t[ZYDIS_MNEMONIC_SCASD] = op_scasd;
    t[ZYDIS_MNEMONIC_SCASQ] = op_scasq;
}
