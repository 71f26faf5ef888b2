/* The local APIC's register file and its two ways in: xAPIC MMIO and the
 * x2APIC MSRs (see apic.h).  Interrupt logic is in apic_irq.c, the timer
 * in apic_timer.c. */
#include "dev/apic.h"

#include <string.h>

#include "x86/cpu.h"

/* Writable bits of each LVT entry: vector, delivery mode, polarity,
 * trigger mode, mask, timer mode. */
static const uint32_t lvt_writable[APIC_LVT_COUNT] = {
    [LVT_TIMER] = 0x000700ffu, [LVT_THERMAL] = 0x000107ffu,
    [LVT_PERF] = 0x000107ffu,  [LVT_LINT0] = 0x0001a7ffu,
    [LVT_LINT1] = 0x0001a7ffu, [LVT_ERROR] = 0x000100ffu,
};

#define MSR_APIC_BASE    0x1bu
#define MSR_TSC_DEADLINE 0x6e0u
#define MSR_X2APIC_FIRST 0x800u
#define MSR_X2APIC_LAST  0x8ffu
#define APIC_BASE_ADDR_MASK (((1ull << PHYS_ADDR_BITS) - 1) & ~0xfffull)

/* The state after power-on or a global disable (the base MSR aside). */
static void reset_registers(struct apic *a)
{
    a->id = 0;
    a->tpr = 0;
    a->cpu->cr8 = 0;
    a->ldr = 0;
    a->dfr = 0xffffffffu;
    a->svr = 0xff;
    a->esr = a->esr_pending = 0;
    a->icr_lo = a->icr_hi = 0;
    memset(a->irr, 0, sizeof(a->irr));
    memset(a->isr, 0, sizeof(a->isr));
    memset(a->tmr, 0, sizeof(a->tmr));
    for (int i = 0; i < APIC_LVT_COUNT; i++)
        a->lvt[i] = APIC_LVT_MASKED;
    a->timer_initial = 0;
    a->timer_dcr = 0;
    a->timer_shift = 1;
    a->timer_start = 0;
    a->timer_armed = false;
    a->tsc_deadline = 0;
}

void apic_init(struct apic *a, struct cpu *cpu, struct pic *pic)
{
    memset(a, 0, sizeof(*a));
    a->cpu = cpu;
    a->pic = pic;
    a->base_msr = APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_EN;
    reset_registers(a);
    apic_timer_schedule(a);
    apic_update(a);
}

void apic_init_signal(struct apic *a)
{
    reset_registers(a);
    apic_timer_schedule(a);
    apic_update(a);
}

/* As PC firmware (SeaBIOS under QEMU) leaves the APIC for a kernel:
 * software-enabled with spurious vector 0xff, the 8259 through LINT0
 * (ExtINT, level) and NMI on LINT1. */
void apic_firmware_setup(struct apic *a)
{
    a->svr = APIC_SVR_ENABLE | 0xff;
    a->lvt[LVT_LINT0] = APIC_LVT_LEVEL | (APIC_DM_EXTINT << 8);
    a->lvt[LVT_LINT1] = APIC_LVT_LEVEL | (APIC_DM_NMI << 8);
    apic_update(a);
}

static uint32_t read_lvt(const struct apic *a, unsigned i)
{
    return a->lvt[i];
}

/* Registers every mode reads alike. */
static bool read_common(struct apic *a, unsigned off, uint32_t *val)
{
    switch (off) {
    case APIC_VERSION:    *val = APIC_VERSION_VALUE; return true;
    case APIC_TPR:        *val = apic_tpr(a); return true;
    case APIC_PPR:        *val = apic_ppr(a); return true;
    case APIC_SVR:        *val = a->svr; return true;
    case APIC_ESR:        *val = a->esr; return true;
    case APIC_TIMER_ICR:  *val = a->timer_initial; return true;
    case APIC_TIMER_CCR:  *val = apic_timer_current(a); return true;
    case APIC_TIMER_DCR:  *val = a->timer_dcr; return true;
    case APIC_ICR:        *val = a->icr_lo & ~(1u << 12); return true;
    default: break;
    }
    if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR) {
        *val = read_lvt(a, (off - APIC_LVT_TIMER) >> 4);
        return true;
    }
    const uint32_t *bank = off >= APIC_IRR ? a->irr : off >= APIC_TMR ? a->tmr
                                                                       : a->isr;
    if (off >= APIC_ISR && off < APIC_ESR) {
        *val = bank[(off >> 4) & 7];
        return true;
    }
    return false;
}

