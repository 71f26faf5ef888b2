/* The local APIC on its own (src/dev/apic*.c): register file, priority
 * and EOI, the timer's exact counts in every mode, IA32_APIC_BASE and the
 * x2APIC MSRs, the performance-counter entry's delivery.  The CPU is a
 * bare struct: the APIC only reads its clock and CR8 and writes
 * cpu->events / its timer deadline (cpu->timer_at).  Expected values follow
 * from the APIC's rules (priority classes, count = initial - ticks,
 * ticks = clock / divisor), not from running the APIC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "dev/apic.h"
#include "x86/cpu.h"

struct fx {
    struct cpu cpu;
    struct apic apic;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->cpu.deadline[DEADLINE_PERF] = UINT64_MAX;   /* no counter counts */
    apic_init(&f->apic, &f->cpu, NULL);
    apic_reg_write(&f->apic, APIC_SVR, 0x1ff);   /* software enable */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static uint32_t rd(struct apic *a, unsigned off)
{
    uint32_t v = 0xdeadbeef;
    assert_true(apic_reg_read(a, off, &v));
    return v;
}

static void wr(struct apic *a, unsigned off, uint32_t v)
{
    assert_true(apic_reg_write(a, off, v));
}

static void reset_state(void **state)
{
    struct fx *f = *state;
    struct apic a;
    apic_init(&a, &f->cpu, NULL);
    assert_int_equal(rd(&a, APIC_VERSION), 0x00050010);
    assert_int_equal(rd(&a, APIC_SVR), 0xff);
    assert_int_equal(rd(&a, APIC_DFR), 0xffffffffu);
    for (unsigned off = APIC_LVT_TIMER; off <= APIC_LVT_ERROR; off += 0x10)
        assert_int_equal(rd(&a, off), APIC_LVT_MASKED);
    assert_int_equal(a.base_msr, 0xfee00000ull | APIC_BASE_BSP | APIC_BASE_EN);
    assert_int_equal(f->cpu.timer_at, UINT64_MAX);
}

static void tpr_is_cr8(void **state)
{
    struct fx *f = *state;
    wr(&f->apic, APIC_TPR, 0x5a);
    assert_int_equal(f->cpu.cr8, 5);
    assert_int_equal(rd(&f->apic, APIC_TPR), 0x5a);
    assert_int_equal(rd(&f->apic, APIC_PPR), 0x5a);
    f->cpu.cr8 = 3;                  /* MOV CR8 */
    assert_int_equal(rd(&f->apic, APIC_TPR), 0x30);
}

/* Highest vector first; a vector is requested only above the PPR's
 * class; EOI retires the highest vector in service. */
static void priority_and_eoi(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    apic_accept(a, APIC_DM_FIXED, 0x45, false);
    apic_accept(a, APIC_DM_FIXED, 0x80, false);
    assert_true(cpu->events & EVENT_INTR);
    assert_int_equal(apic_intr_pending(a), 0x80);
    assert_int_equal(apic_intr_ack(a), 0x80);
    assert_int_equal(rd(a, APIC_ISR + 0x40), 1u);        /* 0x80: word 4 bit 0 */
    assert_int_equal(rd(a, APIC_IRR + 0x40), 0);
    assert_int_equal(rd(a, APIC_PPR), 0x80);
    assert_int_equal(apic_intr_pending(a), -1);          /* class 4 <= 8 */
    apic_accept(a, APIC_DM_FIXED, 0x91, false);
    assert_int_equal(apic_intr_pending(a), 0x91);        /* class 9 > 8 */
    assert_int_equal(apic_intr_ack(a), 0x91);
    wr(a, APIC_EOI, 0);                                  /* retires 0x91 */
    assert_int_equal(rd(a, APIC_ISR + 0x40), 1u);
    assert_int_equal(rd(a, APIC_PPR), 0x80);
    wr(a, APIC_EOI, 0);                                  /* retires 0x80 */
    assert_int_equal(rd(a, APIC_PPR), 0);
    assert_int_equal(apic_intr_ack(a), 0x45);
    wr(a, APIC_EOI, 0);
    assert_false(cpu->events & EVENT_INTR);
}

