/* Polled 8250 UART at 0x3f8: wait for LSR.THRE, write THR. */
#include "libguest.h"

#define UART_THR 0
#define UART_LSR 5
#define LSR_THRE 0x20

void serial_putc(char c)
{
	while (!(inb(SERIAL_PORT + UART_LSR) & LSR_THRE))
		pause();
	outb((uint8_t)c, SERIAL_PORT + UART_THR);
}

void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		serial_putc(s[i]);
}
