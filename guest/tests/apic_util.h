/*
 * The local APIC as the interrupt tests drive it: xAPIC MMIO at its reset
 * base, the 8259 pair masked (under QEMU the firmware leaves the PIT on
 * IRQ 0), software enable with spurious vector 0xff, TPR 0, the timer
 * masked.  Shared by the apic_* and x86_intr payloads.
 */
#ifndef APIC_UTIL_H
#define APIC_UTIL_H

#include "libguest.h"

#define MSR_APIC_BASE    0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define APIC_BASE_EN     (1ull << 11)
#define APIC_BASE_EXTD   (1ull << 10)
#define APIC_BASE_BSP    (1ull << 8)
#define APIC_MMIO        0xfee00000ull

#define APIC_ID       0x020
#define APIC_VERSION  0x030
#define APIC_TPR      0x080
#define APIC_PPR      0x0a0
#define APIC_EOI      0x0b0
#define APIC_LDR      0x0d0
#define APIC_DFR      0x0e0
#define APIC_SVR      0x0f0
#define APIC_ISR      0x100
#define APIC_TMR      0x180
#define APIC_IRR      0x200
#define APIC_ESR      0x280
#define APIC_ICR      0x300
#define APIC_ICR2     0x310
#define APIC_LVTT     0x320
#define APIC_LVT0     0x350
#define APIC_LVT1     0x360
#define APIC_LVTERR   0x370
#define APIC_TMICT    0x380
#define APIC_TMCCT    0x390
#define APIC_TDCR     0x3e0

#define APIC_MASKED      (1u << 16)
#define APIC_TIMER_PERIODIC (1u << 17)
#define APIC_TIMER_TSCDL (2u << 17)
#define ICR_NMI          (4u << 8)
#define ICR_LOGICAL      (1u << 11)
#define ICR_SELF         (1u << 18)
#define ICR_ALL_INC      (2u << 18)
#define ICR_ALL_EXC      (3u << 18)
#define TDCR_DIV1        0xb
#define TDCR_DIV16       0x3

static inline uint32_t apic_read(unsigned reg)
{
	return *(volatile uint32_t *)(APIC_MMIO + reg);
}

static inline void apic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(APIC_MMIO + reg) = v;
}

/* Is vector v set in the 256-bit register bank at base (ISR/TMR/IRR)? */
static inline bool apic_bit(unsigned base, unsigned v)
{
	return (apic_read(base + (v / 32) * 0x10) >> (v % 32)) & 1;
}

static inline void self_ipi(unsigned vector)
{
	apic_write(APIC_ICR, ICR_SELF | vector);
}

/* One STI; NOP; CLI window: a pending interrupt is taken after the NOP. */
static inline void intr_window(void)
{
	asm volatile("sti; nop; cli" ::: "memory");
}

static inline bool apic_present(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	return (d & (1u << 9)) && (rdmsr(MSR_APIC_BASE) & APIC_BASE_EN);
}

/*
 * A group of tests that needs a CPUID feature: without it each test of
 * the group is reported as skipped under its own name, so that a run
 * without the feature (QEMU TCG lacks some) compares test by test.
 */
static inline bool feature_or_skip(bool have, const char *const *names,
				   size_t n, const char *why)
{
	if (!have)
		for (size_t i = 0; i < n; i++)
			report_skip(names[i], why);
	return have;
}

/* Returns false (after a SKIP line) when there is no usable APIC. */
static inline bool apic_setup(const char *what)
{
	if (!apic_present()) {
		report_skip(what, "no enabled local APIC");
		return false;
	}
	outb(0xff, 0x21);
	outb(0xff, 0xa1);
	apic_write(APIC_SVR, 0x1ff);
	apic_write(APIC_TPR, 0);
	apic_write(APIC_LVTT, APIC_MASKED);
	apic_write(APIC_TMICT, 0);
	/* nothing left in service from before */
	for (int i = 0; i < 8; i++)
		apic_write(APIC_EOI, 0);
	return true;
}

#endif
