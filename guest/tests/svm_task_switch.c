/*
 * Hardware task switches, call gates and the SVM task-switch intercept
 * (APM vol. 2, chapter 12 "Task Management", 4.11 "Control-Transfer
 * Privilege Checks", 15.14.1 "Task Switch Intercept"; vol. 3, JMP, CALL,
 * INTn, IRET, RETF).
 *
 * L1 (long mode) runs L2 in 32-bit protected mode with paging off, flat
 * segments, its own GDT, IDT and TSSs, on the snippets of
 * svm_task_switch.S; L2 starts in task A (TR = TSS A, busy), loaded with
 * VMLOAD.  After each #VMEXIT L1 reads L2's TR with VMSAVE and the TSSs
 * and the GDT in memory:
 *   - with the task-switch intercept set, JMP/CALL far to a TSS or a task
 *     gate, INT through a task gate, IRET with NT = 1 and an exception
 *     through a task gate are #VMEXIT(0x7D) with EXITINFO1 = the new TSS's
 *     selector and EXITINFO2 = IRET (bit 36), JMP (bit 38), error code
 *     valid (bit 44) with the error code (bits 31:0), before any state
 *     changes (RIP at the instruction, TR, busy bits, TSS unchanged);
 *   - without it, the switches: the old task's state in its TSS, busy bits,
 *     back link, NT, CR0.TS, the new task's registers; the error code of
 *     #GP through a task gate on the new task's stack; a 16-bit TSS;
 *   - faults: #TS (TSS limit below 0x67; a data segment as the new CS,
 *     raised in the new task; IRET to an available TSS), #GP (busy TSS,
 *     RPL above the DPL), #NP (TSS not present);
 *   - call gates: CALL from CPL 3 to CPL 0 with two parameters copied to
 *     the stack from the TSS, RETF imm16 back; CALL at the same privilege;
 *     #GP for JMP to a more privileged segment and for a gate's DPL;
 *   - long mode (L1 itself): a TSS or task gate as a far target and a task
 *     gate in the IDT are #GP; a 64-bit call gate works.
 */
#include "svm.h"

enum {
	SEL_CODE = 0x08, SEL_DATA = 0x10, SEL_TSS_A = 0x18, SEL_TSS_B = 0x20,
	SEL_GATE_B = 0x28, SEL_TSS_SMALL = 0x30, SEL_TSS16 = 0x38,
	SEL_TSS_BADCS = 0x40, SEL_TSS_NP = 0x48, SEL_CODE_USER = 0x50,
	SEL_DATA_USER = 0x58, SEL_CALLGATE = 0x60, SEL_GATE_SAME = 0x68,
	SEL_TSS_GP = 0x70, SEL_CODE16T = 0x78, L2_GDT_ENTRIES = 16,
};
#define GP_SEL     0x7f8   /* beyond L2's GDT limit: #GP(0x7f8) */
#define VEC_TASK   0x40    /* L2's IDT: task gate to TSS B */

/* Descriptor access bytes (P, DPL, S, type). */
#define ACC_CODE0    0x9b
#define ACC_DATA0    0x93
#define ACC_CODE3    0xfb
#define ACC_DATA3    0xf3
#define ACC_TSS      0x89   /* 32-bit TSS, available */
#define ACC_TSS_BUSY 0x8b
#define ACC_TSS16    0x81
#define ACC_TASKGATE 0x85
#define ACC_CALLGATE 0x8c   /* 32-bit call gate, DPL 0 */
#define TYPE_TSS       0x9
#define TYPE_TSS_BUSY  0xb

#define TS_IRET     (1ull << 36)
#define TS_JMP      (1ull << 38)
#define TS_HAS_ERR  (1ull << 44)

struct __attribute__((packed)) tss32 {
	uint16_t link, r0;
	uint32_t esp0;
	uint16_t ss0, r1;
	uint32_t esp1;
	uint16_t ss1, r2;
	uint32_t esp2;
	uint16_t ss2, r3;
	uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint16_t es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10;
	uint16_t trap, iomap;
};
_Static_assert(sizeof(struct tss32) == 0x68, "32-bit TSS");

struct __attribute__((packed)) tss16 {
	uint16_t link, sp0, ss0, sp1, ss1, sp2, ss2;
	uint16_t ip, flags, ax, cx, dx, bx, sp, bp, si, di;
	uint16_t es, cs, ss, ds, ldt;
};
_Static_assert(sizeof(struct tss16) == 0x2c, "16-bit TSS");

