/* SVM helpers for L1 payloads: enabling, VMCB setup, VMRUN, maps, NPT. */
#include "svm.h"

#define MSR_PAT 0x277
#define GIB (1ull << 30)
#define NPT_FLAGS (PTE_P | PTE_W | PTE_U)

static uint64_t hsave_pa;
static uint8_t *iopm, *msrpm;
static pte_t *npt_pml4;

/* ---- availability and enabling ----------------------------------------- */

bool svm_supported(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000u, 0, &a, &b, &c, &d);
	if (a < 0x80000001u)
		return false;
	cpuid(0x80000001u, 0, &a, &b, &c, &d);
	return (c & CPUID_EXT1_ECX_SVM) != 0;
}

uint32_t svm_features(void)
{
	uint32_t a, b, c, d;

	if (!svm_supported())
		return 0;
	cpuid(0x80000000u, 0, &a, &b, &c, &d);
	if (a < CPUID_SVM_LEAF)
		return 0;
	cpuid(CPUID_SVM_LEAF, 0, &a, &b, &c, &d);
	return d;
}

unsigned svm_maxphyaddr(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000u, 0, &a, &b, &c, &d);
	if (a < 0x80000008u)
		return 36;
	cpuid(0x80000008u, 0, &a, &b, &c, &d);
	return a & 0xff;
}

void svm_enable(void)
{
	if (!hsave_pa)
		hsave_pa = (uint64_t)alloc_page();
	if (!iopm)
		iopm = alloc_pages(IOPM_SIZE / PAGE_SIZE);
	if (!msrpm)
		msrpm = alloc_pages(MSRPM_SIZE / PAGE_SIZE);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, hsave_pa);
}

void svm_disable(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_SVME);
}

uint64_t svm_hsave_pa(void)
{
	return hsave_pa;
}

/* ---- building L2 ------------------------------------------------------- */

static uint64_t gdt_base(void)
{
	struct desc_ptr p;

	sgdt(&p);
	return p.base;
}

void svm_seg_from_gdt(struct vmcb_seg *s, uint16_t sel)
{
	const uint64_t *gdt = (const uint64_t *)gdt_base();
	uint64_t d, limit;

	memset(s, 0, sizeof(*s));
	s->selector = sel;
	if ((sel & ~3u) == 0)
		return;
	d = gdt[sel >> 3];
	limit = (d & 0xffff) | ((d >> 32) & 0xf0000);
	if (d & (1ull << 55))   /* G: 4 KiB granularity */
		limit = (limit << 12) | 0xfff;
	s->limit = (uint32_t)limit;
	s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	if (!(d & (1ull << 44)))        /* system descriptor: 16 bytes */
		s->base |= gdt[(sel >> 3) + 1] << 32;
	s->attrib = vmcb_attrib_from_desc(d);
}

static uint16_t read_sel(int which)
{
	uint16_t s = 0;

	switch (which) {
	case 0: asm volatile("mov %%es, %0" : "=r"(s)); break;
	case 1: asm volatile("mov %%ds, %0" : "=r"(s)); break;
	case 2: asm volatile("mov %%fs, %0" : "=r"(s)); break;
	case 3: asm volatile("mov %%gs, %0" : "=r"(s)); break;
	case 4: asm volatile("sldt %0" : "=r"(s)); break;
	}
	return s;
}

