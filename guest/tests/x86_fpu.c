/*
 * The x87 state a kernel initialises, saves and restores, the #NM rules,
 * and alignment checking (#AC).
 *
 * - #NM (APM vol. 2, 3.1.1): an x87 instruction (FNINIT, FLD1) or FXSAVE
 *   raises #NM when CR0.EM or CR0.TS is set; WAIT/FWAIT only when CR0.TS
 *   and CR0.MP are both set. Every combination of the three bits.
 * - FNINIT's state, FLDCW/FNSTCW, FNSTSW (AX and m16), FNCLEX, a pending
 *   unmasked exception (#MF on FWAIT with CR0.NE = 1), FNSAVE/FRSTOR with
 *   the tag word derived from the register contents (APM vol. 1, 6.2.3),
 *   FXSAVE/FXRSTOR (vol. 5; 16-byte alignment, #GP(0)).
 * - #AC(0) at CPL 3 with CR0.AM = 1 and RFLAGS.AC = 1 for a misaligned
 *   data access (vol. 2, 8.2.18), and no #AC when any condition is off.
 *
 * Only fields the APM defines are compared: the reserved halves of the
 * 32-bit FNSAVE image, the padding of FXSAVE's register slots and the XMM
 * area hold implementation-specific values. The expected tag words were
 * worked out by hand from the register contents and agree with the host
 * CPU (an AMD EPYC).
 */
#include "libguest.h"

#define CR4_OSFXSR (1ull << 9)

static uint8_t buf[1024] __attribute__((aligned(64)));
static uint8_t fx[1024] __attribute__((aligned(64)));

static void set_cr0_bits(uint64_t set, uint64_t clear)
{
	write_cr0((read_cr0() & ~clear) | set);
}

static void fninit(void) { asm volatile("fninit" ::: "memory"); }

static uint16_t fnstsw_ax(void)
{
	uint16_t sw;
	asm volatile("fnstsw %0" : "=a"(sw));
	return sw;
}