static void tpr_masks_by_class(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    apic_accept(a, APIC_DM_FIXED, 0x55, false);
    wr(a, APIC_TPR, 0x50);
    assert_int_equal(apic_intr_pending(a), -1);   /* same class: held */
    wr(a, APIC_TPR, 0x4f);
    assert_int_equal(apic_intr_pending(a), 0x55);
}

static void illegal_vectors_and_esr(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    apic_accept(a, APIC_DM_FIXED, 5, false);
    assert_int_equal(rd(a, APIC_IRR), 0);
    assert_int_equal(rd(a, APIC_ESR), 0);       /* not latched yet */
    wr(a, APIC_ESR, 0);
    assert_int_equal(rd(a, APIC_ESR), APIC_ESR_RECV_ILLEGAL);
    wr(a, APIC_ICR, (1u << 18) | 7);            /* self IPI, vector 7 */
    wr(a, APIC_ESR, 0);
    assert_int_equal(rd(a, APIC_ESR), APIC_ESR_SEND_ILLEGAL);
    wr(a, APIC_ESR, 0);
    assert_int_equal(rd(a, APIC_ESR), 0);
}

static void ipi_destinations(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    wr(a, APIC_ICR, (3u << 18) | 0x40);          /* all excluding self */
    assert_int_equal(apic_intr_pending(a), -1);
    wr(a, APIC_ICR2, 1u << 24);
    wr(a, APIC_ICR, 0x40);                       /* physical ID 1 */
    assert_int_equal(apic_intr_pending(a), -1);
    wr(a, APIC_ICR2, 0);
    wr(a, APIC_ICR, 0x40);                       /* physical ID 0 */
    assert_int_equal(apic_intr_pending(a), 0x40);
    wr(a, APIC_ICR, (1u << 18) | (APIC_DM_NMI << 8));
    assert_true(cpu->events & EVENT_NMI);
    /* INIT: level-triggered de-assert delivers nothing, assert does */
    wr(a, APIC_ICR, (1u << 18) | (1u << 15) | (APIC_DM_INIT << 8));
    assert_false(cpu->events & EVENT_INIT);
    wr(a, APIC_ICR, (1u << 18) | (1u << 14) | (APIC_DM_INIT << 8));
    assert_true(cpu->events & EVENT_INIT);
    wr(a, APIC_ICR, (1u << 18) | (APIC_DM_SIPI << 8) | 0x10);
    assert_int_equal(a->stat_ignored_ipis, 1);   /* no CPU waits for SIPI */
}

static void software_disable_masks_lvts(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    wr(a, APIC_LVT_LINT0, 0x700);
    assert_int_equal(rd(a, APIC_LVT_LINT0), 0x700);
    wr(a, APIC_SVR, 0xff);
    assert_int_equal(rd(a, APIC_LVT_LINT0), 0x10700);
    wr(a, APIC_LVT_LINT0, 0x700);
    assert_int_equal(rd(a, APIC_LVT_LINT0), 0x10700);
}

/* The performance-counter entry (0x340): vector, message type and mask
 * are writable, the delivery status and the rest are not; an overflow
 * delivers what the entry says and leaves the mask bit as it was (AMD
 * does not set it on delivery). */
static void lvt_perf_delivery(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    wr(a, APIC_LVT_PERF, 0xffffffffu);
    assert_int_equal(rd(a, APIC_LVT_PERF), 0x000107ffu);
    wr(a, APIC_LVT_PERF, APIC_LVT_MASKED | 0x50);
    apic_perf_interrupt(a);
    assert_int_equal(apic_intr_pending(a), -1);
    wr(a, APIC_LVT_PERF, 0x50);
    apic_perf_interrupt(a);
    assert_int_equal(apic_intr_pending(a), 0x50);
    assert_int_equal(rd(a, APIC_LVT_PERF), 0x50);
    assert_false(cpu->events & EVENT_NMI);
    wr(a, APIC_LVT_PERF, APIC_DM_NMI << 8);
    apic_perf_interrupt(a);
    assert_true(cpu->events & EVENT_NMI);
}

