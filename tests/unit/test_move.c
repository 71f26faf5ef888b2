/* Unit tests: data movement, stack and near branches (move.c, stack.c,
 * branch.c).
 *
 * Each test decodes real instruction bytes with x86_decode and executes
 * them once with x86_exec_insn on a CPU in 64-bit mode with identity
 * paging.  Expected values come from the APM's pseudocode, worked by hand
 * in the comments, or from the host CPU (an AMD64) where noted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "x86/decode.h"

#define RAM_SIZE   (1u << 20)
#define PT_BASE    0xf0000u   /* PML4, PDPT, PD, PT: identity map of 2 MiB */
#define CODE_RIP   0x10000u   /* instructions are decoded from host bytes */

struct fixture {
    struct cpu cpu;
    uint8_t ram[RAM_SIZE];
};

static void map_identity(struct fixture *f)
{
    uint64_t *pml4 = (uint64_t *)(f->ram + PT_BASE);
    uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024, *pt = pml4 + 1536;
    pml4[0] = (PT_BASE + 0x1000) | 7;
    pdpt[0] = (PT_BASE + 0x2000) | 7;
    pd[0] = (PT_BASE + 0x3000) | 7;
    for (uint64_t i = 0; i < 512; i++)
        pt[i] = (i << 12) | 7;
}

/* Long mode, CPL 0, paging on (identity), flat segments. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct x86_bus bus = { 0 };
    if (!f || x86_cpu_init(&f->cpu, f->ram, RAM_SIZE, &bus))
        return -1;
    struct cpu *cpu = &f->cpu;
    map_identity(f);
    cpu->cr4 = CR4_PAE;
    cpu->cr3 = PT_BASE;
    cpu->efer = EFER_LME | EFER_LMA;
    cpu->cr0 = CR0_PE | CR0_PG | CR0_ET;
    for (int s = 0; s < 6; s++)
        cpu->seg[s] = (struct x86_seg){ 0x10, 0x93 | SEG_ATTR_DB | SEG_ATTR_G,
                                        0xffffffff, 0 };
    cpu->seg[SEG_CS] = (struct x86_seg){ 0x08, 0x9b | SEG_ATTR_L | SEG_ATTR_G,
                                         0xffffffff, 0 };
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
    cpu->rip = CODE_RIP;
    cpu->gpr[RSP] = 0x8000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    x86_cpu_fini(&f->cpu);
    free(f);
    return 0;
}

/* Decode bytes for the CPU's mode and execute them once.  Returns -1 or
 * the vector of the exception raised. */
static int exec_bytes(struct cpu *cpu, const uint8_t *code, size_t len)
{
    struct insn in;
    assert_true(x86_decode(cpu, code, len, &in));
    assert_int_equal(in.len, len);
    return x86_exec_insn(cpu, &in);
}
#define EXEC(cpu, ...)                                                      \
    exec_bytes((cpu), (const uint8_t[]){ __VA_ARGS__ },                     \
               sizeof((const uint8_t[]){ __VA_ARGS__ }))

static uint64_t rd(struct fixture *f, uint64_t pa, unsigned size)
{
    uint64_t v = 0;
    memcpy(&v, f->ram + pa, size);
    return v;
}

static void wr(struct fixture *f, uint64_t pa, unsigned size, uint64_t v)
{
    memcpy(f->ram + pa, &v, size);
}

/* ---- MOV and friends ---- */

static void test_mov_imm64_and_zero_extension(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* mov rax, 0x1122334455667788 */
    assert_int_equal(EXEC(cpu, 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33,
                          0x22, 0x11), -1);
    assert_int_equal(cpu->gpr[RAX], 0x1122334455667788ull);
    /* mov eax, -1: a 32-bit write zero-extends */
    assert_int_equal(EXEC(cpu, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff), -1);
    assert_int_equal(cpu->gpr[RAX], 0xffffffffull);
    /* mov rax, -1 (imm32 sign-extended to 64) */
    assert_int_equal(EXEC(cpu, 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff), -1);
    assert_int_equal(cpu->gpr[RAX], ~0ull);
    /* mov ah, bl: bits 15:8 only */
    cpu->gpr[RAX] = 0x1111;
    cpu->gpr[RBX] = 0x22;
    assert_int_equal(EXEC(cpu, 0x88, 0xdc), -1);
    assert_int_equal(cpu->gpr[RAX], 0x2211);
    assert_int_equal(cpu->rip, CODE_RIP + 2 + 6 + 7 + 10);
}