static uint16_t fnstcw(void)
{
	uint16_t cw;
	asm volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ---- instructions with an exception fixup: -1 or the vector ---- */

/* written by the asm below, before the instruction that may fault */
static volatile uint64_t fault_rip __attribute__((used));

#define TRY(insn, ...)                                                  \
	({                                                              \
		ex_fixup_reset();                                       \
		asm volatile("lea 1f(%%rip), %%rax\n\t"                 \
			     "mov %%rax, fault_rip(%%rip)\n\t"          \
			     "1: " insn "\n2:\n\t"                      \
			     ASM_EXTABLE("1b", "2b")                    \
			     :: __VA_ARGS__ : "rax", "memory");         \
		ex_fixup_vector;                                        \
	})

static int try_fninit(void) { return TRY("fninit", "r"(0)); }
static int try_fwait(void) { return TRY("fwait", "r"(0)); }
static int try_fld1(void) { return TRY("fld1", "r"(0)); }
static int try_fxsave(void *p) { return TRY("fxsave (%0)", "r"(p)); }
static int try_fxrstor(void *p) { return TRY("fxrstor (%0)", "r"(p)); }

/* The outcome of one TRY: the vector, where it was reported and where
 * the instruction was. */
struct outcome {
	int vector;
	uint64_t rip, insn_rip;
};

static struct outcome outcome_of(int vector)
{
	return (struct outcome){ vector, ex_fixup_regs.rip, fault_rip };
}

static void expect(const char *name, struct outcome o, int want)
{
	if (o.vector != want)
		report_fail(name, "vector %d, want %d", o.vector, want);
	else if (o.vector >= 0 && o.rip != o.insn_rip)
		report_fail(name, "rip 0x%lx, want 0x%lx", o.rip, o.insn_rip);
	else
		report_pass(name);
}

static void expect_vector(const char *name, int got, int want)
{
	expect(name, outcome_of(got), want);
}

/* ---- #NM ---- */

static void check_nm(void)
{
	char name[96];

	for (unsigned bits = 0; bits < 8; bits++) {
		uint64_t mp = bits & 1 ? CR0_MP : 0, em = bits & 2 ? CR0_EM : 0;
		uint64_t ts = bits & 4 ? CR0_TS : 0;
		bool nm = em || ts, wait_nm = ts && mp;
		char cr0[32];

		snprintf(cr0, sizeof(cr0), "MP=%d EM=%d TS=%d", !!mp, !!em, !!ts);
		set_cr0_bits(mp | em | ts, CR0_MP | CR0_EM | CR0_TS);
		struct outcome o_init = outcome_of(try_fninit());
		struct outcome o_wait = outcome_of(try_fwait());
		struct outcome o_fx = outcome_of(try_fxsave(fx));
		struct outcome o_fld = { -1, 0, 0 };
		if (nm)
			o_fld = outcome_of(try_fld1());
		set_cr0_bits(0, CR0_MP | CR0_EM | CR0_TS);
		fninit();

		snprintf(name, sizeof(name), "FNINIT with %s: %s", cr0, nm ? "#NM" : "executes");
		expect(name, o_init, nm ? NM_VECTOR : -1);
		snprintf(name, sizeof(name), "FWAIT with %s: %s", cr0, wait_nm ? "#NM" : "executes");
		expect(name, o_wait, wait_nm ? NM_VECTOR : -1);
		snprintf(name, sizeof(name), "FXSAVE with %s: %s", cr0, nm ? "#NM" : "executes");
		expect(name, o_fx, nm ? NM_VECTOR : -1);
		if (nm) {
			snprintf(name, sizeof(name), "FLD1 with %s: #NM", cr0);
			expect(name, o_fld, NM_VECTOR);
		}
	}
}

/* ---- control and status words ---- */

static void check_control_status(void)
{
	fninit();
	report_eq("FNINIT: FCW = 037Fh", fnstcw(), 0x037f);
	report_eq("FNINIT: FSW = 0", fnstsw_ax(), 0);

	uint16_t cw = 0x0a7e;   /* PC = 10b, RC = 10b, IM unmasked */
	asm volatile("fldcw %0" :: "m"(cw));
	report_eq("FLDCW/FNSTCW round trip", fnstcw(), 0x0a7e);
	fninit();

	/* FNSTSW AX writes AX only; FNSTSW m16 two bytes */
	uint64_t rax = 0x1122334455667788ull;
	asm volatile("fnstsw %%ax" : "+a"(rax));
	report_eq("FNSTSW AX leaves RAX[63:16]", rax, 0x1122334455660000ull);
	memset(buf, 0xaa, 4);
	asm volatile("fnstsw (%0)" :: "r"(buf) : "memory");
	report_eq("FNSTSW m16 stores two bytes", get32(buf), 0xaaaa0000);

	/* FLDENV a status word with flags (all masked: no ES), TOP = 7 and
	 * C1; FNCLEX clears the flags and keeps TOP and the condition codes */
	asm volatile("fnstenv (%0)" :: "r"(buf) : "memory");
	memcpy(buf + 4, &(uint32_t){ 0x3a3f }, 4);
	asm volatile("fldenv (%0)" :: "r"(buf) : "memory");
	report_eq("FLDENV: FSW with masked flags", fnstsw_ax(), 0x3a3f);
	asm volatile("fnclex");
	report_eq("FNCLEX clears the exception flags", fnstsw_ax(), 0x3a00);
	fninit();
}

/* A pending unmasked exception: ZE set and unmasked, ES and B set. */
static void check_mf(void)
{
	fninit();
	asm volatile("fnstenv (%0)" :: "r"(buf) : "memory");
	memcpy(buf, &(uint32_t){ 0x037b }, 4);
	memcpy(buf + 4, &(uint32_t){ 0x8084 }, 4);
	asm volatile("fldenv (%0)" :: "r"(buf) : "memory");
	report_eq("pending exception: FNSTSW does not wait", fnstsw_ax(), 0x8084);
	set_cr0_bits(CR0_NE, 0);
	expect_vector("pending exception: FWAIT -> #MF (CR0.NE = 1)", try_fwait(), MF_VECTOR);
	set_cr0_bits(CR0_TS | CR0_MP, 0);
	expect_vector("pending exception: #NM before #MF", try_fwait(), NM_VECTOR);
	set_cr0_bits(0, CR0_TS | CR0_MP);
	asm volatile("fnclex");
	expect_vector("FWAIT after FNCLEX", try_fwait(), -1);
	fninit();
}

/* ---- FNSAVE / FRSTOR ---- */

/* ST(0)..ST(7): +0, 1.0, a denormal, +inf, an unnormal, a
 * pseudo-denormal, -0, -QNaN: tags zero, valid, and special. */
static const struct { uint64_t mant; uint16_t se; } regs[8] = {
	{ 0, 0 }, { 0x8000000000000000ull, 0x3fff }, { 1, 0 },
	{ 0x8000000000000000ull, 0x7fff }, { 1, 0x3fff },
	{ 0x8000000000000000ull, 0 }, { 0, 0x8000 },
	{ 0xc000000000000000ull, 0xffff },
};

/* An FRSTOR image: TOP = 3, every tag "valid" (only empty / not empty is
 * taken from it), ST(7) marked empty. */
static void build_frstor_image(uint8_t *b)
{
	asm volatile("fninit; fnsave (%0)" :: "r"(b) : "memory");
	memcpy(b + 0, &(uint32_t){ 0x037f }, 4);
	memcpy(b + 4, &(uint32_t){ 3 << 11 }, 4);
	/* ST(7) is physical register (3 + 7) & 7 = 2 */
	memcpy(b + 8, &(uint32_t){ 3u << 4 }, 4);
	for (int i = 0; i < 8; i++) {
		memcpy(b + 28 + 10 * i, &regs[i].mant, 8);
		memcpy(b + 36 + 10 * i, &regs[i].se, 2);
	}
}

/* Tags by physical register Rp = ST((p - 3) & 7):
 * R3 +0 01, R4 1.0 00, R5 denormal 10, R6 inf 10, R7 unnormal 10,
 * R0 pseudo-denormal 10, R1 -0 01, R2 empty 11 -> 1010 1000 0111 0110 */
#define FRSTOR_FTW 0xa876

static void check_fnsave(void)
{
	static uint8_t img[108], out[108];

	build_frstor_image(img);
	asm volatile("frstor (%0)" :: "r"(img) : "memory");
	memset(out, 0xaa, sizeof(out));
	asm volatile("fnsave (%0)" :: "r"(out) : "memory");
	report_eq("FNSAVE: FCW", get16(out), 0x037f);
	report_eq("FNSAVE: FSW (TOP = 3)", get16(out + 4), 0x1800);
	report_eq("FNSAVE: tag word from the register contents", get16(out + 8), FRSTOR_FTW);
	report(!memcmp(out + 28, img + 28, 80),
	       "FNSAVE: ST(0)..ST(7) as loaded");
	/* (FNSAVE is a control instruction: it leaves FIP and FDP alone) */
	asm volatile("fnsave (%0)" :: "r"(out) : "memory");
	report_eq("FNSAVE then initialises: all empty", get16(out + 8), 0xffff);
	report_eq("FNSAVE then initialises: FIP = 0", get32(out + 12), 0);
	report_eq("FNSAVE then initialises: FDP = 0", get32(out + 20), 0);
	report_eq("FNSAVE then initialises: FCW", fnstcw(), 0x037f);
	report_eq("FNSAVE then initialises: FSW", fnstsw_ax(), 0);

	/* 16-bit operand size: FCW FSW FTW at 0, 2, 4; registers from 14 */
	asm volatile("frstor (%0)" :: "r"(img) : "memory");
	memset(out, 0xaa, sizeof(out));
	asm volatile("data16 fnsave (%0)" :: "r"(out) : "memory");
	report(get16(out) == 0x037f && get16(out + 2) == 0x1800 && get16(out + 4) == FRSTOR_FTW,
	       "FNSAVE (16-bit): FCW FSW FTW");
	report(!memcmp(out + 14, img + 28, 80),
	       "FNSAVE (16-bit): registers at offset 14");
	report_eq("FNSAVE (16-bit): 94 bytes", out[94], 0xaa);
	fninit();
}

/* ---- FXSAVE / FXRSTOR ---- */

static void check_fxsave(void)
{
	static uint8_t img[108];

	write_cr4(read_cr4() | CR4_OSFXSR);
	build_frstor_image(img);
	asm volatile("frstor (%0)" :: "r"(img) : "memory");
	memset(fx, 0, 416);
	memset(fx + 416, 0xaa, 96);
	expect_vector("FXSAVE (16-byte aligned)", try_fxsave(fx), -1);
	report_eq("FXSAVE: FCW", get16(fx), 0x037f);
	report_eq("FXSAVE: FSW", get16(fx + 2), 0x1800);
	/* abridged: bit p set for non-empty Rp, all but R2 */
	report_eq("FXSAVE: abridged tag word", fx[4], 0xfb);
	report_eq("FXSAVE: FOP", get16(fx + 6), 0);
	bool st_ok = true;
	for (int i = 0; i < 8; i++)
		st_ok &= !memcmp(fx + 32 + 16 * i, img + 28 + 10 * i, 10);
	report(st_ok, "FXSAVE: ST(i) at 32 + 16 i");
	bool untouched = true;
	for (int i = 416; i < 512; i++)
		untouched &= fx[i] == 0xaa;
	report(untouched, "FXSAVE: bytes 416-511 not written");

	/* FNINIT, FXRSTOR: the same state back (FNSAVE compares it) */
	static uint8_t out[108];
	fninit();
	expect_vector("FXRSTOR (16-byte aligned)", try_fxrstor(fx), -1);
	asm volatile("fnsave (%0)" :: "r"(out) : "memory");
	report(get16(out) == 0x037f && get16(out + 4) == 0x1800 && get16(out + 8) == FRSTOR_FTW,
	       "FXRSTOR: FCW, FSW and the tag word back");
	report(!memcmp(out + 28, img + 28, 80), "FXRSTOR: registers back");

	expect_vector("FXSAVE at 8 mod 16: #GP", try_fxsave(fx + 8), GP_VECTOR);
	report_eq("FXSAVE at 8 mod 16: #GP error code", ex_fixup_regs.error_code, 0);
	expect_vector("FXRSTOR at 8 mod 16: #GP", try_fxrstor(fx + 8), GP_VECTOR);
	fninit();
}

/* ---- #AC ---- */

static void set_ac(bool on)
{
	if (on)
		asm volatile("pushfq; orq $0x40000, (%%rsp); popfq" ::: "memory", "cc");
	else
		asm volatile("pushfq; andq $~0x40000, (%%rsp); popfq" ::: "memory", "cc");
}

static void user_load32(void *p)
{
	set_ac(true);
	asm volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, fault_rip(%%rip)\n\t"
		     "1: movl (%0), %%eax" :: "r"(p) : "rax", "memory");
	set_ac(false);
}

