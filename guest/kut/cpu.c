/* kut_boot: the CPU and platform setup a kvm-unit-tests kernel performs at
 * boot (GS_BASE, its own GDT with a 64-bit TSS, an IDT, the 8259 masks, the
 * local APIC and its INIT/SIPI broadcast to the other CPUs), each checked. */
#include "kut.h"

#define MSR_APIC_BASE 0x1b
#define MSR_GS_BASE   0xc0000101
#define MSR_X2APIC_ID 0x802
#define APIC_BASE     0xfee00000u
#define APIC_ID       0x020
#define APIC_SPIV     0x0f0
#define APIC_ICR_LO   0x300
#define APIC_ICR_HI   0x310
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_ASSERT    (1u << 14)
#define ICR_BUSY      (1u << 12)
#define ICR_INIT      (5u << 8)
#define ICR_STARTUP   (6u << 8)
#define KUT_CS        0x08
#define KUT_TSS       0x18

extern const uint64_t exc_stubs[32];

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static volatile uint32_t *apic_reg(unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(APIC_BASE + off);
}

static void set_tss_desc(uint64_t *d, uint64_t base, uint32_t limit)
{
	d[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
	       (uint64_t)(limit >> 16 & 0xf) << 48 | (base >> 24 & 0xff) << 56;
	d[1] = base >> 32;
}

static void load_idt(uint64_t *idt)
{
	struct desc_ptr p = { 32 * 16 - 1, (uintptr_t)idt }, q;

	for (int v = 0; v < 32; v++) {
		uint64_t off = exc_stubs[v];
		idt[2 * v] = (off & 0xffff) | (uint64_t)KUT_CS << 16 | 0x8eull << 40 |
			     (off >> 16 & 0xffff) << 48;
		idt[2 * v + 1] = off >> 32;
	}
	asm volatile("lidt %0" :: "m"(p));
	asm volatile("sidt %0" : "=m"(q));
	report(q.limit == p.limit && q.base == p.base, "LIDT: SIDT reads back the IDT");
}

void test_cpu_setup(uint64_t *gdt, uint64_t *tss, size_t tss_size, uint64_t *idt,
		    uint8_t *percpu)
{
	uint16_t tr;

	report_eq("GS_BASE holds the per-CPU area", rdmsr(MSR_GS_BASE), (uintptr_t)percpu);
	set_tss_desc(&gdt[KUT_TSS >> 3], (uintptr_t)tss, (uint32_t)tss_size - 1);
	asm volatile("ltr %w0" :: "r"((uint16_t)KUT_TSS));
	asm volatile("str %w0" : "=r"(tr));
	report_eq("LTR of the 64-bit TSS: STR reads it", tr, KUT_TSS);
	report_eq("LTR marks the TSS descriptor busy (type 0xB)",
		  gdt[KUT_TSS >> 3] >> 40 & 0xf, 0xb);
	load_idt(idt);
	outb(0xff, 0x21);
	outb(0xff, 0xa1);
	report(inb(0x21) == 0xff && inb(0xa1) == 0xff, "8259 masks: all IRQs masked");
}

static bool has_x2apic(void)
{
	uint32_t a = 1, b, c = 0, d;

	asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return c >> 21 & 1;
}

void test_apic(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	report_eq("APIC_BASE: 0xFEE00000, enabled, BSP", base & 0xfffff900ull,
		  APIC_BASE | 0x900);
	report_eq("APIC ID 0", *apic_reg(APIC_ID) >> 24, 0);
	*apic_reg(APIC_SPIV) = 0x1ff;
	report_eq("SPIV: software-enabled", *apic_reg(APIC_SPIV) & 0x1ff, 0x1ff);
	/* what kvm-unit-tests' smp_init does; at one CPU nobody answers */
	*apic_reg(APIC_ICR_HI) = 0;
	*apic_reg(APIC_ICR_LO) = ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT;
	*apic_reg(APIC_ICR_LO) = ICR_ALL_BUT_SELF | ICR_STARTUP;
	report_eq("INIT and SIPI to all but self: ICR idle", *apic_reg(APIC_ICR_LO) & ICR_BUSY, 0);
	report_eq("after INIT/SIPI to the others: still the BSP, ID 0",
		  (rdmsr(MSR_APIC_BASE) & 0x100) | *apic_reg(APIC_ID) >> 24, 0x100);
	if (!has_x2apic()) {
		report_skip("x2APIC: ID 0", "CPUID.1:ECX.x2APIC is 0");
		return;
	}
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | 0xc00);
	report_eq("x2APIC: ID 0", rdmsr(MSR_X2APIC_ID), 0);
}
