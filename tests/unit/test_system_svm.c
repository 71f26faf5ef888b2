/* Unit tests: where the system instructions check their SVM intercepts
 * (APM vol. 2, 15.7-15.11; exit codes and EXITINFO1 from appendix C and
 * 15.33.1 "decode assists").
 *
 * The CPU runs in guest mode for a native host (the #VMEXIT stops the
 * instruction and lands in a host VMCB), with NRIPS and decode assists
 * advertised.  An instruction either exits — exit code, EXITINFO1, RIP at
 * the instruction, nRIP after it, nothing of the instruction done — or
 * raises its own exception first when the APM checks it before the
 * intercept (#UD, the CPL #GP, and every RDPMC exception on AMD); the
 * intercept in turn comes before memory-operand faults. */
#include "sys_fixture.h"
#include "svm/svm.h"
#include "svm/vmcb.h"

#define UNMAPPED 0x400000u   /* beyond the 2 MiB identity map: #PF */
#define NO_EXIT  0xdeadull

struct guest {
    struct vmcb vmcb;
    uint8_t msrpm[MSRPM_SIZE];
    uint32_t intercepts[6];   /* what VMRUN would cache again */
};

static struct guest *enter_guest(struct cpu *cpu)
{
    struct guest *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    g->vmcb.control.exit_code = NO_EXIT;
    cpu->has_svm = true;
    cpu->svm_features = SVM_FEATURE_NRIPS | SVM_FEATURE_DECODE_ASSISTS;
    cpu->svm.guest_mode = true;
    cpu->svm.host_native = true;
    cpu->svm.vmcb = &g->vmcb;
    cpu->svm.host_msrpm = g->msrpm;
    return g;
}

static void intercept(struct cpu *cpu, struct guest *g, unsigned bit)
{
    g->intercepts[bit / 32] |= 1u << (bit % 32);
    memcpy(cpu->svm.intercepts, g->intercepts, sizeof g->intercepts);
}

static void clear_intercepts(struct cpu *cpu, struct guest *g)
{
    memset(g->intercepts, 0, sizeof g->intercepts);
    memset(cpu->svm.intercepts, 0, sizeof g->intercepts);
}

/* The instruction at CODE_RIP of length len exited with code and info1. */
static void assert_exit(struct cpu *cpu, struct guest *g, int res,
                        uint64_t code, uint64_t info1, unsigned len)
{
    assert_int_equal(res, -1);
    assert_int_equal(cpu->stop, STOP_VMEXIT);
    assert_false(cpu->svm.guest_mode);
    assert_int_equal(g->vmcb.control.exit_code, code);
    assert_int_equal(g->vmcb.control.exit_info_1, info1);
    assert_int_equal(g->vmcb.save.rip, CODE_RIP);
    assert_int_equal(g->vmcb.control.next_rip, CODE_RIP + len);
}

/* Run again in guest mode (after an exit the CPU is the host's). */
static void reenter(struct cpu *cpu, struct guest *g)
{
    g->vmcb.control.exit_code = NO_EXIT;
    cpu->stop = STOP_NONE;
    cpu->svm.guest_mode = true;
    memcpy(cpu->svm.intercepts, g->intercepts, sizeof g->intercepts);
}

/* ---- CR and DR accesses ---- */

static void test_cr_dr_exits(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    uint64_t cr0 = cpu->cr0;
    intercept(cpu, g, INTERCEPT_CR_WRITE(0));
    intercept(cpu, g, INTERCEPT_CR_READ(3));
    intercept(cpu, g, INTERCEPT_CR_WRITE(8));
    intercept(cpu, g, INTERCEPT_DR_READ(7));
    /* mov cr0, rbx: EXITINFO1 = MOV CRn | GPR 3; CR0 untouched */
    cpu->gpr[RBX] = cr0 | CR0_WP;
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x22, 0xc3), SVM_EXIT_CR_WRITE(0),
                CRDR_INFO1_MOV | RBX, 3);
    assert_int_equal(cpu->cr0, cr0);
    /* mov r9, cr3 */
    reenter(cpu, g);
    assert_exit(cpu, g, EXEC(cpu, 0x41, 0x0f, 0x20, 0xd9), SVM_EXIT_CR_READ(3),
                CRDR_INFO1_MOV | R9, 4);
    /* mov cr8, rax */
    reenter(cpu, g);
    assert_exit(cpu, g, EXEC(cpu, 0x44, 0x0f, 0x22, 0xc0), SVM_EXIT_CR_WRITE(8),
                CRDR_INFO1_MOV | RAX, 4);
    /* mov rcx, dr7 */
    reenter(cpu, g);
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x21, 0xf9), SVM_EXIT_DR_READ(7),
                CRDR_INFO1_MOV | RCX, 3);
    /* clts and lmsw: the CR0 write exit with EXITINFO1[63] clear */
    reenter(cpu, g);
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x06), SVM_EXIT_CR_WRITE(0), 0, 2);
    reenter(cpu, g);
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x01, 0xf0), SVM_EXIT_CR_WRITE(0), 0, 3);
    /* not intercepted: mov rax, cr0 executes */
    reenter(cpu, g);
    assert_int_equal(EXEC(cpu, 0x0f, 0x20, 0xc0), -1);
    assert_int_equal(cpu->gpr[RAX], cr0);
    assert_int_equal(g->vmcb.control.exit_code, NO_EXIT);
    free(g);
}