extern const uint8_t l2_jmp_tss[], l2_jmp_tss_insn[], l2_jmp_gate[], l2_jmp_gate_insn[];
extern const uint8_t l2_call_tss[], l2_call_tss_insn[], l2_call_tss_after[];
extern const uint8_t l2_int_gate[], l2_int_gate_insn[], l2_int_gate_after[];
extern const uint8_t l2_iret_nt[], l2_iret_nt_insn[], l2_gp[], l2_gp_insn[];
extern const uint8_t l2_jmp_small[], l2_jmp_busy[], l2_jmp_np[], l2_jmp_rpl3[];
extern const uint8_t l2_jmp_badcs[], l2_jmp_tss16[];
extern const uint8_t task_b_entry[], task_b_iret[], task_gp_entry[], task16_entry[];
extern const uint8_t l2_callgate_user[], l2_callgate_insn[], l2_callgate_after[];
extern const uint8_t gate_entry[], l2_callgate_same[], l2_callgate_same_after[];
extern const uint8_t gate_same_entry[], l2_jmpgate_user[], l2_callgate_dpl[];

static uint64_t l2_gdt[L2_GDT_ENTRIES];
static uint64_t l2_idt[256];
static struct tss32 tss_a, tss_b, tss_badcs, tss_gp;
static struct tss16 tss_16;
static uint8_t stack_l2[4096] __attribute__((aligned(16)));
static uint8_t stack_b[4096] __attribute__((aligned(16)));
static uint8_t stack_a0[4096] __attribute__((aligned(16)));
static uint8_t stack_gp[4096] __attribute__((aligned(16)));
static uint8_t stack_user[4096] __attribute__((aligned(16)));
static struct svm_vcpu vcpu;
static void *host_state;     /* L1's own FS, GS, TR, LDTR (VMSAVE) */

#define A32(p) ((uint32_t)(uintptr_t)(p))
#define TOP(s) (A32(s) + (uint32_t)sizeof(s))

static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned access,
			 unsigned flags)
{
	return (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)flags << 52 | (uint64_t)(base >> 24) << 56;
}

static uint64_t gate_desc(uint16_t sel, uint32_t off, unsigned access,
			  unsigned params)
{
	return (off & 0xffff) | (uint64_t)sel << 16 | (uint64_t)params << 32 |
	       (uint64_t)access << 40 | (uint64_t)(off >> 16) << 48;
}

static unsigned gdt_type(uint16_t sel)
{
	return (unsigned)(l2_gdt[sel >> 3] >> 40) & 0xf;
}

static void task_state(struct tss32 *t, const uint8_t *eip, uint32_t esp,
		       uint16_t cs, uint32_t tag)
{
	memset(t, 0, sizeof(*t));
	t->eip = A32(eip);
	t->eflags = 0x2;
	t->eax = tag;
	t->ebx = tag + 1;
	t->esi = tag + 2;
	t->esp = esp;
	t->cs = cs;
	t->es = t->ss = t->ds = t->fs = t->gs = SEL_DATA;
}

