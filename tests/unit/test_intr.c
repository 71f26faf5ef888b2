/* Interrupt acceptance in the run loop (src/x86/intr.c, exec.c) with the
 * machine's APIC as the source: tiny real-mode programs at 0x1000 whose
 * interrupt handler (vector 0x40, IVT entry -> 0x2000) copies BX into CX
 * and counts in DX.  The APIC timer's expiry is exact to the instruction
 * (one tick per retired instruction, divide by 1), so an interrupt can be
 * made pending at a chosen instruction boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "machine.h"

#define CODE 0x1000
#define HANDLER 0x2000
#define VEC 0x40

/* handler: mov cx, bx; inc dx; iret */
static const uint8_t handler[] = { 0x89, 0xd9, 0x42, 0xcf };
/* out 0xf4, al (AL = 0) */
#define EXIT 0xb0, 0x00, 0xe6, 0xf4

static struct machine *boot(const uint8_t *code, size_t n, bool if_set)
{
    struct machine_options opt = { .mem_size = MACHINE_MEM_MIN, .bare = true };
    struct machine *m = calloc(1, sizeof(*m));
    assert_int_equal(machine_init(m, &opt), 0);
    struct cpu *cpu = &m->cpu;
    memcpy(m->ram + CODE, code, n);
    memcpy(m->ram + HANDLER, handler, sizeof(handler));
    m->ram[VEC * 4 + 0] = HANDLER & 0xff;   /* IVT: offset, segment 0 */
    m->ram[VEC * 4 + 1] = HANDLER >> 8;
    cpu->seg[SEG_CS] = (struct x86_seg){ 0, 0x9b, 0xffff, 0 };
    cpu->rip = CODE;
    cpu->gpr[RSP] = 0x8000;
    cpu->rflags = FLAGS_FIXED1 | (if_set ? FLAG_IF : 0);
    x86_update_mode(cpu);
    apic_reg_write(&m->apic, APIC_SVR, 0x1ff);
    apic_reg_write(&m->apic, APIC_TIMER_DCR, 0xb);
    apic_reg_write(&m->apic, APIC_LVT_TIMER, VEC);
    return m;
}

/* The timer expires when `after` instructions have retired. */
static void timer_after(struct machine *m, uint32_t after)
{
    apic_reg_write(&m->apic, APIC_TIMER_ICR, after);
}

static int run(struct machine *m)
{
    int st = machine_run(m);
    return st;
}

static void done(struct machine *m)
{
    machine_fini(m);
    free(m);
}

/* STI with an interrupt pending: the next instruction completes first. */
static void sti_shadow(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xfb, 0x43, 0x43, 0x43, EXIT };  /* sti; inc bx x3 */
    struct machine *m = boot(code, sizeof(code), false);
    apic_accept(&m->apic, APIC_DM_FIXED, VEC, false);
    assert_int_equal(run(m), 0);
    assert_int_equal(m->cpu.gpr[RDX], 1);
    assert_int_equal(m->cpu.gpr[RCX], 1);
    done(m);
}

/* Pending from the boundary after MOV SS: held until one more
 * instruction has completed.  Without the MOV SS (a NOP instead) it is
 * taken at that boundary. */
static void mov_ss_shadow(void **state)
{
    (void)state;
    /* nop; nop; mov ax, ss; mov ss, ax; inc bx; inc bx; exit */
    static const uint8_t code[] = { 0x90, 0x90, 0x8c, 0xd0, 0x8e, 0xd0,
                                    0x43, 0x43, EXIT };
    struct machine *m = boot(code, sizeof(code), true);
    timer_after(m, 4);
    assert_int_equal(run(m), 0);
    assert_int_equal(m->cpu.gpr[RDX], 1);
    assert_int_equal(m->cpu.gpr[RCX], 1);
    done(m);

    static const uint8_t plain[] = { 0x90, 0x90, 0x8c, 0xd0, 0x90,
                                     0x43, 0x43, EXIT };
    m = boot(plain, sizeof(plain), true);
    timer_after(m, 4);
    assert_int_equal(run(m), 0);
    assert_int_equal(m->cpu.gpr[RCX], 0);
    done(m);
}

/* The interrupt is taken at the exact boundary the timer names, inside
 * what would otherwise be one decoded block. */
