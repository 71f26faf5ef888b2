/* The performance counters' overflow deadline (src/x86/perfctr.c) and
 * its place beside the APIC timer's (x86_set_deadline, exec.c).  A CPU at
 * CPL 0 whose icount the test sets by hand, as if the WRMSR being
 * emulated executed at that count.  Expected deadlines follow from the
 * APM's counting rule: a counter at value V reaches 2^48 after 2^48 - V
 * counted instructions, and the WRMSR that enables or writes a counter
 * is not one of them; each overflow of a counter with Int set interrupts
 * once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "x86/cpu.h"

#define SEL(i)   (0xc0010000u + (i))
#define CTR(i)   (0xc0010004u + (i))
#define WRAP     (1ull << 48)
#define COUNT    ((1ull << 22) | (3ull << 16) | 0xc0)   /* EN, OS|USR, retired */
#define INT      (1ull << 20)
#define RAM      (64u * 1024)

struct fx {
    struct cpu cpu;
    uint8_t ram[RAM];
    unsigned interrupts;
};

static void perf_interrupt(void *opaque)
{
    ((struct fx *)opaque)->interrupts++;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const struct x86_bus bus = { .opaque = f };
    assert_int_equal(x86_cpu_init(&f->cpu, f->ram, RAM, &bus), 0);
    f->cpu.intc = (struct x86_intc){ .opaque = f, .perf_interrupt = perf_interrupt };
    x86_set_deadline(&f->cpu, DEADLINE_APIC, UINT64_MAX);
    x86_set_deadline(&f->cpu, DEADLINE_PERF, UINT64_MAX);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    x86_cpu_fini(&f->cpu);
    free(f);
    return 0;
}

/* WRMSR executing at icount `at`. */
static void wr(struct cpu *cpu, uint64_t at, uint32_t msr, uint64_t val)
{
    bool gp = true;
    cpu->icount = at;
    assert_true(x86_perf_msr(cpu, msr, true, &val, &gp));
    assert_false(gp);
}

static uint64_t rd(struct cpu *cpu, uint32_t msr)
{
    uint64_t val = 0;
    bool gp = true;
    assert_true(x86_perf_msr(cpu, msr, false, &val, &gp));
    return val;
}

/* Enabled at 1000 with 10 to go: the 10th instruction after the WRMSR
 * retires at icount 1011. */
static void enable_schedules_the_wrap(void **state)
{
    struct cpu *cpu = &((struct fx *)*state)->cpu;
    wr(cpu, 900, CTR(0), WRAP - 10);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], UINT64_MAX);   /* disabled */
    wr(cpu, 1000, SEL(0), COUNT);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], UINT64_MAX);   /* Int clear */
    wr(cpu, 1000, SEL(0), 0);
    wr(cpu, 1000, CTR(0), WRAP - 10);
    wr(cpu, 1000, SEL(0), COUNT | INT);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 1011);
    assert_int_equal(cpu->timer_at, 1011);
    x86_set_deadline(cpu, DEADLINE_APIC, 1005);
    assert_int_equal(cpu->timer_at, 1005);
    x86_set_deadline(cpu, DEADLINE_APIC, UINT64_MAX);
    assert_int_equal(cpu->timer_at, 1011);
}

/* Counter 0 enabled at 999 with 9 to go (wraps at 1009), counter 1 at
 * 1000 with 5 (1006): each overflow one interrupt, in that order, then
 * each counter's next wrap 2^48 later. */
static void overflows_in_order(void **state)
{
    struct fx *f = *state;
    struct cpu *cpu = &f->cpu;
    wr(cpu, 990, CTR(0), WRAP - 9);
    wr(cpu, 990, CTR(1), WRAP - 5);
    wr(cpu, 999, SEL(0), COUNT | INT);
    wr(cpu, 1000, SEL(1), COUNT | INT);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 1006);
    cpu->icount = 1006;
    assert_int_equal(rd(cpu, CTR(1)), 0);
    x86_perf_overflow(cpu);
    assert_int_equal(f->interrupts, 1);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 1009);
    cpu->icount = 1009;
    assert_int_equal(rd(cpu, CTR(0)), 0);
    x86_perf_overflow(cpu);
    assert_int_equal(f->interrupts, 2);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 1006 + WRAP);
    wr(cpu, 1020, SEL(1), 0);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 1009 + WRAP);
    assert_int_equal(f->interrupts, 2);
}

/* Writing 0 to an enabled counter is no overflow; writing 2^48 - 3 to a
 * counting one moves its wrap to 3 instructions after that WRMSR. */
static void writes_move_the_wrap(void **state)
{
    struct fx *f = *state;
    struct cpu *cpu = &f->cpu;
    wr(cpu, 100, CTR(2), 0);
    wr(cpu, 100, SEL(2), COUNT | INT);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 101 + WRAP);
    wr(cpu, 2000, CTR(2), WRAP - 3);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 2004);
    wr(cpu, 2001, CTR(2), 0);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 2002 + WRAP);
    assert_int_equal(f->interrupts, 0);
}

/* A wrap the run loop did not see in time (icount moved past it) still
 * interrupts once, when the counters are next synchronised. */
static void late_wrap_interrupts_once(void **state)
{
    struct fx *f = *state;
    struct cpu *cpu = &f->cpu;
    wr(cpu, 50, CTR(3), WRAP - 2);
    wr(cpu, 50, SEL(3), COUNT | INT);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 53);
    cpu->icount = 60;
    x86_perf_sync(cpu);
    assert_int_equal(f->interrupts, 1);
    assert_int_equal(cpu->deadline[DEADLINE_PERF], 53 + WRAP);
    assert_int_equal(rd(cpu, CTR(3)), 7);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(enable_schedules_the_wrap), T(overflows_in_order),
        T(writes_move_the_wrap), T(late_wrap_interrupts_once),
    };
    return cmocka_run_group_tests_name("perfctr", tests, NULL, NULL);
}