/* L2's descriptor tables and TSSs, fresh for every test. */
static void build_tables(void)
{
	uint64_t *g = l2_gdt;

	memset(l2_gdt, 0, sizeof(l2_gdt));
	memset(l2_idt, 0, sizeof(l2_idt));
	memset(&tss_a, 0, sizeof(tss_a));
	tss_a.ss0 = SEL_DATA;
	tss_a.esp0 = TOP(stack_a0);
	task_state(&tss_b, task_b_entry, TOP(stack_b), SEL_CODE, 0xb0b0b000);
	task_state(&tss_badcs, task_b_entry, TOP(stack_b), SEL_DATA, 0xbadc5000);
	task_state(&tss_gp, task_gp_entry, TOP(stack_gp), SEL_CODE, 0x6e6e6e00);
	memset(&tss_16, 0, sizeof(tss_16));
	tss_16.ip = 0;
	tss_16.flags = 0x2;
	tss_16.ax = 0x1616;
	tss_16.bx = 0x1617;
	tss_16.sp = 0x1234;
	tss_16.cs = SEL_CODE16T;
	tss_16.es = tss_16.ss = tss_16.ds = SEL_DATA;

	g[SEL_CODE >> 3] = seg_desc(0, 0xfffff, ACC_CODE0, 0xc);
	g[SEL_DATA >> 3] = seg_desc(0, 0xfffff, ACC_DATA0, 0xc);
	g[SEL_TSS_A >> 3] = seg_desc(A32(&tss_a), 0x67, ACC_TSS_BUSY, 0);
	g[SEL_TSS_B >> 3] = seg_desc(A32(&tss_b), 0x67, ACC_TSS, 0);
	g[SEL_GATE_B >> 3] = gate_desc(SEL_TSS_B, 0, ACC_TASKGATE, 0);
	g[SEL_TSS_SMALL >> 3] = seg_desc(A32(&tss_b), 0x66, ACC_TSS, 0);
	g[SEL_TSS16 >> 3] = seg_desc(A32(&tss_16), 0x2b, ACC_TSS16, 0);
	g[SEL_TSS_BADCS >> 3] = seg_desc(A32(&tss_badcs), 0x67, ACC_TSS, 0);
	g[SEL_TSS_NP >> 3] = seg_desc(A32(&tss_b), 0x67, ACC_TSS & 0x7f, 0);
	g[SEL_CODE_USER >> 3] = seg_desc(0, 0xfffff, ACC_CODE3, 0xc);
	g[SEL_DATA_USER >> 3] = seg_desc(0, 0xfffff, ACC_DATA3, 0xc);
	g[SEL_CALLGATE >> 3] = gate_desc(SEL_CODE, A32(gate_entry), ACC_CALLGATE | 0x60, 2);
	g[SEL_GATE_SAME >> 3] = gate_desc(SEL_CODE, A32(gate_same_entry), ACC_CALLGATE, 0);
	g[SEL_TSS_GP >> 3] = seg_desc(A32(&tss_gp), 0x67, ACC_TSS, 0);
	g[SEL_CODE16T >> 3] = seg_desc(A32(task16_entry), 0xffff, ACC_CODE0, 0x4);
	l2_idt[VEC_TASK] = gate_desc(SEL_TSS_B, 0, ACC_TASKGATE, 0);
	l2_idt[GP_VECTOR] = gate_desc(SEL_TSS_GP, 0, ACC_TASKGATE, 0);
}

static void flat_seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib)
{
	s->selector = sel;
	s->attrib = attrib;
	s->limit = 0xffffffff;
	s->base = 0;
}

/* L2 at entry in 32-bit protected mode, paging off, in task A. */
static void setup_l2(const uint8_t *entry, bool user)
{
	struct vmcb_save *s;

	build_tables();
	svm_vcpu_init(&vcpu, NULL);
	s = &vcpu.vmcb->save;
	flat_seg(&s->cs, SEL_CODE, 0xc9b);
	flat_seg(&s->ss, SEL_DATA, 0xc93);
	flat_seg(&s->ds, SEL_DATA, 0xc93);
	flat_seg(&s->es, SEL_DATA, 0xc93);
	flat_seg(&s->fs, SEL_DATA, 0xc93);
	flat_seg(&s->gs, SEL_DATA, 0xc93);
	s->cpl = 0;
	s->rsp = TOP(stack_l2);
	if (user) {
		flat_seg(&s->cs, SEL_CODE_USER | 3, 0xcfb);
		flat_seg(&s->ss, SEL_DATA_USER | 3, 0xcf3);
		flat_seg(&s->ds, SEL_DATA_USER | 3, 0xcf3);
		flat_seg(&s->es, SEL_DATA_USER | 3, 0xcf3);
		s->cpl = 3;
		s->rsp = TOP(stack_user);
	}
	/* TR's cached type says "available" (0x89): nothing reads its busy
	 * bit, and QEMU TCG stops with "invalid tss type" on a call gate's
	 * stack switch when it says "busy" (0x8b), as LTR would leave it */
	s->tr = (struct vmcb_seg){ SEL_TSS_A, 0x89, 0x67, A32(&tss_a) };
	s->ldtr = (struct vmcb_seg){ 0, 0, 0, 0 };
	s->gdtr.base = A32(l2_gdt);
	s->gdtr.limit = sizeof(l2_gdt) - 1;
	s->idtr.base = A32(l2_idt);
	s->idtr.limit = sizeof(l2_idt) - 1;
	s->cr0 = CR0_PE | CR0_ET | CR0_NE;
	s->cr3 = 0;
	s->cr4 = 0;
	s->efer = EFER_SVME;
	s->rflags = 0x2;
	s->rip = A32(entry);
	s->rax = 0;
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(DF_VECTOR));
}

