/* The IDT: 256 interrupt gates, each pointing at its entry.S stub. */
#include "internal.h"

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t attrs;          /* P | DPL | 0 | type (0xE: 64-bit interrupt gate) */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

#define GATE_INTERRUPT 0x0e
#define GATE_PRESENT   0x80

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern char __idt_stub_base[];

uint64_t idt_default_target(int vector)
{
	return (uint64_t)__idt_stub_base + 16 * (uint64_t)(vector & 0xff);
}

static void set_gate(int v, uint64_t target, int dpl, int ist, bool present)
{
	struct idt_gate *g = &idt[v & 0xff];

	g->offset_lo = (uint16_t)target;
	g->offset_mid = (uint16_t)(target >> 16);
	g->offset_hi = (uint32_t)(target >> 32);
	g->selector = KERNEL_CS;
	g->ist = (uint8_t)(ist & 7);
	g->attrs = (uint8_t)((present ? GATE_PRESENT : 0) | ((dpl & 3) << 5) |
			     GATE_INTERRUPT);
	g->reserved = 0;
}

void idt_set_gate_attrs(int vector, int dpl, int ist, bool present)
{
	set_gate(vector, idt_default_target(vector), dpl, ist, present);
}

void idt_set_target(int vector, uint64_t target)
{
	set_gate(vector, target, 0, 0, true);
}

void idt_init(void)
{
	struct desc_ptr p = { sizeof(idt) - 1, (uint64_t)idt };

	for (int v = 0; v < 256; v++)
		idt_set_gate_attrs(v, 0, 0, true);
	idt_set_gate_attrs(DF_VECTOR, 0, DF_IST, true);
	idt_set_gate_attrs(USER_EXIT_VECTOR, 3, 0, true);
	lidt(&p);
}