static void test_mov_moffs(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    wr(f, 0x5000, 4, 0xcafebabe);
    cpu->gpr[RAX] = ~0ull;
    /* mov eax, [0x5000] (A1 moffs64) */
    assert_int_equal(EXEC(cpu, 0xa1, 0x00, 0x50, 0, 0, 0, 0, 0, 0), -1);
    assert_int_equal(cpu->gpr[RAX], 0xcafebabeull);
    /* mov [0x5008], rax (48 A3 moffs64) */
    assert_int_equal(EXEC(cpu, 0x48, 0xa3, 0x08, 0x50, 0, 0, 0, 0, 0, 0), -1);
    assert_int_equal(rd(f, 0x5008, 8), 0xcafebabeull);
}

static void test_movzx_movsx_movsxd(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->gpr[RBX] = 0x5000;
    wr(f, 0x5000, 2, 0x8180);
    /* movsx rax, byte [rbx] */
    assert_int_equal(EXEC(cpu, 0x48, 0x0f, 0xbe, 0x03), -1);
    assert_int_equal(cpu->gpr[RAX], 0xffffffffffffff80ull);
    /* movzx eax, word [rbx] */
    assert_int_equal(EXEC(cpu, 0x0f, 0xb7, 0x03), -1);
    assert_int_equal(cpu->gpr[RAX], 0x8180);
    /* movsx cx, byte [rbx]: a 16-bit destination merges */
    cpu->gpr[RCX] = 0xaaaaaaaaaaaaaaaaull;
    assert_int_equal(EXEC(cpu, 0x66, 0x0f, 0xbe, 0x0b), -1);
    assert_int_equal(cpu->gpr[RCX], 0xaaaaaaaaaaaaff80ull);
    /* movsxd rax, ecx */
    cpu->gpr[RCX] = 0x1280000000ull;
    assert_int_equal(EXEC(cpu, 0x48, 0x63, 0xc1), -1);
    assert_int_equal(cpu->gpr[RAX], 0xffffffff80000000ull);
}

static void test_lea_address_and_operand_size(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0x00000001fffffff0ull;
    cpu->gpr[RCX] = 0x20;
    /* lea rdx, [rax+rcx*2+8]: 64-bit address */
    assert_int_equal(EXEC(cpu, 0x48, 0x8d, 0x54, 0x48, 0x08), -1);
    assert_int_equal(cpu->gpr[RDX], 0x0000000200000038ull);
    /* lea edx, [rax+rcx]: 64-bit address truncated to 32 bits */
    assert_int_equal(EXEC(cpu, 0x8d, 0x14, 0x08), -1);
    assert_int_equal(cpu->gpr[RDX], 0x10);
    /* lea rdx, [eax+ecx] (67h): the 32-bit address wraps, then zero-extends */
    cpu->gpr[RAX] = 0xdeadbeeffffffff0ull;
    assert_int_equal(EXEC(cpu, 0x67, 0x48, 0x8d, 0x14, 0x08), -1);
    assert_int_equal(cpu->gpr[RDX], 0x10);
    /* lea dx, [rax+rcx+0x1000]: low 16 bits, merged */
    cpu->gpr[RDX] = 0x5555555555555555ull;
    assert_int_equal(EXEC(cpu, 0x66, 0x8d, 0x94, 0x08, 0x00, 0x10, 0, 0), -1);
    assert_int_equal(cpu->gpr[RDX], 0x5555555555551010ull);
}

static void test_xchg(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->gpr[RBX] = 0x5000;
    wr(f, 0x5000, 8, 0x1111111111111111ull);
    cpu->gpr[RAX] = 0x2222222222222222ull;
    /* xchg [rbx], rax */
    assert_int_equal(EXEC(cpu, 0x48, 0x87, 0x03), -1);
    assert_int_equal(cpu->gpr[RAX], 0x1111111111111111ull);
    assert_int_equal(rd(f, 0x5000, 8), 0x2222222222222222ull);
    /* xchg ecx, eax (91): both 32-bit writes zero-extend */
    cpu->gpr[RAX] = 0xffffffff00000001ull;
    cpu->gpr[RCX] = 0xffffffff00000002ull;
    assert_int_equal(EXEC(cpu, 0x91), -1);
    assert_int_equal(cpu->gpr[RAX], 2);
    assert_int_equal(cpu->gpr[RCX], 1);
    /* 90 is NOP, not xchg eax, eax: RAX keeps its upper half */
    cpu->gpr[RAX] = 0xffffffff00000001ull;
    assert_int_equal(EXEC(cpu, 0x90), -1);
    assert_int_equal(cpu->gpr[RAX], 0xffffffff00000001ull);
    /* 87 C0 is xchg eax, eax: a 32-bit write, zero-extended */
    assert_int_equal(EXEC(cpu, 0x87, 0xc0), -1);
    assert_int_equal(cpu->gpr[RAX], 1);
}