/* VMRUN with L2's FS/GS/TR/LDTR loaded, and read back at #VMEXIT. */
static void run_l2(void)
{
	vmload((uint64_t)vcpu.vmcb);
	svm_vmrun(&vcpu);
	vmsave((uint64_t)vcpu.vmcb);
	vmload((uint64_t)host_state);
}

static void intercept_faults(void)
{
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(TS_VECTOR));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(NP_VECTOR));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(SS_VECTOR));
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(GP_VECTOR));
}

/* ---- the intercept ------------------------------------------------------ */

struct intercept_case {
	const char *name;
	const uint8_t *entry, *insn;
	uint16_t info1;
	uint64_t info2;
	uint32_t intinfo;       /* EXITINTINFO (0: none) */
};

static const struct intercept_case intercept_cases[] = {
	{ "JMP far to a TSS", l2_jmp_tss, l2_jmp_tss_insn, SEL_TSS_B, TS_JMP, 0 },
	{ "JMP far to a task gate", l2_jmp_gate, l2_jmp_gate_insn, SEL_TSS_B, TS_JMP, 0 },
	{ "CALL far to a TSS", l2_call_tss, l2_call_tss_insn, SEL_TSS_B, 0, 0 },
	{ "INT 0x40 through a task gate", l2_int_gate, l2_int_gate_insn, SEL_TSS_B, 0,
	  EVENTINJ_V | EVENTINJ_TYPE_SOFT_INT | VEC_TASK },
	{ "IRET with NT = 1", l2_iret_nt, l2_iret_nt_insn, SEL_TSS_B, TS_IRET, 0 },
	{ "#GP through a task gate", l2_gp, l2_gp_insn, SEL_TSS_GP, TS_HAS_ERR | GP_SEL,
	  EVENTINJ_V | EVENTINJ_TYPE_EXCEPTION | EVENTINJ_EV | GP_VECTOR },
};

static void test_intercept(const struct intercept_case *k)
{
	struct svm_check c;
	struct tss32 before;
	char name[128];

	setup_l2(k->entry, false);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_TASK_SWITCH);
	if (k->info2 & TS_IRET) {
		tss_a.link = SEL_TSS_B;
		l2_gdt[SEL_TSS_B >> 3] |= 2ull << 40;   /* busy: a nested task */
	}
	before = tss_a;
	run_l2();
	snprintf(name, sizeof(name), "intercepted: %s: #VMEXIT(TASK_SWITCH), nothing changed",
		 k->name);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_TASK_SWITCH, k->info1, k->info2);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(k->insn));
	svm_check_eq(&c, "exitintinfo", vcpu.vmcb->control.exit_int_info, k->intinfo);
	if (k->intinfo & EVENTINJ_EV)
		svm_check_eq(&c, "exitintinfo error", vcpu.vmcb->control.exit_int_info_err,
			     GP_SEL);
	svm_check_eq(&c, "tr", vcpu.vmcb->save.tr.selector, SEL_TSS_A);
	svm_check_eq(&c, "TSS A busy", gdt_type(SEL_TSS_A), TYPE_TSS_BUSY);
	svm_check_eq(&c, "TSS B type", gdt_type(SEL_TSS_B),
		     (k->info2 & TS_IRET) ? TYPE_TSS_BUSY : TYPE_TSS);
	svm_check_true(&c, "TSS A unchanged", !memcmp(&before, &tss_a, sizeof(before)));
	svm_check_eq(&c, "CR0.TS", vcpu.vmcb->save.cr0 & CR0_TS, 0);
	svm_check_eq(&c, "cs", vcpu.vmcb->save.cs.selector, SEL_CODE);
	svm_check_end(&c);
}

/* ---- the switches -------------------------------------------------------- */

