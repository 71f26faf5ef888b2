/*
 * IOIO intercepts through the I/O permission map (APM vol. 2, 15.10).
 * EXITINFO1 (15.10.2): [0] IN, [2] string, [3] REP, [6:4] operand size
 * 1/2/4 one-hot, [9:7] address size 16/32/64 one-hot, [12:10] segment (with
 * decode assists), [31:16] port.  EXITINFO2 = RIP of the next instruction.
 * An access of n bytes checks the n bits of ports p..p+n-1, across byte
 * boundaries and into the IOPM's third page for port 0xFFFF.
 */
#include "svm.h"

#define BYTES(...) .code = (const uint8_t[]){ __VA_ARGS__ }, \
	.len = sizeof((const uint8_t[]){ __VA_ARGS__ })
#define NONE 0xffffffffu
#define SEG_ES 0
#define SEG_DS 3

struct io_case {
	const char *name;
	const uint8_t *code;
	uint8_t len;
	uint16_t port;          /* in DX (or the imm8 in the code) */
	uint32_t iopm_bit[2];   /* IOPM bits to set (NONE: unused) */
	bool prot;              /* IOIO_PROT intercept set */
	uint32_t info1;         /* without the port; 0: not intercepted */
	unsigned seg;           /* effective segment of a string access */
};

#define IN8   (IOIO_TYPE_IN | IOIO_SZ8 | IOIO_A64)
#define IN16  (IOIO_TYPE_IN | IOIO_SZ16 | IOIO_A64)
#define IN32  (IOIO_TYPE_IN | IOIO_SZ32 | IOIO_A64)
#define OUT8  (IOIO_SZ8 | IOIO_A64)
#define OUT16 (IOIO_SZ16 | IOIO_A64)
#define OUT32 (IOIO_SZ32 | IOIO_A64)

static const struct io_case cases[] = {
	{ "IN AL, DX", BYTES(0xec), 0x80, { 0x80, NONE }, true, IN8, 0 },
	{ "IN AX, DX", BYTES(0x66, 0xed), 0x80, { 0x80, NONE }, true, IN16, 0 },
	{ "IN EAX, DX", BYTES(0xed), 0x80, { 0x80, NONE }, true, IN32, 0 },
	{ "OUT DX, AL", BYTES(0xee), 0x80, { 0x80, NONE }, true, OUT8, 0 },
	{ "OUT DX, AX", BYTES(0x66, 0xef), 0x80, { 0x80, NONE }, true, OUT16, 0 },
	{ "OUT DX, EAX", BYTES(0xef), 0x80, { 0x80, NONE }, true, OUT32, 0 },
	{ "IN AL, imm8", BYTES(0xe4, 0x80), 0x80, { 0x80, NONE }, true, IN8, 0 },
	{ "OUT imm8, EAX", BYTES(0xe7, 0x80), 0x80, { 0x80, NONE }, true, OUT32, 0 },
	{ "INSB", BYTES(0x6c), 0x80, { 0x80, NONE }, true, IN8 | IOIO_STR, SEG_ES },
	{ "REP INSW", BYTES(0x66, 0xf3, 0x6d), 0x80, { 0x80, NONE }, true,
	  IN16 | IOIO_STR | IOIO_REP, SEG_ES },
	{ "OUTSB", BYTES(0x6e), 0x80, { 0x80, NONE }, true, OUT8 | IOIO_STR, SEG_DS },
	{ "REP OUTSD", BYTES(0xf3, 0x6f), 0x80, { 0x80, NONE }, true,
	  OUT32 | IOIO_STR | IOIO_REP, SEG_DS },
	{ "INSB with 32-bit addresses", BYTES(0x67, 0x6c), 0x80, { 0x80, NONE }, true,
	  IOIO_TYPE_IN | IOIO_SZ8 | IOIO_A32 | IOIO_STR, SEG_ES },
	{ "REP OUTSB with 32-bit addresses", BYTES(0x67, 0xf3, 0x6e), 0x80, { 0x80, NONE }, true,
	  IOIO_SZ8 | IOIO_A32 | IOIO_STR | IOIO_REP, SEG_DS },
	/* multi-byte accesses check every byte's bit */
	{ "IN AX at a clear port, next port set", BYTES(0x66, 0xed), 0x80, { 0x81, NONE }, true, IN16, 0 },
	{ "IN EAX at a clear port, 4th port set", BYTES(0xed), 0x80, { 0x83, NONE }, true, IN32, 0 },
	{ "IN EAX across an IOPM byte boundary", BYTES(0xed), 0x7e, { 0x81, NONE }, true, IN32, 0 },
	{ "OUT DX, AX at port 0xFFFF checks IOPM bit 0x10000", BYTES(0x66, 0xef), 0xffff,
	  { 0x10000, NONE }, true, OUT16, 0 },
	/* not intercepted */
	{ "IN EAX with only the 5th port set", BYTES(0xed), 0x80, { 0x84, NONE }, true, 0, 0 },
	{ "IN AL with only the previous port set", BYTES(0xec), 0x81, { 0x80, NONE }, true, 0, 0 },
	{ "IN AL with its bit clear", BYTES(0xec), 0x80, { NONE, NONE }, true, 0, 0 },
	{ "OUT DX, AL with its bit clear", BYTES(0xee), 0x80, { 0x7f, 0x81 }, true, 0, 0 },
	{ "IN AL with IOIO_PROT clear", BYTES(0xec), 0x80, { 0x80, NONE }, false, 0, 0 },
};

