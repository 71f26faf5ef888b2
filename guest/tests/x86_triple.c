/*
 * A deliberate triple fault: with an IDT limit of 0, int3 cannot be
 * delivered (#GP), neither can that #GP (#DF), nor the #DF: shutdown.
 * nsvm ends with its triple-fault status (tests/expect/x86_triple.status),
 * QEMU with -no-reboot exits 0.
 */
#include "libguest.h"

int main(void)
{
	struct desc_ptr empty = { 0, 0 };

	report_pass("before triple fault");
	report_summary();
	lidt(&empty);
	asm volatile("int3");
	report_fail("triple fault", "execution continued after it");
	exit(1);
}