/* The state of task B as L2 reports it from task_b_entry. */
static void check_in_task_b(struct svm_check *c, uint16_t tr)
{
	svm_check_exit(c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(c, "rip", vcpu.vmcb->save.rip, A32(task_b_entry));
	svm_check_eq(c, "tr", vcpu.vmcb->save.tr.selector, tr);
	svm_check_eq(c, "eax", vcpu.vmcb->save.rax, 0xb0b0b000);
	svm_check_eq(c, "ebx", vcpu.regs.rbx, 0xb0b0b001);
	svm_check_eq(c, "esi", vcpu.regs.rsi, 0xb0b0b002);
	svm_check_eq(c, "esp", vcpu.vmcb->save.rsp, TOP(stack_b));
	svm_check_eq(c, "CR0.TS", vcpu.vmcb->save.cr0 & CR0_TS, CR0_TS);
	svm_check_eq(c, "TSS B busy", gdt_type(SEL_TSS_B), TYPE_TSS_BUSY);
}

static void test_jmp(const char *name, const uint8_t *entry, const uint8_t *insn)
{
	struct svm_check c;

	setup_l2(entry, false);
	run_l2();
	svm_check_begin(&c, name);
	check_in_task_b(&c, SEL_TSS_B);
	svm_check_eq(&c, "NT", vcpu.vmcb->save.rflags & 0x4000, 0);
	svm_check_eq(&c, "TSS A available", gdt_type(SEL_TSS_A), TYPE_TSS);
	svm_check_eq(&c, "TSS B link (not written)", tss_b.link, 0);
	svm_check_eq(&c, "TSS A eip (after the JMP)", tss_a.eip, A32(insn) + 7);
	svm_check_eq(&c, "TSS A cs", tss_a.cs, SEL_CODE);
	svm_check_eq(&c, "TSS A ss", tss_a.ss, SEL_DATA);
	svm_check_eq(&c, "TSS A esp", tss_a.esp, TOP(stack_l2));
	svm_check_end(&c);
}

static void test_call_iret(void)
{
	struct svm_check c;

	setup_l2(l2_call_tss, false);
	run_l2();
	svm_check_begin(&c, "CALL far to a TSS: task B, nested (NT, back link)");
	check_in_task_b(&c, SEL_TSS_B);
	svm_check_eq(&c, "NT", vcpu.vmcb->save.rflags & 0x4000, 0x4000);
	svm_check_eq(&c, "TSS A busy", gdt_type(SEL_TSS_A), TYPE_TSS_BUSY);
	svm_check_eq(&c, "TSS B link", tss_b.link, SEL_TSS_A);
	svm_check_eq(&c, "TSS A eip", tss_a.eip, A32(l2_call_tss_after));
	svm_check_eq(&c, "TSS A eax", tss_a.eax, 0xa1a1a1a1);
	svm_check_eq(&c, "TSS A eflags.NT", tss_a.eflags & 0x4000, 0);
	svm_check_end(&c);

	svm_skip(&vcpu, 3);
	run_l2();
	svm_check_begin(&c, "IRET with NT = 1: back to task A");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(l2_call_tss_after));
	svm_check_eq(&c, "tr", vcpu.vmcb->save.tr.selector, SEL_TSS_A);
	svm_check_eq(&c, "eax", vcpu.vmcb->save.rax, 0xa1a1a1a1);
	svm_check_eq(&c, "esp", vcpu.vmcb->save.rsp, TOP(stack_l2));
	svm_check_eq(&c, "NT", vcpu.vmcb->save.rflags & 0x4000, 0);
	svm_check_eq(&c, "TSS B available", gdt_type(SEL_TSS_B), TYPE_TSS);
	svm_check_eq(&c, "TSS A busy", gdt_type(SEL_TSS_A), TYPE_TSS_BUSY);
	svm_check_eq(&c, "TSS B eip (after the IRET)", tss_b.eip, A32(task_b_iret) + 1);
	svm_check_eq(&c, "TSS B eflags.NT (cleared)", tss_b.eflags & 0x4000, 0);
	svm_check_end(&c);
}

static void test_int_gate(void)
{
	struct svm_check c;

	setup_l2(l2_int_gate, false);
	run_l2();
	svm_check_begin(&c, "INT 0x40 through a task gate: task B, nested");
	check_in_task_b(&c, SEL_TSS_B);
	svm_check_eq(&c, "NT", vcpu.vmcb->save.rflags & 0x4000, 0x4000);
	svm_check_eq(&c, "TSS B link", tss_b.link, SEL_TSS_A);
	svm_check_eq(&c, "TSS A eip (after the INT)", tss_a.eip, A32(l2_int_gate_after));
	svm_check_end(&c);
}

