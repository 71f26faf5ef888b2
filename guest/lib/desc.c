/* GDT reload and the TSS: RSP0 for entries from CPL 3, IST1 for #DF. */
#include "internal.h"

struct tss64 tss __attribute__((aligned(16)));
_Static_assert(sizeof(struct tss64) == 104, "TSS layout");
_Static_assert(offsetof(struct tss64, ist[1]) == 0x24, "TSS IST1 offset");

static uint8_t kernel_stack[16384] __attribute__((aligned(16)));
static uint8_t df_stack[8192] __attribute__((aligned(16)));

void gdt_set_system_desc(uint16_t sel, uint64_t base, uint32_t limit,
			 unsigned type, bool present)
{
	gdt64[sel >> 3] = (limit & 0xffff) | (base & 0xffffff) << 16 |
			  (uint64_t)type << 40 | (uint64_t)present << 47 |
			  (uint64_t)(limit >> 16 & 0xf) << 48 | (base >> 24 & 0xff) << 56;
	gdt64[(sel >> 3) + 1] = base >> 32;
}

void desc_init(void)
{
	struct desc_ptr p = { GDT_ENTRIES * 8 - 1, (uint64_t)gdt64 };

	tss.rsp[0] = (uint64_t)(kernel_stack + sizeof(kernel_stack));
	tss.ist[DF_IST] = (uint64_t)(df_stack + sizeof(df_stack));
	tss.iomap_base = sizeof(tss);
	/* type 9: an available 64-bit TSS */
	gdt_set_system_desc(TSS_SEL, (uint64_t)&tss, sizeof(tss) - 1, 0x9, true);
	lgdt(&p);
	asm volatile("ltr %w0" :: "r"(TSS_SEL));
}
