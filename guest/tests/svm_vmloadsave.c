/*
 * VMLOAD and VMSAVE (APM vol. 2, 15.5.2): they transfer exactly FS, GS, TR
 * and LDTR including their hidden state, KernelGsBase, STAR, LSTAR, CSTAR,
 * SFMASK and SYSENTER_CS/ESP/EIP between the processor and the VMCB at rAX;
 * VMLOAD canonicalizes the segment bases it loads.  VMRUN and #VMEXIT do not
 * switch that state.
 */
#include "svm.h"

static struct svm_vcpu vcpu;
static struct vmcb *orig, *page_a, *page_b;

/* Byte ranges of struct vmcb that VMLOAD/VMSAVE transfer. */
struct range { size_t off, len; };
#define SAVE_FIELD(f) { offsetof(struct vmcb, save.f), sizeof(((struct vmcb *)0)->save.f) }
static const struct range vmloadsave_state[] = {
	SAVE_FIELD(fs), SAVE_FIELD(gs), SAVE_FIELD(ldtr), SAVE_FIELD(tr),
	SAVE_FIELD(kernel_gs_base), SAVE_FIELD(star), SAVE_FIELD(lstar),
	SAVE_FIELD(cstar), SAVE_FIELD(sfmask), SAVE_FIELD(sysenter_cs),
	SAVE_FIELD(sysenter_esp), SAVE_FIELD(sysenter_eip),
};

static bool in_state(size_t off)
{
	for (size_t i = 0; i < ARRAY_SIZE(vmloadsave_state); i++)
		if (off - vmloadsave_state[i].off < vmloadsave_state[i].len)
			return true;
	return false;
}

/* VMSAVE into a page full of 0xA5: only the state's bytes may change. */
static void test_vmsave_writes_exactly(void)
{
	struct svm_check c;
	const uint8_t *p = (const uint8_t *)page_a;
	size_t stray = 0, first = 0;

	memset(page_a, 0xa5, PAGE_SIZE);
	vmsave((uint64_t)page_a);
	for (size_t off = 0; off < PAGE_SIZE; off++) {
		if (!in_state(off) && p[off] != 0xa5 && !stray++)
			first = off;
	}
	svm_check_begin(&c, "VMSAVE writes only FS/GS/TR/LDTR, KernelGsBase, STAR..SFMASK, SYSENTER");
	svm_check_eq(&c, "bytes written outside the state", stray, 0);
	if (stray)
		svm_check_eq(&c, "first such offset", first, 0);
	svm_check_eq(&c, "star", page_a->save.star, rdmsr(MSR_STAR));
	svm_check_eq(&c, "lstar", page_a->save.lstar, rdmsr(MSR_LSTAR));
	svm_check_eq(&c, "cstar", page_a->save.cstar, rdmsr(MSR_CSTAR));
	svm_check_eq(&c, "sfmask", page_a->save.sfmask, rdmsr(MSR_SFMASK));
	svm_check_eq(&c, "kernel_gs_base", page_a->save.kernel_gs_base, rdmsr(MSR_KERNEL_GS_BASE));
	svm_check_eq(&c, "sysenter_cs", page_a->save.sysenter_cs, rdmsr(MSR_SYSENTER_CS));
	svm_check_eq(&c, "sysenter_esp", page_a->save.sysenter_esp, rdmsr(MSR_SYSENTER_ESP));
	svm_check_eq(&c, "sysenter_eip", page_a->save.sysenter_eip, rdmsr(MSR_SYSENTER_EIP));
	svm_check_eq(&c, "fs.base", page_a->save.fs.base, rdmsr(MSR_FS_BASE));
	svm_check_eq(&c, "gs.base", page_a->save.gs.base, rdmsr(MSR_GS_BASE));
	svm_check_eq(&c, "tr.selector", page_a->save.tr.selector, str());
	svm_check_eq(&c, "tr.base", page_a->save.tr.base, (uint64_t)&tss);
	svm_check_end(&c);
}

/* New values for every field, and garbage in VMRUN's state. */
static void prepare_load_image(struct vmcb *v)
{
	memcpy(v, orig, PAGE_SIZE);
	v->save.star = 0x0023001000000000ull;
	v->save.lstar = 0xffffffff81000000ull;
	v->save.cstar = 0xffffffff81000100ull;
	v->save.sfmask = 0x47700;
	v->save.kernel_gs_base = 0x0000123456789000ull;
	v->save.sysenter_cs = 0x10;
	v->save.sysenter_esp = 0x0000700000001000ull;
	v->save.sysenter_eip = 0x0000700000002000ull;
	v->save.fs.base = 0x0000000012340000ull;
	v->save.gs.base = 0x0000000056780000ull;
	v->save.ldtr.base = 0x0000000000abc000ull;
	v->save.ldtr.limit = 0xfff;
	v->save.tr.limit = 0x80;
	/* not VMLOAD state: must be ignored */
	v->save.cr0 = 0;
	v->save.cr3 = 0x1000;
	v->save.rsp = v->save.rip = v->save.rax = 0xdead;
	v->save.idtr.limit = 0;
	v->save.efer = 0;
}

