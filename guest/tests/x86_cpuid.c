/*
 * CPUID: the facts every payload relies on. The vendor is AuthenticAMD
 * (in leaf 0 and leaf 0x80000000), long mode, NX and SYSCALL are in
 * 0x80000001, the extended range reaches 0x80000008, whose address sizes
 * are sane, and the answers do not change between two executions.
 */
#include "libguest.h"

struct regs4 {
	uint32_t a, b, c, d;
};

static struct regs4 query(uint32_t leaf, uint32_t sub)
{
	struct regs4 r;

	cpuid(leaf, sub, &r.a, &r.b, &r.c, &r.d);
	return r;
}

static void vendor_of(struct regs4 r, char out[13])
{
	memcpy(out, &r.b, 4);
	memcpy(out + 4, &r.d, 4);
	memcpy(out + 8, &r.c, 4);
	out[12] = '\0';
}

static void check_vendor(void)
{
	char v[13];

	vendor_of(query(0, 0), v);
	printf("cpuid: vendor %s, max basic leaf 0x%x\n", v, query(0, 0).a);
	report(!strcmp(v, "AuthenticAMD"), "leaf 0: vendor AuthenticAMD");
	report(query(0, 0).a >= 1, "leaf 0: max basic leaf >= 1");
	vendor_of(query(0x80000000, 0), v);
	report(!strcmp(v, "AuthenticAMD"), "leaf 0x80000000: vendor AuthenticAMD");
}

static void check_features(void)
{
	struct regs4 l1 = query(1, 0), e1 = query(0x80000001, 0);

	report((l1.d & (1u << 4)) != 0, "leaf 1: TSC");
	report((l1.d & (1u << 5)) != 0, "leaf 1: MSR");
	report((l1.d & (1u << 6)) != 0, "leaf 1: PAE");
	report((l1.d & (1u << 8)) != 0, "leaf 1: CX8");
	report((e1.d & (1u << 29)) != 0, "leaf 0x80000001: long mode");
	report((e1.d & (1u << 20)) != 0, "leaf 0x80000001: NX");
	report((e1.d & (1u << 11)) != 0, "leaf 0x80000001: SYSCALL/SYSRET");
	printf("cpuid: 0x80000001 ecx 0x%x edx 0x%x (SVM %s)\n", e1.c, e1.d,
	       (e1.c & (1u << 2)) ? "yes" : "no");
}

static void check_extended(void)
{
	uint32_t max = query(0x80000000, 0).a;

	report(max >= 0x80000008, "max extended leaf >= 0x80000008");
	if (max < 0x80000008) {
		report_skip("address sizes", "leaf 0x80000008 missing");
		return;
	}
	struct regs4 r = query(0x80000008, 0);
	uint32_t phys = r.a & 0xff, lin = (r.a >> 8) & 0xff;

	printf("cpuid: %u physical, %u linear address bits\n", phys, lin);
	report(phys >= 36 && phys <= 52, "physical address bits in 36..52");
	report(lin == 48 || lin == 57, "linear address bits 48 or 57");
}

static void check_brand(void)
{
	char brand[49];
	bool printable = true;

	for (uint32_t i = 0; i < 3; i++) {
		struct regs4 r = query(0x80000002 + i, 0);
		memcpy(brand + 16 * i, &r, 16);
	}
	brand[48] = '\0';
	for (size_t i = 0; brand[i]; i++)
		printable = printable && brand[i] >= 0x20 && brand[i] < 0x7f;
	printf("cpuid: brand \"%s\"\n", brand);
	report(printable, "brand string is printable ASCII");
}

static void check_stable(void)
{
	static const uint32_t leaves[] = { 0, 1, 0x80000000, 0x80000001, 0x80000008 };
	bool same = true;

	for (size_t i = 0; i < ARRAY_SIZE(leaves); i++) {
		struct regs4 a = query(leaves[i], 0), b = query(leaves[i], 0);
		/* leaf 1 EBX[31:24] is the initial APIC ID: also constant */
		same = same && !memcmp(&a, &b, sizeof(a));
	}
	report(same, "cpuid answers are the same twice");
}

int main(void)
{
	check_vendor();
	check_features();
	check_extended();
	check_brand();
	check_stable();
	return report_summary();
}