static void test_nop_forms_do_not_touch_memory(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0x8000000000000000ull;   /* not canonical */
    /* nop dword [rax+rax*1+0] (0F 1F 44 00 00) */
    assert_int_equal(EXEC(cpu, 0x0f, 0x1f, 0x44, 0x00, 0x00), -1);
    /* 66 nop word [rax+rax*1+0] */
    assert_int_equal(EXEC(cpu, 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00), -1);
    /* endbr64, prefetchnta [rax], prefetchw [rax]: hints, no access */
    assert_int_equal(EXEC(cpu, 0xf3, 0x0f, 0x1e, 0xfa), -1);
    assert_int_equal(EXEC(cpu, 0x0f, 0x18, 0x00), -1);
    assert_int_equal(EXEC(cpu, 0x0f, 0x0d, 0x08), -1);
    assert_int_equal(cpu->rip, CODE_RIP + 11 + 10);
}

static void test_movbe_and_xlat(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->gpr[RBX] = 0x5000;
    wr(f, 0x5000, 8, 0x8877665544332211ull);
    /* movbe eax, [rbx] */
    assert_int_equal(EXEC(cpu, 0x0f, 0x38, 0xf0, 0x03), -1);
    assert_int_equal(cpu->gpr[RAX], 0x11223344ull);
    /* movbe rax, [rbx] */
    assert_int_equal(EXEC(cpu, 0x48, 0x0f, 0x38, 0xf0, 0x03), -1);
    assert_int_equal(cpu->gpr[RAX], 0x1122334455667788ull);
    /* movbe [rbx], cx (66 0F 38 F1 0B) */
    cpu->gpr[RCX] = 0xabcd;
    assert_int_equal(EXEC(cpu, 0x66, 0x0f, 0x38, 0xf1, 0x0b), -1);
    assert_int_equal(rd(f, 0x5000, 8), 0x887766554433cdabull);
    /* xlat: AL = [rbx + AL] */
    wr(f, 0x5003, 1, 0x99);
    cpu->gpr[RAX] = 0x1234567800000003ull;
    assert_int_equal(EXEC(cpu, 0xd7), -1);
    assert_int_equal(cpu->gpr[RAX], 0x1234567800000099ull);
}

/* ---- PUSH / POP ---- */

static void test_push_operand_sizes(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    wr(f, 0x7ff8, 8, 0);
    cpu->gpr[RAX] = 0x1122334455667788ull;
    /* push ax (66 50): 16-bit operand size in 64-bit mode moves RSP by 2 */
    assert_int_equal(EXEC(cpu, 0x66, 0x50), -1);
    assert_int_equal(cpu->gpr[RSP], 0x7ffe);
    assert_int_equal(rd(f, 0x7ff8, 8), 0x7788ull << 48);
    /* push rax: 8 bytes */
    assert_int_equal(EXEC(cpu, 0x50), -1);
    assert_int_equal(cpu->gpr[RSP], 0x7ff6);
    assert_int_equal(rd(f, 0x7ff6, 8), 0x1122334455667788ull);
    /* push -1 (6A FF): imm8 sign-extended to 64 bits */
    assert_int_equal(EXEC(cpu, 0x6a, 0xff), -1);
    assert_int_equal(cpu->gpr[RSP], 0x7fee);
    assert_int_equal(rd(f, 0x7fee, 8), ~0ull);
    /* push word -128 (66 6A 80) */
    assert_int_equal(EXEC(cpu, 0x66, 0x6a, 0x80), -1);
    assert_int_equal(cpu->gpr[RSP], 0x7fec);
    assert_int_equal(rd(f, 0x7fec, 2), 0xff80);
    /* pop cx (66 59): merges into RCX, RSP += 2 */
    cpu->gpr[RCX] = 0xaaaaaaaaaaaaaaaaull;
    assert_int_equal(EXEC(cpu, 0x66, 0x59), -1);
    assert_int_equal(cpu->gpr[RCX], 0xaaaaaaaaaaaaff80ull);
    assert_int_equal(cpu->gpr[RSP], 0x7fee);
}

