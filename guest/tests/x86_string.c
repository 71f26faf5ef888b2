/*
 * String instructions with REP prefixes, DF=0 and DF=1: the bytes moved,
 * the final RCX/RSI/RDI, where REPE/REPNE stop and the flags they leave,
 * element-by-element semantics for overlapping MOVS, and RCX=0.
 */
#include "libguest.h"

struct sregs {
	uint64_t rcx, rsi, rdi, rax, flags;
};

/* Runs a string instruction after `dir` (cld or std); returns registers
 * and flags. */
#define STR_OP(insn, R, dir)                                                  \
	do {                                                                  \
		asm volatile(dir "\n\t" insn "\n\tpushfq\n\tpopq %[f]\n\tcld"   \
			     : "+c"((R).rcx), "+S"((R).rsi), "+D"((R).rdi),   \
			       "+a"((R).rax), [f] "=r"((R).flags)             \
			     :: "memory", "cc");                              \
	} while (0)

static uint8_t src[64], dst[64];

static void fill(void)
{
	for (int i = 0; i < 64; i++) {
		src[i] = (uint8_t)(i + 1);
		dst[i] = 0xee;
	}
}

static void check_movs(void)
{
	struct sregs r;

	fill();
	r = (struct sregs){ 13, (uint64_t)src, (uint64_t)dst, 0, 0 };
	STR_OP("rep movsb", r, "cld");
	report(!memcmp(dst, src, 13) && dst[13] == 0xee, "rep movsb DF=0: 13 bytes");
	report(r.rcx == 0 && r.rsi == (uint64_t)src + 13 && r.rdi == (uint64_t)dst + 13,
	       "rep movsb DF=0: rcx, rsi, rdi");

	fill();
	r = (struct sregs){ 4, (uint64_t)&src[24], (uint64_t)&dst[24], 0, 0 };
	STR_OP("rep movsq", r, "std");
	report(!memcmp(&dst[0], &src[0], 32) && dst[32] == 0xee, "rep movsq DF=1: 4 qwords downwards");
	report(r.rcx == 0 && r.rsi == (uint64_t)src - 8 && r.rdi == (uint64_t)dst - 8,
	       "rep movsq DF=1: rsi, rdi moved down by 32");

	/* overlapping, forward: each byte is read after the previous store */
	fill();
	r = (struct sregs){ 7, (uint64_t)&src[0], (uint64_t)&src[1], 0, 0 };
	STR_OP("rep movsb", r, "cld");
	bool replicated = true;
	for (int i = 0; i < 8; i++)
		replicated = replicated && src[i] == 1;
	report(replicated && src[8] == 9, "rep movsb overlapping forward replicates the first byte");

	fill();
	r = (struct sregs){ 3, (uint64_t)&src[8], (uint64_t)&src[0], 0, 0 };
	STR_OP("rep movsw", r, "cld");
	report(src[0] == 9 && src[5] == 14 && src[6] == 7, "rep movsw DF=0: 3 words");
}

static void check_stos_lods(void)
{
	struct sregs r;

	fill();
	r = (struct sregs){ 5, 0, (uint64_t)dst, 0x1122334455667788ull, 0 };
	STR_OP("rep stosw", r, "cld");
	report(dst[0] == 0x88 && dst[1] == 0x77 && dst[9] == 0x77 && dst[10] == 0xee,
	       "rep stosw DF=0: 5 words of ax");
	report_eq("rep stosw DF=0: rdi", r.rdi, (uint64_t)dst + 10);

	fill();
	r = (struct sregs){ 3, 0, (uint64_t)&dst[8], 0xa1b2c3d4, 0 };
	STR_OP("rep stosl", r, "std");
	report(dst[0] == 0xd4 && dst[11] == 0xa1 && dst[12] == 0xee,
	       "rep stosl DF=1: 3 dwords downwards");
	report_eq("rep stosl DF=1: rdi", r.rdi, (uint64_t)dst - 4);

	fill();
	r = (struct sregs){ 0, (uint64_t)&src[2], 0, 0xffffffffffffff00ull, 0 };
	STR_OP("lodsb", r, "cld");
	report(r.rax == 0xffffffffffffff03ull && r.rsi == (uint64_t)&src[3],
	       "lodsb: al only, rsi + 1");
	r = (struct sregs){ 0, (uint64_t)&src[8], 0, 0, 0 };
	STR_OP("lodsq", r, "std");
	report(r.rax == 0x100f0e0d0c0b0a09ull && r.rsi == (uint64_t)&src[0],
	       "lodsq DF=1: rsi - 8");
}

static void check_cmps_scas(void)
{
	struct sregs r;

	fill();
	memcpy(dst, src, 16);
	dst[5] = 0;
	r = (struct sregs){ 16, (uint64_t)src, (uint64_t)dst, 0, 0 };
	STR_OP("repe cmpsb", r, "cld");
	report(r.rcx == 10 && r.rsi == (uint64_t)src + 6 && r.rdi == (uint64_t)dst + 6,
	       "repe cmpsb stops after the first difference");
	report((r.flags & (RFLAGS_ZF | RFLAGS_CF)) == 0,
	       "repe cmpsb: ZF clear, CF clear (6 > 0)");

	memcpy(dst, src, 16);
	r = (struct sregs){ 16, (uint64_t)src, (uint64_t)dst, 0, 0 };
	STR_OP("repe cmpsb", r, "cld");
	report(r.rcx == 0 && (r.flags & RFLAGS_ZF), "repe cmpsb equal: runs out, ZF set");

	fill();
	r = (struct sregs){ 64, 0, (uint64_t)src, 10, 0 };
	STR_OP("repne scasb", r, "cld");
	report(r.rcx == 54 && r.rdi == (uint64_t)&src[10] && (r.flags & RFLAGS_ZF),
	       "repne scasb finds byte 10 at index 9");

	r = (struct sregs){ 4, 0, (uint64_t)&src[7], 0x5, 0 };
	STR_OP("repne scasb", r, "std");
	report(r.rcx == 0 && r.rdi == (uint64_t)&src[3] && (r.flags & RFLAGS_ZF),
	       "repne scasb DF=1 finds byte 5 at index 4, the last one allowed");

	r = (struct sregs){ 0, (uint64_t)src, (uint64_t)dst, 0, 0 };
	asm volatile("stc\n\trepe cmpsb\n\tpushfq\n\tpopq %[f]"
		     : "+c"(r.rcx), "+S"(r.rsi), "+D"(r.rdi), [f] "=r"(r.flags) :: "memory", "cc");
	report(r.rcx == 0 && r.rsi == (uint64_t)src && (r.flags & RFLAGS_CF),
	       "repe cmpsb with rcx=0: nothing compared, flags kept");
}

static void check_addr32(void)
{
	struct sregs r;

	fill();
	r = (struct sregs){ 0xffffffff00000003ull, (uint64_t)src, (uint64_t)dst, 0, 0 };
	STR_OP("addr32 rep movsb", r, "cld");
	report(dst[2] == 3 && dst[3] == 0xee, "addr32 rep movsb counts with ecx only");
	report_eq("addr32 rep movsb: rdi", r.rdi, (uint64_t)dst + 3);
}

int main(void)
{
	check_movs();
	check_stos_lods();
	check_cmps_scas();
	check_addr32();
	return report_summary();
}
