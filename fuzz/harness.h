/* The fuzz targets' harness: nsvm's struct machine with its RAM and
 * devices, put straight into 64-bit long mode at CPL 0 without a loader —
 * identity paging (2 MiB pages over the first GiB, of which RAM is the
 * first 2 MiB; user-accessible), a GDT
 * laid out like the guest library's, an IDT whose gates lead to stubs that
 * end the run through the debug-exit port, a TSS, EFER.SVME and a host-save
 * area — so that the fuzzer's bytes run as code at once and every fault is
 * delivered.  One call makes one machine; nothing is shared between them. */
#ifndef NSVM_FUZZ_HARNESS_H
#define NSVM_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine.h"
#include "svm/vmcb.h"

#define FM_RAM_SIZE  (2ull << 20)

/* Guest-physical layout. */
#define FM_GDT       0x1000u
#define FM_IDT       0x2000u    /* 256 gates */
#define FM_TSS       0x3000u
#define FM_STUBS     0x4000u    /* 8 bytes per vector: mov al,v; out 0xf4,al; hlt */
#define FM_PT        0x6000u    /* PML4, PDPT, PD */
#define FM_NPT       0x9000u    /* nested: PML4, PDPT, PD, PT (identity too) */
#define FM_SCRATCH   0xd000u    /* the L1 stub's exit counter */
#define FM_HSAVE     0xe000u
#define FM_IOPM      0x10000u   /* 3 pages */
#define FM_MSRPM     0x13000u   /* 2 pages */
#define FM_VMCB12    0x15000u
#define FM_L1_STUB   0x16000u
#define FM_RSP0      0x1c000u   /* TSS.RSP0 */
#define FM_STACK     0x20000u   /* L1's stack top */
#define FM_IST1      0x24000u   /* #DF stack top */
#define FM_L2_STACK  0x30000u
#define FM_PT2       0x40000u   /* L2's own PML4, PDPT, PD: the same map,
                                   accessed and dirty bits already set */
#define FM_CODE      0x100000u  /* the fuzzer's code bytes */
#define FM_CODE_MAX  0x10000u

/* GDT selectors (as guest/lib/libguest.h). */
#define FM_KCODE64   0x08u
#define FM_KDATA     0x10u
#define FM_UCODE32   0x1bu
#define FM_UDATA     0x23u
#define FM_UCODE64   0x2bu
#define FM_TSS_SEL   0x30u
#define FM_KCODE32   0x40u

/* Ways to start, chosen by a byte of the input. */
#define FM_USER      (1u << 0)  /* CPL 3 (64-bit user code segment) */
#define FM_COMPAT    (1u << 1)  /* a 32-bit code segment (compatibility mode) */
#define FM_NO_SVME   (1u << 2)  /* EFER.SVME clear */
#define FM_GATES_IN_CODE (1u << 3)  /* IDT gates lead into the code bytes */

/* A new machine in long mode (flags FM_*), code bytes at FM_CODE followed
 * by HLTs, and RIP there; bare: the guest runs on the CPU directly, else as L1 under L0.
 * Aborts if the host cannot make one (out of memory). */
struct machine *fm_new(bool bare, unsigned flags, const uint8_t *code,
                       size_t len);
void fm_free(struct machine *m);

/* Host pointer to guest-physical pa (the layout above is always in RAM). */
static inline void *fm_ram(struct machine *m, uint64_t pa)
{
    return m->ram + pa;
}

/* Runs the machine for at most budget instructions (bare, or L0's run
 * loop in nested mode) and returns why it stopped.  Aborts when nsvm
 * reports an internal error: that is a bug whatever the guest did. */
enum x86_stop fm_run(struct machine *m, uint64_t budget);

/* A VMCB that passes VMRUN's checks: the guest is a copy of the machine's
 * 64-bit CPL-0 state at rip with its own stack and its own page tables
 * (FM_PT2, the same identity map), ASID 1, the VMRUN,
 * VMMCALL, HLT and SHUTDOWN intercepts, IOPM/MSRPM at FM_IOPM/FM_MSRPM. */
void fm_vmcb_template(struct machine *m, struct vmcb *v, uint64_t rip);

/* Identity nested page table at FM_NPT (2 MiB pages, first GiB; accessed
 * and dirty bits already set). */
void fm_build_npt(struct machine *m);
/* Maps the first 2 MiB of the nested page table with 4 KiB pages and
 * leaves out the host-save area, L1's page tables and the nested table
 * itself: an L2 under it cannot reach them whatever it does with its own
 * paging. */
void fm_npt_hide_host(struct machine *m);

/* Writes at FM_L1_STUB a minimal L1 hypervisor and points RIP at it: it
 * runs the VMCB at FM_VMCB12 with VMRUN, and after each #VMEXIT resumes
 * L2 at NRIP when NRIP is set (else at the same RIP), until `exits`
 * exits have happened; then it writes 0 to the debug-exit port. */
void fm_l1_stub(struct machine *m, uint32_t exits);

/* The first guest-physical address where the RAM of a and b differs,
 * outside the page at skip; -1 if none. */
int64_t fm_ram_diff(const struct machine *a, const struct machine *b,
                    uint64_t skip);

#endif