/* One-shot, divide by 1: initial count 1000 written at clock 0 expires at
 * clock 1000; the count reads initial - elapsed. */
static void timer_oneshot_exact(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    wr(a, APIC_TIMER_DCR, 0xb);
    wr(a, APIC_LVT_TIMER, 0x40);
    wr(a, APIC_TIMER_ICR, 1000);
    assert_int_equal(cpu->timer_at, 1000);
    cpu->icount = 400;
    assert_int_equal(rd(a, APIC_TIMER_CCR), 600);
    cpu->icount = 1000;
    apic_timer_fire(a);
    assert_int_equal(rd(a, APIC_TIMER_CCR), 0);
    assert_int_equal(apic_intr_pending(a), 0x40);
    assert_int_equal(cpu->timer_at, UINT64_MAX);
}

/* Divide by 2 (DCR 0): ticks = clock / 2. */
static void timer_divide(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    wr(a, APIC_TIMER_DCR, 0);
    wr(a, APIC_LVT_TIMER, 0x40);
    wr(a, APIC_TIMER_ICR, 1000);
    assert_int_equal(cpu->timer_at, 2000);
    cpu->icount = 1001;
    assert_int_equal(rd(a, APIC_TIMER_CCR), 500);
    /* divide by 128 (DCR 0xa) from here keeps the count at 500 */
    wr(a, APIC_TIMER_DCR, 0xa);
    assert_int_equal(rd(a, APIC_TIMER_CCR), 500);
    cpu->icount = 1001 + 128 * 100;
    assert_int_equal(rd(a, APIC_TIMER_CCR), 400);
}

static void timer_periodic_exact(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    wr(a, APIC_TIMER_DCR, 0xb);
    wr(a, APIC_LVT_TIMER, 0x40 | (APIC_TIMER_PERIODIC << 17));
    wr(a, APIC_TIMER_ICR, 100);
    for (unsigned k = 1; k <= 5; k++) {
        assert_int_equal(cpu->timer_at, 100 * k);
        cpu->icount = 100 * k;
        assert_int_equal(rd(a, APIC_TIMER_CCR), 100);   /* reloaded */
        apic_timer_fire(a);
    }
    cpu->icount = 550;
    assert_int_equal(rd(a, APIC_TIMER_CCR), 50);
    /* time spent halted counts: the CPU's icount-based stop moves back */
    cpu->idle_cycles = 30;
    apic_timer_schedule(a);
    assert_int_equal(cpu->timer_at, 600 - 30);
}

static void timer_masked_schedules_nothing(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    wr(a, APIC_TIMER_DCR, 0xb);
    wr(a, APIC_LVT_TIMER, 0x40 | APIC_LVT_MASKED);
    wr(a, APIC_TIMER_ICR, 100);
    assert_int_equal(cpu->timer_at, UINT64_MAX);
    cpu->icount = 200;
    assert_int_equal(rd(a, APIC_TIMER_CCR), 0);
    wr(a, APIC_LVT_TIMER, 0x40);           /* expired unseen: stays quiet */
    assert_int_equal(cpu->timer_at, UINT64_MAX);
    assert_int_equal(apic_intr_pending(a), -1);
}

static void timer_tsc_deadline(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    uint64_t v = 5000;
    wr(a, APIC_LVT_TIMER, 0x40 | (APIC_TIMER_TSCDL << 17));
    wr(a, APIC_TIMER_ICR, 100);                 /* ignored in this mode */
    assert_int_equal(rd(a, APIC_TIMER_ICR), 0);
    cpu->tsc_offset = 1000;                     /* TSC = clock + 1000 */
    cpu->icount = 10;
    assert_true(apic_msr(a, 0x6e0, true, &v));
    assert_int_equal(cpu->timer_at, 4000);
    v = 0;
    assert_true(apic_msr(a, 0x6e0, false, &v));
    assert_int_equal(v, 5000);
    cpu->icount = 4000;
    apic_timer_fire(a);
    assert_true(apic_msr(a, 0x6e0, false, &v));
    assert_int_equal(v, 0);
    assert_int_equal(apic_intr_pending(a), 0x40);
}