static void test_gp_gate(void)
{
	struct svm_check c;
	uint64_t rsp;

	setup_l2(l2_gp, false);
	run_l2();
	rsp = vcpu.vmcb->save.rsp;
	svm_check_begin(&c, "#GP through a task gate: error code on the new task's stack");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(task_gp_entry));
	svm_check_eq(&c, "tr", vcpu.vmcb->save.tr.selector, SEL_TSS_GP);
	svm_check_eq(&c, "esp", rsp, TOP(stack_gp) - 4);
	if (rsp == TOP(stack_gp) - 4)
		svm_check_eq(&c, "error code", *(volatile uint32_t *)rsp, GP_SEL);
	svm_check_eq(&c, "eax", vcpu.vmcb->save.rax, 0x6e6e6e00);
	svm_check_eq(&c, "NT", vcpu.vmcb->save.rflags & 0x4000, 0x4000);
	svm_check_eq(&c, "TSS GP link", tss_gp.link, SEL_TSS_A);
	svm_check_eq(&c, "TSS A eip (the faulting MOV)", tss_a.eip, A32(l2_gp_insn));
	svm_check_end(&c);
}

static void test_tss16(void)
{
	struct svm_check c;

	setup_l2(l2_jmp_tss16, false);
	run_l2();
	svm_check_begin(&c, "JMP far to a 16-bit TSS");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "ip", vcpu.vmcb->save.rip, 0);
	svm_check_eq(&c, "cs", vcpu.vmcb->save.cs.selector, SEL_CODE16T);
	svm_check_eq(&c, "cs.base", vcpu.vmcb->save.cs.base, A32(task16_entry));
	svm_check_eq(&c, "tr", vcpu.vmcb->save.tr.selector, SEL_TSS16);
	svm_check_eq(&c, "ax", vcpu.vmcb->save.rax & 0xffff, 0x1616);
	svm_check_eq(&c, "bx", vcpu.regs.rbx & 0xffff, 0x1617);
	svm_check_eq(&c, "sp", vcpu.vmcb->save.rsp & 0xffff, 0x1234);
	svm_check_eq(&c, "16-bit TSS busy", gdt_type(SEL_TSS16), 0x3);
	svm_check_eq(&c, "TSS A available", gdt_type(SEL_TSS_A), TYPE_TSS);
	svm_check_end(&c);
}

/* ---- faults -------------------------------------------------------------- */

struct fault_case {
	const char *name;
	const uint8_t *entry;
	int vector;
	uint16_t err;
	uint16_t tr;            /* TR at the fault */
	bool nt;                /* L2 starts with NT = 1, link = TSS B */
	const uint8_t *rip;     /* NULL: the entry */
};

static const struct fault_case fault_cases[] = {
	{ "JMP to a TSS with limit 0x66: #TS(sel)", l2_jmp_small, TS_VECTOR, SEL_TSS_SMALL,
	  SEL_TSS_A, false, NULL },
	{ "JMP to a busy TSS: #GP(sel)", l2_jmp_busy, GP_VECTOR, SEL_TSS_A, SEL_TSS_A, false, NULL },
	{ "JMP to a TSS not present: #NP(sel)", l2_jmp_np, NP_VECTOR, SEL_TSS_NP, SEL_TSS_A,
	  false, NULL },
	{ "JMP to a DPL-0 TSS with RPL 3: #GP(sel)", l2_jmp_rpl3, GP_VECTOR, SEL_TSS_B,
	  SEL_TSS_A, false, NULL },
	{ "JMP to a TSS whose CS is data: #TS(cs) in the new task", l2_jmp_badcs, TS_VECTOR,
	  SEL_DATA, SEL_TSS_BADCS, false, task_b_entry },
	{ "IRET with NT = 1 to an available TSS: #TS(sel)", l2_iret_nt, TS_VECTOR, SEL_TSS_B,
	  SEL_TSS_A, true, l2_iret_nt_insn },
};

static void test_fault(const struct fault_case *k)
{
	struct svm_check c;

	setup_l2(k->entry, false);
	intercept_faults();
	if (k->nt)
		tss_a.link = SEL_TSS_B;   /* left available */
	run_l2();
	svm_check_begin(&c, k->name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(k->vector), k->err, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(k->rip ? k->rip : k->entry));
	svm_check_eq(&c, "tr", vcpu.vmcb->save.tr.selector, k->tr);
	svm_check_eq(&c, "TSS A type", gdt_type(SEL_TSS_A),
		     k->tr == SEL_TSS_A ? TYPE_TSS_BUSY : TYPE_TSS);
	svm_check_end(&c);
}

/* ---- call gates ---------------------------------------------------------- */

