/* Performance counters (APM vol. 2, 13.2): PerfEvtSel0-3 and PerfCtr0-3
 * (MSRs 0xC0010000-0xC0010007) and the core extension's six pairs
 * (0xC0010200-0xC001020B, PerfEvtSel at even, PerfCtr at odd addresses;
 * CPUID 0x80000001 ECX.PerfCtrExtCore), whose first four are the legacy
 * counters under other names.
 *
 * What nsvm counts.  The machine retires one instruction per cycle (its
 * clock is icount + idle_cycles, where idle_cycles is time spent halted),
 * so two events are exact and deterministic:
 *   0xC0 retired instructions,
 *   0x76 CPU clocks not halted (= retired instructions here).
 * Every other event counts nothing.  The unit mask, Edge, Inv and CntMask
 * are kept but change nothing for these two events (one instruction per
 * cycle: a threshold of 1 passes every cycle).  OS (count at CPL 0), USR
 * (CPL > 0) and the HostOnly/GuestOnly bits are honoured; both of a pair
 * clear means no counting for OS/USR and no filter for Host/Guest (which
 * also do not filter while the host has EFER.SVME clear).  The counted
 * span is the instructions that retire after the WRMSR that enables or
 * writes a counter and before the one that reads it.
 *
 * The overflow interrupt (13.2.1, PerfEvtSel.Int): a counter with Int set
 * that wraps from 2^48 - 1 to 0 signals the local APIC, whose LVT
 * performance-counter entry (APIC offset 0x340) delivers a fixed vector,
 * an NMI or an SMI, or nothing while masked (intc.perf_interrupt).  The
 * wrap happens as the instruction that brings the count to 2^48 retires,
 * so the interrupt is taken at the next instruction boundary where it is
 * deliverable (IF, interrupt shadow, GIF).
 *
 * Counting is lazy: nothing runs per instruction.  A counting counter's
 * value is ctr + (icount - since); x86_perf_sync() folds the elapsed count
 * in whenever the context a filter looks at changes (x86_update_mode, the
 * SVM world switches), and only while some counter has a filter.  Both
 * events advance by one per retired instruction, so a counting counter's
 * next wrap is known when it starts counting or is written (wrap_at, in
 * icount); the earliest wrap among the counters with Int set is the CPU's
 * DEADLINE_PERF, which the run loop checks with the APIC timer's, once per
 * block. */
#include "x86/cpu.h"

#define PERF_LEGACY_SEL  0xc0010000u   /* .. 0xc0010003 */
#define PERF_LEGACY_CTR  0xc0010004u   /* .. 0xc0010007 */
#define PERF_CORE_BASE   0xc0010200u   /* .. 0xc001020b */

#define CTR_WRAP      (1ull << 48)         /* 48-bit counters */
#define CTR_MASK      (CTR_WRAP - 1)
#define SEL_USR       (1ull << 16)
#define SEL_OS        (1ull << 17)
#define SEL_INT       (1ull << 20)
#define SEL_EN        PERF_SEL_EN
#define SEL_EVENT_HI  (0xfull << 32)       /* EventSelect[11:8] */
#define SEL_GUESTONLY PERF_SEL_GUESTONLY
#define SEL_HOSTONLY  PERF_SEL_HOSTONLY
/* Reserved: bits 19 and 21, 39:36, 63:42 (#GP when written as 1). */
#define SEL_RESERVED  ((1ull << 19) | (1ull << 21) | (0xfull << 36) | \
                       (~0ull << 42))

#define EVENT_CYCLES  0x76u   /* CPU clocks not halted */
#define EVENT_RETIRED 0xc0u   /* retired instructions */

static bool event_counted(uint64_t sel)
{
    unsigned ev = (unsigned)(sel & 0xff) | (unsigned)((sel & SEL_EVENT_HI) >> 24);
    return ev == EVENT_RETIRED || ev == EVENT_CYCLES;
}

/* Does a counter with this select count in the CPU's present context? */
static bool counts_now(const struct cpu *cpu, uint64_t sel)
{
    if (!(sel & SEL_EN) || !event_counted(sel))
        return false;
    if (!(sel & (cpu->cpl == 0 ? SEL_OS : SEL_USR)))
        return false;
    uint64_t hg = sel & (SEL_HOSTONLY | SEL_GUESTONLY);
    if (hg == SEL_HOSTONLY)
        return !cpu->svm.guest_mode;
    if (hg == SEL_GUESTONLY)
        return cpu->svm.guest_mode || !(cpu->efer & EFER_SVME);
    return true;
}

/* A filter that can change while the counter stays enabled. */
static bool filtered(uint64_t sel)
{
    return (sel & SEL_EN) && event_counted(sel) &&
           ((sel & (SEL_OS | SEL_USR)) != (SEL_OS | SEL_USR) ||
            (sel & (SEL_HOSTONLY | SEL_GUESTONLY)));
}

/* Retired instructions from a counter value to its next wrap to 0 (from
 * 0: a whole round). */
static uint64_t to_wrap(uint64_t v)
{
    return CTR_WRAP - (v & CTR_MASK);
}

/* DEADLINE_PERF: the earliest wrap of a counting counter with Int set. */
static void schedule(struct cpu *cpu)
{
    const struct x86_perf *p = &cpu->perf;
    uint64_t at = UINT64_MAX;
    for (unsigned i = 0; i < PERF_COUNTERS; i++)
        if ((p->counting & (1u << i)) && (p->sel[i] & SEL_INT) &&
            p->wrap_at[i] < at)
            at = p->wrap_at[i];
    if (at != cpu->deadline[DEADLINE_PERF])
        x86_set_deadline(cpu, DEADLINE_PERF, at);
}

