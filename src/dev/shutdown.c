/* The "Shutdown" port (see shutdown.h). */
#include "dev/shutdown.h"

#include "x86/cpu.h"

static const char magic[] = "Shutdown";

void shutdown_port_init(struct shutdown_port *s, struct cpu *cpu)
{
    s->cpu = cpu;
    s->matched = 0;
    s->powered_off = false;
}

uint32_t shutdown_pio_read(void *dev, uint16_t off, unsigned size)
{
    (void)dev, (void)off, (void)size;
    return 0xff;
}

void shutdown_pio_write(void *dev, uint16_t off, unsigned size, uint32_t val)
{
    struct shutdown_port *s = dev;
    (void)off, (void)size;
    char c = (char)val;
    if (c == magic[s->matched])
        s->matched++;
    else
        s->matched = c == magic[0] ? 1 : 0;
    if (s->matched < sizeof(magic) - 1)
        return;
    s->matched = 0;
    s->powered_off = true;
    s->cpu->stop = STOP_EXIT;
    s->cpu->exit_status = 0;
    s->cpu->stop_block = true;
}