static void test_callgate_inner(void)
{
	struct svm_check c;
	const volatile uint32_t *sp;

	setup_l2(l2_callgate_user, true);
	run_l2();
	sp = (const volatile uint32_t *)(uintptr_t)vcpu.vmcb->save.rsp;
	svm_check_begin(&c, "CALL through a call gate, CPL 3 -> 0, 2 parameters");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(gate_entry));
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, 0);
	svm_check_eq(&c, "cs", vcpu.vmcb->save.cs.selector, SEL_CODE);
	svm_check_eq(&c, "ss (TSS SS0)", vcpu.vmcb->save.ss.selector, SEL_DATA);
	svm_check_eq(&c, "esp", vcpu.vmcb->save.rsp, TOP(stack_a0) - 24);
	if (vcpu.vmcb->save.rsp == TOP(stack_a0) - 24) {
		svm_check_eq(&c, "[esp] eip", sp[0], A32(l2_callgate_after));
		svm_check_eq(&c, "[esp+4] cs", sp[1], SEL_CODE_USER | 3);
		svm_check_eq(&c, "[esp+8] param 0", sp[2], 0x1111);
		svm_check_eq(&c, "[esp+12] param 1", sp[3], 0x2222);
		svm_check_eq(&c, "[esp+16] esp", sp[4], TOP(stack_user) - 8);
		svm_check_eq(&c, "[esp+20] ss", sp[5], SEL_DATA_USER | 3);
	}
	svm_check_end(&c);

	svm_skip(&vcpu, 3);
	run_l2();
	svm_check_begin(&c, "RETF 8 from the gate: back to CPL 3");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(l2_callgate_after));
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, 3);
	svm_check_eq(&c, "cs", vcpu.vmcb->save.cs.selector, SEL_CODE_USER | 3);
	svm_check_eq(&c, "ss", vcpu.vmcb->save.ss.selector, SEL_DATA_USER | 3);
	svm_check_eq(&c, "esp (parameters released)", vcpu.vmcb->save.rsp, TOP(stack_user));
	svm_check_end(&c);
}

static void test_callgate_same(void)
{
	struct svm_check c;
	const volatile uint32_t *sp;

	setup_l2(l2_callgate_same, false);
	run_l2();
	sp = (const volatile uint32_t *)(uintptr_t)vcpu.vmcb->save.rsp;
	svm_check_begin(&c, "CALL through a call gate at the same privilege");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(gate_same_entry));
	svm_check_eq(&c, "esp", vcpu.vmcb->save.rsp, TOP(stack_l2) - 8);
	if (vcpu.vmcb->save.rsp == TOP(stack_l2) - 8) {
		svm_check_eq(&c, "[esp] eip", sp[0], A32(l2_callgate_same_after));
		svm_check_eq(&c, "[esp+4] cs", sp[1], SEL_CODE);
	}
	svm_check_end(&c);
	svm_skip(&vcpu, 3);
	run_l2();
	svm_check_begin(&c, "RETF from the same-privilege gate");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(l2_callgate_same_after));
	svm_check_eq(&c, "esp", vcpu.vmcb->save.rsp, TOP(stack_l2));
	svm_check_end(&c);
}

static void test_callgate_fault(const char *name, const uint8_t *entry, uint16_t err)
{
	struct svm_check c;

	setup_l2(entry, true);
	intercept_faults();
	run_l2();
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(GP_VECTOR), err, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, A32(entry));
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, 3);
	svm_check_end(&c);
}

/* ---- long mode (L1 itself) ----------------------------------------------- */

#define LM_GATE64  GDT_FIRST_FREE            /* 16 bytes */
#define LM_TSS64   (GDT_FIRST_FREE + 0x10)   /* 16 bytes */
#define LM_TASKGATE (GDT_FIRST_FREE + 0x20)
#define LM_VEC     0x41

static volatile uint64_t cg_rsp, cg_ret, cg_cs;
extern char lm_callgate_target[], lm_callgate_after[];
asm(".pushsection .text\n"
    "lm_callgate_target:\n\t"
    "mov %rsp, cg_rsp(%rip)\n\t"
    "mov (%rsp), %rax\n\t"
    "mov %rax, cg_ret(%rip)\n\t"
    "mov 8(%rsp), %rax\n\t"
    "mov %rax, cg_cs(%rip)\n\t"
    "lretq\n"
    ".popsection");

