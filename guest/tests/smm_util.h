/*
 * System-management mode for the SMM payloads (x86_smm, svm_smi): the
 * AMD64 SMM state-save area's offsets (APM vol. 2, table 10-2, from
 * SMBASE + 0xFE00), and a small SMM handler installed at SMBASE + 0x8000.
 *
 * The handler is 16-bit code that addresses its own data through CS (whose
 * base is SMBASE), so the same bytes work at any SMBASE:
 *   CS:0x8100  count      incremented on every entry
 *   CS:0x8104  relocate   if non-zero: written to the save area's SMBASE
 *                         field (then cleared), so RSM relocates SMBASE
 *   CS:0x8108  resend     if non-zero (then cleared): send a self-SMI from
 *                         inside SMM, which must wait for RSM
 * and then executes RSM.
 */
#ifndef SMM_UTIL_H
#define SMM_UTIL_H

#include "apic_util.h"
#include "svm.h"

#define MSR_SMM_BASE     0xc0010111u
#define SMM_DEFAULT_BASE 0x30000u
#define ICR_SMI          (2u << 8)

/* The state-save area, offsets from SMBASE. */
#define SMM_SAVE(off)    (0xfe00u + (off))
#define SS_ES            SMM_SAVE(0x000)   /* selector, attributes, limit, base */
#define SS_CS            SMM_SAVE(0x010)
#define SS_SS            SMM_SAVE(0x020)
#define SS_DS            SMM_SAVE(0x030)
#define SS_GDTR_LIMIT    SMM_SAVE(0x064)
#define SS_GDTR_BASE     SMM_SAVE(0x068)
#define SS_IDTR_LIMIT    SMM_SAVE(0x084)
#define SS_IDTR_BASE     SMM_SAVE(0x088)
#define SS_TR            SMM_SAVE(0x090)
#define SS_EFER          SMM_SAVE(0x0d0)
#define SS_REVISION      SMM_SAVE(0x0fc)
#define SS_SMBASE        SMM_SAVE(0x100)
#define SS_CR4           SMM_SAVE(0x148)
#define SS_CR3           SMM_SAVE(0x150)
#define SS_CR0           SMM_SAVE(0x158)
#define SS_DR7           SMM_SAVE(0x160)
#define SS_RFLAGS        SMM_SAVE(0x170)
#define SS_RIP           SMM_SAVE(0x178)
#define SS_GPR(n)        SMM_SAVE(0x1f8 - 8 * (n))  /* RAX=0 ... R15=15 */

#define SMM_COUNT        0x8100u
#define SMM_RELOCATE     0x8104u
#define SMM_RESEND       0x8108u

extern const uint8_t smm_handler_start[], smm_handler_end[];
asm(".pushsection .rodata\n"
    "smm_handler_start:\n"
    ".code16\n"
    "	incl %cs:0x8100\n"
    "	cmpl $0, %cs:0x8108\n"
    "	je 1f\n"
    "	movl $0, %cs:0x8108\n"
    "	movl $0xfee00300, %ebx\n"
    "	movl $0x40200, (%ebx)\n"          /* ICR: self, delivery mode SMI */
    "1:	movl %cs:0x8104, %eax\n"
    "	testl %eax, %eax\n"
    "	jz 2f\n"
    "	movl %eax, %cs:0xff00\n"
    "	movl $0, %cs:0x8104\n"
    "2:	rsm\n"
    ".code64\n"
    "smm_handler_end:\n"
    ".popsection\n");

static inline volatile uint32_t *smm_var(uint64_t smbase, unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(smbase + off);
}

static inline uint64_t smm_save64(uint64_t smbase, unsigned off)
{
	return *(volatile uint64_t *)(uintptr_t)(smbase + off);
}

static inline uint32_t smm_save32(uint64_t smbase, unsigned off)
{
	return *(volatile uint32_t *)(uintptr_t)(smbase + off);
}

static inline uint16_t smm_save16(uint64_t smbase, unsigned off)
{
	return *(volatile uint16_t *)(uintptr_t)(smbase + off);
}

/* Copies the handler to SMBASE + 0x8000 and clears its data. */
static inline void smm_install(uint64_t smbase)
{
	memcpy((void *)(uintptr_t)(smbase + 0x8000), smm_handler_start,
	       (size_t)(smm_handler_end - smm_handler_start));
	*smm_var(smbase, SMM_COUNT) = 0;
	*smm_var(smbase, SMM_RELOCATE) = 0;
	*smm_var(smbase, SMM_RESEND) = 0;
}

static inline void self_smi(void)
{
	apic_write(APIC_ICR, ICR_SELF | ICR_SMI);
}

static inline void smm_settle(void)
{
	for (int i = 0; i < 100; i++)
		asm volatile("nop");
}

/*
 * The SMM_BASE MSR, or 0 when the CPU has none (QEMU implements SMM but
 * not this MSR, and its firmware has moved SMBASE into locked SMRAM).
 */
static inline uint64_t smm_base(void)
{
	uint64_t v;

	return rdmsr_safe(MSR_SMM_BASE, &v) == -1 ? v : 0;
}

#endif