static void user_load32_noac(void *p)
{
	asm volatile("movl (%0), %%eax" :: "r"(p) : "eax", "memory");
}

static void user_fnstsw(void *p)
{
	set_ac(true);
	asm volatile("fnstsw (%0)" :: "r"(p) : "memory");
	set_ac(false);
}

static void user_fnsave(void *p)
{
	set_ac(true);
	asm volatile("fnsave (%0)" :: "r"(p) : "memory");
	set_ac(false);
}

static void kernel_load32(void *p)
{
	set_ac(true);
	asm volatile("movl (%0), %%eax" :: "r"(p) : "eax", "memory");
	set_ac(false);
}

static void check_ac_case(const char *name, bool user, void (*fn)(void *),
			  void *arg, int want)
{
	struct ex_regs r;
	int v = user ? run_in_user(fn, arg, &r) : catch_exception(fn, arg, &r);

	if (v != want)
		report_fail(name, "vector %d, want %d", v, want);
	else if (v == AC_VECTOR && r.error_code != 0)
		report_fail(name, "error code 0x%lx, want 0", r.error_code);
	else if (v == AC_VECTOR && fn == user_load32 && r.rip != fault_rip)
		report_fail(name, "rip 0x%lx, want 0x%lx", r.rip, fault_rip);
	else
		report_pass(name);
}

