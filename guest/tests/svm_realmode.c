/*
 * L2 in real mode and on its way to protected mode and paging (APM vol. 2,
 * 15.5 "VMRUN": the guest may start in any mode VMRUN's state checks allow,
 * real mode included; 14.1-14.4 for the CR0.PE and CR0.PG transitions).
 *
 * L1 (long mode) runs L2 with CR0.PE = 0 and real-mode segments (selector,
 * base = selector << 4, limit 0xFFFF) on code copied below 1 MiB
 * (svm_realmode.S):
 *   - VMMCALL intercepted: #VMEXIT(VMMCALL), nRIP = RIP + 3;
 *   - VMMCALL not intercepted: #UD in L2 through L2's real-mode IVT (at
 *     IDTR.base), or #VMEXIT(EXCP 6) when L1 intercepts #UD (the seed rule,
 *     SVM-REFERENCE 0);
 *   - LGDT, CR0.PE, far jump: 16-bit protected mode, VMMCALL;
 *   - the same into 32-bit protected mode, then 32-bit paging or PAE paging,
 *     VMMCALL; vmcb12 holds L2's CR0/CR3/CR4, CS and RIP at each exit;
 *   - CR0 write and selective CR0 write intercepts on those transitions,
 *     with L1 emulating the intercepted write and resuming L2.
 * No nested paging: L2's physical addresses are L1's.
 */
#include "svm.h"

#define RM_BASE  0x30000ull      /* must match svm_realmode.S */
#define RM_SEG   (RM_BASE >> 4)
#define RM_IVT   0x38000ull      /* L2's IDTR.base in real mode */
#define RM_STACK 0xfff0ull       /* SP, in SS = RM_SEG */
#define PD32     0x3a000ull      /* 32-bit paging: page directory */
#define PT32     0x3b000ull      /* ... and the page table for 0..4 MiB */
#define PDPT_PAE 0x3c000ull      /* PAE: page-directory-pointer table */
#define PD_PAE   0x3d000ull      /* ... and a page directory of 2 MiB pages */

#define CR0_INIT  CR0_ET         /* L2's CR0 at VMRUN: real mode */
#define GPR_EAX   0
#define ATTR_RM_CODE 0x9b        /* P, S, code execute/read, accessed */
#define ATTR_RM_DATA 0x93        /* P, S, data read/write, accessed */

extern const uint8_t rm_blob[], rm_blob_end[];
extern const uint8_t rm_vmmcall[], rm_after_vmmcall[], rm_ud_handler[];
extern const uint8_t rm_ud_hlt[], rm_fault[];
extern const uint8_t rm_to_pm16[], rm_pm16_wr_cr0[], pm16_vmmcall[];
extern const uint8_t rm_to_pm32[], rm_pm32_wr_cr0[], pm32[], pm32_wr_cr0[];
extern const uint8_t pm32_vmmcall[];
extern const uint8_t rm_lmsw[], rm_lmsw_insn[], rm_cr0_ts[], rm_ts_vmmcall[];
extern const uint8_t rm_gdt[];
extern const uint8_t rm_ud_count[], rm_ud_ip[], rm_ud_cs[], rm_ud_flags[];

static struct svm_vcpu vcpu;

/* A blob label's offset, i.e. its IP in real mode and 16-bit PM. */
#define OFF(sym) ((uint64_t)((sym) - rm_blob))
/* A blob label's linear address (its EIP in flat 32-bit PM). */
#define LIN(sym) (RM_BASE + OFF(sym))

static uint16_t rm_word(const uint8_t *sym)
{
	return *(volatile uint16_t *)(uintptr_t)LIN(sym);
}

static void rm_seg(struct vmcb_seg *s, uint16_t sel, uint16_t attrib)
{
	s->selector = sel;
	s->attrib = attrib;
	s->limit = 0xffff;
	s->base = (uint64_t)sel << 4;
}

/* The blob, an IVT whose vectors all lead to rm_fault but #UD, page tables. */
static void setup_low_memory(void)
{
	uint32_t *ivt = (uint32_t *)RM_IVT;
	uint32_t *pd32 = (uint32_t *)PD32, *pt32 = (uint32_t *)PT32;
	uint64_t *pdpt = (uint64_t *)PDPT_PAE, *pd = (uint64_t *)PD_PAE;

	memcpy((void *)RM_BASE, rm_blob, (size_t)(rm_blob_end - rm_blob));
	for (int v = 0; v < 256; v++)
		ivt[v] = (uint32_t)(RM_SEG << 16 | OFF(rm_fault));
	ivt[UD_VECTOR] = (uint32_t)(RM_SEG << 16 | OFF(rm_ud_handler));

	memset(pd32, 0, PAGE_SIZE);
	pd32[0] = (uint32_t)PT32 | 3;                   /* P | R/W */
	for (uint32_t i = 0; i < 1024; i++)
		pt32[i] = i << 12 | 3;                  /* 0..4 MiB identity */
	memset(pdpt, 0, PAGE_SIZE);
	pdpt[0] = PD_PAE | 1;                           /* PDPTE: P only */
	memset(pd, 0, PAGE_SIZE);
	pd[0] = 0x83;                                   /* 2 MiB: P | R/W | PS */
	pd[1] = (2ull << 20) | 0x83;
}

