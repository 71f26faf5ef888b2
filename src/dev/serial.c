/* 16550A UART register file (see serial.h). */
#include "dev/serial.h"

#include <string.h>

void serial_init(struct serial *s, FILE *out)
{
    memset(s, 0, sizeof(*s));
    s->lsr = UART_LSR_THRE | UART_LSR_TEMT;
    s->divisor = 12;   /* 9600 baud from the 1.8432 MHz clock */
    s->lcr = 0x03;     /* 8N1 */
    s->out = out;
}

void serial_flush(struct serial *s)
{
    if (s->line_len && s->out) {
        fwrite(s->line, 1, s->line_len, s->out);
        fflush(s->out);
    }
    s->line_len = 0;
}

static void transmit(struct serial *s, uint8_t c)
{
    if (s->mcr & UART_MCR_LOOP) {
        /* Loopback: the byte arrives at the receiver instead. */
        if (s->lsr & UART_LSR_DR)
            s->lsr |= UART_LSR_OE;
        s->rbr = c;
        s->lsr |= UART_LSR_DR;
        return;
    }
    s->line[s->line_len++] = (char)c;
    if (c == '\n' || s->line_len == SERIAL_LINE_MAX)
        serial_flush(s);
}

/* Highest-priority pending interrupt, as IIR bits 3:0. */
static uint8_t iir_id(const struct serial *s)
{
    if ((s->ier & UART_IER_RLSI) && (s->lsr & UART_LSR_OE))
        return UART_IIR_RLSI;
    if ((s->ier & UART_IER_RDI) && (s->lsr & UART_LSR_DR))
        return UART_IIR_RDI;
    if ((s->ier & UART_IER_THRI) && s->thr_ipending)
        return UART_IIR_THRI;
    return UART_IIR_NONE;
}

static uint8_t read_msr(const struct serial *s)
{
    if (!(s->mcr & UART_MCR_LOOP))
        return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    /* Loopback wires the modem outputs back to the inputs:
     * DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
    return (uint8_t)(((s->mcr & 0x01) << 5) | ((s->mcr & 0x02) << 3) |
                     ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
}

uint8_t serial_read(struct serial *s, unsigned reg)
{
    bool dlab = s->lcr & UART_LCR_DLAB;
    uint8_t v;

    switch (reg & 7) {
    case UART_RBR:
        if (dlab)
            return (uint8_t)s->divisor;
        s->lsr &= (uint8_t)~UART_LSR_DR;
        return s->rbr;
    case UART_IER:
        return dlab ? (uint8_t)(s->divisor >> 8) : s->ier;
    case UART_IIR:
        v = iir_id(s);
        if (v == UART_IIR_THRI)
            s->thr_ipending = false;   /* reading IIR acknowledges THRI */
        return v | ((s->fcr & UART_FCR_FIFO) ? UART_IIR_FIFO : 0);
    case UART_LCR:
        return s->lcr;
    case UART_MCR:
        return s->mcr;
    case UART_LSR:
        v = s->lsr;
        s->lsr &= (uint8_t)~UART_LSR_OE;   /* error bits clear on read */
        return v;
    case UART_MSR:
        return read_msr(s);
    default:
        return s->scr;
    }
}

void serial_write(struct serial *s, unsigned reg, uint8_t val)
{
    bool dlab = s->lcr & UART_LCR_DLAB;

    switch (reg & 7) {
    case UART_THR:
        if (dlab) {
            s->divisor = (uint16_t)((s->divisor & 0xff00) | val);
            return;
        }
        transmit(s, val);
        /* The transmitter empties at once: THRE stays set, and the
         * THR-empty interrupt is raised again. */
        s->thr_ipending = true;
        return;
    case UART_IER:
        if (dlab) {
            s->divisor = (uint16_t)((s->divisor & 0x00ff) | (val << 8));
            return;
        }
        if ((val & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
            s->thr_ipending = true;    /* enabling THRI with THR empty */
        s->ier = val & 0x0f;
        return;
    case UART_FCR:
        if (val & UART_FCR_CLEAR_RX)
            s->lsr &= (uint8_t)~(UART_LSR_DR | UART_LSR_OE);
        s->fcr = val & 0xc9;   /* FIFO enable, DMA mode, trigger level */
        return;
    case UART_LCR:
        s->lcr = val;
        return;
    case UART_MCR:
        s->mcr = val & 0x1f;
        return;
    case UART_LSR:
    case UART_MSR:
        return;   /* read-only here */
    default:
        s->scr = val;
    }
}

uint32_t serial_pio_read(void *dev, uint16_t off, unsigned size)
{
    (void)size;   /* the bus splits wider accesses into bytes */
    return serial_read(dev, off);
}

void serial_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val)
{
    (void)size;
    serial_write(dev, off, (uint8_t)val);
}
