/* Exception dispatch: installed handlers, fixups, catch frames, default. */
#include "internal.h"

static ex_handler_t handlers[256];
static struct catch_frame *catch_top;
volatile int ex_fixup_vector = -1;
struct ex_regs ex_fixup_regs;

struct ex_table_entry {
	uint64_t from, to;
};
extern const struct ex_table_entry __ex_table_start[], __ex_table_end[];

void set_exception_handler(int vector, ex_handler_t h)
{
	if (vector >= 0 && vector < 256)
		handlers[vector] = h;
}

static bool apply_fixup(struct ex_regs *r)
{
	const struct ex_table_entry *e;

	for (e = __ex_table_start; e < __ex_table_end; e++) {
		if (e->from == r->rip) {
			ex_fixup_regs = *r;
			ex_fixup_vector = (int)r->vector;
			r->rip = e->to;
			return true;
		}
	}
	return false;
}

/* Resumes the innermost catch frame with RAX = result. */
static void unwind_to(struct catch_frame *f, struct ex_regs *r, long result)
{
	if (f->out)
		*f->out = *r;
	catch_top = f->prev;
	r->rbx = f->rbx;
	r->rbp = f->rbp;
	r->r12 = f->r12;
	r->r13 = f->r13;
	r->r14 = f->r14;
	r->r15 = f->r15;
	r->rsp = f->rsp;
	r->rflags = f->rflags;
	r->cs = f->cs;
	r->ss = f->ss;
	r->rip = f->resume;
	r->rax = (uint64_t)result;
}

bool catch_unwind(struct ex_regs *r)
{
	if (!catch_top)
		return false;
	unwind_to(catch_top, r, (long)r->vector);
	return true;
}

void __ex_dispatch(struct ex_regs *r);
void __ex_dispatch(struct ex_regs *r)
{
	int v = (int)(r->vector & 0xff);

	if (v == USER_EXIT_VECTOR && (r->cs & 3) == 3 && catch_top &&
	    catch_top->user) {
		unwind_to(catch_top, r, -1);
		return;
	}
	if (handlers[v]) {
		handlers[v](r);
		return;
	}
	if (apply_fixup(r) || catch_unwind(r))
		return;
	report_unexpected_exception(r);
}

int catch_exception(void (*fn)(void *), void *arg, struct ex_regs *out)
{
	struct catch_frame f = { .prev = catch_top, .out = out };

	catch_top = &f;
	long v = __catch_call(&f, fn, arg);
	catch_top = f.prev;
	return (int)v;
}

static uint8_t user_stack[16384] __attribute__((aligned(16)));

int run_in_user(void (*fn)(void *), void *arg, struct ex_regs *out)
{
	struct catch_frame f = { .prev = catch_top, .out = out, .user = true };

	catch_top = &f;
	long v = __user_call(&f, fn, arg, (uint64_t)(user_stack + sizeof(user_stack)));
	catch_top = f.prev;
	return (int)v;
}