/* L2 in real mode at entry, CS = DS = ES = SS = RM_SEG. */
static void setup_l2(const uint8_t *entry)
{
	struct vmcb_save *s;

	svm_vcpu_init(&vcpu, NULL);
	s = &vcpu.vmcb->save;
	rm_seg(&s->cs, RM_SEG, ATTR_RM_CODE);
	rm_seg(&s->ds, RM_SEG, ATTR_RM_DATA);
	rm_seg(&s->es, RM_SEG, ATTR_RM_DATA);
	rm_seg(&s->ss, RM_SEG, ATTR_RM_DATA);
	rm_seg(&s->fs, 0, ATTR_RM_DATA);
	rm_seg(&s->gs, 0, ATTR_RM_DATA);
	s->gdtr.base = 0;
	s->gdtr.limit = 0xffff;
	s->idtr.base = RM_IVT;
	s->idtr.limit = 0x3ff;
	s->cr0 = CR0_INIT;
	s->cr3 = 0;
	s->cr4 = 0;
	s->efer = EFER_SVME;
	s->rflags = 0x2;
	s->cpl = 0;
	s->rip = OFF(entry);
	s->rsp = RM_STACK;
	s->rax = 0;
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_HLT);
	*(volatile uint16_t *)LIN(rm_ud_count) = 0;
	*(volatile uint16_t *)LIN(rm_ud_ip) = 0;
	*(volatile uint16_t *)LIN(rm_ud_cs) = 0;
}

static void check_seg(struct svm_check *c, const char *what,
		      const struct vmcb_seg *s, uint16_t sel, uint16_t attrib)
{
	char name[32];

	snprintf(name, sizeof(name), "%s.sel", what);
	svm_check_eq(c, name, s->selector, sel);
	snprintf(name, sizeof(name), "%s.attrib", what);
	svm_check_eq(c, name, s->attrib, attrib);
}

/* ---- real mode: VMMCALL ------------------------------------------------ */

static void test_rm_vmmcall_intercepted(void)
{
	static const char name[] = "real mode: VMMCALL intercepted: #VMEXIT(VMMCALL)";
	struct svm_check c;

	setup_l2(rm_vmmcall);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, OFF(rm_vmmcall));
	svm_check_eq(&c, "cr0", vcpu.vmcb->save.cr0, CR0_INIT);
	svm_check_eq(&c, "cs.sel", vcpu.vmcb->save.cs.selector, RM_SEG);
	svm_check_eq(&c, "cs.base", vcpu.vmcb->save.cs.base, RM_BASE);
	svm_check_eq(&c, "efer", vcpu.vmcb->save.efer, EFER_SVME);
	svm_check_end(&c);
	svm_check_nrip(name, &vcpu, OFF(rm_vmmcall) + 3);
}

static void test_rm_vmmcall_ud(void)
{
	struct svm_check c;

	setup_l2(rm_vmmcall);
	vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMMCALL);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "real mode: VMMCALL not intercepted: #UD through the IVT");
	svm_check_exit(&c, &vcpu, SVM_EXIT_HLT, 0, 0);
	svm_check_eq(&c, "rip (the #UD handler's HLT)", vcpu.vmcb->save.rip,
		     OFF(rm_ud_hlt));
	svm_check_eq(&c, "cs.sel", vcpu.vmcb->save.cs.selector, RM_SEG);
	svm_check_eq(&c, "#UD count", rm_word(rm_ud_count), 1);
	svm_check_eq(&c, "pushed ip (the VMMCALL)", rm_word(rm_ud_ip), OFF(rm_vmmcall));
	svm_check_eq(&c, "pushed cs", rm_word(rm_ud_cs), RM_SEG);
	svm_check_eq(&c, "pushed flags", rm_word(rm_ud_flags) & 0x0202, 0x0002);
	svm_check_eq(&c, "sp after the 3-word frame", vcpu.vmcb->save.rsp & 0xffff,
		     RM_STACK - 6);
	svm_check_end(&c);
}