/* The state VMRUN loads, plus what VMLOAD would, copied from L1 itself. */
static void copy_l1_state(struct vmcb_save *s)
{
	struct desc_ptr p;

	svm_seg_from_gdt(&s->cs, read_cs());
	svm_seg_from_gdt(&s->ss, read_ss());
	svm_seg_from_gdt(&s->es, read_sel(0));
	svm_seg_from_gdt(&s->ds, read_sel(1));
	svm_seg_from_gdt(&s->fs, read_sel(2));
	svm_seg_from_gdt(&s->gs, read_sel(3));
	s->fs.base = rdmsr(MSR_FS_BASE);
	s->gs.base = rdmsr(MSR_GS_BASE);
	svm_seg_from_gdt(&s->ldtr, read_sel(4));
	svm_seg_from_gdt(&s->tr, str());
	sgdt(&p);
	s->gdtr.limit = p.limit;
	s->gdtr.base = p.base;
	sidt(&p);
	s->idtr.limit = p.limit;
	s->idtr.base = p.base;
	s->cr0 = read_cr0();
	s->cr3 = read_cr3();
	s->cr4 = read_cr4();
	s->efer = rdmsr(MSR_EFER);
	s->dr6 = 0xffff0ff0;
	s->dr7 = 0x400;
	s->rflags = 0x2;
	s->cpl = 0;
	s->g_pat = rdmsr(MSR_PAT);
	s->star = rdmsr(MSR_STAR);
	s->lstar = rdmsr(MSR_LSTAR);
	s->cstar = rdmsr(MSR_CSTAR);
	s->sfmask = rdmsr(MSR_SFMASK);
	s->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
	s->sysenter_cs = rdmsr(MSR_SYSENTER_CS);
	s->sysenter_esp = rdmsr(MSR_SYSENTER_ESP);
	s->sysenter_eip = rdmsr(MSR_SYSENTER_EIP);
}

/* Where an L2 C function returns to: VMMCALL, then UD2 if that fell through. */
extern char svm_l2_return[];
asm(".pushsection .text\n"
    ".global svm_l2_return\n"
    "svm_l2_return:\n\t"
    "vmmcall\n\t"
    "ud2\n"
    ".popsection");

void svm_vcpu_init(struct svm_vcpu *v, void (*fn)(void))
{
	struct vmcb *vmcb;

	if (!v->vmcb) {
		v->vmcb = alloc_page();
		v->code = alloc_page();
		v->stack = alloc_pages(SVM_STACK_SIZE / PAGE_SIZE);
		v->stack_top = (uint64_t)v->stack + SVM_STACK_SIZE;
	}
	if (!iopm)
		svm_enable();
	vmcb = v->vmcb;
	memset(vmcb, 0, sizeof(*vmcb));
	memset(&v->regs, 0, sizeof(v->regs));
	copy_l1_state(&vmcb->save);
	/* without a function, L2 just executes VMMCALL */
	vmcb->save.rip = fn ? (uint64_t)fn : (uint64_t)svm_l2_return;
	/* 16-byte alignment at function entry, as after a CALL */
	vmcb->save.rsp = v->stack_top - 8;
	*(uint64_t *)vmcb->save.rsp = (uint64_t)svm_l2_return;

	vmcb_set_intercept(vmcb, INTERCEPT_VMRUN);
	vmcb_set_intercept(vmcb, INTERCEPT_VMMCALL);
	vmcb_set_intercept(vmcb, INTERCEPT_SHUTDOWN);
	vmcb->control.asid = 1;
	vmcb->control.tlb_ctl = TLB_CONTROL_FLUSH_ALL;
	vmcb->control.iopm_base_pa = (uint64_t)iopm;
	vmcb->control.msrpm_base_pa = (uint64_t)msrpm;
}

uint64_t svm_vcpu_set_code(struct svm_vcpu *v, const uint8_t *bytes, size_t len)
{
	static const uint8_t tail[] = { 0x0f, 0x01, 0xd9, 0x0f, 0x0b };

	if (len > SVM_CODE_MAX)
		panic("svm_vcpu_set_code: %zu bytes", len);
	memcpy(v->code, bytes, len);
	memcpy(v->code + len, tail, sizeof(tail));
	v->vmcb->save.rip = (uint64_t)v->code;
	return (uint64_t)v->code;
}

void svm_vcpu_set_user(struct svm_vcpu *v)
{
	struct vmcb_save *s = &v->vmcb->save;

	svm_seg_from_gdt(&s->cs, USER_CS);
	svm_seg_from_gdt(&s->ss, USER_DS);
	svm_seg_from_gdt(&s->ds, USER_DS);
	svm_seg_from_gdt(&s->es, USER_DS);
	s->cpl = 3;
}

/* ---- running ----------------------------------------------------------- */

