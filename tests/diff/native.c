/* Running instruction bytes on the host CPU.
 *
 * The bytes go into an executable page, followed by RET.  A small assembly
 * routine loads all GPRs but RSP and RFLAGS from struct regs, calls the
 * page, and stores the GPRs and RFLAGS back.  Exceptions arrive as
 * signals (#DE: SIGFPE, #GP: SIGSEGV, #UD: SIGILL) and end the run with
 * siglongjmp; sigsetjmp restores the callee-saved registers the routine
 * had clobbered. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* MAP_ANONYMOUS */
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "diff.h"

_Static_assert(sizeof(struct regs) == 136, "offsets in diff_native_call");

/* void diff_native_call(struct regs *io, const void *code) */
void diff_native_call(struct regs *io, const void *code);
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".type diff_native_call, @function\n"
    "diff_native_call:\n"
    "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n"
    "  push %r15\n"
    "  push %rdi\n"               /* io at 8(%rsp) during the call */
    "  push %rsi\n"               /* code at (%rsp) */
    "  mov %rdi, %rax\n"
    "  pushq 128(%rax)\n  popfq\n"
    "  mov 8(%rax), %rcx\n  mov 16(%rax), %rdx\n  mov 24(%rax), %rbx\n"
    "  mov 40(%rax), %rbp\n  mov 48(%rax), %rsi\n  mov 56(%rax), %rdi\n"
    "  mov 64(%rax), %r8\n  mov 72(%rax), %r9\n  mov 80(%rax), %r10\n"
    "  mov 88(%rax), %r11\n  mov 96(%rax), %r12\n  mov 104(%rax), %r13\n"
    "  mov 112(%rax), %r14\n  mov 120(%rax), %r15\n"
    "  mov 0(%rax), %rax\n"
    "  call *(%rsp)\n"
    "  pushfq\n"
    "  push %rax\n"
    "  mov 24(%rsp), %rax\n"      /* io */
    "  mov %rcx, 8(%rax)\n  mov %rdx, 16(%rax)\n  mov %rbx, 24(%rax)\n"
    "  mov %rbp, 40(%rax)\n  mov %rsi, 48(%rax)\n  mov %rdi, 56(%rax)\n"
    "  mov %r8, 64(%rax)\n  mov %r9, 72(%rax)\n  mov %r10, 80(%rax)\n"
    "  mov %r11, 88(%rax)\n  mov %r12, 96(%rax)\n  mov %r13, 104(%rax)\n"
    "  mov %r14, 112(%rax)\n  mov %r15, 120(%rax)\n"
    "  pop %rcx\n  mov %rcx, 0(%rax)\n"
    "  pop %rcx\n  mov %rcx, 128(%rax)\n"
    "  add $16, %rsp\n"
    "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n"
    "  pop %rbx\n"
    "  ret\n"
    ".size diff_native_call, .-diff_native_call\n");

struct native {
    uint8_t *page;
};

/* A signal handler can reach only static storage: the jump buffer of the
 * run in progress (one at a time; the test is single-threaded). */
static sigjmp_buf *active_jb;

static void on_fault(int sig)
{
    siglongjmp(*active_jb, sig);
}

struct native *native_new(void)
{
    struct native *nv = calloc(1, sizeof(*nv));
    if (!nv)
        return NULL;
    nv->page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (nv->page == MAP_FAILED) {
        free(nv);
        return NULL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fault;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    return nv;
}

void native_free(struct native *nv)
{
    if (!nv)
        return;
    munmap(nv->page, 4096);
    free(nv);
}

int native_exec(struct native *nv, const uint8_t *code, size_t len,
                struct regs *io)
{
    sigjmp_buf jb;
    memcpy(nv->page, code, len);
    nv->page[len] = 0xc3;   /* RET */
    active_jb = &jb;
    int sig = sigsetjmp(jb, 1);
    if (sig == 0)
        diff_native_call(io, nv->page);
    active_jb = NULL;
    return sig;
}
