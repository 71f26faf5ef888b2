/* Unit tests of the integer ALU handlers, on instruction bytes decoded by
 * x86_decode and run by x86_exec_insn in 64-bit mode with paging off.
 * Expected values come from the APM's definitions, worked out by hand;
 * tests/diff compares every form against the host CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "x86/decode.h"
#include "x86/flags.h"

#define RAM_SIZE (64u * 1024)
#define DATA     0x4000u
#define CODE_RIP 0x1000u

struct fixture {
    struct cpu cpu;
    uint8_t ram[RAM_SIZE];
};

static uint32_t pio_read(void *o, uint16_t port, unsigned size)
{
    (void)o, (void)port, (void)size;
    return ~0u;
}

static void pio_write(void *o, uint16_t port, unsigned size, uint32_t v)
{
    (void)o, (void)port, (void)size, (void)v;
}

static bool mmio_read(void *o, uint64_t pa, unsigned size, uint64_t *v)
{
    (void)o, (void)pa, (void)size, (void)v;
    return false;
}

static bool mmio_write(void *o, uint64_t pa, unsigned size, uint64_t v)
{
    (void)o, (void)pa, (void)size, (void)v;
    return false;
}

static int setup(void **state)
{
    static const struct x86_bus bus = {
        NULL, pio_read, pio_write, mmio_read, mmio_write,
    };
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx || x86_cpu_init(&fx->cpu, fx->ram, RAM_SIZE, &bus) != 0)
        return -1;
    struct cpu *cpu = &fx->cpu;
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->efer = EFER_LME | EFER_LMA;
    cpu->seg[SEG_CS].attrib = 0x29b;   /* L = 1 */
    cpu->seg[SEG_CS].sel = 8;
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
    cpu->rip = CODE_RIP;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    x86_cpu_fini(&fx->cpu);
    free(fx);
    return 0;
}

/* Decode and run every instruction in bytes; the vector of the first
 * exception, or -1. */
static int run(struct cpu *cpu, const uint8_t *bytes, size_t len)
{
    for (size_t off = 0; off < len;) {
        struct insn in;
        assert_true(x86_decode(cpu, bytes + off, len - off, &in));
        int vec = x86_exec_insn(cpu, &in);
        if (vec >= 0)
            return vec;
        off += in.len;
    }
    return -1;
}

#define RUN(cpu, ...)                                                       \
    run((cpu), (const uint8_t[]){ __VA_ARGS__ },                            \
        sizeof((const uint8_t[]){ __VA_ARGS__ }))

static uint64_t rf(struct cpu *cpu)
{
    return x86_get_rflags(cpu) & FLAGS_ARITH;
}

/* DIV by zero and a quotient too large: #DE with every register intact
 * and RIP at the instruction. */
static void test_div_faults(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0x1234;
    cpu->gpr[RDX] = 0x5678;
    cpu->gpr[RCX] = 0;
    assert_int_equal(RUN(cpu, 0x48, 0xf7, 0xf1), EXC_DE);   /* div rcx */
    assert_int_equal(cpu->gpr[RAX], 0x1234);
    assert_int_equal(cpu->gpr[RDX], 0x5678);
    assert_int_equal(cpu->rip, CODE_RIP);

    cpu->gpr[RCX] = 0x5678;   /* RDX >= divisor: the quotient needs > 64 bits */
    assert_int_equal(RUN(cpu, 0x48, 0xf7, 0xf1), EXC_DE);
    assert_int_equal(cpu->gpr[RAX], 0x1234);

    /* IDIV: INT64_MIN / -1 = 2^63 does not fit */
    cpu->gpr[RAX] = 0x8000000000000000ull;
    cpu->gpr[RDX] = ~0ull;
    cpu->gpr[RCX] = ~0ull;
    assert_int_equal(RUN(cpu, 0x48, 0xf7, 0xf9), EXC_DE);   /* idiv rcx */
    assert_int_equal(cpu->gpr[RAX], 0x8000000000000000ull);

    /* IDIV r/m8: AX = -128, divisor -1: 128 does not fit in AL */
    cpu->gpr[RAX] = 0xff80;
    cpu->gpr[RCX] = 0xff;
    assert_int_equal(RUN(cpu, 0xf6, 0xf9), EXC_DE);          /* idiv cl */
    /* -7 / 2 = -3 remainder -1 (truncation toward zero) */
    cpu->gpr[RAX] = 0xfff9;
    cpu->gpr[RCX] = 2;
    assert_int_equal(RUN(cpu, 0xf6, 0xf9), -1);
    assert_int_equal(cpu->gpr[RAX] & 0xffff, 0xfffd);        /* AH=-1 AL=-3 */
}

