/* The local APIC's interrupt logic (see apic.h): acceptance into the IRR,
 * priority (TPR, PPR), the hand-over to the CPU (INTA moves the vector
 * from the IRR to the ISR), EOI, LINT pins and IPIs from the ICR.
 *
 * A vector in the IRR is requested when its priority class (bits 7:4) is
 * above the PPR's class; the PPR is the TPR, or the class of the highest
 * vector in service when that is higher.  EOI retires the highest vector
 * in service. */
#include "dev/apic.h"
#include "dev/pic.h"
#include "x86/cpu.h"

static int highest_bit(const uint32_t reg[8])
{
    for (int i = 7; i >= 0; i--)
        if (reg[i])
            return i * 32 + 31 - __builtin_clz(reg[i]);
    return -1;
}

static void set_bit(uint32_t reg[8], unsigned v, bool on)
{
    if (on)
        reg[v >> 5] |= 1u << (v & 31);
    else
        reg[v >> 5] &= ~(1u << (v & 31));
}

/* The TPR's class lives in the CPU (CR8); while a guest runs with
 * V_INTR_MASKING its CR8 is the virtual TPR and the APIC's is the host's. */
static uint64_t *tpr_class(const struct apic *a)
{
    struct cpu *cpu = a->cpu;
    if (cpu->svm.guest_mode && cpu->svm.v_intr_masking)
        return &cpu->svm.host_cr8;
    return &cpu->cr8;
}

/* As last written, unless CR8 changed the class since (then bits 3:0 read
 * as zero, as CR8 writes clear them). */
uint32_t apic_tpr(const struct apic *a)
{
    uint32_t cls = (uint32_t)(*tpr_class(a) & 0xf);
    return (a->tpr >> 4) == cls ? a->tpr : cls << 4;
}

void apic_set_tpr(struct apic *a, uint32_t val)
{
    a->tpr = val & 0xff;
    *tpr_class(a) = a->tpr >> 4;
    a->cpu->stop_block = true;   /* the threshold may have dropped */
}

unsigned apic_ppr(const struct apic *a)
{
    unsigned tpr = apic_tpr(a);
    int isrv = highest_bit(a->isr);
    unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv & 0xf0;
    return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

/* The 8259's request through LINT0 in ExtINT mode (or directly while the
 * APIC is globally disabled). */
static bool extint_requested(const struct apic *a)
{
    if (!a->pic || pic_pending(a->pic) < 0)
        return false;
    if (!apic_hw_enabled(a))
        return true;
    uint32_t lvt = a->lvt[LVT_LINT0];
    return !(lvt & APIC_LVT_MASKED) && APIC_DM(lvt) == APIC_DM_EXTINT;
}

void apic_update(struct apic *a)
{
    bool any = extint_requested(a) ||
               (apic_hw_enabled(a) && highest_bit(a->irr) >= 0);
    if (any)
        x86_set_event(a->cpu, EVENT_INTR);
    else
        x86_clear_event(a->cpu, EVENT_INTR);
}

int apic_intr_pending(struct apic *a)
{
    if (extint_requested(a))
        return pic_pending(a->pic);
    if (!apic_hw_enabled(a))
        return -1;
    int v = highest_bit(a->irr);
    if (v < 0 || ((unsigned)v & 0xf0) <= (apic_ppr(a) & 0xf0))
        return -1;
    return v;
}

int apic_intr_ack(struct apic *a)
{
    int v;
    if (extint_requested(a)) {
        v = pic_ack(a->pic);   /* ExtINT: neither IRR nor ISR */
    } else {
        v = apic_intr_pending(a);
        if (v >= 0) {
            set_bit(a->irr, (unsigned)v, false);
            set_bit(a->isr, (unsigned)v, true);
        }
    }
    apic_update(a);
    return v;
}

static void record_error(struct apic *a, uint32_t bit)
{
    a->esr_pending |= bit;
    uint32_t lvt = a->lvt[LVT_ERROR];
    if (!(lvt & APIC_LVT_MASKED) && APIC_VECTOR(lvt) >= 16)
        apic_accept(a, APIC_DM_FIXED, APIC_VECTOR(lvt), false);
}

/* An interrupt message arrives at this APIC. */
void apic_accept(struct apic *a, unsigned dm, unsigned vector, bool level)
{
    if (!apic_hw_enabled(a))
        return;
    switch (dm) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        if (vector < 16) {
            record_error(a, APIC_ESR_RECV_ILLEGAL);
            return;
        }
        set_bit(a->irr, vector, true);
        set_bit(a->tmr, vector, level);
        apic_update(a);
        return;
    case APIC_DM_NMI:
        x86_set_event(a->cpu, EVENT_NMI);
        return;
    case APIC_DM_EXTINT:
        apic_update(a);
        return;
    case APIC_DM_INIT:
        x86_set_event(a->cpu, EVENT_INIT);
        return;
    case APIC_DM_SMI:
        x86_set_event(a->cpu, EVENT_SMI);
        return;
    default:   /* INIT, start-up: no other CPU */
        a->stat_ignored_ipis++;
        return;
    }
}

