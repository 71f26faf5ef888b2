/* Platform devices: the I/O bus, the 16550A UART register file and the
 * debug-exit port, driven through the same port-I/O path the CPU uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"

struct fx {
    struct machine *m;
    char *out;        /* serial output captured in memory */
    size_t out_len;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct machine_options opt = { .mem_size = MACHINE_MEM_MIN, .bare = true };
    f->m = calloc(1, sizeof(*f->m));
    assert_int_equal(machine_init(f->m, &opt), 0);
    /* capture the UART's output */
    f->m->serial.out = open_memstream(&f->out, &f->out_len);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fclose(f->m->serial.out);
    f->m->serial.out = NULL;
    machine_fini(f->m);
    free(f->m);
    free(f->out);
    free(f);
    return 0;
}

static uint32_t in(struct fx *f, uint16_t port, unsigned size)
{
    return f->m->cpu.bus.pio_read(f->m->cpu.bus.opaque, port, size);
}

static void out(struct fx *f, uint16_t port, unsigned size, uint32_t val)
{
    f->m->cpu.bus.pio_write(f->m->cpu.bus.opaque, port, size, val);
}

#define COM1 0x3f8

static void unassigned_ports_read_all_ones(void **state)
{
    struct fx *f = *state;
    assert_int_equal(in(f, 0x80, 1), 0xff);
    assert_int_equal(in(f, 0x80, 2), 0xffff);
    assert_int_equal(in(f, 0x80, 4), 0xffffffffu);
    assert_int_equal(in(f, 0xffff, 4), 0xffffffffu);   /* wraps: still open */
    out(f, 0x80, 4, 0x12345678);                         /* dropped */
    assert_int_equal(in(f, 0x80, 4), 0xffffffffu);
    assert_false(f->m->cpu.stop);
}

static void mmio_outside_ram_is_open_bus(void **state)
{
    struct fx *f = *state;
    uint64_t v = 0;
    assert_false(f->m->cpu.bus.mmio_read(f->m->cpu.bus.opaque, 1ull << 40, 4, &v));
    /* 0xFEC00000: where a PC has an I/O APIC, which nsvm does not */
    assert_false(f->m->cpu.bus.mmio_write(f->m->cpu.bus.opaque, 0xfec00000, 4, 1));
}

static void lsr_transmitter_always_ready(void **state)
{
    struct fx *f = *state;
    uint8_t lsr = (uint8_t)in(f, COM1 + 5, 1);
    assert_true(lsr & 0x20);      /* THRE */
    assert_true(lsr & 0x40);      /* TEMT */
    assert_false(lsr & 0x01);     /* DR: nothing received */
    out(f, COM1, 1, 'x');
    assert_int_equal(in(f, COM1 + 5, 1) & 0x61, 0x60);
    assert_int_equal(in(f, COM1, 1), 0);   /* RBR: no input */
}

static void thr_output_line_by_line(void **state)
{
    struct fx *f = *state;
    const char *s = "hello\nworld";
    for (const char *p = s; *p; p++)
        out(f, COM1, 1, (uint8_t)*p);
    fflush(f->m->serial.out);
    assert_int_equal(f->out_len, 6);               /* flushed at '\n' only */
    assert_memory_equal(f->out, "hello\n", 6);
    serial_flush(&f->m->serial);                   /* end of run */
    fflush(f->m->serial.out);
    assert_int_equal(f->out_len, 11);
    assert_memory_equal(f->out, "hello\nworld", 11);
}

static void scratch_register(void **state)
{
    struct fx *f = *state;
    for (unsigned v = 0; v < 256; v += 51) {
        out(f, COM1 + 7, 1, v);
        assert_int_equal(in(f, COM1 + 7, 1), v);
    }
}

static void dlab_divisor_latches(void **state)
{
    struct fx *f = *state;
    out(f, COM1 + 1, 1, 0x00);          /* IER = 0 */
    out(f, COM1 + 3, 1, 0x80);          /* DLAB */
    out(f, COM1 + 0, 1, 0x03);          /* 38400 baud */
    out(f, COM1 + 1, 1, 0x00);
    assert_int_equal(in(f, COM1 + 0, 1), 0x03);
    assert_int_equal(in(f, COM1 + 1, 1), 0x00);
    out(f, COM1 + 1, 1, 0xa5);
    assert_int_equal(in(f, COM1 + 1, 1), 0xa5);
    out(f, COM1 + 3, 1, 0x03);          /* 8N1, DLAB off */
    assert_int_equal(in(f, COM1 + 3, 1), 0x03);
    assert_int_equal(in(f, COM1 + 1, 1), 0x00);   /* IER again, unchanged */
    /* with DLAB set, offset 0 is the latch, not the transmitter */
    fflush(f->m->serial.out);
    assert_int_equal(f->out_len, 0);
}