bool apic_reg_read(struct apic *a, unsigned off, uint32_t *val)
{
    bool x2 = apic_x2apic(a);
    switch (off) {
    case APIC_ID:
        *val = x2 ? a->id : a->id << 24;
        return true;
    case APIC_LDR:
        *val = a->ldr;
        return true;
    case APIC_APR:
    case APIC_RRD:
        *val = 0;
        return !x2;
    case APIC_DFR:
        *val = a->dfr;
        return !x2;
    case APIC_ICR2:
        *val = a->icr_hi;
        return !x2;
    case APIC_EOI:
    case APIC_SELF_IPI:
        *val = 0;
        return !x2;   /* write-only: x2APIC reads #GP */
    default:
        return read_common(a, off, val);
    }
}

static void write_svr(struct apic *a, uint32_t val)
{
    a->svr = val & 0x3ffu;
    if (!apic_sw_enabled(a)) {
        for (int i = 0; i < APIC_LVT_COUNT; i++)
            a->lvt[i] |= APIC_LVT_MASKED;
        apic_timer_schedule(a);
    }
    apic_update(a);
}

static void write_lvt(struct apic *a, unsigned i, uint32_t val)
{
    val &= lvt_writable[i];
    if (!apic_sw_enabled(a))
        val |= APIC_LVT_MASKED;   /* software-disabled: masks stay set */
    if (i == LVT_TIMER)
        apic_timer_write_lvt(a, val);
    else
        a->lvt[i] = val;
    apic_update(a);
}

/* Registers every mode writes alike; false: read-only or absent. */
static bool write_common(struct apic *a, unsigned off, uint32_t val)
{
    switch (off) {
    case APIC_TPR:       apic_set_tpr(a, val); return true;
    case APIC_EOI:       apic_eoi(a); return true;
    case APIC_SVR:       write_svr(a, val); return true;
    case APIC_ESR:
        a->esr = a->esr_pending;
        a->esr_pending = 0;
        return true;
    case APIC_TIMER_ICR: apic_timer_write_initial(a, val); return true;
    case APIC_TIMER_DCR: apic_timer_write_dcr(a, val); return true;
    default: break;
    }
    if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR) {
        write_lvt(a, (off - APIC_LVT_TIMER) >> 4, val);
        return true;
    }
    return false;
}

static bool write_xapic(struct apic *a, unsigned off, uint32_t val)
{
    switch (off) {
    case APIC_ID:   a->id = val >> 24; return true;
    case APIC_LDR:  a->ldr = val & 0xff000000u; return true;
    case APIC_DFR:  a->dfr = val | 0x0fffffffu; return true;
    case APIC_ICR2: a->icr_hi = val & 0xff000000u; return true;
    case APIC_ICR:
        a->icr_lo = val & 0x000ccfffu;
        apic_send_ipi(a, a->icr_lo, a->icr_hi >> 24);
        return true;
    default:
        return write_common(a, off, val);
    }
}

bool apic_reg_write(struct apic *a, unsigned off, uint32_t val)
{
    if (!apic_x2apic(a))
        return write_xapic(a, off, val);
    switch (off) {
    case APIC_EOI:
        if (val)
            return false;   /* x2APIC: a non-zero EOI write is #GP */
        apic_eoi(a);
        return true;
    case APIC_SELF_IPI:
        if (val & ~0xffu)
            return false;
        apic_send_ipi(a, (1u << 18) | val, 0);
        return true;
    case APIC_ID: case APIC_LDR: case APIC_VERSION: case APIC_PPR:
        return false;   /* read-only in x2APIC mode */
    default:
        return write_common(a, off, val);
    }
}