static void exact_boundary(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x43, 0x43, 0x43, 0x43, 0x43, 0x43, EXIT };
    for (uint32_t k = 1; k <= 5; k++) {
        struct machine *m = boot(code, sizeof(code), true);
        timer_after(m, k);
        assert_int_equal(run(m), 0);
        assert_int_equal(m->cpu.gpr[RCX], k);
        done(m);
    }
}

/* HLT with IF = 1: time skips to the timer's expiry; the skipped cycles
 * are idle time (the TSC's clock), not retired instructions. */
static void hlt_woken_by_timer(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xf4, 0x43, EXIT };   /* hlt; inc bx */
    struct machine *m = boot(code, sizeof(code), true);
    timer_after(m, 1000);
    assert_int_equal(run(m), 0);
    assert_int_equal(m->cpu.gpr[RDX], 1);
    assert_int_equal(m->cpu.gpr[RCX], 0);           /* before the INC */
    assert_int_equal(m->cpu.gpr[RBX], 1);
    assert_int_equal(m->cpu.idle_cycles, 1000 - 1); /* HLT retired at 1 */
    /* hlt, mov cx/inc dx/iret, inc bx, mov al, out */
    assert_int_equal(m->cpu.icount, 1 + 3 + 1 + 2);
    done(m);
}

/* Nothing that could wake the CPU: halted for good (status 131) — with
 * IF clear, with the timer masked, or with its vector below the TPR. */
static void hlt_forever(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xf4, EXIT };
    struct machine *m = boot(code, sizeof(code), false);
    timer_after(m, 10);
    assert_int_equal(run(m), NSVM_EXIT_HALT);
    done(m);

    m = boot(code, sizeof(code), true);
    apic_reg_write(&m->apic, APIC_LVT_TIMER, VEC | APIC_LVT_MASKED);
    timer_after(m, 10);
    assert_int_equal(run(m), NSVM_EXIT_HALT);
    done(m);

    m = boot(code, sizeof(code), true);
    apic_reg_write(&m->apic, APIC_LVT_TIMER, VEC | (APIC_TIMER_PERIODIC << 17));
    apic_reg_write(&m->apic, APIC_TPR, 0x40);
    timer_after(m, 10);
    assert_int_equal(run(m), NSVM_EXIT_HALT);
    done(m);
}

/* An NMI is taken with IF = 0 and blocks the next one until IRET. */
static void nmi_blocking(void **state)
{
    (void)state;
    /* nop x4; exit. NMI handler (vector 2 -> 0x2100): inc si; iret */
    static const uint8_t code[] = { 0x90, 0x90, 0x90, 0x90, EXIT };
    static const uint8_t nmi[] = { 0x46, 0xcf };
    struct machine *m = boot(code, sizeof(code), false);
    memcpy(m->ram + 0x2100, nmi, sizeof(nmi));
    m->ram[8] = 0x00;
    m->ram[9] = 0x21;
    apic_reg_write(&m->apic, APIC_ICR, (1u << 18) | (APIC_DM_NMI << 8));
    assert_true(m->cpu.events & EVENT_NMI);
    m->cpu.nmi_blocked = true;          /* as if inside an NMI handler */
    assert_int_equal(run(m), 0);
    assert_int_equal(m->cpu.gpr[RSI], 0);
    done(m);

    m = boot(code, sizeof(code), false);
    memcpy(m->ram + 0x2100, nmi, sizeof(nmi));
    m->ram[8] = 0x00;
    m->ram[9] = 0x21;
    apic_reg_write(&m->apic, APIC_ICR, (1u << 18) | (APIC_DM_NMI << 8));
    assert_int_equal(run(m), 0);
    assert_int_equal(m->cpu.gpr[RSI], 1);
    assert_false(m->cpu.nmi_blocked);   /* the handler's IRET */
    done(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sti_shadow), cmocka_unit_test(mov_ss_shadow),
        cmocka_unit_test(exact_boundary), cmocka_unit_test(hlt_woken_by_timer),
        cmocka_unit_test(hlt_forever), cmocka_unit_test(nmi_blocking),
    };
    return cmocka_run_group_tests_name("intr", tests, NULL, NULL);
}
