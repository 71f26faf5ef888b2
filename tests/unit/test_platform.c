/* Firmware-facing devices: fw_cfg's selector and data ports (items as a
 * test kernel reads them) and the Bochs "Shutdown" port, through the
 * machine's port bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "machine.h"

static struct machine *new_machine(const char *append)
{
    struct machine_options opt = { .mem_size = MACHINE_MEM_MIN, .bare = true,
                                   .append = append };
    struct machine *m = calloc(1, sizeof(*m));
    assert_int_equal(machine_init(m, &opt), 0);
    return m;
}

static void free_machine(struct machine *m)
{
    machine_fini(m);
    free(m);
}

static uint64_t item(struct machine *m, uint16_t key, unsigned n)
{
    uint64_t v = 0;
    machine_pio_write(m, 0x510, 2, key);
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)machine_pio_read(m, 0x511, 1) << (8 * i);
    return v;
}

static void fw_cfg_items(void **state)
{
    (void)state;
    struct machine *m = new_machine("console=ttyS0 x=1");
    assert_int_equal(item(m, 0x0000, 4), 0x554d4551);      /* "QEMU" */
    assert_int_equal(item(m, 0x0001, 4), 1);
    assert_int_equal(item(m, 0x0003, 8), MACHINE_MEM_MIN);
    assert_int_equal(item(m, 0x0005, 2), 1);
    assert_int_equal(item(m, 0x000f, 2), 1);
    assert_int_equal(item(m, 0x0014, 4), strlen("console=ttyS0 x=1") + 1);
    char buf[32] = { 0 };
    machine_pio_write(m, 0x510, 2, 0x0015);
    for (size_t i = 0; i < sizeof("console=ttyS0 x=1"); i++)
        buf[i] = (char)machine_pio_read(m, 0x511, 1);
    assert_string_equal(buf, "console=ttyS0 x=1");
    assert_int_equal(item(m, 0x1234, 8), 0);               /* unknown */
    assert_int_equal(item(m, 0x0005, 4), 1);               /* past the end */
    free_machine(m);
}

static void fw_cfg_without_append(void **state)
{
    (void)state;
    struct machine *m = new_machine(NULL);
    assert_int_equal(item(m, 0x0014, 4), 1);               /* just the NUL */
    assert_int_equal(item(m, 0x0015, 1), 0);
    free_machine(m);
}

static void send(struct machine *m, const char *s)
{
    for (; *s; s++)
        machine_pio_write(m, 0x8900, 1, (uint8_t)*s);
}

static void shutdown_port(void **state)
{
    (void)state;
    struct machine *m = new_machine(NULL);
    send(m, "Shutdow");
    assert_int_equal(m->cpu.stop, STOP_NONE);
    send(m, "x");                                          /* breaks the match */
    send(m, "n");
    assert_int_equal(m->cpu.stop, STOP_NONE);
    send(m, "ShuShutdown");                                /* restarts at 'S' */
    assert_int_equal(m->cpu.stop, STOP_EXIT);
    assert_int_equal(m->cpu.exit_status, 0);
    assert_true(m->shutdown.powered_off);
    free_machine(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fw_cfg_items),
        cmocka_unit_test(fw_cfg_without_append),
        cmocka_unit_test(shutdown_port),
    };
    return cmocka_run_group_tests_name("platform", tests, NULL, NULL);
}