/* The conditions read after CMP, from the APM's definitions. */
static void test_cond_after_cmp(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0xffffffff;   /* -1 */
    cpu->gpr[RBX] = 1;
    assert_int_equal(RUN(cpu, 0x39, 0xd8), -1);              /* cmp eax, ebx */
    assert_true(x86_cond(cpu, 0x7));    /* A: unsigned 0xffffffff > 1 */
    assert_false(x86_cond(cpu, 0x2));   /* B */
    assert_true(x86_cond(cpu, 0xc));    /* L: signed -1 < 1 */
    assert_true(x86_cond(cpu, 0xe));    /* LE */
    assert_false(x86_cond(cpu, 0xf));   /* G */
    assert_true(x86_cond(cpu, 0x8));    /* S: -2 */
    assert_true(x86_cond(cpu, 0x5));    /* NE */
    assert_false(x86_cond(cpu, 0x0));   /* O: -1 - 1 does not overflow */
    /* materialised: CF=0 ZF=0 SF=1 OF=0, PF of 0xfe (7 ones) = 0, AF=0 */
    assert_int_equal(rf(cpu), FLAG_SF);

    /* signed overflow: INT32_MIN - 1 = 0x7fffffff, SF = 0, OF = 1, and L
     * (SF != OF) still says INT32_MIN < 1 */
    cpu->gpr[RAX] = 0x80000000;
    assert_int_equal(RUN(cpu, 0x39, 0xd8), -1);
    assert_true(x86_cond(cpu, 0x0));    /* O */
    assert_true(x86_cond(cpu, 0xc));    /* L */
    assert_false(x86_cond(cpu, 0x8));   /* S */
    assert_true(x86_cond(cpu, 0x3));    /* AE: 0x80000000 >= 1 unsigned */
}

/* INC and DEC keep CF across lazy flag states. */
static void test_inc_keeps_cf(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = ~0ull;
    cpu->gpr[RBX] = 1;
    /* add rax, rbx (CF = 1); inc rbx; dec rbx; then CF must still be 1 */
    assert_int_equal(RUN(cpu, 0x48, 0x01, 0xd8, 0x48, 0xff, 0xc3,
                         0x48, 0xff, 0xcb), -1);
    assert_true(flags_cf(cpu));
    assert_int_equal(cpu->gpr[RBX], 1);
    /* stc; inc eax (0 -> 1): CF stays 1, ZF = 0 */
    assert_int_equal(RUN(cpu, 0xf9, 0xff, 0xc0), -1);
    assert_int_equal(rf(cpu) & (FLAG_CF | FLAG_ZF), FLAG_CF);
    /* clc; dec: 0x80 -> 0x7f overflows, CF stays 0 */
    cpu->gpr[RCX] = 0x80;
    assert_int_equal(RUN(cpu, 0xf8, 0xfe, 0xc9), -1);        /* dec cl */
    assert_int_equal(rf(cpu), FLAG_OF | FLAG_AF);            /* 0x7f: PF=0 */
}

static void test_cmov32_zero_extends(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0xdeadbeef00000001ull;
    cpu->gpr[RBX] = 2;
    x86_set_rflags(cpu, FLAGS_FIXED1);   /* ZF = 0: cmovz is false */
    assert_int_equal(RUN(cpu, 0x0f, 0x44, 0xc3), -1);    /* cmovz eax, ebx */
    assert_int_equal(cpu->gpr[RAX], 1);
}