static void test_rm_vmmcall_ud_intercepted(void)
{
	static const char name[] =
		"real mode: VMMCALL not intercepted, #UD intercepted: #VMEXIT(EXCP 6)";
	struct svm_check c;

	setup_l2(rm_vmmcall);
	vmcb_clr_intercept(vcpu.vmcb, INTERCEPT_VMMCALL);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_EXCEPTION(UD_VECTOR));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_EXCP(UD_VECTOR), 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, OFF(rm_vmmcall));
	svm_check_eq(&c, "#UD handler runs", rm_word(rm_ud_count), 0);
	svm_check_eq(&c, "sp", vcpu.vmcb->save.rsp & 0xffff, RM_STACK);
	svm_check_end(&c);
}

/* ---- real mode -> protected mode -------------------------------------- */

static void test_pm16(void)
{
	static const char name[] = "real mode -> 16-bit protected mode: VMMCALL exits";
	struct svm_check c;

	setup_l2(rm_to_pm16);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, name);
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, OFF(pm16_vmmcall));
	svm_check_eq(&c, "cr0", vcpu.vmcb->save.cr0, CR0_INIT | CR0_PE);
	check_seg(&c, "cs", &vcpu.vmcb->save.cs, 0x08, 0x09b);
	svm_check_eq(&c, "cs.base", vcpu.vmcb->save.cs.base, RM_BASE);
	svm_check_eq(&c, "cs.limit", vcpu.vmcb->save.cs.limit, 0xffff);
	check_seg(&c, "ds", &vcpu.vmcb->save.ds, 0x10, 0x093);
	svm_check_eq(&c, "gdtr.base", vcpu.vmcb->save.gdtr.base, LIN(rm_gdt));
	svm_check_eq(&c, "gdtr.limit", vcpu.vmcb->save.gdtr.limit, 5 * 8 - 1);
	svm_check_eq(&c, "cpl", vcpu.vmcb->save.cpl, 0);
	svm_check_end(&c);
	svm_check_nrip(name, &vcpu, OFF(pm16_vmmcall) + 3);
}

/* EBX = CR3 and ECX = CR4 for the paging step of rm_to_pm32. */
static void setup_pm32(uint64_t cr3, uint64_t cr4)
{
	setup_l2(rm_to_pm32);
	vcpu.regs.rbx = cr3;
	vcpu.regs.rcx = cr4;
}

static void check_pm32(struct svm_check *c, uint64_t cr3, uint64_t cr4)
{
	const struct vmcb_save *s = &vcpu.vmcb->save;

	svm_check_exit(c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(c, "rip", s->rip, LIN(pm32_vmmcall));
	svm_check_eq(c, "cr0", s->cr0, CR0_INIT | CR0_PE | CR0_PG);
	svm_check_eq(c, "cr3", s->cr3, cr3);
	svm_check_eq(c, "cr4", s->cr4, cr4);
	svm_check_eq(c, "efer (no LMA)", s->efer, EFER_SVME);
	check_seg(c, "cs", &s->cs, 0x18, 0xc9b);
	svm_check_eq(c, "cs.base", s->cs.base, 0);
	svm_check_eq(c, "cs.limit", s->cs.limit, 0xffffffff);
	check_seg(c, "ss", &s->ss, 0x20, 0xc93);
	svm_check_eq(c, "esp", s->rsp, RM_BASE + RM_STACK);
}

static void test_pm32(bool pae)
{
	uint64_t cr3 = pae ? PDPT_PAE : PD32, cr4 = pae ? CR4_PAE : 0;
	struct svm_check c;
	const char *name = pae
		? "real mode -> 32-bit protected mode -> PAE paging: VMMCALL exits"
		: "real mode -> 32-bit protected mode -> 32-bit paging: VMMCALL exits";

	setup_pm32(cr3, cr4);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, name);
	check_pm32(&c, cr3, cr4);
	svm_check_end(&c);
	svm_check_nrip(name, &vcpu, LIN(pm32_vmmcall) + 3);
}

/* ---- CR0 write intercepts on the way ---------------------------------- */

/* An intercepted MOV CR0, EAX at rip: the exit, nothing written yet. */
static void check_cr0_exit(struct svm_check *c, uint64_t code, uint64_t rip,
			   uint64_t cr0)
{
	svm_check_exit(c, &vcpu, code, vcpu.vmcb->control.exit_info_1, 0);
	if (svm_has(SVM_FEATURE_DECODE_ASSISTS))
		svm_check_eq(c, "exitinfo1 (MOV, EAX)", vcpu.vmcb->control.exit_info_1,
			     CRDR_INFO1_MOV | GPR_EAX);
	svm_check_eq(c, "rip", vcpu.vmcb->save.rip, rip);
	svm_check_eq(c, "cr0 unchanged", vcpu.vmcb->save.cr0, cr0);
}

