/* System instructions: what control.c, desc.c, far.c, segment.c,
 * syscall.c and system.c share.  Private to those files.
 *
 * Every interceptable handler follows one order, the APM's (vol. 2,
 * 15.7.1): invalid-opcode #UD and privilege #GP first, then the SVM
 * intercept (svm_check, free outside guest mode), then memory operands
 * and the checks that depend on operand values, then the work. */
#ifndef NSVM_X86_SYSTEM_H
#define NSVM_X86_SYSTEM_H

#include "svm/svm.h"
#include "svm/vmcb.h"
#include "x86/insn.h"
#include "x86/stack.h"

/* Registration of each file's handlers (x86_ops_system calls them all). */
void sys_ops_control(insn_fn *table);
void sys_ops_segment(insn_fn *table);
void sys_ops_far(insn_fn *table);
void sys_ops_syscall(insn_fn *table);

/* Error code of a selector fault: index and TI, RPL cleared. */
static inline uint32_t sel_err(uint16_t sel)
{
    return sel & 0xfffcu;
}

static inline bool sel_null(uint16_t sel)
{
    return (sel & 0xfffcu) == 0;
}

static inline bool prot_mode(const struct cpu *cpu)
{
    return (cpu->cr0 & CR0_PE) != 0;
}

static inline void require_cpl0(struct cpu *cpu)
{
    if (cpu->cpl != 0)
        x86_gp(cpu, 0);
}

static inline unsigned rflags_iopl(struct cpu *cpu)
{
    return (unsigned)(cpu->rflags >> 12) & 3;   /* IOPL is never lazy */
}

/* Descriptor types (the type field with S = 1 for code/data). */
#define DESC_CODE       0x8u   /* code segment (else data) */
#define DESC_CONFORMING 0x4u   /* code: conforming */
#define DESC_READABLE   0x2u   /* code: readable */
#define DESC_WRITABLE   0x2u   /* data: writable */
#define DESC_ACCESSED   0x1u
/* System descriptor types (S = 0). */
#define DESC_LDT        0x2u
#define DESC_TSS16_AVL  0x1u
#define DESC_TSS16_BUSY 0x3u
#define DESC_TSS_AVL    0x9u   /* 32-bit TSS; 64-bit TSS in long mode */
#define DESC_TSS_BUSY   0xbu
#define DESC_CALLGATE   0xcu

/* A descriptor read from the GDT or LDT (desc.c). */
struct desc {
    uint64_t lo;      /* the 8-byte descriptor */
    uint64_t hi;      /* long-mode system descriptors: the upper 8 bytes */
    uint64_t lin;     /* its linear address */
};

/* Read the descriptor a selector names; false when it lies beyond the
 * table limit (or TI = 1 with no LDT).  sys16 reads the 16-byte form of a
 * system descriptor in long mode. */
bool desc_fetch(struct cpu *cpu, uint16_t sel, bool sys16, struct desc *d);
/* As desc_fetch, raising #GP(sel) when the selector is out of range. */
void desc_fetch_gp(struct cpu *cpu, uint16_t sel, bool sys16, struct desc *d);
uint16_t desc_attrib(uint64_t lo);
/* Unpack into a segment register's hidden part (with the upper base of
 * a 16-byte system descriptor). */
void desc_unpack(const struct desc *d, uint16_t sel, struct x86_seg *seg);
/* Set the accessed bit (code/data) or the busy bit (TSS) in memory. */
void desc_set_type_bit(struct cpu *cpu, const struct desc *d, unsigned bit);

/* Far transfers: the checked target code segment (not committed). */
void desc_branch_cs(struct cpu *cpu, uint16_t sel, struct x86_seg *cs);
void desc_return_cs(struct cpu *cpu, uint16_t sel, struct x86_seg *cs);
/* The stack segment of a return to privilege cpl; a null selector is
 * legal only when null_ok (a return to 64-bit mode at CPL < 3). */
void desc_return_ss(struct cpu *cpu, uint16_t sel, unsigned cpl, bool null_ok,
                    struct x86_seg *ss);
/* After a return to an outer privilege level: data segments the new CPL
 * may not use become null (APM vol. 3, RETF/IRET). */
void desc_null_inaccessible(struct cpu *cpu);

/* Commit a new CS (and CPL = its RPL) and leave the block: the mode may
 * have changed. */
static inline void commit_cs(struct cpu *cpu, const struct x86_seg *cs,
                             uint64_t rip)
{
    cpu->seg[SEG_CS] = *cs;
    if (prot_mode(cpu))
        cpu->cpl = cs->sel & 3;
    cpu->next_rip = rip;
    x86_update_mode(cpu);
    cpu->stop_block = true;
}

/* A far target offset must lie inside the new CS: within the limit for a
 * 16/32-bit segment, canonical for a 64-bit one.  #GP(0) otherwise. */
static inline void check_far_target(struct cpu *cpu, const struct x86_seg *cs,
                                    uint64_t rip)
{
    if (x86_long_mode(cpu) && (cs->attrib & SEG_ATTR_L)) {
        if (!x86_canonical(rip))
            x86_gp(cpu, 0);
    } else if (rip > cs->limit) {
        x86_gp(cpu, 0);
    }
}

#endif