static void base_msr_transitions(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    uint64_t base = a->base_msr, v;
    v = base | (1ull << 9);                     /* reserved */
    assert_false(apic_msr(a, 0x1b, true, &v));
    assert_false(apic_msr(a, 0x802, false, &v)); /* xAPIC mode */
    v = base | APIC_BASE_EXTD;
    assert_true(apic_msr(a, 0x1b, true, &v));
    assert_true(apic_msr(a, 0x80d, false, &v));
    assert_int_equal(v, 1);                     /* cluster 0, bit 0 */
    assert_false(apic_mmio_decodes(a, 0xfee00000));
    v = base;                                   /* x2APIC -> xAPIC */
    assert_false(apic_msr(a, 0x1b, true, &v));
    v = 1;
    assert_false(apic_msr(a, 0x80b, true, &v)); /* EOI must be 0 */
    assert_false(apic_msr(a, 0x80b, false, &v));/* write-only */
    v = base & ~(APIC_BASE_EN | APIC_BASE_EXTD);
    assert_true(apic_msr(a, 0x1b, true, &v));
    assert_int_equal(a->svr, 0xff);             /* registers reset */
    v = (base & ~APIC_BASE_EN) | APIC_BASE_EXTD;/* EXTD without EN */
    assert_false(apic_msr(a, 0x1b, true, &v));
    v = 0xfed00000ull | APIC_BASE_EN;           /* relocated, BSP kept */
    assert_true(apic_msr(a, 0x1b, true, &v));
    assert_int_equal(a->base_msr, 0xfed00000ull | APIC_BASE_EN | APIC_BASE_BSP);
    assert_true(apic_mmio_decodes(a, 0xfed00020));
    assert_false(apic_mmio_decodes(a, 0xfee00020));
}

static void x2apic_icr_and_self_ipi(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    uint64_t v = a->base_msr | APIC_BASE_EXTD;
    assert_true(apic_msr(a, 0x1b, true, &v));
    v = 0x50;
    assert_true(apic_msr(a, 0x83f, true, &v));  /* SELF IPI */
    assert_int_equal(apic_intr_pending(a), 0x50);
    v = (0ull << 32) | 0x60;                    /* physical ID 0 */
    assert_true(apic_msr(a, 0x830, true, &v));
    assert_int_equal(apic_intr_pending(a), 0x60);
    v = (1ull << 32) | (1u << 12) | 0x70;       /* bit 12 is reserved */
    assert_false(apic_msr(a, 0x830, true, &v));
    v = 0x20;
    assert_true(apic_msr(a, 0x808, true, &v));  /* TPR */
    assert_int_equal(((struct fx *)*state)->cpu.cr8, 2);
}

static void mmio_access_sizes(void **state)
{
    struct apic *a = &((struct fx *)*state)->apic;
    wr(a, APIC_TPR, 0xa5);
    assert_int_equal(apic_mmio_read(a, 0xfee00080, 4), 0xa5);
    assert_int_equal(apic_mmio_read(a, 0xfee00080, 1), 0xa5);
    assert_int_equal(apic_mmio_read(a, 0xfee00084, 4), 0);   /* padding */
    apic_mmio_write(a, 0xfee00080, 4, 0x33);
    assert_int_equal(rd(a, APIC_TPR), 0x33);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(reset_state), T(tpr_is_cr8), T(priority_and_eoi),
        T(tpr_masks_by_class), T(illegal_vectors_and_esr),
        T(ipi_destinations), T(software_disable_masks_lvts),
        T(lvt_perf_delivery),
        T(timer_oneshot_exact), T(timer_divide), T(timer_periodic_exact),
        T(timer_masked_schedules_nothing), T(timer_tsc_deadline),
        T(base_msr_transitions), T(x2apic_icr_and_self_ipi),
        T(mmio_access_sizes),
    };
    return cmocka_run_group_tests_name("apic", tests, NULL, NULL);
}