/* BTS with a register offset reaches outside the operand: the offset is
 * signed and addresses operand-size units. */
static void test_bt_memory_offset(void **state)
{
    struct fixture *fx = *state;
    struct cpu *cpu = &fx->cpu;
    memset(fx->ram + DATA - 16, 0, 32);
    cpu->gpr[RSI] = DATA;
    cpu->gpr[RCX] = (uint64_t)-1;     /* bit 31 of the dword at DATA - 4 */
    assert_int_equal(RUN(cpu, 0x0f, 0xab, 0x0e), -1);    /* bts [rsi], ecx */
    assert_int_equal(fx->ram[DATA - 1], 0x80);
    assert_false(flags_cf(cpu));
    cpu->gpr[RCX] = 35;               /* bit 3 of the dword at DATA + 4 */
    assert_int_equal(RUN(cpu, 0x0f, 0xab, 0x0e), -1);
    assert_int_equal(fx->ram[DATA + 4], 0x08);
    /* the immediate form takes the offset modulo 32 */
    assert_int_equal(RUN(cpu, 0x0f, 0xba, 0x26, 0x23), -1);  /* bt [rsi], 35 */
    assert_false(flags_cf(cpu));      /* bit 3 of DATA+0 is clear */
}

/* CMPXCHG16B: #GP(0) unless 16-byte aligned; compare and exchange. */
static void test_cmpxchg16b(void **state)
{
    struct fixture *fx = *state;
    struct cpu *cpu = &fx->cpu;
    uint64_t m[2] = { 11, 22 };
    memcpy(fx->ram + DATA, m, 16);
    cpu->gpr[RSI] = DATA + 8;
    assert_int_equal(RUN(cpu, 0x48, 0x0f, 0xc7, 0x0e), EXC_GP);
    cpu->gpr[RSI] = DATA;
    cpu->gpr[RAX] = 11;
    cpu->gpr[RDX] = 23;               /* differs: RDX:RAX = memory */
    assert_int_equal(RUN(cpu, 0x48, 0x0f, 0xc7, 0x0e), -1);
    assert_int_equal(cpu->gpr[RDX], 22);
    assert_false(x86_cond(cpu, 0x4));
    cpu->gpr[RBX] = 33;
    cpu->gpr[RCX] = 44;               /* equal now: memory = RCX:RBX */
    assert_int_equal(RUN(cpu, 0x48, 0x0f, 0xc7, 0x0e), -1);
    memcpy(m, fx->ram + DATA, 16);
    assert_int_equal(m[0], 33);
    assert_int_equal(m[1], 44);
    assert_true(x86_cond(cpu, 0x4));
}

/* A faulting memory destination leaves the register operand unchanged:
 * XADD to a non-canonical address is #GP before ECX is written. */
static void test_xadd_fault_restartable(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RSI] = 0x8000000000000000ull;
    cpu->gpr[RCX] = 7;
    /* xadd [rsi], ecx */
    assert_int_equal(RUN(cpu, 0x0f, 0xc1, 0x0e), EXC_GP);
    assert_int_equal(cpu->gpr[RCX], 7);
}

static void test_bsf_zero_source(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0x1234567890abcdefull;
    cpu->gpr[RBX] = 0;
    assert_int_equal(RUN(cpu, 0x0f, 0xbc, 0xc3), -1);        /* bsf eax, ebx */
    assert_int_equal(cpu->gpr[RAX], 0x1234567890abcdefull);
    assert_true(x86_cond(cpu, 0x4));
    cpu->gpr[RBX] = 0x50;
    assert_int_equal(RUN(cpu, 0x0f, 0xbd, 0xc3), -1);        /* bsr eax, ebx */
    assert_int_equal(cpu->gpr[RAX], 6);
}

