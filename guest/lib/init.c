/* First C code after boot.S: descriptor tables, IDT, page allocator. */
#include "internal.h"

void __libguest_init(void)
{
	desc_init();
	idt_init();
	alloc_init();
}