static void test_vmload_loads_exactly(void)
{
	uint64_t cr0 = read_cr0(), cr3 = read_cr3();
	struct desc_ptr idtr_before, idtr_after;
	struct svm_check c;

	prepare_load_image(page_a);
	sidt(&idtr_before);
	vmload((uint64_t)page_a);
	memset(page_b, 0, PAGE_SIZE);
	vmsave((uint64_t)page_b);
	uint64_t fs = rdmsr(MSR_FS_BASE), gs = rdmsr(MSR_GS_BASE), star = rdmsr(MSR_STAR);
	uint64_t kgs = rdmsr(MSR_KERNEL_GS_BASE), sep = rdmsr(MSR_SYSENTER_EIP);
	vmload((uint64_t)orig);
	sidt(&idtr_after);

	svm_check_begin(&c, "VMLOAD loads exactly the VMLOAD/VMSAVE state");
	for (size_t i = 0; i < ARRAY_SIZE(vmloadsave_state); i++) {
		const struct range *r = &vmloadsave_state[i];
		char what[32];

		snprintf(what, sizeof(what), "field at 0x%zx", r->off);
		svm_check_true(&c, what, !memcmp((uint8_t *)page_a + r->off,
						 (uint8_t *)page_b + r->off, r->len));
	}
	svm_check_eq(&c, "FS_BASE", fs, page_a->save.fs.base);
	svm_check_eq(&c, "GS_BASE", gs, page_a->save.gs.base);
	svm_check_eq(&c, "STAR", star, page_a->save.star);
	svm_check_eq(&c, "KERNEL_GS_BASE", kgs, page_a->save.kernel_gs_base);
	svm_check_eq(&c, "SYSENTER_EIP", sep, page_a->save.sysenter_eip);
	svm_check_eq(&c, "cr0 untouched", read_cr0(), cr0);
	svm_check_eq(&c, "cr3 untouched", read_cr3(), cr3);
	svm_check_true(&c, "idtr untouched", !memcmp(&idtr_before, &idtr_after, sizeof(idtr_after)));
	svm_check_eq(&c, "restored STAR", rdmsr(MSR_STAR), orig->save.star);
	svm_check_end(&c);
}

/*
 * VMLOAD sign-extends the bases it loads from bit (width - 1), width being
 * the implemented linear-address size (CPUID 0x80000008 EAX[15:8]).
 */
static uint64_t canonical(uint64_t v, unsigned width)
{
	return (uint64_t)((int64_t)(v << (64 - width)) >> (64 - width));
}

static void test_canonicalization(void)
{
	const uint64_t fs_in = 0x0100800000001000ull, kgs_in = 0x0100900000002000ull;
	uint32_t a, b, c_, d;
	unsigned width = 48;
	struct svm_check c;

	cpuid(0x80000000u, 0, &a, &b, &c_, &d);
	if (a >= 0x80000008u) {
		cpuid(0x80000008u, 0, &a, &b, &c_, &d);
		width = (a >> 8) & 0xff;
	}
	memcpy(page_a, orig, PAGE_SIZE);
	page_a->save.fs.base = fs_in;
	page_a->save.kernel_gs_base = kgs_in;
	vmload((uint64_t)page_a);
	uint64_t fs = rdmsr(MSR_FS_BASE), kgs = rdmsr(MSR_KERNEL_GS_BASE);
	vmload((uint64_t)orig);
	svm_check_begin(&c, "VMLOAD canonicalizes segment bases");
	svm_check_eq(&c, "fs.base", fs, canonical(fs_in, width));
	svm_check_eq(&c, "kernel_gs_base", kgs, canonical(kgs_in, width));
	svm_check_end(&c);
}

/* VMRUN/#VMEXIT leave STAR alone: L2 sees L1's, L2's write reaches L1. */
static volatile uint64_t l2_star;

static void l2_star_rw(void)
{
	l2_star = rdmsr(MSR_STAR);
	wrmsr(MSR_STAR, 0x0033002000000000ull);
}

static void test_vmrun_does_not_switch(void)
{
	uint64_t l1_star = rdmsr(MSR_STAR);
	struct svm_check c;

	svm_vcpu_init(&vcpu, l2_star_rw);
	vcpu.vmcb->save.star = 0x0011000800000000ull;
	svm_vmrun(&vcpu);
	svm_check_begin(&c, "VMRUN and #VMEXIT do not load or save STAR");
	svm_check_exit(&c, &vcpu, SVM_EXIT_VMMCALL, 0, 0);
	svm_check_eq(&c, "STAR seen by L2", l2_star, l1_star);
	svm_check_eq(&c, "L1 STAR after L2's write", rdmsr(MSR_STAR), 0x0033002000000000ull);
	svm_check_eq(&c, "VMCB star", vcpu.vmcb->save.star, 0x0011000800000000ull);
	svm_check_end(&c);
	wrmsr(MSR_STAR, l1_star);
}

int main(void)
{
	if (svm_skip_if_unsupported())
		return report_summary();
	svm_enable();
	orig = alloc_page();
	page_a = alloc_page();
	page_b = alloc_page();
	vmsave((uint64_t)orig);

	test_vmsave_writes_exactly();
	test_vmload_loads_exactly();
	test_canonicalization();
	test_vmrun_does_not_switch();
	vmload((uint64_t)orig);
	return report_summary();
}
