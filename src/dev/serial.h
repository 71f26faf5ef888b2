/* A 16550A-compatible UART (the PC's COM1 at 0x3f8), enough for polled
 * output: the transmitter is always ready, nothing is ever received except
 * in loopback mode, and every register reads back the way the chip's does.
 * Transmitted bytes go to a host stream, flushed at each '\n' so that guest
 * lines interleave correctly with nsvm's own messages on stderr. */
#ifndef NSVM_DEV_SERIAL_H
#define NSVM_DEV_SERIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_NPORTS    8

/* Register offsets. */
enum {
    UART_RBR = 0, UART_THR = 0, UART_DLL = 0,
    UART_IER = 1, UART_DLM = 1,
    UART_IIR = 2, UART_FCR = 2,
    UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define UART_LCR_DLAB  0x80
#define UART_MCR_LOOP  0x10
#define UART_LSR_DR    0x01
#define UART_LSR_OE    0x02
#define UART_LSR_THRE  0x20
#define UART_LSR_TEMT  0x40
#define UART_IER_RDI   0x01
#define UART_IER_THRI  0x02
#define UART_IER_RLSI  0x04
#define UART_IIR_NONE  0x01
#define UART_IIR_THRI  0x02
#define UART_IIR_RDI   0x04
#define UART_IIR_RLSI  0x06
#define UART_IIR_FIFO  0xc0
#define UART_FCR_FIFO  0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80

#define SERIAL_LINE_MAX 256

struct serial {
    uint8_t rbr, ier, lcr, mcr, lsr, scr, fcr;
    uint16_t divisor;
    bool thr_ipending;       /* THR-empty interrupt latched (IIR reports it) */
    FILE *out;               /* NULL: output discarded */
    char line[SERIAL_LINE_MAX];
    unsigned line_len;
};

void serial_init(struct serial *s, FILE *out);
uint8_t serial_read(struct serial *s, unsigned reg);
void serial_write(struct serial *s, unsigned reg, uint8_t val);
/* Write out a partial last line (end of run). */
void serial_flush(struct serial *s);

/* struct pio_range handlers (dev is a struct serial). */
uint32_t serial_pio_read(void *dev, uint16_t off, unsigned size);
void serial_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val);

#endif