/*
 * svm_vmrun_raw(vmcb_pa = %rdi, regs = %rsi).  The regs pointer stays on the
 * stack across VMRUN: #VMEXIT restores RSP (and RAX = vmcb_pa) from the
 * host-save area, so after it [rsp] is that pointer again.
 * struct svm_gprs offsets: rbx 0, rcx 8, rdx 16, rsi 24, rdi 32, rbp 40,
 * r8..r15 48..104.
 */
asm(".pushsection .text\n"
    ".global svm_vmrun_raw\n"
    "svm_vmrun_raw:\n\t"
    "push %rbp\n\t push %rbx\n\t push %r12\n\t push %r13\n\t push %r14\n\t push %r15\n\t"
    "push %rsi\n\t"
    "mov %rdi, %rax\n\t"
    "mov 0(%rsi), %rbx\n\t mov 8(%rsi), %rcx\n\t mov 16(%rsi), %rdx\n\t"
    "mov 32(%rsi), %rdi\n\t mov 40(%rsi), %rbp\n\t"
    "mov 48(%rsi), %r8\n\t mov 56(%rsi), %r9\n\t mov 64(%rsi), %r10\n\t"
    "mov 72(%rsi), %r11\n\t mov 80(%rsi), %r12\n\t mov 88(%rsi), %r13\n\t"
    "mov 96(%rsi), %r14\n\t mov 104(%rsi), %r15\n\t"
    "mov 24(%rsi), %rsi\n\t"
    "vmrun %rax\n\t"
    "xchg %rsi, (%rsp)\n\t"
    "mov %rbx, 0(%rsi)\n\t mov %rcx, 8(%rsi)\n\t mov %rdx, 16(%rsi)\n\t"
    "mov %rdi, 32(%rsi)\n\t mov %rbp, 40(%rsi)\n\t"
    "mov %r8, 48(%rsi)\n\t mov %r9, 56(%rsi)\n\t mov %r10, 64(%rsi)\n\t"
    "mov %r11, 72(%rsi)\n\t mov %r12, 80(%rsi)\n\t mov %r13, 88(%rsi)\n\t"
    "mov %r14, 96(%rsi)\n\t mov %r15, 104(%rsi)\n\t"
    "pop %rax\n\t mov %rax, 24(%rsi)\n\t"
    "pop %r15\n\t pop %r14\n\t pop %r13\n\t pop %r12\n\t pop %rbx\n\t pop %rbp\n\t"
    "ret\n"
    ".popsection");

_Static_assert(offsetof(struct svm_gprs, rsi) == 24, "svm_gprs.rsi");
_Static_assert(offsetof(struct svm_gprs, r8) == 48, "svm_gprs.r8");
_Static_assert(offsetof(struct svm_gprs, r15) == 104, "svm_gprs.r15");

uint64_t svm_vmrun(struct svm_vcpu *v)
{
	svm_vmrun_raw((uint64_t)v->vmcb, &v->regs);
	stgi();
	return v->vmcb->control.exit_code;
}

static const char *const exit_names[] = {
	[0x60] = "INTR", "NMI", "SMI", "INIT", "VINTR", "CR0_SEL_WRITE",
	"IDTR_READ", "GDTR_READ", "LDTR_READ", "TR_READ", "IDTR_WRITE",
	"GDTR_WRITE", "LDTR_WRITE", "TR_WRITE", "RDTSC", "RDPMC", "PUSHF",
	"POPF", "CPUID", "RSM", "IRET", "SWINT", "INVD", "PAUSE", "HLT",
	"INVLPG", "INVLPGA", "IOIO", "MSR", "TASK_SWITCH", "FERR_FREEZE",
	"SHUTDOWN", "VMRUN", "VMMCALL", "VMLOAD", "VMSAVE", "STGI", "CLGI",
	"SKINIT", "RDTSCP", "ICEBP", "WBINVD", "MONITOR", "MWAIT",
	"MWAIT_COND", "XSETBV", "RDPRU", "EFER_WRITE_TRAP",
};

