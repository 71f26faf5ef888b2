/*
 * Self-test of libguest: formatting, exception catching, user mode,
 * fixups and page-table editing. Everything later payloads rely on.
 */
#include "libguest.h"

static void check_printf(void)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%d|%5u|%-4x|%08lX|%s|%c|%%|%lld|%zu",
		 -42, 7u, 0xabu, 0xdeadbeeful, "hi", 'z', -1ll, (size_t)99);
	report(!strcmp(buf, "-42|    7|ab  |DEADBEEF|hi|z|%|-1|99"), "printf formats");
	int n = snprintf(buf, 4, "%s", "abcdef");
	report(n == 6 && !strcmp(buf, "abc"), "snprintf truncates");
	snprintf(buf, sizeof(buf), "%p", (void *)0x1234);
	report(!strcmp(buf, "0x1234"), "printf %p");
}

static void do_ud2(void *arg)
{
	(void)arg;
	asm volatile("ud2");
}

static void do_gp(void *arg)
{
	*(volatile uint64_t *)arg = 1;  /* non-canonical */
}

static void nothing(void *arg)
{
	*(int *)arg = 5;
}

static void check_catch(void)
{
	struct ex_regs r;
	int x = 0;

	report_eq("catch: no exception", (uint64_t)(int64_t)catch_exception(nothing, &x, &r), (uint64_t)-1);
	report_eq("catch: fn ran", x, 5);
	report_eq("catch: #UD", catch_exception(do_ud2, NULL, &r), UD_VECTOR);
	report_eq("catch: #GP", catch_exception(do_gp, (void *)0x8000000000000000ull, &r), GP_VECTOR);
	report_eq("catch: #GP error code", r.error_code, 0);
}

static void user_body(void *arg)
{
	*(uint16_t *)arg = read_cs();
}

static void user_cli(void *arg)
{
	(void)arg;
	cli();
}

static void check_user(void)
{
	struct ex_regs r;
	uint16_t cs = 0;

	report_eq("user: returns", (uint64_t)(int64_t)run_in_user(user_body, &cs, NULL), (uint64_t)-1);
	report_eq("user: ran at CPL 3", cs, USER_CS);
	report_eq("user: back at CPL 0", read_cs(), KERNEL_CS);
	report_eq("user: cli -> #GP", run_in_user(user_cli, NULL, &r), GP_VECTOR);
	report_eq("user: #GP frame CS", r.cs, USER_CS);
	report_eq("user: SS restored", read_ss(), KERNEL_DS);
	report_eq("user: user ud2", run_in_user(do_ud2, NULL, &r), UD_VECTOR);
}

static int handler_hits;
static void skip_ud2(struct ex_regs *r)
{
	handler_hits++;
	r->rip += 2;
}

static void check_handlers_and_fixups(void)
{
	uint64_t v;

	set_exception_handler(UD_VECTOR, skip_ud2);
	asm volatile("ud2");
	set_exception_handler(UD_VECTOR, NULL);
	report_eq("handler: ud2 skipped", handler_hits, 1);
	uint64_t at;

	ex_fixup_reset();
	asm volatile("lea 1f(%%rip), %0\n1: ud2\n2:\n\t" ASM_EXTABLE("1b", "2b")
		     : "=r"(at) :: "memory");
	report_eq("fixup: ud2 vector", ex_fixup_vector, UD_VECTOR);
	report_eq("fixup: frame rip", ex_fixup_regs.rip, at);
	report_eq("rdmsr_safe: EFER", (uint64_t)(int64_t)rdmsr_safe(MSR_EFER, &v), (uint64_t)-1);
	report((v & EFER_LMA) != 0, "rdmsr_safe: EFER.LMA");
}

static void check_paging(void)
{
	volatile uint32_t *p = alloc_page();
	uint64_t va = 0x123456789000ull;

	map_page(va, (uint64_t)p, PTE_P | PTE_W);
	*(volatile uint32_t *)va = 0xfeedf00d;
	report_eq("paging: alias write", *p, 0xfeedf00d);
	unmap_page(va);
	struct ex_regs r;
	report_eq("paging: unmapped -> #PF", catch_exception(do_gp, (void *)va, &r), PF_VECTOR);
	report_eq("paging: cr2", r.cr2, va);
	report_eq("paging: error code", r.error_code, PFERR_W);
}

int main(void)
{
	check_printf();
	check_catch();
	check_user();
	check_handlers_and_fixups();
	check_paging();
	report(strlen(multiboot_cmdline()) > 0, "multiboot command line present");
	report(multiboot_mem_upper_kb() > 200 * 1024, "mem_upper reported");
	return report_summary();
}
