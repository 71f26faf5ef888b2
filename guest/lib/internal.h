/* Library-internal declarations shared by the C and assembly parts. */
#ifndef LIBGUEST_INTERNAL_H
#define LIBGUEST_INTERNAL_H

/* Offsets in struct catch_frame, used by entry.S. */
#define CF_RBX     0
#define CF_RBP     8
#define CF_R12     16
#define CF_R13     24
#define CF_R14     32
#define CF_R15     40
#define CF_RSP     48
#define CF_RFLAGS  56
#define CF_CS      64
#define CF_SS      72
#define CF_RESUME  80

#ifndef __ASSEMBLER__
#include "libguest.h"

/*
 * A place to unwind to: the callee-saved registers and stack of the caller
 * of catch_exception()/run_in_user(), plus where to resume. Frames form a
 * stack (innermost first); an exception that nobody else handles unwinds
 * to the innermost one.
 */
struct catch_frame {
	uint64_t rbx, rbp, r12, r13, r14, r15;
	uint64_t rsp, rflags, cs, ss;
	uint64_t resume;
	struct catch_frame *prev;
	struct ex_regs *out;
	bool user;      /* run_in_user(): USER_EXIT_VECTOR from CPL 3 ends it */
};

/* entry.S */
long __catch_call(struct catch_frame *f, void (*fn)(void *), void *arg);
long __user_call(struct catch_frame *f, void (*fn)(void *), void *arg,
		 uint64_t user_stack_top);
extern const uint64_t __idt_stubs[256];

/* catch.c */
bool catch_unwind(struct ex_regs *r);

/* init */
void __libguest_init(void);
void idt_init(void);
void desc_init(void);
void alloc_init(void);
void report_unexpected_exception(struct ex_regs *r);

extern char __end[];
extern char kernel_stack_top[];
#endif
#endif