static void test_push_pop_rsp(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* push rsp stores the value before the decrement */
    assert_int_equal(EXEC(cpu, 0x54), -1);
    assert_int_equal(cpu->gpr[RSP], 0x7ff8);
    assert_int_equal(rd(f, 0x7ff8, 8), 0x8000);
    /* push qword [rsp] reads with the old RSP */
    assert_int_equal(EXEC(cpu, 0xff, 0x34, 0x24), -1);
    assert_int_equal(cpu->gpr[RSP], 0x7ff0);
    assert_int_equal(rd(f, 0x7ff0, 8), 0x8000);
    /* pop rsp: RSP receives the popped value, not value + 8 */
    wr(f, 0x7ff0, 8, 0x6000);
    assert_int_equal(EXEC(cpu, 0x5c), -1);
    assert_int_equal(cpu->gpr[RSP], 0x6000);
}

static void test_pop_memory_rsp_based(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    wr(f, 0x8000, 8, 0xfeedfacecafef00dull);
    wr(f, 0x8008, 8, 0);
    wr(f, 0x8010, 8, 0);
    /* pop qword [rsp+8]: the address uses RSP after the increment
     * (APM vol. 3, POP), so the value lands at 0x8008 + 8. */
    assert_int_equal(EXEC(cpu, 0x8f, 0x44, 0x24, 0x08), -1);
    assert_int_equal(cpu->gpr[RSP], 0x8008);
    assert_int_equal(rd(f, 0x8010, 8), 0xfeedfacecafef00dull);
    assert_int_equal(rd(f, 0x8008, 8), 0);
}

static void test_stack_fault_leaves_rsp(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* unmap page 0x7000: a push that needs it faults with RSP intact */
    uint64_t *pt = (uint64_t *)(f->ram + PT_BASE + 0x3000);
    pt[7] = 0;
    x86_tlb_flush(cpu);
    cpu->gpr[RSP] = 0x8000;
    assert_int_equal(EXEC(cpu, 0x50), EXC_PF);
    assert_int_equal(cpu->gpr[RSP], 0x8000);
    assert_int_equal(cpu->pending_cr2, 0x7ff8);
    assert_int_equal(cpu->rip, CODE_RIP);
    /* pop qword [rsp-0x1000]: the store faults, RSP is not incremented */
    assert_int_equal(EXEC(cpu, 0x8f, 0x84, 0x24, 0x00, 0xf0, 0xff, 0xff), EXC_PF);
    assert_int_equal(cpu->gpr[RSP], 0x8000);
    /* a non-canonical RSP is a stack fault, #SS */
    cpu->gpr[RSP] = 0x0000800000000008ull;
    assert_int_equal(EXEC(cpu, 0x50), EXC_SS);
    assert_int_equal(cpu->gpr[RSP], 0x0000800000000008ull);
}

/* ---- ENTER / LEAVE ---- */