bool apic_mmio_decodes(const struct apic *a, uint64_t pa)
{
    return apic_hw_enabled(a) && !apic_x2apic(a) &&
           (pa & ~0xfffull) == (a->base_msr & APIC_BASE_ADDR_MASK);
}

/* Registers are 32 bits on 16-byte boundaries; narrower reads see part of
 * one, the rest of each 16 bytes reads zero and ignores writes. */
uint64_t apic_mmio_read(struct apic *a, uint64_t pa, unsigned size)
{
    unsigned off = pa & 0xfff, in = off & 0xf;
    uint32_t val = 0;
    if (in >= 4 || !apic_reg_read(a, off & ~0xfu, &val))
        return 0;
    uint64_t v = (uint64_t)val >> (8 * in);
    return size >= 4 ? v : v & ((1ull << (8 * size)) - 1);
}

void apic_mmio_write(struct apic *a, uint64_t pa, unsigned size, uint64_t val)
{
    unsigned off = pa & 0xfff;
    if ((off & 0xf) || size < 4) {
        a->esr_pending |= (off & 0xf) ? 0 : APIC_ESR_ILLEGAL_REG;
        return;
    }
    if (!apic_reg_write(a, off, (uint32_t)val))
        a->esr_pending |= APIC_ESR_ILLEGAL_REG;
}

/* IA32_APIC_BASE: enable and x2APIC transitions (disabled -> xAPIC ->
 * x2APIC, any -> disabled; other moves and reserved bits are #GP).  A
 * global disable returns the registers to their power-on state. */
static bool write_base(struct apic *a, uint64_t val)
{
    uint64_t reserved = ~(APIC_BASE_ADDR_MASK | APIC_BASE_BSP |
                          APIC_BASE_EXTD | APIC_BASE_EN);
    bool en = val & APIC_BASE_EN, x2 = val & APIC_BASE_EXTD;
    if ((val & reserved) || (x2 && !en) ||
        (apic_x2apic(a) && en && !x2) || (!apic_hw_enabled(a) && x2))
        return false;
    bool entering_x2 = x2 && !apic_x2apic(a);
    if (!en && apic_hw_enabled(a))
        reset_registers(a);
    a->base_msr = (val & ~APIC_BASE_BSP) | (a->base_msr & APIC_BASE_BSP);
    if (entering_x2)
        a->ldr = ((a->id >> 4) << 16) | (1u << (a->id & 0xf));
    apic_timer_schedule(a);
    apic_update(a);
    return true;
}

static bool x2apic_msr(struct apic *a, uint32_t msr, bool write, uint64_t *val)
{
    unsigned off = (msr - MSR_X2APIC_FIRST) << 4;
    if (!apic_x2apic(a))
        return false;
    if (off == APIC_ICR) {
        if (!write) {
            *val = (a->icr_lo & ~(1u << 12)) | ((uint64_t)a->icr_hi << 32);
            return true;
        }
        if (*val & 0x00000000fff33000ull)   /* reserved, delivery status */
            return false;
        a->icr_lo = (uint32_t)*val;
        a->icr_hi = (uint32_t)(*val >> 32);
        apic_send_ipi(a, a->icr_lo, a->icr_hi);
        return true;
    }
    if (!write) {
        uint32_t v;
        if (!apic_reg_read(a, off, &v))
            return false;
        *val = v;
        return true;
    }
    return (*val >> 32) == 0 && apic_reg_write(a, off, (uint32_t)*val);
}

bool apic_msr(struct apic *a, uint32_t msr, bool write, uint64_t *val)
{
    if (msr == MSR_APIC_BASE) {
        if (write)
            return write_base(a, *val);
        *val = a->base_msr;
        return true;
    }
    if (msr == MSR_TSC_DEADLINE) {
        if (write)
            apic_tsc_deadline_write(a, *val);
        else
            *val = apic_tsc_deadline_read(a);
        return true;
    }
    if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST)
        return x2apic_msr(a, msr, write, val);
    return false;
}
