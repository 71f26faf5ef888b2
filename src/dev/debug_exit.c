/* Debug-exit device (see debug_exit.h). */
#include "dev/debug_exit.h"

#include "x86/cpu.h"

void debug_exit_init(struct debug_exit *d, struct cpu *cpu)
{
    d->cpu = cpu;
    d->value = 0;
    d->written = false;
}

uint32_t debug_exit_pio_read(void *dev, uint16_t off, unsigned size)
{
    (void)dev, (void)off, (void)size;
    return 0;
}

void debug_exit_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val)
{
    struct debug_exit *d = dev;
    (void)off, (void)size;

    d->value = val;
    d->written = true;
    d->cpu->stop = STOP_EXIT;
    d->cpu->exit_status = (int)(val & 0xff);
    d->cpu->stop_block = true;
}
