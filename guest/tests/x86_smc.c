/*
 * Self-modifying code: instructions written to memory and executed, then
 * rewritten after they have run (the new bytes must run, not a stale
 * copy): through the same address, through a second mapping of the same
 * page, by a loop that patches its own immediate, by a store to the very
 * next instruction, and by a REP MOVSB over code.
 */
#include "libguest.h"

static uint8_t code[2 * 4096] __attribute__((aligned(4096)));

typedef uint32_t (*fn_t)(uint32_t);

static fn_t as_fn(void *p)
{
	return (fn_t)(uintptr_t)p;
}

/* mov $imm32, %eax; ret */
static void emit_mov_ret(uint8_t *p, uint32_t imm)
{
	p[0] = 0xb8;
	memcpy(p + 1, &imm, 4);
	p[5] = 0xc3;
}

static void check_write_then_run(void)
{
	emit_mov_ret(code, 0x11111111);
	report_eq("written code runs", as_fn(code)(0), 0x11111111);
	emit_mov_ret(code, 0x22222222);
	report_eq("rewritten immediate runs", as_fn(code)(0), 0x22222222);
	for (uint32_t i = 0; i < 50; i++) {
		uint32_t v = 0x1000 + i;
		memcpy(code + 1, &v, 4);
		if (as_fn(code)(0) != v) {
			report_fail("rewritten 50 times", "stale code at round %u", i);
			return;
		}
	}
	report_pass("rewritten 50 times");
	/* mov %edi, %eax; ret: a different instruction at the same place */
	code[0] = 0x89;
	code[1] = 0xf8;
	code[2] = 0xc3;
	report_eq("instruction replaced by a different one", as_fn(code)(0x77), 0x77);
}

/* Writes through a second virtual mapping of the same physical page. */
static void check_alias(void)
{
	uint8_t *page = code + 4096;
	uint64_t alias = 0x50000000ull + ((uint64_t)page & (LARGE_PAGE_SIZE - 1));
	uint32_t a, b, c, d;

	map_page(alias, (uint64_t)page, PTE_P | PTE_W);
	emit_mov_ret(page, 0xaaaa0001);
	report_eq("code page before the alias write", as_fn(page)(0), 0xaaaa0001);
	emit_mov_ret((uint8_t *)alias, 0xaaaa0002);
	cpuid(0, 0, &a, &b, &c, &d);    /* serializing, as the SDM asks */
	report_eq("code changed through another mapping runs", as_fn(page)(0), 0xaaaa0002);
	report_eq("and runs through the alias too", as_fn((void *)alias)(0), 0xaaaa0002);
}

/*
 * A loop that rewrites the immediate of its own first instruction each
 * iteration: ecx iterations, sum of 0..ecx-1 in eax.
 *   0: b8 00 00 00 00    mov $0, %eax
 *   5: 01 c2             add %eax, %edx
 *   7: ff c0             inc %eax
 *   9: 89 05 f2 ff ff ff mov %eax, -14(%rip)  -> byte 1 (imm32)
 *  15: ff c9             dec %ecx
 *  17: 75 ed             jnz 0
 *  19: 89 d0             mov %edx, %eax
 *  21: c3                ret
 */
static const uint8_t self_patching_loop[] = {
	0xb8, 0, 0, 0, 0, 0x01, 0xc2, 0xff, 0xc0, 0x89, 0x05, 0xf2, 0xff, 0xff,
	0xff, 0xff, 0xc9, 0x75, 0xed, 0x89, 0xd0, 0xc3,
};

static void check_self_patching_loop(void)
{
	uint32_t sum;

	memcpy(code + 256, self_patching_loop, sizeof(self_patching_loop));
	asm volatile("call *%[f]" : "=a"(sum) : [f] "r"(code + 256), "c"(10), "d"(0)
		     : "memory", "cc");
	report_eq("loop patching its own immediate: 0+1+...+9", sum, 45);
}

/*
 * A store to the instruction right after it, in the same straight-line
 * code: the new immediate must be the one executed.
 *   0: c6 05 01 00 00 00 2a   movb $0x2a, 1(%rip)  -> byte 8
 *   7: b0 00                  mov $0, %al
 *   9: c3                     ret
 */
static const uint8_t patch_next[] = {
	0xc6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x2a, 0xb0, 0x00, 0xc3,
};

static void check_patch_next(void)
{
	memcpy(code + 512, patch_next, sizeof(patch_next));
	report_eq("store to the next instruction takes effect",
		  as_fn(code + 512)(0) & 0xff, 0x2a);
	report_eq("and again (the stored byte is now there)",
		  as_fn(code + 512)(0) & 0xff, 0x2a);
	code[512 + 6] = 0x15;
	report_eq("patcher itself rewritten", as_fn(code + 512)(0) & 0xff, 0x15);
}

static void check_rep_movs(void)
{
	uint8_t replacement[6];
	uint64_t n = sizeof(replacement);
	void *dst = code + 768, *src = replacement;

	emit_mov_ret(code + 768, 0x0badc0de);
	report_eq("before rep movsb over code", as_fn(code + 768)(0), 0x0badc0de);
	emit_mov_ret(replacement, 0x600dc0de);
	asm volatile("cld\n\trep movsb" : "+D"(dst), "+S"(src), "+c"(n) :: "memory");
	report_eq("code rewritten by rep movsb runs", as_fn(code + 768)(0), 0x600dc0de);
}

int main(void)
{
	check_write_then_run();
	check_alias();
	check_self_patching_loop();
	check_patch_next();
	check_rep_movs();
	return report_summary();
}
