/* Unit tests: alignment checking, #AC (align.c, the slow path in mem.c,
 * the rules of the x87 images in x87.c).  The conditions and sizes are the
 * APM's (vol. 2, 8.2.18); the outcomes marked "host" were observed on the
 * host CPU (an AMD EPYC) at CPL 3 with RFLAGS.AC set (Linux runs with
 * CR0.AM = 1; #AC arrives as SIGBUS, #GP as SIGSEGV). */
#include "sys_fixture.h"

#define PAGE 0x20000u   /* a user page for the data accesses */

static void set_ac(struct cpu *cpu, bool on)
{
    uint64_t fl = x86_get_rflags(cpu);
    x86_set_rflags(cpu, on ? fl | FLAG_AC : fl & ~(uint64_t)FLAG_AC);
}

static void set_am(struct cpu *cpu, bool on)
{
    x86_write_cr0(cpu, on ? cpu->cr0 | CR0_AM : cpu->cr0 & ~CR0_AM);
}

static void enter_kernel(struct cpu *cpu)
{
    seg_set(cpu, SEG_CS, KCODE64, 0x9b | SEG_ATTR_L | SEG_ATTR_G);
    seg_set(cpu, SEG_SS, KDATA, 0x93 | SEG_ATTR_DB | SEG_ATTR_G);
    x86_update_mode(cpu);
    cpu->gpr[RSP] = KSTACK;
}

/* mov eax, [rbx] */
static int load32(struct cpu *cpu, uint64_t addr)
{
    cpu->gpr[RBX] = addr;
    return EXEC(cpu, 0x8b, 0x03);
}

/* #AC(0) exactly when CR0.AM, RFLAGS.AC and CPL 3 all hold — whatever
 * the order they were established in (the CPL-3 TLB set was filled by an
 * aligned access before). */
static void test_ac_conditions(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    for (unsigned bits = 0; bits < 8; bits++) {
        bool user = bits & 1, am = bits & 2, ac = bits & 4;
        enter_kernel(cpu);
        set_am(cpu, false);
        set_ac(cpu, false);
        enter_user(cpu);
        assert_int_equal(load32(cpu, PAGE), -1);   /* fills the CPL-3 TLB */
        if (!user)
            enter_kernel(cpu);
        set_ac(cpu, ac);
        set_am(cpu, am);
        uint64_t rip = cpu->rip;
        int res = load32(cpu, PAGE + 1);
        if (user && am && ac) {
            assert_fault(res, cpu, EXC_AC, 0);
            assert_true(cpu->pending_has_err);
            assert_int_equal(cpu->rip, rip);
        } else {
            assert_int_equal(res, -1);
        }
        /* the other order: AM first, then AC */
        set_am(cpu, false);
        set_ac(cpu, false);
        if (user)
            assert_int_equal(load32(cpu, PAGE), -1);
        set_am(cpu, am);
        set_ac(cpu, ac);
        assert_int_equal(load32(cpu, PAGE + 2), user && am && ac ? EXC_AC : -1);
    }
}

/* Word at an odd address, doubleword not 4-aligned, quadword not
 * 8-aligned; bytes never; reads and writes alike. */
static void test_ac_sizes(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    static const struct { uint8_t code[3]; uint8_t len; unsigned off; int want; } c[] = {
        { { 0x8a, 0x03 }, 2, 1, -1 },           /* mov al, [rbx] */
        { { 0x66, 0x8b, 0x03 }, 3, 1, EXC_AC }, /* mov ax, [rbx] */
        { { 0x66, 0x8b, 0x03 }, 3, 2, -1 },
        { { 0x8b, 0x03 }, 2, 2, EXC_AC },       /* mov eax, [rbx] */
        { { 0x8b, 0x03 }, 2, 4, -1 },
        { { 0x48, 0x8b, 0x03 }, 3, 4, EXC_AC }, /* mov rax, [rbx] */
        { { 0x48, 0x8b, 0x03 }, 3, 8, -1 },
        { { 0x88, 0x03 }, 2, 3, -1 },           /* mov [rbx], al */
        { { 0x66, 0x89, 0x03 }, 3, 3, EXC_AC }, /* mov [rbx], ax */
        { { 0x89, 0x03 }, 2, 6, EXC_AC },       /* mov [rbx], eax */
        { { 0x48, 0x89, 0x03 }, 3, 12, EXC_AC },/* mov [rbx], rax */
        { { 0x48, 0x89, 0x03 }, 3, 16, -1 },
        { { 0x48, 0x01, 0x03 }, 3, 20, EXC_AC },/* add [rbx], rax */
    };
    enter_user(cpu);
    set_am(cpu, true);
    set_ac(cpu, true);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cpu->gpr[RBX] = PAGE + c[i].off;
        assert_int_equal(exec_bytes(cpu, c[i].code, c[i].len), c[i].want);
    }
}