void apic_eoi(struct apic *a)
{
    int v = highest_bit(a->isr);
    if (v < 0)
        return;
    set_bit(a->isr, (unsigned)v, false);
    apic_update(a);
    a->cpu->stop_block = true;   /* a lower class may be deliverable now */
}

/* A local interrupt source signals: its LVT entry says what it delivers. */
static void lvt_deliver(struct apic *a, unsigned entry)
{
    uint32_t lvt = a->lvt[entry];
    if (!apic_hw_enabled(a) || (lvt & APIC_LVT_MASKED))
        return;
    apic_accept(a, APIC_DM(lvt), APIC_VECTOR(lvt), (lvt & APIC_LVT_LEVEL) != 0);
}

/* LINT0/LINT1 asserted. */
void apic_lint(struct apic *a, unsigned pin)
{
    lvt_deliver(a, pin ? LVT_LINT1 : LVT_LINT0);
}

/* A performance counter with PerfEvtSel.Int overflowed.  AMD's APIC
 * leaves the entry's mask bit as it was (it is not set on delivery, as
 * Intel's LVTPC does): every overflow interrupts until software masks it. */
void apic_perf_interrupt(struct apic *a)
{
    lvt_deliver(a, LVT_PERF);
}

/* Does a destination (no shorthand) name this APIC? */
static bool dest_matches(const struct apic *a, uint32_t lo, uint32_t dest)
{
    bool x2 = apic_x2apic(a);
    uint32_t bcast = x2 ? 0xffffffffu : 0xffu;
    if (dest == bcast)
        return true;
    if (!(lo & APIC_ICR_DEST_LOGICAL))
        return dest == a->id;
    if (x2)   /* cluster in 31:16, member bitmap in 15:0 */
        return (dest >> 16) == (a->ldr >> 16) && (dest & a->ldr & 0xffff);
    uint32_t ldr = a->ldr >> 24;
    if ((a->dfr >> 28) == 0xf)   /* flat model */
        return (dest & ldr) != 0;
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf);   /* cluster */
}

void apic_send_ipi(struct apic *a, uint32_t lo, uint32_t dest)
{
    unsigned dm = APIC_DM(lo), vector = APIC_VECTOR(lo);
    bool self;
    switch (APIC_ICR_SHORTHAND(lo)) {
    case 1: case 2: self = true; break;        /* self, all incl. self */
    case 3: self = false; break;               /* all excluding self */
    default: self = dest_matches(a, lo, dest); break;
    }
    if (dm == APIC_DM_INIT && (lo & APIC_ICR_TRIGGER_LEVEL) &&
        !(lo & APIC_ICR_LEVEL_ASSERT))
        return;   /* INIT level de-assert: no INIT is delivered */
    if ((dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST) && vector < 16) {
        record_error(a, APIC_ESR_SEND_ILLEGAL);
        return;
    }
    if (self)
        apic_accept(a, dm, vector, false);
}