static void ier_iir_fcr(void **state)
{
    struct fx *f = *state;
    assert_int_equal(in(f, COM1 + 2, 1), 0x01);          /* no interrupt */
    out(f, COM1 + 1, 1, 0xff);
    assert_int_equal(in(f, COM1 + 1, 1), 0x0f);          /* 4 IER bits */
    assert_int_equal(in(f, COM1 + 2, 1) & 0x0f, 0x02);   /* THR empty */
    assert_int_equal(in(f, COM1 + 2, 1) & 0x0f, 0x01);   /* read acknowledged it */
    out(f, COM1 + 1, 1, 0);
    out(f, COM1 + 2, 1, 0x07);                           /* FIFO on */
    assert_int_equal(in(f, COM1 + 2, 1), 0xc1);
    out(f, COM1 + 2, 1, 0x00);
    assert_int_equal(in(f, COM1 + 2, 1), 0x01);
}

static void mcr_msr_and_loopback(void **state)
{
    struct fx *f = *state;
    assert_int_equal(in(f, COM1 + 6, 1) & 0xf0, 0xb0);   /* DCD DSR CTS */
    out(f, COM1 + 4, 1, 0xff);
    assert_int_equal(in(f, COM1 + 4, 1), 0x1f);
    assert_int_equal(in(f, COM1 + 6, 1) & 0xf0, 0xf0);   /* loopback: all */
    out(f, COM1 + 4, 1, 0x10 | 0x01);                    /* LOOP | DTR */
    assert_int_equal(in(f, COM1 + 6, 1) & 0xf0, 0x20);   /* DSR only */
    out(f, COM1, 1, 0xae);
    assert_int_equal(in(f, COM1 + 5, 1) & 0x01, 0x01);   /* received */
    assert_int_equal(in(f, COM1, 1), 0xae);
    assert_int_equal(in(f, COM1 + 5, 1) & 0x01, 0x00);
    out(f, COM1, 1, 1);
    out(f, COM1, 1, 2);
    assert_int_equal(in(f, COM1 + 5, 1) & 0x03, 0x03);   /* DR + overrun */
    assert_int_equal(in(f, COM1 + 5, 1) & 0x02, 0x00);   /* OE cleared by read */
    fflush(f->m->serial.out);
    assert_int_equal(f->out_len, 0);                     /* nothing left the chip */
}

static void wide_access_is_split_into_bytes(void **state)
{
    struct fx *f = *state;
    out(f, COM1 + 7, 1, 0x5a);
    /* a 16-bit read at MSR+SCR sees both registers */
    assert_int_equal(in(f, COM1 + 6, 2) >> 8, 0x5a);
    /* a 32-bit read at 0x3fe reaches past COM1: the high bytes are open bus */
    assert_int_equal(in(f, COM1 + 6, 4) >> 16, 0xffff);
    out(f, COM1 + 6, 2, 0x3c00);   /* writes SCR through the high byte */
    assert_int_equal(in(f, COM1 + 7, 1), 0x3c);
}

static void debug_exit_stops_the_cpu(void **state)
{
    struct fx *f = *state;
    struct cpu *cpu = &f->m->cpu;
    assert_int_equal(in(f, 0xf4, 4), 0);   /* reads 0, as in QEMU */
    assert_int_equal(cpu->stop, STOP_NONE);
    out(f, 0xf4, 4, 0x1234503);
    assert_int_equal(cpu->stop, STOP_EXIT);
    assert_true(cpu->stop_block);
    assert_int_equal(cpu->exit_status, 0x03);
    assert_int_equal(f->m->debug_exit.value, 0x1234503);
}

static void debug_exit_any_port_and_size(void **state)
{
    struct fx *f = *state;
    out(f, 0xf7, 1, 0);
    assert_int_equal(f->m->cpu.stop, STOP_EXIT);
    assert_int_equal(f->m->cpu.exit_status, 0);
    f->m->cpu.stop = STOP_NONE;
    out(f, 0xf5, 2, 0x2a);
    assert_int_equal(f->m->cpu.stop, STOP_EXIT);
    assert_int_equal(f->m->cpu.exit_status, 0x2a);
    f->m->cpu.stop = STOP_NONE;
    out(f, 0xf8, 1, 1);                    /* past the device */
    assert_int_equal(f->m->cpu.stop, STOP_NONE);
}

static void bus_rejects_overlapping_ranges(void **state)
{
    (void)state;
    struct io_bus bus = { 0 };
    struct pio_range r = { .base = 0x60, .count = 4, .width = 1 };
    assert_true(io_bus_add_pio(&bus, &r));
    r.base = 0x63;
    assert_false(io_bus_add_pio(&bus, &r));
    r.base = 0x64;
    assert_true(io_bus_add_pio(&bus, &r));
    r.base = 0xfffe;
    assert_false(io_bus_add_pio(&bus, &r));   /* beyond port 0xffff */
    r.base = 0x100;
    r.width = 3;
    assert_false(io_bus_add_pio(&bus, &r));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(unassigned_ports_read_all_ones), T(mmio_outside_ram_is_open_bus),
        T(lsr_transmitter_always_ready), T(thr_output_line_by_line),
        T(scratch_register), T(dlab_divisor_latches), T(ier_iir_fcr),
        T(mcr_msr_and_loopback), T(wide_access_is_split_into_bytes),
        T(debug_exit_stops_the_cpu), T(debug_exit_any_port_and_size),
        cmocka_unit_test(bus_rejects_overlapping_ranges),
    };
    return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