static void test_enter_nested_and_leave(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->gpr[RBP] = 0x9000;
    wr(f, 0x8ff8, 8, 0xaaaa);   /* enclosing frame pointers */
    wr(f, 0x8ff0, 8, 0xbbbb);
    /* enter 0x10, 3.  APM: push rbp (-> 0x7ff8), frame = 0x7ff8; copy
     * [rbp-8], [rbp-16] (-> 0x7ff0, 0x7fe8); push frame (-> 0x7fe0);
     * rsp = 0x7fe0 - 0x10; rbp = frame. */
    assert_int_equal(EXEC(cpu, 0xc8, 0x10, 0x00, 0x03), -1);
    assert_int_equal(rd(f, 0x7ff8, 8), 0x9000);
    assert_int_equal(rd(f, 0x7ff0, 8), 0xaaaa);
    assert_int_equal(rd(f, 0x7fe8, 8), 0xbbbb);
    assert_int_equal(rd(f, 0x7fe0, 8), 0x7ff8);
    assert_int_equal(cpu->gpr[RSP], 0x7fd0);
    assert_int_equal(cpu->gpr[RBP], 0x7ff8);
    /* leave: rsp = rbp, pop rbp */
    assert_int_equal(EXEC(cpu, 0xc9), -1);
    assert_int_equal(cpu->gpr[RSP], 0x8000);
    assert_int_equal(cpu->gpr[RBP], 0x9000);
    /* enter 8, 0: just push rbp, rbp = rsp, rsp -= 8 */
    assert_int_equal(EXEC(cpu, 0xc8, 0x08, 0x00, 0x00), -1);
    assert_int_equal(cpu->gpr[RBP], 0x7ff8);
    assert_int_equal(cpu->gpr[RSP], 0x7ff0);
    /* enter 0, 1: push rbp, push frame pointer */
    assert_int_equal(EXEC(cpu, 0xc8, 0x00, 0x00, 0x01), -1);
    assert_int_equal(rd(f, 0x7fe8, 8), 0x7ff8);
    assert_int_equal(rd(f, 0x7fe0, 8), 0x7fe8);
    assert_int_equal(cpu->gpr[RBP], 0x7fe8);
    assert_int_equal(cpu->gpr[RSP], 0x7fe0);
}

/* ---- branches ---- */

static void test_call_ret_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* call +0x10 at 0x10000: pushes 0x10005, goes to 0x10015 */
    assert_int_equal(EXEC(cpu, 0xe8, 0x10, 0x00, 0x00, 0x00), -1);
    assert_int_equal(cpu->rip, 0x10015);
    assert_int_equal(cpu->gpr[RSP], 0x7ff8);
    assert_int_equal(rd(f, 0x7ff8, 8), 0x10005);
    /* ret */
    assert_int_equal(EXEC(cpu, 0xc3), -1);
    assert_int_equal(cpu->rip, 0x10005);
    assert_int_equal(cpu->gpr[RSP], 0x8000);
    /* call qword [rsp]: target read with the old RSP */
    wr(f, 0x8000, 8, 0x20000);
    assert_int_equal(EXEC(cpu, 0xff, 0x14, 0x24), -1);
    assert_int_equal(cpu->rip, 0x20000);
    assert_int_equal(rd(f, 0x7ff8, 8), 0x10008);
    /* ret 0x10: pop, then release 16 more bytes */
    assert_int_equal(EXEC(cpu, 0xc2, 0x10, 0x00), -1);
    assert_int_equal(cpu->rip, 0x10008);
    assert_int_equal(cpu->gpr[RSP], 0x8010);
    /* call rax, then a backward call rel32 */
    cpu->gpr[RAX] = 0x30000;
    assert_int_equal(EXEC(cpu, 0xff, 0xd0), -1);
    assert_int_equal(cpu->rip, 0x30000);
    assert_int_equal(EXEC(cpu, 0xe8, 0xfb, 0xff, 0xff, 0xff), -1);
    assert_int_equal(cpu->rip, 0x30000);
    assert_int_equal(rd(f, 0x8000, 8), 0x30005);
}

static void test_jmp_and_jcc(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* jmp $ (EB FE) */
    assert_int_equal(EXEC(cpu, 0xeb, 0xfe), -1);
    assert_int_equal(cpu->rip, CODE_RIP);
    /* jmp rel32 forward */
    assert_int_equal(EXEC(cpu, 0xe9, 0x00, 0x01, 0x00, 0x00), -1);
    assert_int_equal(cpu->rip, CODE_RIP + 5 + 0x100);
    cpu->rip = CODE_RIP;
    /* cmp rax, rcx with 1 < 2 unsigned and signed: CF = 1, ZF = 0 */
    cpu->gpr[RAX] = 1;
    cpu->gpr[RCX] = 2;
    assert_int_equal(EXEC(cpu, 0x48, 0x39, 0xc8), -1);
    uint64_t r = cpu->rip;
    assert_int_equal(EXEC(cpu, 0x73, 0x10), -1);   /* jae: not taken */
    assert_int_equal(cpu->rip, r + 2);
    r = cpu->rip;
    assert_int_equal(EXEC(cpu, 0x72, 0x10), -1);   /* jb: taken */
    assert_int_equal(cpu->rip, r + 2 + 0x10);
    r = cpu->rip;
    assert_int_equal(EXEC(cpu, 0x0f, 0x8c, 0xf0, 0xff, 0xff, 0xff), -1);  /* jl -16 */
    assert_int_equal(cpu->rip, r + 6 - 16);
    r = cpu->rip;
    assert_int_equal(EXEC(cpu, 0x74, 0x10), -1);   /* jz: not taken */
    assert_int_equal(cpu->rip, r + 2);
}