/* 15.9.1: the selective CR0 write intercept fires for MOV CR0 and LMSW
 * changing a bit other than TS and MP, never for CLTS; the CR0 write
 * intercept outranks it. */
static void test_cr0_selective(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    uint64_t cr0 = cpu->cr0;
    intercept(cpu, g, INTERCEPT_CR0_SEL_WRITE);
    cpu->gpr[RBX] = cr0 | CR0_WP;
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x22, 0xc3), SVM_EXIT_CR0_SEL_WRITE,
                CRDR_INFO1_MOV | RBX, 3);
    /* TS and MP alone: executes */
    reenter(cpu, g);
    cpu->gpr[RBX] = cr0 | CR0_TS | CR0_MP;
    assert_int_equal(EXEC(cpu, 0x0f, 0x22, 0xc3), -1);
    assert_int_equal(cpu->cr0, cr0 | CR0_TS | CR0_MP);
    /* clts: executes */
    assert_int_equal(EXEC(cpu, 0x0f, 0x06), -1);
    assert_false(cpu->cr0 & CR0_TS);
    /* lmsw bx setting EM */
    cpu->rip = CODE_RIP;
    cpu->gpr[RBX] = (cr0 | CR0_EM) & 0xffff;
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x01, 0xf3), SVM_EXIT_CR0_SEL_WRITE, 0, 3);
    assert_false(cpu->cr0 & CR0_EM);
    /* both intercepts: the CR0 write exit */
    reenter(cpu, g);
    intercept(cpu, g, INTERCEPT_CR_WRITE(0));
    cpu->gpr[RBX] = cr0 | CR0_WP;
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x22, 0xc3), SVM_EXIT_CR_WRITE(0),
                CRDR_INFO1_MOV | RBX, 3);
    free(g);
}

/* ---- priority: simple exceptions first, memory faults after ---- */

static void assert_no_exit(struct cpu *cpu, struct guest *g, int res, int vec)
{
    assert_int_equal(res, vec);
    assert_int_equal(cpu->pending_err, 0);
    assert_true(cpu->svm.guest_mode);
    assert_int_equal(g->vmcb.control.exit_code, NO_EXIT);
}

static void test_cpl3_gp_before_intercept(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    enter_user(cpu);
    intercept(cpu, g, INTERCEPT_HLT);
    intercept(cpu, g, INTERCEPT_CR_READ(0));
    intercept(cpu, g, INTERCEPT_IDTR_WRITE);
    intercept(cpu, g, INTERCEPT_INVLPG);
    intercept(cpu, g, INTERCEPT_WBINVD);
    intercept(cpu, g, INTERCEPT_RDTSC);
    intercept(cpu, g, INTERCEPT_MSR_PROT);
    assert_no_exit(cpu, g, EXEC(cpu, 0xf4), EXC_GP);
    assert_no_exit(cpu, g, EXEC(cpu, 0x0f, 0x20, 0xc0), EXC_GP);
    assert_no_exit(cpu, g, EXEC(cpu, 0x0f, 0x01, 0x1c, 0x25, 0x00, 0x50, 0, 0), EXC_GP);
    assert_no_exit(cpu, g, EXEC(cpu, 0x0f, 0x01, 0x3c, 0x25, 0x00, 0x50, 0, 0), EXC_GP);
    assert_no_exit(cpu, g, EXEC(cpu, 0x0f, 0x09), EXC_GP);
    assert_no_exit(cpu, g, EXEC(cpu, 0x0f, 0x32), EXC_GP);
    cpu->cr4 |= CR4_TSD;
    assert_no_exit(cpu, g, EXEC(cpu, 0x0f, 0x31), EXC_GP);
    free(g);
}

/* On AMD every RDPMC exception, the counter check included, precedes the
 * intercept. */
static void test_rdpmc_exceptions_first(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    intercept(cpu, g, INTERCEPT_RDPMC);
    cpu->gpr[RCX] = 6;   /* counters 0-5 exist (PerfCtrExtCore) */
    assert_no_exit(cpu, g, EXEC(cpu, 0x0f, 0x33), EXC_GP);
    cpu->gpr[RCX] = 0;
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x33), SVM_EXIT_RDPMC, 0, 2);
    free(g);
}

