/* The 8259A pair (see pic.h). */
#include "dev/pic.h"

#include <string.h>

/* The input with the highest priority among mask's bits, as a rotation
 * distance from priority_add (8: none). */
static unsigned highest(const struct pic_chip *c, uint8_t mask)
{
    for (unsigned d = 0; d < 8; d++)
        if (mask & (1u << ((d + c->priority_add) & 7)))
            return d;
    return 8;
}

/* The chip's requesting input, or -1: the highest unmasked request of
 * higher priority than everything in service. */
static int chip_request(const struct pic_chip *c)
{
    unsigned req = highest(c, c->irr & ~c->imr);
    if (req == 8 || req >= highest(c, c->isr))
        return -1;
    return (int)((req + c->priority_add) & 7);
}

/* The slave's output drives the master's IR2 as a level. */
static void cascade(struct pic *p)
{
    struct pic_chip *m = &p->chip[0];
    if (chip_request(&p->chip[1]) >= 0)
        m->irr |= 1u << 2;
    else
        m->irr &= (uint8_t)~(1u << 2);
}

static void changed(struct pic *p)
{
    cascade(p);
    if (p->notify)
        p->notify(p->opaque);
}

static void chip_reset(struct pic_chip *c)
{
    struct pic *p = c->pic;
    memset(c, 0, sizeof(*c));
    c->pic = p;
}

void pic_init(struct pic *p, void (*notify)(void *opaque), void *opaque)
{
    memset(p, 0, sizeof(*p));
    for (int i = 0; i < 2; i++)
        chip_reset(&p->chip[i]);
    p->chip[0].pic = p->chip[1].pic = p;
    p->notify = notify;
    p->opaque = opaque;
}

void pic_firmware_setup(struct pic *p)
{
    p->chip[0].vector_base = 0x08;
    p->chip[1].vector_base = 0x70;
    p->chip[0].imr = p->chip[1].imr = 0xff;
    changed(p);
}

void pic_set_irq(struct pic *p, unsigned irq, bool level)
{
    struct pic_chip *c = &p->chip[(irq >> 3) & 1];
    uint8_t bit = (uint8_t)(1u << (irq & 7));
    if (level && !(c->lines & bit))
        c->irr |= bit;   /* rising edge */
    c->lines = level ? (c->lines | bit) : (c->lines & ~bit);
    changed(p);
}

int pic_pending(const struct pic *p)
{
    int irq = chip_request(&p->chip[0]);
    if (irq < 0)
        return -1;
    if (irq == 2 && !p->chip[0].single) {
        int s = chip_request(&p->chip[1]);
        return p->chip[1].vector_base + (s < 0 ? 7 : s);
    }
    return p->chip[0].vector_base + irq;
}

/* INTA on one chip: the input goes in service (unless auto EOI). */
static int chip_ack(struct pic_chip *c)
{
    int irq = chip_request(c);
    if (irq < 0)
        return 7;   /* spurious: IR7's vector, nothing in service */
    c->irr &= (uint8_t)~(1u << irq);
    if (!c->auto_eoi)
        c->isr |= (uint8_t)(1u << irq);
    return irq;
}

int pic_ack(struct pic *p)
{
    int irq = chip_ack(&p->chip[0]);
    int vector;
    if (irq == 2 && !p->chip[0].single)
        vector = p->chip[1].vector_base + chip_ack(&p->chip[1]);
    else
        vector = p->chip[0].vector_base + irq;
    changed(p);
    return vector;
}

/* The highest-priority input in service, or -1. */
static int in_service(const struct pic_chip *c)
{
    unsigned d = highest(c, c->isr);
    return d == 8 ? -1 : (int)((d + c->priority_add) & 7);
}

/* OCW2: EOI, rotation and priority commands (bits 7:5). */
static void ocw2(struct pic_chip *c, uint8_t val)
{
    unsigned cmd = val >> 5;
    int irq = (cmd & 2) ? (int)(val & 7) : in_service(c);
    switch (cmd) {
    case 1: case 3: case 5: case 7:   /* EOI: non-specific, specific */
        if (irq < 0)
            return;
        c->isr &= (uint8_t)~(1u << irq);
        if (cmd & 4)                  /* and rotate */
            c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    case 6:                           /* set priority: val&7 lowest */
        c->priority_add = (uint8_t)((val + 1) & 7);
        break;
    default:                          /* rotate in auto-EOI mode: no-op */
        break;
    }
}

static void write_cmd(struct pic_chip *c, uint8_t val)
{
    if (val & 0x10) {                 /* ICW1 */
        chip_reset(c);
        c->icw_step = 2;
        c->icw4_needed = val & 1;
        c->single = (val & 2) != 0;
    } else if (val & 0x08) {          /* OCW3 */
        if (val & 2)
            c->read_isr = val & 1;
        c->poll = (val & 4) != 0;
    } else {
        ocw2(c, val);
    }
}

static void write_data(struct pic_chip *c, uint8_t val)
{
    switch (c->icw_step) {
    case 0:                           /* OCW1: the mask */
        c->imr = val;
        return;
    case 2:
        c->vector_base = val & 0xf8;
        c->icw_step = !c->single ? 3 : c->icw4_needed ? 4 : 0;
        return;
    case 3:                           /* cascade wiring: fixed in a PC */
        c->icw_step = c->icw4_needed ? 4 : 0;
        return;
    default:                          /* ICW4 */
        c->auto_eoi = (val & 2) != 0;
        c->icw_step = 0;
        return;
    }
}

uint32_t pic_pio_read(void *dev, uint16_t off, unsigned size)
{
    struct pic_chip *c = dev;
    (void)size;
    if (off == 1)
        return c->imr;
    if (c->poll) {                    /* poll: acknowledge by reading */
        c->poll = false;
        int irq = chip_request(c);
        if (irq < 0)
            return 0;
        chip_ack(c);
        changed(c->pic);
        return 0x80u | (unsigned)irq;
    }
    return c->read_isr ? c->isr : c->irr;
}

void pic_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val)
{
    struct pic_chip *c = dev;
    (void)size;
    if (off == 0)
        write_cmd(c, (uint8_t)val);
    else
        write_data(c, (uint8_t)val);
    changed(c->pic);
}