/* Host: the stack (push with RSP misaligned), an access crossing a page,
 * and #AC before #PF; a non-canonical address is #GP first. */
static void test_ac_stack_cross_priority(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    enter_user(cpu);
    set_am(cpu, true);
    set_ac(cpu, true);
    cpu->gpr[RSP] = USTACK - 1;
    assert_fault(EXEC(cpu, 0x50), cpu, EXC_AC, 0);             /* push rax */
    assert_int_equal(cpu->gpr[RSP], USTACK - 1);
    cpu->gpr[RSP] = USTACK;
    assert_int_equal(EXEC(cpu, 0x50), -1);
    assert_int_equal(load32(cpu, PAGE + 0xffe), EXC_AC);
    uint64_t *pt = (uint64_t *)(f->ram + PT_BASE + 0x3000);
    pt[PAGE >> 12] = 0;
    x86_tlb_flush(cpu);
    assert_int_equal(load32(cpu, PAGE + 1), EXC_AC);
    assert_fault(load32(cpu, PAGE), cpu, EXC_PF, PFERR_U);
    assert_fault(load32(cpu, 0x8000000000000001ull), cpu, EXC_GP, 0);
}

/* Checking is for CPL 3 only, and never for implicit supervisor accesses
 * (here: a descriptor read from a GDT at an odd base) or fetches. */
static void test_ac_not_checked(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    set_am(cpu, true);
    set_ac(cpu, true);
    assert_int_equal(load32(cpu, PAGE + 1), -1);               /* CPL 0 */
    memcpy(f->ram + GDT_BASE + 0x801, gdt, sizeof gdt);
    cpu->gdtr.base = GDT_BASE + 0x801;
    enter_user(cpu);
    cpu->gpr[RAX] = UDATA | 3;
    assert_int_equal(EXEC(cpu, 0x8e, 0xd8), -1);              /* mov ds, ax */
    assert_int_equal(cpu->seg[SEG_DS].sel, UDATA | 3);
    x86_check_align(cpu, ACC_FETCH);                           /* returns */
    x86_check_align(cpu, ACC_READ | ACC_SUPER);
    x86_check_align(cpu, ACC_WRITE | ACC_SUPER);
}

/* While armed the CPL-3 TLB set holds no read/write translation (every
 * access takes the slow path); disarmed, the fast path is back. */
static void test_ac_tlb(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct tlb_entry *e = &cpu->tlb[1][(PAGE >> 12) & (TLB_SIZE - 1)];
    enter_user(cpu);
    assert_int_equal(load32(cpu, PAGE), -1);
    assert_int_equal(e->tag_read, PAGE);
    set_am(cpu, true);
    assert_int_equal(e->tag_read, PAGE);      /* AC still clear: not armed */
    /* popfq at CPL 3 sets AC: arms and empties the set */
    cpu->gpr[RSP] = USTACK - 8;
    *(uint64_t *)(((struct fixture *)*state)->ram + USTACK - 8) = 0x40202;
    assert_int_equal(EXEC(cpu, 0x9d), -1);
    assert_true(cpu->rflags & FLAG_AC);
    assert_int_equal(e->tag_read, TLB_INVALID);
    assert_int_equal(load32(cpu, PAGE), -1);
    assert_int_equal(e->tag_read, TLB_INVALID);
    assert_int_equal(load32(cpu, PAGE + 1), EXC_AC);
    /* popfq clearing AC: misaligned accesses pass, the TLB fills again */
    cpu->gpr[RSP] = USTACK - 8;
    *(uint64_t *)(((struct fixture *)*state)->ram + USTACK - 8) = 0x202;
    assert_int_equal(EXEC(cpu, 0x9d), -1);
    assert_int_equal(load32(cpu, PAGE + 1), -1);
    assert_int_equal(e->tag_read, PAGE);
}

/* MOV CR0 setting AM with RFLAGS.AC already set arms the check (the
 * CPL-3 translation made before must not be used). */
