/* The local APIC timer (see apic.h for its clock).
 *
 * The count is not decremented tick by tick: the current count follows
 * from the clock at which the count was last initial (timer_start), and
 * the CPU is told the exact clock of the next interrupt (its
 * DEADLINE_APIC, in retired instructions).  One-shot: an interrupt when
 * the count reaches zero, initial count ticks after the write.  Periodic:
 * every initial count ticks.  TSC-deadline: when the TSC reaches
 * IA32_TSC_DEADLINE, which then reads zero.  A masked timer counts but
 * interrupts nobody, so nothing is scheduled while it is masked. */
#include "dev/apic.h"
#include "x86/cpu.h"

static uint64_t now(const struct apic *a)
{
    return x86_clock(a->cpu);
}

static unsigned mode(const struct apic *a)
{
    return APIC_TIMER_MODE(a->lvt[LVT_TIMER]);
}

static uint64_t period(const struct apic *a)
{
    return (uint64_t)a->timer_initial << a->timer_shift;
}

/* The host's TSC offset (a guest's VMCB offset is not the APIC's). */
static uint64_t host_tsc_offset(const struct apic *a)
{
    const struct cpu *cpu = a->cpu;
    return cpu->tsc_offset - (cpu->svm.guest_mode ? cpu->svm.tsc_offset : 0);
}

uint32_t apic_timer_current(const struct apic *a)
{
    if (mode(a) == APIC_TIMER_TSCDL || a->timer_initial == 0)
        return 0;
    uint64_t ticks = (now(a) - a->timer_start) >> a->timer_shift;
    if (mode(a) == APIC_TIMER_PERIODIC)
        return a->timer_initial - (uint32_t)(ticks % a->timer_initial);
    return ticks >= a->timer_initial ? 0 : a->timer_initial - (uint32_t)ticks;
}

/* Clock of the next interrupt, or UINT64_MAX. */
static uint64_t next_deadline(const struct apic *a)
{
    if (!a->timer_armed)
        return UINT64_MAX;
    if (mode(a) == APIC_TIMER_TSCDL) {
        uint64_t d = a->tsc_deadline - host_tsc_offset(a);
        return (int64_t)(d - now(a)) > 0 ? d : now(a);
    }
    if (mode(a) == APIC_TIMER_ONESHOT)
        return a->timer_start + period(a);
    uint64_t p = period(a), elapsed = now(a) - a->timer_start;
    return a->timer_start + (elapsed / p + 1) * p;
}

/* Tell the CPU when to call apic_timer_fire(). */
void apic_timer_schedule(struct apic *a)
{
    struct cpu *cpu = a->cpu;
    uint64_t at = UINT64_MAX;
    if (apic_hw_enabled(a) && !(a->lvt[LVT_TIMER] & APIC_LVT_MASKED)) {
        uint64_t d = next_deadline(a);
        if (d != UINT64_MAX)
            at = d - cpu->idle_cycles;
    }
    x86_set_deadline(cpu, DEADLINE_APIC, at);
}

void apic_timer_fire(struct apic *a)
{
    uint32_t lvt = a->lvt[LVT_TIMER];
    if (mode(a) == APIC_TIMER_TSCDL) {
        a->tsc_deadline = 0;
        a->timer_armed = false;
    } else if (mode(a) == APIC_TIMER_ONESHOT) {
        a->timer_armed = false;
    }
    if (!(lvt & APIC_LVT_MASKED))
        apic_accept(a, APIC_DM_FIXED, APIC_VECTOR(lvt), false);
    apic_timer_schedule(a);
}

void apic_timer_write_initial(struct apic *a, uint32_t val)
{
    if (mode(a) == APIC_TIMER_TSCDL)
        return;   /* ignored in TSC-deadline mode */
    a->timer_initial = val;
    a->timer_start = now(a);
    a->timer_armed = val != 0;
    apic_timer_schedule(a);
}

/* Divide by 2^(n+1) for n = {DCR[3], DCR[1:0]}, n = 7 divides by 1; the
 * count keeps its value across the change. */
void apic_timer_write_dcr(struct apic *a, uint32_t val)
{
    uint32_t cur = apic_timer_current(a);
    unsigned n = ((val >> 1) & 4) | (val & 3);
    a->timer_dcr = val & 0xb;
    a->timer_shift = (n + 1) & 7;
    if (a->timer_initial && mode(a) != APIC_TIMER_TSCDL) {
        uint64_t done = (uint64_t)(a->timer_initial - cur);
        if (cur == 0)
            done = a->timer_initial;
        a->timer_start = now(a) - (done << a->timer_shift);
    }
    apic_timer_schedule(a);
}

/* A mode change disarms the timer (the count or deadline must be written
 * again); a one-shot that expired while masked stays expired. */
void apic_timer_write_lvt(struct apic *a, uint32_t val)
{
    unsigned old = mode(a);
    bool was_masked = (a->lvt[LVT_TIMER] & APIC_LVT_MASKED) != 0;
    a->lvt[LVT_TIMER] = val;
    if (mode(a) != old) {
        a->timer_armed = false;
        a->timer_initial = 0;
        a->tsc_deadline = 0;
    } else if (was_masked && a->timer_armed && old != APIC_TIMER_PERIODIC &&
               (int64_t)(next_deadline(a) - now(a)) <= 0) {
        a->timer_armed = false;   /* expired unseen */
    }
    apic_timer_schedule(a);
}

uint64_t apic_tsc_deadline_read(const struct apic *a)
{
    return mode(a) == APIC_TIMER_TSCDL ? a->tsc_deadline : 0;
}

void apic_tsc_deadline_write(struct apic *a, uint64_t val)
{
    if (mode(a) != APIC_TIMER_TSCDL)
        return;
    a->tsc_deadline = val;
    a->timer_armed = val != 0;
    apic_timer_schedule(a);
}