/* L1 emulates the intercepted MOV CR0, EAX (3 bytes) and resumes L2. */
static void emulate_mov_cr0(void)
{
	vcpu.vmcb->save.cr0 = vcpu.vmcb->save.rax;
	svm_skip(&vcpu, 3);
	svm_vmrun(&vcpu);
}

static void test_cr0_write_pe(bool selective_only)
{
	uint64_t code = selective_only ? SVM_EXIT_CR0_SEL_WRITE : SVM_EXIT_CR_WRITE(0);
	struct svm_check c;

	setup_l2(rm_to_pm16);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CR0_SEL_WRITE);
	if (!selective_only)
		vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CR_WRITE(0));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, selective_only
		? "real mode: MOV CR0 setting PE, selective intercept: #VMEXIT(CR0_SEL_WRITE)"
		: "real mode: MOV CR0 setting PE, CR0 write intercept: #VMEXIT(CR0 write)");
	check_cr0_exit(&c, code, OFF(rm_pm16_wr_cr0), CR0_INIT);
	svm_check_eq(&c, "cs.sel", vcpu.vmcb->save.cs.selector, RM_SEG);
	svm_check_end(&c);

	emulate_mov_cr0();
	svm_check_begin(&c, selective_only
		? "16-bit protected mode after L1 emulated the PE write (selective)"
		: "16-bit protected mode after L1 emulated the PE write");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, OFF(pm16_vmmcall));
	svm_check_eq(&c, "cr0", vcpu.vmcb->save.cr0, CR0_INIT | CR0_PE);
	check_seg(&c, "cs", &vcpu.vmcb->save.cs, 0x08, 0x09b);
	svm_check_end(&c);
}

/* Both the PE and the PG write exit; L1 emulates each; PAE paging. */
static void test_cr0_write_pe_pg(void)
{
	struct svm_check c;

	setup_pm32(PDPT_PAE, CR4_PAE);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CR_WRITE(0));
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "real mode -> PAE paging, CR0 writes intercepted: PE write exits");
	check_cr0_exit(&c, SVM_EXIT_CR_WRITE(0), OFF(rm_pm32_wr_cr0), CR0_INIT);
	svm_check_end(&c);

	emulate_mov_cr0();
	svm_check_begin(&c, "real mode -> PAE paging, CR0 writes intercepted: PG write exits in 32-bit PM");
	check_cr0_exit(&c, SVM_EXIT_CR_WRITE(0), LIN(pm32_wr_cr0), CR0_INIT | CR0_PE);
	check_seg(&c, "cs", &vcpu.vmcb->save.cs, 0x18, 0xc9b);
	svm_check_eq(&c, "cr3", vcpu.vmcb->save.cr3, PDPT_PAE);
	svm_check_eq(&c, "cr4", vcpu.vmcb->save.cr4, CR4_PAE);
	svm_check_end(&c);

	emulate_mov_cr0();
	svm_check_begin(&c, "real mode -> PAE paging, CR0 writes intercepted: VMMCALL after L1 emulated both");
	check_pm32(&c, PDPT_PAE, CR4_PAE);
	svm_check_end(&c);
}

static void test_lmsw_pe(void)
{
	struct svm_check c;

	setup_l2(rm_lmsw);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CR0_SEL_WRITE);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "real mode: LMSW setting PE, selective intercept: #VMEXIT(CR0_SEL_WRITE)");
	svm_check_exit(&c, &vcpu, SVM_EXIT_CR0_SEL_WRITE, vcpu.vmcb->control.exit_info_1, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, OFF(rm_lmsw_insn));
	svm_check_eq(&c, "cr0 unchanged", vcpu.vmcb->save.cr0, CR0_INIT);
	svm_check_end(&c);
}

static void test_cr0_ts_selective(void)
{
	struct svm_check c;

	setup_l2(rm_cr0_ts);
	vmcb_set_intercept(vcpu.vmcb, INTERCEPT_CR0_SEL_WRITE);
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "real mode: MOV CR0 changing TS only, selective intercept: no exit");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "rip", vcpu.vmcb->save.rip, OFF(rm_ts_vmmcall));
	svm_check_eq(&c, "cr0", vcpu.vmcb->save.cr0, CR0_INIT | CR0_TS);
	svm_check_end(&c);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	setup_low_memory();

	test_rm_vmmcall_intercepted();
	test_rm_vmmcall_ud();
	test_rm_vmmcall_ud_intercepted();
	test_pm16();
	test_pm32(false);
	test_pm32(true);
	test_cr0_write_pe(false);
	test_cr0_write_pe(true);
	test_cr0_write_pe_pg();
	test_lmsw_pe();
	test_cr0_ts_selective();
	return report_summary();
}