static void test_lahf_sahf(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    cpu->gpr[RAX] = 0xd5 << 8;        /* SF ZF AF PF CF */
    assert_int_equal(RUN(cpu, 0x9e), -1);
    assert_int_equal(rf(cpu), FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF);
    cpu->gpr[RBX] = 0;
    /* cmp ebx, ebx: ZF PF; lahf: AH = ZF | PF | bit 1 */
    assert_int_equal(RUN(cpu, 0x39, 0xdb, 0x9f), -1);
    assert_int_equal((cpu->gpr[RAX] >> 8) & 0xff, 0x46);
}

static void test_shifts(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* rcl al, 1 with CF = 1: 0x80 -> 0x01, CF = 1, OF = MSB ^ CF = 1 */
    cpu->gpr[RAX] = 0x80;
    assert_int_equal(RUN(cpu, 0xf9, 0xd0, 0xd0), -1);
    assert_int_equal(cpu->gpr[RAX], 0x01);
    assert_int_equal(rf(cpu) & (FLAG_CF | FLAG_OF), FLAG_CF | FLAG_OF);
    /* shl eax, cl with cl = 32: masked to 0, flags kept, RAX zero-extended */
    cpu->gpr[RAX] = 0xffffffff00000005ull;
    cpu->gpr[RCX] = 32;
    x86_set_rflags(cpu, FLAGS_FIXED1 | FLAG_CF | FLAG_ZF);
    assert_int_equal(RUN(cpu, 0xd3, 0xe0), -1);
    assert_int_equal(cpu->gpr[RAX], 5);
    assert_int_equal(rf(cpu), FLAG_CF | FLAG_ZF);
    /* sar rax, 63 of a negative number: all ones, CF = bit 62 */
    cpu->gpr[RAX] = 0x8000000000000000ull;
    assert_int_equal(RUN(cpu, 0x48, 0xc1, 0xf8, 0x3f), -1);
    assert_int_equal(cpu->gpr[RAX], ~0ull);
    assert_false(flags_cf(cpu));
    /* shld eax, ebx, 4 */
    cpu->gpr[RAX] = 0x12345678;
    cpu->gpr[RBX] = 0x9abcdef0;
    assert_int_equal(RUN(cpu, 0x0f, 0xa4, 0xd8, 0x04), -1);
    assert_int_equal(cpu->gpr[RAX], 0x23456789);
    assert_true(flags_cf(cpu));       /* bit 28 of 0x12345678 */
}

static void test_mul_imul(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    /* mul rbx: 2^63 * 4 = 2^65 -> RDX = 2, RAX = 0, CF = OF = 1 */
    cpu->gpr[RAX] = 0x8000000000000000ull;
    cpu->gpr[RBX] = 4;
    assert_int_equal(RUN(cpu, 0x48, 0xf7, 0xe3), -1);
    assert_int_equal(cpu->gpr[RDX], 2);
    assert_int_equal(cpu->gpr[RAX], 0);
    assert_int_equal(rf(cpu) & (FLAG_CF | FLAG_OF), FLAG_CF | FLAG_OF);
    /* imul ecx, ebx, -3 = -12 fits: CF = OF = 0, RCX zero-extended */
    cpu->gpr[RCX] = ~0ull;
    assert_int_equal(RUN(cpu, 0x6b, 0xcb, 0xfd), -1);
    assert_int_equal(cpu->gpr[RCX], 0xfffffff4);
    assert_int_equal(rf(cpu) & (FLAG_CF | FLAG_OF), 0);
    /* mulx r9, r8, rbx with r9 == r8: the high half wins */
    cpu->gpr[RDX] = 0x8000000000000000ull;
    assert_int_equal(RUN(cpu, 0xc4, 0x62, 0xb3, 0xf6, 0xcb), -1);
    assert_int_equal(cpu->gpr[R9], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_div_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cond_after_cmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inc_keeps_cf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmov32_zero_extends, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bt_memory_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmpxchg16b, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xadd_fault_restartable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bsf_zero_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lahf_sahf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shifts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mul_imul, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
