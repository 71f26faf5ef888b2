/* The local APIC of a one-CPU machine: xAPIC (MMIO, 4 KiB at the base in
 * IA32_APIC_BASE, 0xFEE00000 at reset) and x2APIC (MSRs 0x800-0x8FF).
 *
 * Registers: ID, version, TPR (CR8 is its alias: CR8[3:0] = TPR[7:4]),
 * PPR, EOI, LDR, DFR, SPIV, ISR/TMR/IRR, ESR, ICR, the six LVT entries
 * (timer, thermal, performance counters, LINT0, LINT1, error) and the
 * timer (initial count, current count, divide configuration; one-shot,
 * periodic and TSC-deadline modes through IA32_TSC_DEADLINE, MSR 0x6E0).
 *
 * Time: the APIC timer's bus clock ticks once per unit of the machine's
 * clock (x86_clock(): one per retired instruction, one per cycle spent
 * halted), divided by the divide configuration register; the TSC advances
 * at the same rate.  Every run is identical.
 *
 * The 8259 pair sits behind LINT0: with the LVT entry unmasked in ExtINT
 * mode its output is an interrupt request whose vector the 8259 supplies
 * at acknowledge time; with the APIC globally disabled (IA32_APIC_BASE.EN
 * clear) the 8259 drives the CPU's INTR directly.
 *
 * IPIs (ICR): fixed and NMI to self, to all including self, or to a
 * destination that names this APIC (physical, logical flat or cluster,
 * broadcast).  Lowest priority is fixed here (one CPU).  INIT and SMI
 * raise the CPU's INIT and SMI signals (an INIT level de-assert message
 * delivers nothing);
 * start-up IPIs have no effect (the one CPU is never waiting for one);
 * all excluding self goes nowhere.  Delivery is immediate: the delivery status
 * bit always reads idle. */
#ifndef NSVM_DEV_APIC_H
#define NSVM_DEV_APIC_H

#include <stdbool.h>
#include <stdint.h>

struct cpu;
struct pic;

#define APIC_DEFAULT_BASE 0xfee00000ull
#define APIC_MMIO_SIZE    0x1000u

/* IA32_APIC_BASE (MSR 0x1B) bits. */
#define APIC_BASE_BSP  (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)   /* x2APIC mode */
#define APIC_BASE_EN   (1ull << 11)   /* global enable */

/* Register offsets (xAPIC MMIO; the x2APIC MSR is 0x800 + offset / 16). */
enum {
    APIC_ID = 0x020, APIC_VERSION = 0x030, APIC_TPR = 0x080,
    APIC_APR = 0x090, APIC_PPR = 0x0a0, APIC_EOI = 0x0b0,
    APIC_RRD = 0x0c0, APIC_LDR = 0x0d0, APIC_DFR = 0x0e0,
    APIC_SVR = 0x0f0, APIC_ISR = 0x100, APIC_TMR = 0x180,
    APIC_IRR = 0x200, APIC_ESR = 0x280, APIC_ICR = 0x300,
    APIC_ICR2 = 0x310, APIC_LVT_TIMER = 0x320, APIC_LVT_THERMAL = 0x330,
    APIC_LVT_PERF = 0x340, APIC_LVT_LINT0 = 0x350, APIC_LVT_LINT1 = 0x360,
    APIC_LVT_ERROR = 0x370, APIC_TIMER_ICR = 0x380, APIC_TIMER_CCR = 0x390,
    APIC_TIMER_DCR = 0x3e0, APIC_SELF_IPI = 0x3f0,   /* x2APIC only */
};

/* Version register: version 0x10 (integrated APIC), max LVT entry 5. */
#define APIC_VERSION_VALUE 0x00050010u

/* LVT and ICR fields. */
#define APIC_VECTOR(v)     ((v) & 0xffu)
#define APIC_DM(v)         (((v) >> 8) & 7u)   /* delivery mode */
#define APIC_DM_FIXED  0u
#define APIC_DM_LOWEST 1u
#define APIC_DM_SMI    2u
#define APIC_DM_NMI    4u
#define APIC_DM_INIT   5u
#define APIC_DM_SIPI   6u
#define APIC_DM_EXTINT 7u
#define APIC_LVT_LEVEL (1u << 15)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_TIMER_MODE(v) (((v) >> 17) & 3u)
#define APIC_TIMER_ONESHOT  0u
#define APIC_TIMER_PERIODIC 1u
#define APIC_TIMER_TSCDL    2u
#define APIC_SVR_ENABLE (1u << 8)
#define APIC_ICR_DEST_LOGICAL (1u << 11)
#define APIC_ICR_LEVEL_ASSERT  (1u << 14)
#define APIC_ICR_TRIGGER_LEVEL (1u << 15)
#define APIC_ICR_SHORTHAND(v) (((v) >> 18) & 3u)

