/*
 * Task-register and descriptor-table loads and their checks, in long mode
 * at CPL 0 (APM vol. 3, LTR, LLDT, LGDT/LIDT; vol. 2, 4.8.3 and 12.2.5):
 *   LTR: null -> #GP(0); not a TSS, a busy TSS, TI = 1, beyond the GDT
 *   limit -> #GP(selector); a not-present TSS -> #NP(selector); an available
 *   TSS loads and is marked busy;
 *   LLDT: not an LDT, TI = 1 -> #GP(selector); not present -> #NP(selector);
 *   an LDT loads (SLDT reads it back); null loads;
 *   LGDT/LIDT: SGDT/SIDT read back what was loaded; an interrupt through a
 *   vector beyond the IDT limit -> #GP(vector << 3 | IDT).
 */
#include "libguest.h"

#define SEL_TSS    GDT_FIRST_FREE            /* 0x48, 16 bytes */
#define SEL_TSS_NP (GDT_FIRST_FREE + 0x10)   /* 0x58, not present */
#define SEL_LDT    (GDT_FIRST_FREE + 0x20)   /* 0x68, 16 bytes */
#define SEL_BEYOND (GDT_ENTRIES * 8)         /* first selector past the limit */
#define TYPE_LDT        0x2
#define TYPE_TSS_AVAIL  0x9
#define TYPE_TSS_BUSY   0xb
#define DESC_P          (1ull << 47)

static uint64_t test_tss[13];
static uint64_t ldt[2];

static void do_ltr(void *sel) { asm volatile("ltr %w0" :: "r"((uint16_t)(uintptr_t)sel)); }
static void do_lldt(void *sel) { asm volatile("lldt %w0" :: "r"((uint16_t)(uintptr_t)sel)); }

static void check_load(const char *name, void (*fn)(void *), uint16_t sel,
		       int want_vector, uint64_t want_error)
{
	struct ex_regs r;
	int v = catch_exception(fn, (void *)(uintptr_t)sel, &r);

	report_exception(name, v, &r, want_vector, want_error);
}

static void test_ltr(void)
{
	gdt_set_system_desc(SEL_TSS, (uintptr_t)test_tss, sizeof(test_tss) - 1,
			    TYPE_TSS_AVAIL, true);
	gdt_set_system_desc(SEL_TSS_NP, (uintptr_t)test_tss, sizeof(test_tss) - 1,
			    TYPE_TSS_AVAIL, false);
	check_load("LTR null selector -> #GP(0)", do_ltr, 0, GP_VECTOR, 0);
	check_load("LTR of a data segment -> #GP(sel)", do_ltr, KERNEL_DS, GP_VECTOR, KERNEL_DS);
	check_load("LTR of the busy TSS -> #GP(sel)", do_ltr, TSS_SEL, GP_VECTOR, TSS_SEL);
	check_load("LTR with TI = 1 -> #GP(sel)", do_ltr, SEL_TSS | 4, GP_VECTOR, SEL_TSS | 4);
	check_load("LTR beyond the GDT limit -> #GP(sel)", do_ltr, SEL_BEYOND, GP_VECTOR,
		   SEL_BEYOND);
	check_load("LTR of a not-present TSS -> #NP(sel)", do_ltr, SEL_TSS_NP, NP_VECTOR,
		   SEL_TSS_NP);
	report_eq("TR unchanged by the failed loads", str(), TSS_SEL);

	check_load("LTR of an available TSS loads", do_ltr, SEL_TSS, -1, 0);
	report_eq("STR reads the new TR", str(), SEL_TSS);
	report_eq("the loaded TSS is marked busy", gdt64[SEL_TSS >> 3] >> 40 & 0xf,
		  TYPE_TSS_BUSY);
	check_load("LTR of the now busy TSS -> #GP(sel)", do_ltr, SEL_TSS, GP_VECTOR, SEL_TSS);

	/* back to the library's TSS: it must be available to be loaded */
	gdt64[TSS_SEL >> 3] &= ~(2ull << 40);
	do_ltr((void *)(uintptr_t)TSS_SEL);
	gdt64[SEL_TSS >> 3] = gdt64[(SEL_TSS >> 3) + 1] = 0;
	gdt64[SEL_TSS_NP >> 3] = gdt64[(SEL_TSS_NP >> 3) + 1] = 0;
}

static void test_lldt(void)
{
	gdt_set_system_desc(SEL_LDT, (uintptr_t)ldt, sizeof(ldt) - 1, TYPE_LDT, true);
	check_load("LLDT of a data segment -> #GP(sel)", do_lldt, KERNEL_DS, GP_VECTOR,
		   KERNEL_DS);
	check_load("LLDT of a TSS -> #GP(sel)", do_lldt, TSS_SEL, GP_VECTOR, TSS_SEL);
	check_load("LLDT with TI = 1 -> #GP(sel)", do_lldt, SEL_LDT | 4, GP_VECTOR, SEL_LDT | 4);
	check_load("LLDT beyond the GDT limit -> #GP(sel)", do_lldt, SEL_BEYOND, GP_VECTOR,
		   SEL_BEYOND);
	check_load("LLDT of an LDT loads", do_lldt, SEL_LDT, -1, 0);
	report_eq("SLDT reads the new LDTR", sldt(), SEL_LDT);
	check_load("LLDT null selector loads", do_lldt, 0, -1, 0);
	report_eq("SLDT reads the null LDTR", sldt(), 0);
	gdt64[SEL_LDT >> 3] &= ~DESC_P;
	check_load("LLDT of a not-present LDT -> #NP(sel)", do_lldt, SEL_LDT, NP_VECTOR,
		   SEL_LDT);
	gdt64[SEL_LDT >> 3] = gdt64[(SEL_LDT >> 3) + 1] = 0;
}

static void int_0x40(void *arg) { (void)arg; asm volatile("int $0x40"); }

static void test_tables(void)
{
	struct desc_ptr gdt, idt, p, short_idt;
	struct ex_regs r;
	int v;

	sgdt(&gdt);
	sidt(&idt);
	p.limit = 0x37;                         /* the first 7 descriptors */
	p.base = gdt.base;
	lgdt(&p);
	sgdt(&p);
	lgdt(&gdt);
	report(p.limit == 0x37 && p.base == gdt.base, "LGDT: SGDT reads back limit and base");

	short_idt.limit = 32 * 16 - 1;          /* exceptions only */
	short_idt.base = idt.base;
	lidt(&short_idt);
	sidt(&p);
	v = catch_exception(int_0x40, NULL, &r);
	lidt(&idt);
	report(p.limit == short_idt.limit && p.base == short_idt.base,
	       "LIDT: SIDT reads back limit and base");
	report_exception("INT 0x40 beyond the IDT limit -> #GP(0x40 << 3 | IDT)", v, &r,
			 GP_VECTOR, 0x40 << 3 | 2);
}

int main(void)
{
	test_ltr();
	test_lldt();
	test_tables();
	return report_summary();
}