static void test_jmp_16bit_operand_size(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* 66 jmp rel16 in 64-bit mode: AMD honours the operand size, the
     * target is truncated to 16 bits. */
    cpu->rip = 0x12340000;
    assert_int_equal(EXEC(cpu, 0x66, 0xe9, 0x34, 0x12), -1);
    assert_int_equal(cpu->rip, (0x12340004 + 0x1234) & 0xffff);
}

static void test_noncanonical_target_faults_at_branch(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* jmp rax to a non-canonical address: #GP(0), RIP not updated */
    cpu->gpr[RAX] = 0x0000800000000000ull;
    assert_int_equal(EXEC(cpu, 0xff, 0xe0), EXC_GP);
    assert_int_equal(cpu->pending_err, 0);
    assert_int_equal(cpu->rip, CODE_RIP);
    /* call rel32 across the canonical boundary: nothing is pushed */
    cpu->rip = 0x00007ffffffffff0ull;
    wr(f, 0x7ff8, 8, 0x1234);
    assert_int_equal(EXEC(cpu, 0xe8, 0x00, 0x01, 0x00, 0x00), EXC_GP);
    assert_int_equal(cpu->rip, 0x00007ffffffffff0ull);
    assert_int_equal(cpu->gpr[RSP], 0x8000);
    assert_int_equal(rd(f, 0x7ff8, 8), 0x1234);
    /* ret to a non-canonical address: RSP not updated */
    cpu->rip = CODE_RIP;
    wr(f, 0x8000, 8, 0xffff000000000000ull);
    assert_int_equal(EXEC(cpu, 0xc3), EXC_GP);
    assert_int_equal(cpu->gpr[RSP], 0x8000);
    assert_int_equal(cpu->rip, CODE_RIP);
}

static void test_loop_count_register_size(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* addr32 loop $-... (67 E2 FE): ECX is the count; writing it zero-
     * extends RCX (checked on the host). */
    cpu->gpr[RCX] = 0xdeadbeef00000003ull;
    assert_int_equal(EXEC(cpu, 0x67, 0xe2, 0xfe), -1);
    assert_int_equal(cpu->gpr[RCX], 2);
    assert_int_equal(cpu->rip, CODE_RIP + 3 - 2);
    cpu->rip = CODE_RIP;
    cpu->gpr[RCX] = 0xdeadbeef00000001ull;
    assert_int_equal(EXEC(cpu, 0x67, 0xe2, 0xfe), -1);
    assert_int_equal(cpu->gpr[RCX], 0);
    assert_int_equal(cpu->rip, CODE_RIP + 3);
    /* loop with RCX = 0: wraps to 2^64 - 1 and branches */
    cpu->rip = CODE_RIP;
    cpu->gpr[RCX] = 0;
    assert_int_equal(EXEC(cpu, 0xe2, 0x10), -1);
    assert_int_equal(cpu->gpr[RCX], ~0ull);
    assert_int_equal(cpu->rip, CODE_RIP + 2 + 0x10);
}

static void test_loope_loopne(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 5;
    assert_int_equal(EXEC(cpu, 0x48, 0x83, 0xf8, 0x05), -1);  /* cmp rax, 5: ZF=1 */
    uint64_t r = cpu->rip;
    cpu->gpr[RCX] = 3;
    assert_int_equal(EXEC(cpu, 0xe1, 0x20), -1);   /* loope: taken */
    assert_int_equal(cpu->rip, r + 2 + 0x20);
    assert_int_equal(cpu->gpr[RCX], 2);
    r = cpu->rip;
    assert_int_equal(EXEC(cpu, 0xe0, 0x20), -1);   /* loopne: not taken */
    assert_int_equal(cpu->rip, r + 2);
    assert_int_equal(cpu->gpr[RCX], 1);
    r = cpu->rip;
    assert_int_equal(EXEC(cpu, 0xe1, 0x20), -1);   /* loope: count hits 0 */
    assert_int_equal(cpu->rip, r + 2);
    assert_int_equal(cpu->gpr[RCX], 0);
}

