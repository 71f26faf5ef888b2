/*
 * svm.h - guest-side helpers for payloads that act as an L1 hypervisor.
 *
 * A payload enables SVM (svm_enable), prepares a vCPU for an L2 guest
 * (svm_vcpu_init), chooses intercepts in its VMCB and runs it (svm_vmrun).
 * L2 starts in long mode at CPL 0 with L1's own CR0/CR3/CR4/EFER, segments,
 * GDT and IDT, ASID 1, on its own stack; it runs either a C function or a
 * few code bytes, and ends with VMMCALL (intercepted by default).
 *
 * The VMCB layout and every SVM constant come from src/svm/vmcb.h, shared
 * with the emulator.
 */
#ifndef GUEST_SVM_H
#define GUEST_SVM_H

#include "libguest.h"
#include "vmcb.h"

/*
 * L2's general-purpose registers other than RAX and RSP, which VMRUN and
 * #VMEXIT keep in the VMCB (save.rax, save.rsp).  svm_vmrun loads these
 * before VMRUN and stores L2's values back after #VMEXIT.
 */
struct svm_gprs {
	uint64_t rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

struct svm_vcpu {
	struct vmcb *vmcb;      /* page-aligned, physical = virtual */
	struct svm_gprs regs;
	uint8_t *code;          /* one page for svm_vcpu_set_code() */
	uint8_t *stack;         /* L2 stack pages */
	uint64_t stack_top;
};

/* Bytes of the code page that svm_vcpu_set_code() accepts. */
#define SVM_CODE_MAX 3072
/* Size of the L2 stack allocated by svm_vcpu_init(). */
#define SVM_STACK_SIZE (4 * PAGE_SIZE)

/* ---- availability and enabling ----------------------------------------- */

/* CPUID 0x80000001 ECX bit 2. */
bool svm_supported(void);
/* CPUID 0x8000000A EDX (0 without SVM). */
uint32_t svm_features(void);
static inline bool svm_has(uint32_t feature) { return (svm_features() & feature) != 0; }
/* CPUID 0x80000008 EAX[7:0]: physical address width. */
unsigned svm_maxphyaddr(void);

/*
 * Sets EFER.SVME and VM_HSAVE_PA (a page-aligned host-save area allocated on
 * first use), and allocates the shared, zeroed IOPM and MSRPM.
 */
void svm_enable(void);
/* Clears EFER.SVME. */
void svm_disable(void);
uint64_t svm_hsave_pa(void);

/* ---- building L2 ------------------------------------------------------- */

/*
 * Allocates (on first use) and fills v's VMCB so that L2 calls fn(void) on
 * its own stack at CPL 0 in L1's mode and address space.  When fn returns
 * (or at once if fn is NULL), L2 executes VMMCALL (then UD2).  Intercepts: VMRUN, VMMCALL, SHUTDOWN; the
 * IOPM/MSRPM bases point at the shared maps (used only if IOIO_PROT or
 * MSR_PROT is set).  ASID 1, TLB_CONTROL flush-all, L2 GPRs zero.
 */
void svm_vcpu_init(struct svm_vcpu *v, void (*fn)(void));

/*
 * Copies len code bytes to v's code page, followed by VMMCALL and UD2, and
 * points L2's RIP at them.  Returns the address of the first byte.
 */
uint64_t svm_vcpu_set_code(struct svm_vcpu *v, const uint8_t *bytes, size_t len);

/* Makes L2 start at CPL 3 (USER_CS / USER_DS, CPL field 3). */
void svm_vcpu_set_user(struct svm_vcpu *v);

/* Fills a VMCB segment from a selector of L1's GDT (null selector: zero). */
void svm_seg_from_gdt(struct vmcb_seg *s, uint16_t sel);

/* ---- running ----------------------------------------------------------- */

/*
 * VMRUN with RAX = vmcb_pa and L2's GPRs from *regs; on #VMEXIT stores L2's
 * GPRs back into *regs and returns.  L1's callee-saved registers are
 * preserved; GIF is left as #VMEXIT leaves it (clear).
 */
void svm_vmrun_raw(uint64_t vmcb_pa, struct svm_gprs *regs);

/* svm_vmrun_raw on v, then STGI.  Returns the exit code. */
uint64_t svm_vmrun(struct svm_vcpu *v);

/* Skips an instruction of len bytes in L2 (save.rip += len). */
static inline void svm_skip(struct svm_vcpu *v, unsigned len) { v->vmcb->save.rip += len; }

/* A short name for an exit code ("VMMCALL", "EXCP 14", "INVALID"...). */
const char *svm_exit_name(uint64_t exit_code);

/*
 * Reports one line: PASS if v's exit code, EXITINFO1 and EXITINFO2 are the
 * wanted ones, FAIL with all three got/want otherwise.  Returns the result.
 */
bool svm_expect_exit(const char *name, const struct svm_vcpu *v, uint64_t code,
		     uint64_t info1, uint64_t info2);

/*
 * Several field checks reported as one line: svm_check_begin, any number of
 * svm_check_eq (each mismatch is appended to the details), svm_check_end
 * prints PASS: name or FAIL: name (details) and returns the result.
 */
struct svm_check {
	const char *name;
	int bad;
	size_t len;
	char msg[320];
};
void svm_check_begin(struct svm_check *c, const char *name);
void svm_check_eq(struct svm_check *c, const char *what, uint64_t got, uint64_t want);
void svm_check_true(struct svm_check *c, const char *what, bool ok);
/* Exit code, EXITINFO1 and EXITINFO2 of v. */
void svm_check_exit(struct svm_check *c, const struct svm_vcpu *v, uint64_t code,
		    uint64_t info1, uint64_t info2);
bool svm_check_end(struct svm_check *c);

/*
 * Reports "<name>: next_rip" comparing the VMCB's next_rip with want, or SKIP
 * when CPUID 0x8000000A EDX does not advertise NRIP save.
 */
void svm_check_nrip(const char *name, const struct svm_vcpu *v, uint64_t want);

/* SKIPs the payload (and returns true) when SVM is unavailable. */
bool svm_skip_if_unsupported(void);

/* ---- permission maps --------------------------------------------------- */

uint8_t *svm_iopm(void);        /* IOPM_SIZE bytes */
uint8_t *svm_msrpm(void);       /* MSRPM_SIZE bytes */
void svm_iopm_set(uint16_t port, bool intercept);
void svm_iopm_clear_all(void);
/* Sets the read and write bits of an MSR inside the three MSRPM ranges. */
void svm_msrpm_set(uint32_t msr, bool read, bool write);
void svm_msrpm_clear_all(void);

/* ---- nested paging ----------------------------------------------------- */

/*
 * Builds (once) an identity nested page table for guest-physical 0..4 GiB
 * with 2 MiB pages, P|W|U at every level, and returns its root (nCR3).
 */
uint64_t svm_npt_root(void);
/* Turns NP on in v's VMCB with nCR3 = svm_npt_root() and gPAT = L1's PAT. */
void svm_npt_enable(struct svm_vcpu *v);
/* NPT entry mapping gpa: the 2 MiB PDE, or the 4 KiB PTE (splitting the PDE). */
pte_t *svm_npt_pde(uint64_t gpa);
pte_t *svm_npt_pte(uint64_t gpa);
/* Sets/clears flags of the 4 KiB NPT entry of gpa (splits its 2 MiB page). */
void svm_npt_set_flags(uint64_t gpa, uint64_t set, uint64_t clear);
/* Undoes every svm_npt_set_flags (4 KiB entries back to identity, P|W|U). */
void svm_npt_reset(void);

/* ---- SVM instructions -------------------------------------------------- */

static inline void vmload(uint64_t pa) { asm volatile("vmload %%rax" :: "a"(pa) : "memory"); }
static inline void vmsave(uint64_t pa) { asm volatile("vmsave %%rax" :: "a"(pa) : "memory"); }
static inline void stgi(void) { asm volatile("stgi" ::: "memory"); }
static inline void clgi(void) { asm volatile("clgi" ::: "memory"); }
static inline void vmmcall(void) { asm volatile("vmmcall" ::: "memory"); }
static inline void invlpga(uint64_t va, uint32_t asid)
{
	asm volatile("invlpga %%rax, %%ecx" :: "a"(va), "c"(asid) : "memory");
}

#endif /* GUEST_SVM_H */