/* The counting counters that have wrapped by now move on to their next
 * wrap; true if one of them has Int set.  A wrap seen late (a host that
 * retired instructions outside the run loop) still interrupts once. */
static bool wraps_due(struct cpu *cpu)
{
    struct x86_perf *p = &cpu->perf;
    bool irq = false;
    for (unsigned i = 0; i < PERF_COUNTERS; i++) {
        if (!(p->counting & (1u << i)) || p->wrap_at[i] > cpu->icount)
            continue;
        p->wrap_at[i] += ((cpu->icount - p->wrap_at[i]) / CTR_WRAP + 1) * CTR_WRAP;
        irq = irq || (p->sel[i] & SEL_INT);
    }
    return irq;
}

static void raise_overflow(struct cpu *cpu)
{
    if (cpu->intc.perf_interrupt)
        cpu->intc.perf_interrupt(cpu->intc.opaque);
}

void x86_perf_overflow(struct cpu *cpu)
{
    bool irq = wraps_due(cpu);
    schedule(cpu);
    if (irq)
        raise_overflow(cpu);
}

void x86_perf_sync(struct cpu *cpu)
{
    struct x86_perf *p = &cpu->perf;
    if (!(p->enabled | p->counting))
        return;   /* nothing counts, before or after: world switches pay no more */
    bool irq = wraps_due(cpu);
    uint64_t elapsed = cpu->icount - p->since;
    uint8_t counting = 0;
    bool any_filter = false;
    for (unsigned i = 0; i < PERF_COUNTERS; i++) {
        if (p->counting & (1u << i))
            p->ctr[i] = (p->ctr[i] + elapsed) & CTR_MASK;
        if (counts_now(cpu, p->sel[i]))
            counting |= (uint8_t)(1u << i);
        any_filter = any_filter || filtered(p->sel[i]);
        if ((counting & ~p->counting) & (1u << i))   /* starts counting */
            p->wrap_at[i] = cpu->icount + to_wrap(p->ctr[i]);
    }
    p->since = cpu->icount;
    p->counting = counting;
    p->filtered = any_filter;
    schedule(cpu);
    if (irq)
        raise_overflow(cpu);
}

static uint64_t ctr_read(const struct cpu *cpu, unsigned i)
{
    const struct x86_perf *p = &cpu->perf;
    uint64_t v = p->ctr[i];
    if (p->counting & (1u << i))
        v += cpu->icount - p->since;
    return v & CTR_MASK;
}

/* WRMSR to a select or a counter, executing at icount: the WRMSR itself
 * is not counted by the counter it enables or writes. */
void x86_perf_load_select(struct cpu *cpu, unsigned i, uint64_t val)
{
    struct x86_perf *p = &cpu->perf;
    x86_perf_sync(cpu);
    p->sel[i] = val;
    p->enabled = (uint8_t)((p->enabled & ~(1u << i)) |
                           ((val & SEL_EN) ? 1u << i : 0));
    x86_perf_sync(cpu);
}

static bool sel_write(struct cpu *cpu, unsigned i, uint64_t val)
{
    if (val & SEL_RESERVED)
        return false;
    struct x86_perf *p = &cpu->perf;
    bool was = p->counting & (1u << i);
    x86_perf_load_select(cpu, i, val);
    if (!was && (p->counting & (1u << i))) {
        /* counting from the next instruction: the value after this
         * WRMSR is the one it started with, its wrap one later */
        p->ctr[i] = (p->ctr[i] - 1) & CTR_MASK;
        p->wrap_at[i]++;
        schedule(cpu);
    }
    return true;
}

static void ctr_write(struct cpu *cpu, unsigned i, uint64_t val)
{
    struct x86_perf *p = &cpu->perf;
    x86_perf_sync(cpu);
    /* bits 63:48 are not part of the counter: writes drop them */
    p->ctr[i] = (val - ((p->counting >> i) & 1)) & CTR_MASK;
    if (p->counting & (1u << i)) {
        p->wrap_at[i] = cpu->icount + 1 + to_wrap(val);
        schedule(cpu);
    }
}

/* The MSR's counter and whether it is the select (false: the counter). */
static bool perf_index(uint32_t msr, unsigned *i, bool *is_sel)
{
    if (msr >= PERF_LEGACY_SEL && msr < PERF_LEGACY_SEL + 8) {
        *is_sel = msr < PERF_LEGACY_CTR;
        *i = (msr - PERF_LEGACY_SEL) & 3;
        return true;
    }
    if (msr >= PERF_CORE_BASE && msr < PERF_CORE_BASE + 2 * PERF_COUNTERS) {
        *is_sel = (msr & 1) == 0;
        *i = (msr - PERF_CORE_BASE) / 2;
        return true;
    }
    return false;
}

int x86_perf_select_index(uint32_t msr)
{
    unsigned i;
    bool is_sel;
    return perf_index(msr, &i, &is_sel) && is_sel ? (int)i : -1;
}

bool x86_perf_msr(struct cpu *cpu, uint32_t msr, bool write, uint64_t *val,
                  bool *gp)
{
    unsigned i;
    bool is_sel;
    if (!perf_index(msr, &i, &is_sel))
        return false;
    *gp = false;
    if (!write)
        *val = is_sel ? cpu->perf.sel[i] : ctr_read(cpu, i);
    else if (is_sel)
        *gp = !sel_write(cpu, i, *val);
    else
        ctr_write(cpu, i, *val);
    return true;
}

/* RDPMC's counter ECX: 0-5 (the core extension's counters). */
bool x86_perf_rdpmc(struct cpu *cpu, uint32_t idx, uint64_t *val)
{
    if (idx >= PERF_COUNTERS)
        return false;
    *val = ctr_read(cpu, idx);
    return true;
}