const char *svm_exit_name(uint64_t code)
{
	static char buf[24];

	if (code == SVM_EXIT_INVALID)
		return "INVALID";
	if (code == SVM_EXIT_NPF)
		return "NPF";
	if (code < ARRAY_SIZE(exit_names) && exit_names[code])
		return exit_names[code];
	if (code < 0x40)
		snprintf(buf, sizeof(buf), "%s_%s%u", code < 0x20 ? "CR" : "DR",
			 (code & 0x10) ? "WRITE" : "READ", (unsigned)(code & 0xf));
	else if (code < 0x60)
		snprintf(buf, sizeof(buf), "EXCP_%u", (unsigned)(code - 0x40));
	else
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)code);
	return buf;
}

bool svm_expect_exit(const char *name, const struct svm_vcpu *v, uint64_t code,
		     uint64_t info1, uint64_t info2)
{
	const struct vmcb_control *c = &v->vmcb->control;

	if (c->exit_code == code && c->exit_info_1 == info1 && c->exit_info_2 == info2) {
		report_pass(name);
		return true;
	}
	report_fail(name, "exit %s (0x%llx) info1 0x%llx info2 0x%llx, want %s (0x%llx) "
		    "0x%llx 0x%llx", svm_exit_name(c->exit_code),
		    (unsigned long long)c->exit_code, (unsigned long long)c->exit_info_1,
		    (unsigned long long)c->exit_info_2, svm_exit_name(code),
		    (unsigned long long)code, (unsigned long long)info1,
		    (unsigned long long)info2);
	return false;
}

void svm_check_begin(struct svm_check *c, const char *name)
{
	c->name = name;
	c->bad = 0;
	c->len = 0;
	c->msg[0] = 0;
}

static void check_note(struct svm_check *c, const char *text)
{
	int n;

	c->bad++;
	if (c->len >= sizeof(c->msg) - 1)
		return;
	n = snprintf(c->msg + c->len, sizeof(c->msg) - c->len, "%s%s",
		     c->len ? "; " : "", text);
	if (n > 0)
		c->len += (size_t)n;
	if (c->len > sizeof(c->msg) - 1)
		c->len = sizeof(c->msg) - 1;
}

void svm_check_eq(struct svm_check *c, const char *what, uint64_t got, uint64_t want)
{
	char buf[96];

	if (got == want)
		return;
	snprintf(buf, sizeof(buf), "%s 0x%lx want 0x%lx", what, got, want);
	check_note(c, buf);
}

void svm_check_true(struct svm_check *c, const char *what, bool ok)
{
	if (!ok)
		check_note(c, what);
}

void svm_check_exit(struct svm_check *c, const struct svm_vcpu *v, uint64_t code,
		    uint64_t info1, uint64_t info2)
{
	const struct vmcb_control *ctl = &v->vmcb->control;
	char buf[96];

	if (ctl->exit_code != code) {
		snprintf(buf, sizeof(buf), "exit %s (0x%lx) want %s",
			 svm_exit_name(ctl->exit_code), ctl->exit_code,
			 svm_exit_name(code));
		check_note(c, buf);
		return;
	}
	svm_check_eq(c, "exitinfo1", ctl->exit_info_1, info1);
	svm_check_eq(c, "exitinfo2", ctl->exit_info_2, info2);
}

bool svm_check_end(struct svm_check *c)
{
	if (!c->bad) {
		report_pass(c->name);
		return true;
	}
	report_fail(c->name, "%s", c->msg);
	return false;
}

void svm_check_nrip(const char *name, const struct svm_vcpu *v, uint64_t want)
{
	char full[128];

	snprintf(full, sizeof(full), "%s: next_rip", name);
	if (!svm_has(SVM_FEATURE_NRIPS)) {
		report_skip(full, "NRIP save not advertised");
		return;
	}
	report_eq(full, v->vmcb->control.next_rip, want);
}

bool svm_skip_if_unsupported(void)
{
	if (svm_supported())
		return false;
	report_skip("svm", "CPUID 0x80000001 ECX[2] (SVM) is clear");
	return true;
}

/* ---- permission maps --------------------------------------------------- */

uint8_t *svm_iopm(void)
{
	if (!iopm)
		svm_enable();
	return iopm;
}

uint8_t *svm_msrpm(void)
{
	if (!msrpm)
		svm_enable();
	return msrpm;
}