static void check_ac(void)
{
	fninit();
	set_cr0_bits(CR0_AM, 0);
	check_ac_case("#AC: misaligned dword at CPL 3, CR0.AM, RFLAGS.AC",
		      true, user_load32, buf + 2, AC_VECTOR);
	check_ac_case("#AC: aligned dword: no #AC", true, user_load32, buf + 4, -1);
	check_ac_case("#AC: RFLAGS.AC = 0: no #AC", true, user_load32_noac, buf + 1, -1);
	check_ac_case("#AC: CPL 0: no #AC", false, kernel_load32, buf + 1, -1);
	check_ac_case("#AC: FNSTSW m16 at an odd address", true, user_fnstsw, buf + 1, AC_VECTOR);
	check_ac_case("#AC: FNSAVE at 2 mod 4", true, user_fnsave, buf + 2, AC_VECTOR);
	check_ac_case("#AC: FNSAVE at 0 mod 4: no #AC", true, user_fnsave, buf + 4, -1);
	set_cr0_bits(0, CR0_AM);
	check_ac_case("#AC: CR0.AM = 0: no #AC", true, user_load32, buf + 2, -1);
	fninit();
}

int main(void)
{
	set_cr0_bits(CR0_NE, CR0_EM | CR0_TS | CR0_MP | CR0_AM);
	fninit();
	check_nm();
	check_control_status();
	check_mf();
	check_fnsave();
	check_fxsave();
	check_ac();
	return report_summary();
}