/* ESR bits. */
#define APIC_ESR_SEND_ILLEGAL (1u << 5)
#define APIC_ESR_RECV_ILLEGAL (1u << 6)
#define APIC_ESR_ILLEGAL_REG  (1u << 7)

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR,
       APIC_LVT_COUNT };

struct apic {
    struct cpu *cpu;
    struct pic *pic;          /* the 8259 pair behind LINT0, or NULL */
    uint64_t base_msr;        /* IA32_APIC_BASE */
    uint32_t id;              /* APIC ID (x2APIC form; xAPIC reads << 24) */
    uint32_t tpr;             /* as last written (CR8 holds its class) */
    uint32_t ldr, dfr, svr;
    uint32_t esr, esr_pending;/* ESR as read / errors since the last write */
    uint32_t icr_lo, icr_hi;
    uint32_t irr[8], isr[8], tmr[8];
    uint32_t lvt[APIC_LVT_COUNT];
    uint32_t timer_initial;   /* initial count */
    uint32_t timer_dcr;       /* divide configuration */
    unsigned timer_shift;     /* log2 of the divisor */
    uint64_t timer_start;     /* clock at which the count was last initial */
    bool timer_armed;         /* one-shot or TSC deadline not yet reached */
    uint64_t tsc_deadline;    /* IA32_TSC_DEADLINE */
    uint64_t stat_ignored_ipis;  /* start-up (and INIT): no effect */
};

/* Power-on state, then the state firmware leaves for a loaded kernel. */
void apic_init(struct apic *a, struct cpu *cpu, struct pic *pic);
void apic_firmware_setup(struct apic *a);
/* The CPU took an INIT: the registers as after power-on, the base MSR
 * (and so the APIC's address and enable bit) unchanged. */
void apic_init_signal(struct apic *a);

/* MMIO (machine_mmio_*): decodes pa? */
bool apic_mmio_decodes(const struct apic *a, uint64_t pa);
uint64_t apic_mmio_read(struct apic *a, uint64_t pa, unsigned size);
void apic_mmio_write(struct apic *a, uint64_t pa, unsigned size, uint64_t val);

/* x86_bus.apic_msr: IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC MSRs. */
bool apic_msr(struct apic *a, uint32_t msr, bool write, uint64_t *val);

/* Register access by offset (xAPIC layout); false: no such register or a
 * value it refuses (x2APIC: #GP). */
bool apic_reg_read(struct apic *a, unsigned off, uint32_t *val);
bool apic_reg_write(struct apic *a, unsigned off, uint32_t val);

/* Interrupt acceptance (apic_irq.c). */
void apic_accept(struct apic *a, unsigned dm, unsigned vector, bool level);
int apic_intr_pending(struct apic *a);   /* x86_bus.intr_pending */
int apic_intr_ack(struct apic *a);       /* x86_bus.intr_ack */
void apic_update(struct apic *a);        /* recompute EVENT_INTR */
unsigned apic_ppr(const struct apic *a);
uint32_t apic_tpr(const struct apic *a);
void apic_set_tpr(struct apic *a, uint32_t val);
void apic_eoi(struct apic *a);
void apic_send_ipi(struct apic *a, uint32_t lo, uint32_t dest);
void apic_lint(struct apic *a, unsigned pin);   /* LINT0/1 edge */
void apic_perf_interrupt(struct apic *a);       /* x86_intc.perf_interrupt */

/* The timer (apic_timer.c). */
void apic_timer_fire(struct apic *a);        /* x86_bus.timer */
uint32_t apic_timer_current(const struct apic *a);
void apic_timer_write_initial(struct apic *a, uint32_t val);
void apic_timer_write_dcr(struct apic *a, uint32_t val);
void apic_timer_write_lvt(struct apic *a, uint32_t val);
uint64_t apic_tsc_deadline_read(const struct apic *a);
void apic_tsc_deadline_write(struct apic *a, uint64_t val);
void apic_timer_schedule(struct apic *a);

static inline bool apic_hw_enabled(const struct apic *a)
{
    return (a->base_msr & APIC_BASE_EN) != 0;
}
static inline bool apic_x2apic(const struct apic *a)
{
    return (a->base_msr & APIC_BASE_EXTD) != 0;
}
static inline bool apic_sw_enabled(const struct apic *a)
{
    return (a->svr & APIC_SVR_ENABLE) != 0;
}

#endif
