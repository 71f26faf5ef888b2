/* The 8259A programmable interrupt controller pair of the PC (master at
 * ports 0x20-0x21, slave at 0xA0-0xA1 cascaded on the master's IR2).
 *
 * Initialisation (ICW1-ICW4: vector base, single or cascade, auto EOI),
 * masking (OCW1), EOI and rotation commands (OCW2), IRR/ISR reads and poll
 * mode (OCW3).  Inputs are edge-triggered.  The machine has no device
 * wired to the inputs yet (no PIT): pic_set_irq() is how one would drive
 * them.  The output goes to the local APIC's LINT0 (ExtINT), or straight
 * to the CPU while the APIC is disabled; notify() tells the consumer that
 * it may have changed. */
#ifndef NSVM_DEV_PIC_H
#define NSVM_DEV_PIC_H

#include <stdbool.h>
#include <stdint.h>

#define PIC_MASTER_BASE 0x20
#define PIC_SLAVE_BASE  0xa0
#define PIC_NPORTS      2

struct pic;

struct pic_chip {
    struct pic *pic;
    uint8_t irr, isr, imr;
    uint8_t lines;           /* input levels, for edge detection */
    uint8_t vector_base;     /* ICW2 & 0xf8 */
    uint8_t priority_add;    /* the input with the highest priority */
    uint8_t icw_step;        /* 0: initialised, 2..4: expecting ICWn */
    bool icw4_needed, single, auto_eoi, read_isr, poll;
};

struct pic {
    struct pic_chip chip[2];  /* [0] master, [1] slave */
    void (*notify)(void *opaque);
    void *opaque;
};

void pic_init(struct pic *p, void (*notify)(void *opaque), void *opaque);
/* As PC firmware leaves it: vectors 0x08 and 0x70, every input masked. */
void pic_firmware_setup(struct pic *p);

/* An input (0-15) goes to level. */
void pic_set_irq(struct pic *p, unsigned irq, bool level);
/* The vector the pair would hand the CPU now, or -1 (output low). */
int pic_pending(const struct pic *p);
/* Interrupt acknowledge: the vector (IRQ 7/15 spurious vector if the
 * request went away); ISR updated. */
int pic_ack(struct pic *p);

/* Port handlers; dev is &p->chip[0] or &p->chip[1]. */
uint32_t pic_pio_read(void *dev, uint16_t off, unsigned size);
void pic_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val);

#endif