static void test_ac_mov_cr0(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    set_ac(cpu, true);
    enter_user(cpu);
    assert_int_equal(load32(cpu, PAGE + 1), -1);
    enter_kernel(cpu);
    cpu->gpr[RAX] = cpu->cr0 | CR0_AM;
    assert_int_equal(EXEC(cpu, 0x0f, 0x22, 0xc0), -1);        /* mov cr0, rax */
    enter_user(cpu);
    assert_int_equal(load32(cpu, PAGE + 1), EXC_AC);
}

/* A world switch to a TLB context whose CPL-3 entries were filled while
 * unarmed: armed now, they must not be used (the context is reused as is:
 * same ASID, CR3 and paging state, no flush asked for). */
static void test_ac_tlb_context(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    enter_user(cpu);
    x86_tlb_enter_guest(cpu, 1, 0, true);
    assert_int_equal(load32(cpu, PAGE + 1), -1);   /* fills the guest's set */
    x86_tlb_enter_host(cpu);
    set_am(cpu, true);
    set_ac(cpu, true);
    x86_tlb_enter_guest(cpu, 1, 0, false);
    assert_int_equal(load32(cpu, PAGE + 1), EXC_AC);
}

/* Host: FNSTSW/FNSTCW/FLDCW m16 at an odd address; FNSAVE, FRSTOR,
 * FNSTENV, FLDENV need 4 bytes (2 with a 16-bit operand size); FXSAVE and
 * FXRSTOR raise #AC below 4-byte alignment, else #GP(0) when not
 * 16-aligned (and #GP(0) alone without alignment checking). */
static void test_ac_x87(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    static const struct { uint8_t code[4]; uint8_t len; unsigned off; int want; } c[] = {
        { { 0xdd, 0x3b }, 2, 1, EXC_AC },             /* fnstsw [rbx] */
        { { 0xdd, 0x3b }, 2, 2, -1 },
        { { 0xd9, 0x3b }, 2, 1, EXC_AC },             /* fnstcw [rbx] */
        { { 0xd9, 0x2b }, 2, 1, EXC_AC },             /* fldcw [rbx] */
        { { 0xd9, 0x2b }, 2, 2, -1 },
        { { 0xdd, 0x33 }, 2, 2, EXC_AC },             /* fnsave [rbx] */
        { { 0xdd, 0x33 }, 2, 1, EXC_AC },
        { { 0xdd, 0x33 }, 2, 4, -1 },
        { { 0x66, 0xdd, 0x33 }, 3, 2, -1 },           /* fnsave, o16 */
        { { 0x66, 0xdd, 0x33 }, 3, 1, EXC_AC },
        { { 0xd9, 0x33 }, 2, 2, EXC_AC },             /* fnstenv [rbx] */
        { { 0xd9, 0x33 }, 2, 4, -1 },
        { { 0xdd, 0x23 }, 2, 2, EXC_AC },             /* frstor [rbx] */
        { { 0xd9, 0x23 }, 2, 2, EXC_AC },             /* fldenv [rbx] */
        { { 0x0f, 0xae, 0x03 }, 3, 1, EXC_AC },       /* fxsave [rbx] */
        { { 0x0f, 0xae, 0x03 }, 3, 2, EXC_AC },
        { { 0x0f, 0xae, 0x03 }, 3, 4, EXC_GP },
        { { 0x0f, 0xae, 0x03 }, 3, 8, EXC_GP },
        { { 0x0f, 0xae, 0x03 }, 3, 16, -1 },
        { { 0x0f, 0xae, 0x0b }, 3, 3, EXC_AC },       /* fxrstor [rbx] */
        { { 0x0f, 0xae, 0x0b }, 3, 12, EXC_GP },
    };
    enter_user(cpu);
    set_am(cpu, true);
    set_ac(cpu, true);
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        memset(f->ram + PAGE, 0, 1024);
        wr(f, PAGE + c[i].off, 2, 0x037f);   /* an FCW for the loads */
        cpu->gpr[RBX] = PAGE + c[i].off;
        int res = exec_bytes(cpu, c[i].code, c[i].len);
        if (res != c[i].want)
            fail_msg("case %zu: vector %d, want %d", i, res, c[i].want);
        if (res >= 0)
            assert_int_equal(cpu->pending_err, 0);
    }
    set_ac(cpu, false);
    cpu->gpr[RBX] = PAGE + 1;
    assert_fault(EXEC(cpu, 0x0f, 0xae, 0x03), cpu, EXC_GP, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_ac_conditions),
        T(test_ac_sizes),
        T(test_ac_stack_cross_priority),
        T(test_ac_not_checked),
        T(test_ac_tlb),
        T(test_ac_mov_cr0),
        T(test_ac_tlb_context),
        T(test_ac_x87),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