/* The intercept is taken before an operand that would #PF is touched. */
static void test_intercept_before_page_fault(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    intercept(cpu, g, INTERCEPT_IDTR_WRITE);
    intercept(cpu, g, INTERCEPT_GDTR_READ);
    intercept(cpu, g, INTERCEPT_PUSHF);
    cpu->gpr[RAX] = UNMAPPED;
    /* lidt [rax], sgdt [rax] */
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x01, 0x18), SVM_EXIT_IDTR_WRITE, 0, 3);
    reenter(cpu, g);
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x01, 0x00), SVM_EXIT_GDTR_READ, 0, 3);
    /* pushfq on an unmapped stack */
    reenter(cpu, g);
    cpu->gpr[RSP] = UNMAPPED;
    assert_exit(cpu, g, EXEC(cpu, 0x9c), SVM_EXIT_PUSHF, 0, 1);
    /* without the intercept: #PF */
    reenter(cpu, g);
    clear_intercepts(cpu, g);
    assert_int_equal(EXEC(cpu, 0x9c), EXC_PF);
    free(g);
}

/* IRET's intercept outranks all of its checks: a garbage frame exits. */
static void test_iret_intercept_first(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    intercept(cpu, g, INTERCEPT_IRET);
    cpu->gpr[RSP] = UNMAPPED;
    assert_exit(cpu, g, EXEC(cpu, 0x48, 0xcf), SVM_EXIT_IRET, 0, 2);
    free(g);
}

/* ---- EXITINFO1 of INVLPG and INTn; the other instruction exits ---- */

static void test_instruction_exits(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    static const struct {
        unsigned bit;
        uint64_t code;
        uint8_t bytes[4];
        unsigned len;
    } k[] = {
        { INTERCEPT_CPUID, SVM_EXIT_CPUID, { 0x0f, 0xa2 }, 2 },
        { INTERCEPT_RDTSC, SVM_EXIT_RDTSC, { 0x0f, 0x31 }, 2 },
        { INTERCEPT_RDTSCP, SVM_EXIT_RDTSCP, { 0x0f, 0x01, 0xf9 }, 3 },
        { INTERCEPT_POPF, SVM_EXIT_POPF, { 0x9d }, 1 },
        { INTERCEPT_HLT, SVM_EXIT_HLT, { 0xf4 }, 1 },
        { INTERCEPT_INVD, SVM_EXIT_INVD, { 0x0f, 0x08 }, 2 },
        { INTERCEPT_WBINVD, SVM_EXIT_WBINVD, { 0x0f, 0x09 }, 2 },
        { INTERCEPT_PAUSE, SVM_EXIT_PAUSE, { 0xf3, 0x90 }, 2 },
        { INTERCEPT_ICEBP, SVM_EXIT_ICEBP, { 0xf1 }, 1 },
        { INTERCEPT_RSM, SVM_EXIT_RSM, { 0x0f, 0xaa }, 2 },
        { INTERCEPT_LDTR_READ, SVM_EXIT_LDTR_READ, { 0x0f, 0x00, 0xc0 }, 3 },
        { INTERCEPT_TR_WRITE, SVM_EXIT_TR_WRITE, { 0x0f, 0x00, 0xd8 }, 3 },
    };
    for (unsigned i = 0; i < sizeof k / sizeof k[0]; i++) {
        reenter(cpu, g);
        clear_intercepts(cpu, g);
        intercept(cpu, g, k[i].bit);
        assert_exit(cpu, g, exec_bytes(cpu, k[i].bytes, k[i].len), k[i].code, 0,
                    k[i].len);
    }
    /* invlpg [rax]: the linear address */
    reenter(cpu, g);
    intercept(cpu, g, INTERCEPT_INVLPG);
    cpu->gpr[RAX] = 0xffff800000123000ull;
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x01, 0x38), SVM_EXIT_INVLPG,
                0xffff800000123000ull, 3);
    /* int 0x80: the vector */
    reenter(cpu, g);
    intercept(cpu, g, INTERCEPT_INTN);
    assert_exit(cpu, g, EXEC(cpu, 0xcd, 0x80), SVM_EXIT_SWINT, 0x80, 2);
    free(g);
}

/* INT3 is seen through the #BP exception intercept (not INTn), with nRIP
 * past it; an intercepted RDMSR of an MSR that does not exist exits
 * instead of raising #GP. */
static void test_int3_and_msr(void **state)
{
    struct cpu *cpu = &((struct fixture *)*state)->cpu;
    struct guest *g = enter_guest(cpu);
    intercept(cpu, g, INTERCEPT_INTN);
    intercept(cpu, g, INTERCEPT_EXCEPTION(EXC_BP));
    assert_exit(cpu, g, EXEC(cpu, 0xcc), SVM_EXIT_EXCP(EXC_BP), 0, 1);
    reenter(cpu, g);
    intercept(cpu, g, INTERCEPT_MSR_PROT);
    cpu->gpr[RCX] = 0x12345;     /* outside the MSRPM ranges: always exits */
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x32), SVM_EXIT_MSR, 0, 2);
    reenter(cpu, g);
    assert_exit(cpu, g, EXEC(cpu, 0x0f, 0x30), SVM_EXIT_MSR, 1, 2);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_cr_dr_exits),
        T(test_cr0_selective),
        T(test_cpl3_gp_before_intercept),
        T(test_rdpmc_exceptions_first),
        T(test_intercept_before_page_fault),
        T(test_iret_intercept_first),
        T(test_instruction_exits),
        T(test_int3_and_msr),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