/* JMP or CALL far through m16:32 at *ptr; the vector it raised, or -1. */
static int far_transfer(uint16_t sel, bool call, uint64_t *err)
{
	struct { uint32_t off; uint16_t sel; } __attribute__((packed)) ptr = { 0, sel };

	ex_fixup_reset();
	if (call)
		asm volatile("1: lcall *%0\n2:\n" ASM_EXTABLE("1b", "2b")
			     :: "m"(ptr) : "rax", "memory");
	else
		asm volatile("1: ljmp *%0\n2:\n" ASM_EXTABLE("1b", "2b")
			     :: "m"(ptr) : "memory");
	*err = ex_fixup_regs.error_code;
	return ex_fixup_vector;
}

static void test_long_mode(void)
{
	uint64_t saved[4], err = 0, *idt, saved_idt[2], rsp_before;
	struct desc_ptr p;
	int v;

	memcpy(saved, &gdt64[LM_GATE64 >> 3], sizeof(saved));
	gdt64[LM_TSS64 >> 3] = seg_desc(A32(&tss_a), 0x67, ACC_TSS, 0);
	gdt64[(LM_TSS64 >> 3) + 1] = 0;
	v = far_transfer(LM_TSS64, false, &err);
	report(v == GP_VECTOR && err == LM_TSS64, "long mode: JMP far to a TSS: #GP(sel)");

	gdt64[LM_TASKGATE >> 3] = gate_desc(LM_TSS64, 0, ACC_TASKGATE, 0);
	v = far_transfer(LM_TASKGATE, true, &err);
	report(v == GP_VECTOR && err == LM_TASKGATE, "long mode: CALL far to a task gate: #GP(sel)");

	sidt(&p);
	idt = (uint64_t *)(p.base + LM_VEC * 16);
	memcpy(saved_idt, idt, sizeof(saved_idt));
	idt[0] = gate_desc(LM_TSS64, 0, ACC_TASKGATE, 0);
	idt[1] = 0;
	ex_fixup_reset();
	asm volatile("1: int $0x41\n2:\n" ASM_EXTABLE("1b", "2b") ::: "memory");
	report_eq("long mode: INT through a task gate: #GP(vector * 8 + 2)",
		  ex_fixup_vector == GP_VECTOR ? ex_fixup_regs.error_code : ~0ull,
		  LM_VEC * 8 + 2);
	memcpy(idt, saved_idt, sizeof(saved_idt));

	/* a 64-bit call gate: 16 bytes, offset bits 63:32 in the upper half */
	gdt64[LM_GATE64 >> 3] = gate_desc(KERNEL_CS, (uint32_t)(uintptr_t)lm_callgate_target,
					  ACC_CALLGATE, 0);
	gdt64[(LM_GATE64 >> 3) + 1] = (uint64_t)(uintptr_t)lm_callgate_target >> 32;
	cg_rsp = cg_ret = cg_cs = 0;
	{
		struct { uint32_t off; uint16_t sel; } __attribute__((packed)) ptr = { 0, LM_GATE64 };

		asm volatile("mov %%rsp, %0\n\t"
			     "lcall *%1\n"
			     "lm_callgate_after:"
			     : "=&r"(rsp_before) : "m"(ptr) : "rax", "memory");
	}
	report(cg_cs == KERNEL_CS && cg_rsp == rsp_before - 16 &&
	       cg_ret == (uint64_t)(uintptr_t)lm_callgate_after,
	       "long mode: CALL through a 64-bit call gate: CS and RIP pushed as 8 bytes");
	memcpy(&gdt64[LM_GATE64 >> 3], saved, sizeof(saved));
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	host_state = alloc_page();
	vmsave((uint64_t)host_state);

	for (size_t i = 0; i < ARRAY_SIZE(intercept_cases); i++)
		test_intercept(&intercept_cases[i]);
	test_jmp("JMP far to a TSS: task B", l2_jmp_tss, l2_jmp_tss_insn);
	test_jmp("JMP far to a task gate: task B", l2_jmp_gate, l2_jmp_gate_insn);
	test_call_iret();
	test_int_gate();
	test_gp_gate();
	test_tss16();
	for (size_t i = 0; i < ARRAY_SIZE(fault_cases); i++)
		test_fault(&fault_cases[i]);
	test_callgate_inner();
	test_callgate_same();
	test_callgate_fault("JMP through a call gate to a more privileged segment: #GP(cs)",
			    l2_jmpgate_user, SEL_CODE);
	test_callgate_fault("CALL through a gate whose DPL is below the CPL: #GP(gate)",
			    l2_callgate_dpl, SEL_GATE_SAME);
	test_long_mode();
	return report_summary();
}
