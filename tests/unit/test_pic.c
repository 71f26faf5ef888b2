/* The 8259A pair on its own (src/dev/pic.c), programmed through its ports
 * as a kernel programs it: initialisation, masks, priority, EOI, the
 * cascade on IR2, ISR/IRR reads and poll mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "dev/pic.h"

struct fx {
    struct pic pic;
    unsigned notified;
};

static void notify(void *opaque)
{
    ((struct fx *)opaque)->notified++;
}

static void out(struct fx *f, unsigned port, uint8_t v)
{
    pic_pio_write(&f->pic.chip[port >= 0xa0], port & 1, 1, v);
}

static uint8_t in(struct fx *f, unsigned port)
{
    return (uint8_t)pic_pio_read(&f->pic.chip[port >= 0xa0], port & 1, 1);
}

/* The usual PC set-up: master at 0x20, slave at 0x28 on IR2, 8086 mode. */
static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    pic_init(&f->pic, notify, f);
    out(f, 0x20, 0x11); out(f, 0x21, 0x20); out(f, 0x21, 0x04); out(f, 0x21, 0x01);
    out(f, 0xa0, 0x11); out(f, 0xa1, 0x28); out(f, 0xa1, 0x02); out(f, 0xa1, 0x01);
    out(f, 0x21, 0x00);
    out(f, 0xa1, 0x00);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void init_and_mask(void **state)
{
    struct fx *f = *state;
    assert_int_equal(pic_pending(&f->pic), -1);
    out(f, 0x21, 0xf7);
    assert_int_equal(in(f, 0x21), 0xf7);
    pic_set_irq(&f->pic, 1, true);
    assert_int_equal(pic_pending(&f->pic), -1);   /* IR1 masked */
    assert_true(f->notified > 0);
    out(f, 0x21, 0xf5);
    assert_int_equal(pic_pending(&f->pic), 0x21);
}

static void ack_and_eoi(void **state)
{
    struct fx *f = *state;
    pic_set_irq(&f->pic, 3, true);
    assert_int_equal(pic_ack(&f->pic), 0x23);
    assert_int_equal(pic_pending(&f->pic), -1);
    out(f, 0x20, 0x0b);                        /* OCW3: read ISR */
    assert_int_equal(in(f, 0x20), 0x08);
    out(f, 0x20, 0x0a);                        /* OCW3: read IRR */
    assert_int_equal(in(f, 0x20), 0x00);       /* edge consumed */
    out(f, 0x20, 0x20);                        /* non-specific EOI */
    out(f, 0x20, 0x0b);
    assert_int_equal(in(f, 0x20), 0x00);
    pic_set_irq(&f->pic, 3, true);             /* still high: no new edge */
    assert_int_equal(pic_pending(&f->pic), -1);
}

/* IR0 has the highest priority; while IR1 is in service IR3 waits and
 * IR0 still preempts. */
static void fixed_priority(void **state)
{
    struct fx *f = *state;
    pic_set_irq(&f->pic, 5, true);
    pic_set_irq(&f->pic, 1, true);
    assert_int_equal(pic_ack(&f->pic), 0x21);
    pic_set_irq(&f->pic, 3, true);
    assert_int_equal(pic_pending(&f->pic), -1);
    pic_set_irq(&f->pic, 0, true);
    assert_int_equal(pic_ack(&f->pic), 0x20);
    out(f, 0x20, 0x60);                        /* specific EOI, IR0 */
    out(f, 0x20, 0x61);                        /* specific EOI, IR1 */
    assert_int_equal(pic_ack(&f->pic), 0x23);
    out(f, 0x20, 0x20);
    assert_int_equal(pic_ack(&f->pic), 0x25);
}

static void cascade(void **state)
{
    struct fx *f = *state;
    pic_set_irq(&f->pic, 10, true);
    assert_int_equal(pic_pending(&f->pic), 0x2a);
    assert_int_equal(pic_ack(&f->pic), 0x2a);
    out(f, 0x20, 0x0b);
    out(f, 0xa0, 0x0b);
    assert_int_equal(in(f, 0x20), 0x04);       /* IR2 in service */
    assert_int_equal(in(f, 0xa0), 0x04);       /* slave IR2 = IRQ 10 */
    out(f, 0xa1, 0xff);                        /* slave masked */
    pic_set_irq(&f->pic, 10, false);
    pic_set_irq(&f->pic, 10, true);
    out(f, 0xa0, 0x20);
    out(f, 0x20, 0x20);
    assert_int_equal(pic_pending(&f->pic), -1);
}

static void spurious_and_poll(void **state)
{
    struct fx *f = *state;
    assert_int_equal(pic_ack(&f->pic), 0x27);  /* nothing requested */
    out(f, 0x20, 0x0b);
    assert_int_equal(in(f, 0x20), 0x00);       /* not in service */
    pic_set_irq(&f->pic, 6, true);
    out(f, 0x20, 0x0c);                        /* OCW3: poll */
    assert_int_equal(in(f, 0x20), 0x86);
    assert_int_equal(pic_pending(&f->pic), -1);
    out(f, 0x20, 0x0c);
    assert_int_equal(in(f, 0x20), 0x00);
}

static void firmware_state(void **state)
{
    struct fx *f = *state;
    pic_init(&f->pic, NULL, NULL);
    pic_firmware_setup(&f->pic);
    assert_int_equal(in(f, 0x21), 0xff);
    assert_int_equal(in(f, 0xa1), 0xff);
    out(f, 0x21, 0xfe);
    pic_set_irq(&f->pic, 0, true);
    assert_int_equal(pic_pending(&f->pic), 0x08);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(init_and_mask), T(ack_and_eoi), T(fixed_priority), T(cascade),
        T(spurious_and_poll), T(firmware_state),
    };
    return cmocka_run_group_tests_name("pic", tests, NULL, NULL);
}
