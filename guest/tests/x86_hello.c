/* The smallest payload: boots, prints, passes one check, exits 0. */
#include "libguest.h"

int main(void)
{
	uint64_t efer = rdmsr(MSR_EFER);

	printf("hello from long mode\n");
	report((efer & EFER_LMA) != 0, "long mode active");
	return report_summary();
}
