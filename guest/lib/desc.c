/* GDT reload and the TSS: RSP0 for entries from CPL 3, IST1 for #DF. */
#include "internal.h"

struct tss64 tss __attribute__((aligned(16)));
_Static_assert(sizeof(struct tss64) == 104, "TSS layout");
_Static_assert(offsetof(struct tss64, ist[1]) == 0x24, "TSS IST1 offset");

static uint8_t kernel_stack[16384] __attribute__((aligned(16)));
static uint8_t df_stack[8192] __attribute__((aligned(16)));

static void set_tss_descriptor(void)
{
	uint64_t base = (uint64_t)&tss;
	uint64_t limit = sizeof(tss) - 1;
	int i = TSS_SEL >> 3;

	/* 16-byte system descriptor, type 9 (available 64-bit TSS), P=1 */
	gdt64[i] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
		   (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
		   (((base >> 24) & 0xff) << 56);
	gdt64[i + 1] = base >> 32;
}

void desc_init(void)
{
	struct desc_ptr p = { GDT_ENTRIES * 8 - 1, (uint64_t)gdt64 };

	tss.rsp[0] = (uint64_t)(kernel_stack + sizeof(kernel_stack));
	tss.ist[DF_IST] = (uint64_t)(df_stack + sizeof(df_stack));
	tss.iomap_base = sizeof(tss);
	set_tss_descriptor();
	lgdt(&p);
	asm volatile("ltr %w0" :: "r"(TSS_SEL));
}