void svm_iopm_set(uint16_t port, bool intercept)
{
	uint8_t *m = svm_iopm();

	if (intercept)
		m[port / 8] |= (uint8_t)(1u << (port % 8));
	else
		m[port / 8] &= (uint8_t)~(1u << (port % 8));
}

void svm_iopm_clear_all(void)
{
	memset(svm_iopm(), 0, IOPM_SIZE);
}

static void msrpm_bit(long bit, bool on)
{
	uint8_t *m = svm_msrpm();

	if (on)
		m[bit / 8] |= (uint8_t)(1u << (bit % 8));
	else
		m[bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

void svm_msrpm_set(uint32_t msr, bool read, bool write)
{
	long bit = msrpm_read_bit(msr);

	if (bit < 0)
		panic("svm_msrpm_set: MSR 0x%x is outside the MSRPM", msr);
	msrpm_bit(bit, read);
	msrpm_bit(bit + 1, write);
}

void svm_msrpm_clear_all(void)
{
	memset(svm_msrpm(), 0, MSRPM_SIZE);
}

/* ---- nested paging ----------------------------------------------------- */

uint64_t svm_npt_root(void)
{
	pte_t *pdpt;

	if (npt_pml4)
		return (uint64_t)npt_pml4;
	npt_pml4 = alloc_page();
	pdpt = alloc_page();
	npt_pml4[0] = (uint64_t)pdpt | NPT_FLAGS;
	for (uint64_t g = 0; g < 4; g++) {
		pte_t *pd = alloc_page();

		pdpt[g] = (uint64_t)pd | NPT_FLAGS;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g * GIB + i * LARGE_PAGE_SIZE) | NPT_FLAGS | PTE_PS;
	}
	return (uint64_t)npt_pml4;
}

void svm_npt_enable(struct svm_vcpu *v)
{
	v->vmcb->control.misc_ctl |= MISC_CTL_NP_ENABLE;
	v->vmcb->control.nested_cr3 = svm_npt_root();
	v->vmcb->save.g_pat = rdmsr(MSR_PAT);
}

pte_t *svm_npt_pde(uint64_t gpa)
{
	pte_t *pdpt, *pd;

	if (gpa >= 4 * GIB)
		panic("svm_npt_pde: gpa 0x%llx outside the NPT", (unsigned long long)gpa);
	svm_npt_root();
	pdpt = (pte_t *)(npt_pml4[0] & PTE_ADDR_MASK);
	pd = (pte_t *)(pdpt[gpa >> 30] & PTE_ADDR_MASK);
	return &pd[(gpa >> 21) & 511];
}

pte_t *svm_npt_pte(uint64_t gpa)
{
	pte_t *pde = svm_npt_pde(gpa), *pt;

	if (*pde & PTE_PS) {
		uint64_t base = *pde & PTE_ADDR_MASK & ~(LARGE_PAGE_SIZE - 1);
		uint64_t flags = *pde & ~PTE_ADDR_MASK & ~PTE_PS;

		pt = alloc_page();
		for (uint64_t i = 0; i < 512; i++)
			pt[i] = (base + i * PAGE_SIZE) | flags;
		*pde = (uint64_t)pt | NPT_FLAGS;
	}
	pt = (pte_t *)(*pde & PTE_ADDR_MASK);
	return &pt[(gpa >> 12) & 511];
}

void svm_npt_set_flags(uint64_t gpa, uint64_t set, uint64_t clear)
{
	pte_t *pte = svm_npt_pte(gpa);

	*pte = (*pte | set) & ~clear;
}

void svm_npt_reset(void)
{
	if (!npt_pml4)
		return;
	for (uint64_t gpa = 0; gpa < 4 * GIB; gpa += LARGE_PAGE_SIZE) {
		pte_t *pde = svm_npt_pde(gpa);

		if (*pde & PTE_PS)
			continue;
		pte_t *pt = (pte_t *)(*pde & PTE_ADDR_MASK);
		for (uint64_t i = 0; i < 512; i++)
			pt[i] = (gpa + i * PAGE_SIZE) | NPT_FLAGS;
	}
}