static struct svm_vcpu vcpu;
static uint8_t *buffer;

static void set_iopm(const struct io_case *k)
{
	svm_iopm_clear_all();
	for (int i = 0; i < 2; i++) {
		if (k->iopm_bit[i] == NONE)
			continue;
		/* bit 0x10000 lives in the IOPM's third page */
		svm_iopm()[k->iopm_bit[i] / 8] |= (uint8_t)(1u << (k->iopm_bit[i] % 8));
	}
}

static void test_case(const struct io_case *k)
{
	struct svm_check c;
	uint64_t rip, info1;
	char name[128];

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, k->code, k->len);
	vcpu.regs.rdx = k->port;
	vcpu.regs.rsi = vcpu.regs.rdi = (uint64_t)buffer;
	vcpu.regs.rcx = 4;
	set_iopm(k);
	if (k->prot)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_IOIO_PROT);
	svm_vmrun(&vcpu);

	snprintf(name, sizeof(name), "%s (port 0x%x): %s", k->name, k->port,
		 k->info1 ? "#VMEXIT(IOIO)" : "not intercepted");
	svm_check_begin(&c, name);
	if (k->info1) {
		info1 = (uint64_t)k->port << IOIO_PORT_SHIFT | k->info1;
		if (svm_has(SVM_FEATURE_DECODE_ASSISTS) && (k->info1 & IOIO_STR))
			info1 |= k->seg << IOIO_SEG_SHIFT;
		else
			info1 |= vcpu.vmcb->control.exit_info_1 & IOIO_SEG_MASK;
		svm_check_exit(&c, &vcpu, SVM_EXIT_IOIO, info1, rip + k->len);
		svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
		svm_check_eq(&c, "rcx", vcpu.regs.rcx, 4);
		svm_check_eq(&c, "rdi", vcpu.regs.rdi, (uint64_t)buffer);
		svm_check_eq(&c, "rsi", vcpu.regs.rsi, (uint64_t)buffer);
	} else {
		svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
		svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip + k->len);
	}
	svm_check_end(&c);
	if (k->info1)
		svm_check_nrip(name, &vcpu, rip + k->len);
}

/*
 * At CPL 3 with IOPL 0 and no I/O bitmap in the TSS, IN raises #GP: that
 * protection check precedes the IOIO intercept (15.9, 15.10).
 */
static void test_cpl3_gp(void)
{
	static const uint8_t in_al_dx[] = { 0xec };
	struct svm_check c;
	uint64_t rip;

	svm_vcpu_init(&vcpu, NULL);
	rip = svm_vcpu_set_code(&vcpu, in_al_dx, sizeof(in_al_dx));
	svm_vcpu_set_user(&vcpu);
	vcpu.regs.rdx = 0x80;
	svm_iopm_clear_all();
	svm_iopm_set(0x80, true);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_IOIO_PROT);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(GP_VECTOR));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "IN at CPL 3 with IOPL 0: #GP before the IOIO intercept");
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(GP_VECTOR), 0, vcpu.vmcb->control.exit_info_2);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	buffer = alloc_page();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		test_case(&cases[i]);
	test_cpl3_gp();
	svm_iopm_clear_all();
	return report_summary();
}
