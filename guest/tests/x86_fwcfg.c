/*
 * fw_cfg, the firmware configuration interface at ports 0x510 (16-bit
 * selector) and 0x511 (data, one byte per read): the items a test kernel
 * reads (signature, interface ID, CPU count, RAM size, command line) and
 * an unknown item, which reads as zero.  The RAM size and command line
 * must agree with what the multiboot loader reported.
 */
#include "libguest.h"

#define FW_CFG_SEL  0x510
#define FW_CFG_DATA 0x511

static void select_item(uint16_t key)
{
	outw(key, FW_CFG_SEL);
}

static uint64_t read_le(uint16_t key, unsigned n)
{
	uint64_t v = 0;

	select_item(key);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)inb(FW_CFG_DATA) << (8 * i);
	return v;
}

static void test_signature(void)
{
	char sig[5] = { 0 };

	select_item(0x0000);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)inb(FW_CFG_DATA);
	report(memcmp(sig, "QEMU", 4) == 0, "signature \"QEMU\"");
	report(read_le(0x0001, 4) & 1, "ID: traditional interface");
	select_item(0x0000);
	report_eq("reselecting starts the item again", inb(FW_CFG_DATA), 'Q');
}

static void test_items(void)
{
	uint64_t upper = multiboot_mem_upper_kb();

	report_eq("NB_CPUS = 1", read_le(0x0005, 2), 1);
	/* the loader may keep the top of RAM for itself (QEMU: 128 KiB) */
	uint64_t ram = read_le(0x0003, 8), seen = (upper + 1024) * 1024;
	if (upper)
		report(ram >= seen && ram - seen < (1u << 20),
		       "RAM size: the multiboot memory size, within 1 MiB");
	else
		report_skip("RAM size", "no multiboot memory information");
	report_eq("an unknown item reads zero", read_le(0x7fff, 8), 0);
}

/* The command line: the multiboot one without its first word (the path).
 * QEMU fills these items only for Linux kernels: size 0 is a SKIP. */
static void test_cmdline(void)
{
	static const char size_name[] = "command line size: the arguments and a NUL";
	static const char data_name[] = "command line data: the arguments";
	const char *mb = multiboot_cmdline();
	char buf[256];

	while (*mb && *mb != ' ')
		mb++;
	while (*mb == ' ')
		mb++;
	uint32_t size = (uint32_t)read_le(0x0014, 4);
	if (size == 0) {
		report_skip(size_name, "the loader gave fw_cfg no command line");
		report_skip(data_name, "the loader gave fw_cfg no command line");
		return;
	}
	report_eq(size_name, size, strlen(mb) + 1);
	select_item(0x0015);
	size_t n = size < sizeof(buf) ? size : sizeof(buf) - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)inb(FW_CFG_DATA);
	buf[n] = 0;
	report(strcmp(buf, mb) == 0, data_name);
}

int main(void)
{
	test_signature();
	test_items();
	test_cmdline();
	return report_summary();
}