static void test_jrcxz_jecxz(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RCX] = 0x100000000ull;
    assert_int_equal(EXEC(cpu, 0xe3, 0x05), -1);        /* jrcxz: RCX != 0 */
    assert_int_equal(cpu->rip, CODE_RIP + 2);
    assert_int_equal(EXEC(cpu, 0x67, 0xe3, 0x05), -1);  /* jecxz: ECX == 0 */
    assert_int_equal(cpu->rip, CODE_RIP + 2 + 3 + 5);
    assert_int_equal(cpu->gpr[RCX], 0x100000000ull);
}

/* Protected mode, 32-bit code, a 16-bit stack segment (SS.B = 0) based at
 * 0x20000: pushes move SP only, wrapping at 64 KiB, and keep ESP's upper
 * half; near branches truncate EIP to 32 bits.  (Every access stays
 * within the 64 KiB limit, which nsvm does not check.) */
static void test_legacy_stack_and_branch_sizes(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->cr4 = 0;
    cpu->efer = 0;
    cpu->seg[SEG_CS].attrib = 0x9b | SEG_ATTR_DB | SEG_ATTR_G;
    cpu->seg[SEG_SS] = (struct x86_seg){ 0x10, 0x93, 0xffff, 0x20000 };
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
    assert_int_equal(cpu->mode, MODE_PROT32);

    cpu->gpr[RSP] = 0x12340000;
    cpu->gpr[RAX] = 0xa1b2c3d4;
    assert_int_equal(EXEC(cpu, 0x50), -1);          /* push eax */
    assert_int_equal(cpu->gpr[RSP], 0x1234fffc);
    assert_int_equal(rd(f, 0x2fffc, 4), 0xa1b2c3d4);
    assert_int_equal(EXEC(cpu, 0x5b), -1);          /* pop ebx */
    assert_int_equal(cpu->gpr[RBX], 0xa1b2c3d4);
    assert_int_equal(cpu->gpr[RSP], 0x12340000);
    assert_int_equal(EXEC(cpu, 0x66, 0x50), -1);    /* push ax */
    assert_int_equal(cpu->gpr[RSP], 0x1234fffe);
    assert_int_equal(rd(f, 0x2fffe, 2), 0xc3d4);

    /* call rel32 past 4 GiB: EIP wraps, the 32-bit return address is
     * pushed through the 16-bit stack pointer */
    cpu->rip = 0xfffffff0;
    assert_int_equal(EXEC(cpu, 0xe8, 0x00, 0x01, 0x00, 0x00), -1);
    assert_int_equal(cpu->rip, 0xf5);
    assert_int_equal(cpu->gpr[RSP], 0x1234fffa);
    assert_int_equal(rd(f, 0x2fffa, 4), 0xfffffff5);
    assert_int_equal(EXEC(cpu, 0xc3), -1);          /* ret */
    assert_int_equal(cpu->rip, 0xfffffff5);
    assert_int_equal(cpu->gpr[RSP], 0x1234fffe);

    /* loop with a 16-bit address size (67h in 32-bit code): CX only */
    cpu->rip = 0x1000;
    cpu->gpr[RCX] = 0x00050000;
    assert_int_equal(EXEC(cpu, 0x67, 0xe2, 0x10), -1);
    assert_int_equal(cpu->gpr[RCX], 0x0005ffff);
    assert_int_equal(cpu->rip, 0x1000 + 3 + 0x10);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_mov_imm64_and_zero_extension),
        T(test_mov_moffs),
        T(test_movzx_movsx_movsxd),
        T(test_lea_address_and_operand_size),
        T(test_xchg),
        T(test_nop_forms_do_not_touch_memory),
        T(test_movbe_and_xlat),
        T(test_push_operand_sizes),
        T(test_push_pop_rsp),
        T(test_pop_memory_rsp_based),
        T(test_stack_fault_leaves_rsp),
        T(test_enter_nested_and_leave),
        T(test_call_ret_round_trip),
        T(test_jmp_and_jcc),
        T(test_jmp_16bit_operand_size),
        T(test_noncanonical_target_faults_at_branch),
        T(test_loop_count_register_size),
        T(test_loope_loopne),
        T(test_jrcxz_jecxz),
        T(test_legacy_stack_and_branch_sizes),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
