/* The machine end to end: tiny multiboot kernels built in memory (32-bit
 * code at 1 MiB) run to each of the outcomes nsvm maps to an exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

#define LOAD_PA  0x100000u
#define CODE_OFF 0x80u      /* file offset of the code, after the headers */
#define MB_OFF   0x60u      /* multiboot header: inside the first 8 KiB */

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* An ELF32 multiboot image whose single segment is the given code. */
static size_t build_kernel(uint8_t *file, const uint8_t *code, size_t n)
{
    uint8_t *ph = file + 52;
    memset(file, 0, CODE_OFF + n);
    memcpy(file, "\177ELF", 4);
    file[4] = 1; file[5] = 1; file[6] = 1;
    w16(file + 16, 2); w16(file + 18, 3); w32(file + 20, 1);
    w32(file + 24, LOAD_PA);
    w32(file + 28, 52);
    w16(file + 40, 52); w16(file + 42, 32); w16(file + 44, 1);
    w32(ph, 1);
    w32(ph + 4, CODE_OFF);
    w32(ph + 8, LOAD_PA);
    w32(ph + 12, LOAD_PA);
    w32(ph + 16, (uint32_t)n);
    w32(ph + 20, (uint32_t)n);
    w32(file + MB_OFF, 0x1badb002);
    w32(file + MB_OFF + 4, 0);
    w32(file + MB_OFF + 8, -0x1badb002u);
    memcpy(file + CODE_OFF, code, n);
    return CODE_OFF + n;
}

struct run {
    int status;
    char *serial;
    size_t serial_len;
    uint64_t icount;
};

static void run_code(const uint8_t *code, size_t n, struct machine_options *opt,
                     struct run *r)
{
    uint8_t file[512];
    size_t len = build_kernel(file, code, n);
    struct machine *m = calloc(1, sizeof(*m));
    FILE *serial;

    opt->mem_size = opt->mem_size ? opt->mem_size : MACHINE_MEM_MIN;
    opt->bare = true;
    assert_int_equal(machine_init(m, opt), 0);
    serial = open_memstream(&r->serial, &r->serial_len);
    m->serial.out = serial;
    assert_int_equal(machine_load_image(m, "kernel", file, len), 0);
    r->status = machine_run(m);
    r->icount = m->cpu.icount;
    m->serial.out = NULL;
    fclose(serial);
    machine_fini(m);
    free(m);
}

/* mov dx, 0xf4; mov al, imm; out dx, al */
#define EXIT_WITH(v) 0x66, 0xba, 0xf4, 0x00, 0xb0, (v), 0xee
/* mov dx, 0x3f8; mov al, c; out dx, al */
#define PUTC(c) 0x66, 0xba, 0xf8, 0x03, 0xb0, (c), 0xee

static void exits_with_the_guests_value(void **state)
{
    (void)state;
    const uint8_t code[] = { EXIT_WITH(42) };
    struct machine_options opt = { 0 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, 42);
    assert_int_equal(r.icount, 3);
    free(r.serial);
}

static void exit_status_is_the_low_byte(void **state)
{
    (void)state;
    /* mov dx, 0xf4; mov eax, 0x101; out dx, eax */
    const uint8_t code[] = { 0x66, 0xba, 0xf4, 0x00, 0xb8, 0x01, 0x01, 0, 0, 0xef };
    struct machine_options opt = { 0 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, 1);
    free(r.serial);
}

static void serial_output_reaches_the_stream(void **state)
{
    (void)state;
    const uint8_t code[] = { PUTC('o'), PUTC('k'), PUTC('\n'), PUTC('!'), EXIT_WITH(0) };
    struct machine_options opt = { 0 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.serial_len, 4);       /* the partial line is flushed too */
    assert_memory_equal(r.serial, "ok\n!", 4);
    free(r.serial);
}

static void boot_registers(void **state)
{
    (void)state;
    /* cmp eax, 0x2badb002; jne fail; cmp ebx, 0x9000; jne fail; exit 0;
     * fail: exit 1 */
    const uint8_t code[] = {
        0x3d, 0x02, 0xb0, 0xad, 0x2b, 0x75, 0x0f,
        0x81, 0xfb, 0x00, 0x90, 0x00, 0x00, 0x75, 0x07,
        EXIT_WITH(0), EXIT_WITH(1),
    };
    struct machine_options opt = { 0 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, 0);
    free(r.serial);
}

static void halt_with_interrupts_disabled(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xfa, 0xf4 };   /* cli; hlt */
    struct machine_options opt = { 0 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, NSVM_EXIT_HALT);
    free(r.serial);
}

static void triple_fault(void **state)
{
    (void)state;
    /* IDTR still has its reset value (base 0): RAM there is zero, so every
     * gate is invalid: #UD -> #GP -> #DF -> shutdown. */
    const uint8_t code[] = { 0x0f, 0x0b };   /* ud2 */
    struct machine_options opt = { 0 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, NSVM_EXIT_TRIPLE_FAULT);
    free(r.serial);
}

static void instruction_budget(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xeb, 0xfe };   /* jmp $ */
    struct machine_options opt = { .max_insns = 100000 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, NSVM_EXIT_BUDGET);
    assert_true(r.icount >= 100000);
    free(r.serial);
}

static void wall_clock_timeout(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xeb, 0xfe };
    struct machine_options opt = { .timeout_sec = 1 };
    struct run r;
    run_code(code, sizeof(code), &opt, &r);
    assert_int_equal(r.status, NSVM_EXIT_TIMEOUT);
    free(r.serial);
}

static void bad_payload(void **state)
{
    (void)state;
    struct machine_options opt = { .mem_size = MACHINE_MEM_MIN };
    struct machine *m = calloc(1, sizeof(*m));
    assert_int_equal(machine_init(m, &opt), 0);
    assert_int_equal(machine_load_file(m, "/nonexistent.elf"), NSVM_EXIT_PAYLOAD);
    assert_int_equal(machine_load_image(m, "junk", (const uint8_t *)"junk", 4),
                     NSVM_EXIT_PAYLOAD);
    machine_fini(m);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exits_with_the_guests_value),
        cmocka_unit_test(exit_status_is_the_low_byte),
        cmocka_unit_test(serial_output_reaches_the_stream),
        cmocka_unit_test(boot_registers),
        cmocka_unit_test(halt_with_interrupts_disabled),
        cmocka_unit_test(triple_fault),
        cmocka_unit_test(instruction_budget),
        cmocka_unit_test(wall_clock_timeout),
        cmocka_unit_test(bad_payload),
    };
    return cmocka_run_group_tests_name("machine", tests, NULL, NULL);
}
