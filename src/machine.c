/* The machine: RAM, devices, CPU and the run loop (see machine.h). */
#include "machine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* With --timeout, the CPU runs in slices of this many instructions and the
 * wall clock is read between them; the slices do not change what the
 * guest sees, so runs stay reproducible.  The slowest instruction a guest
 * can choose (one execution of a REP string instruction over open bus, 64
 * elements: some 16 us) bounds how late the timeout is noticed: a second;
 * ordinary code reads the clock every few hundred microseconds. */
#define TIMEOUT_SLICE (1ull << 16)

/* Payload files larger than this are refused before reading. */
#define PAYLOAD_FILE_MAX (1ull << 30)

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Anonymous, lazily committed memory: untouched pages cost nothing. */
static void *map_zeroed(uint64_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int open_output(const char *path, FILE *dflt, FILE **out, bool *own,
                       const char *what)
{
    *own = false;
    *out = dflt;
    if (!path)
        return 0;
    *out = fopen(path, "w");
    if (!*out) {
        fprintf(stderr, "nsvm: cannot open %s file %s: %s\n", what, path,
                strerror(errno));
        return NSVM_EXIT_USAGE;
    }
    *own = true;
    return 0;
}

/* The interrupt controllers and the firmware interfaces; the 8259 pair
 * and the APIC start as PC firmware leaves them for a kernel. */
static void pic_changed(void *opaque)
{
    struct machine *m = opaque;
    apic_update(&m->apic);
}

static bool wire_platform(struct machine *m)
{
    const struct pio_range ranges[] = {
        { .base = PIC_MASTER_BASE, .count = PIC_NPORTS, .width = 1,
          .dev = &m->pic.chip[0], .read = pic_pio_read, .write = pic_pio_write },
        { .base = PIC_SLAVE_BASE, .count = PIC_NPORTS, .width = 1,
          .dev = &m->pic.chip[1], .read = pic_pio_read, .write = pic_pio_write },
        { .base = FW_CFG_BASE, .count = FW_CFG_NPORTS, .width = 2,
          .dev = &m->fw_cfg, .read = fw_cfg_pio_read, .write = fw_cfg_pio_write },
        { .base = SHUTDOWN_PORT, .count = 1, .width = 1, .dev = &m->shutdown,
          .read = shutdown_pio_read, .write = shutdown_pio_write },
    };
    pic_init(&m->pic, pic_changed, m);
    apic_init(&m->apic, &m->cpu, &m->pic);
    pic_firmware_setup(&m->pic);
    apic_firmware_setup(&m->apic);
    fw_cfg_init(&m->fw_cfg, m->ram_size, m->opt.append);
    shutdown_port_init(&m->shutdown, &m->cpu);
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (!io_bus_add_pio(&m->io, &ranges[i]))
            return false;
    return true;
}

static int machine_intr_pending(void *opaque)
{
    return apic_intr_pending(&((struct machine *)opaque)->apic);
}

static int machine_intr_ack(void *opaque)
{
    return apic_intr_ack(&((struct machine *)opaque)->apic);
}

static void machine_timer(void *opaque)
{
    apic_timer_fire(&((struct machine *)opaque)->apic);
}

static void machine_perf_interrupt(void *opaque)
{
    apic_perf_interrupt(&((struct machine *)opaque)->apic);
}

/* In nested mode L0 holds L1's interrupts while L1's GIF (emulated by L0)
 * is clear, as KVM does not inject into an L1 with GIF clear. */
static bool machine_host_gif(void *opaque)
{
    const struct machine *m = opaque;
    return m->opt.bare || m->hv.gif;
}

static bool machine_apic_msr(void *opaque, uint32_t msr, bool write,
                             uint64_t *val)
{
    return apic_msr(&((struct machine *)opaque)->apic, msr, write, val);
}

static void machine_init_signal(void *opaque)
{
    apic_init_signal(&((struct machine *)opaque)->apic);
}

static bool wire_devices(struct machine *m)
{
    const struct pio_range com1 = {
        .base = SERIAL_COM1_BASE, .count = SERIAL_NPORTS, .width = 1,
        .dev = &m->serial, .read = serial_pio_read, .write = serial_pio_write,
    };
    const struct pio_range dexit = {
        .base = DEBUG_EXIT_BASE, .count = DEBUG_EXIT_NPORTS, .width = 4,
        .dev = &m->debug_exit, .read = debug_exit_pio_read,
        .write = debug_exit_pio_write,
    };
    serial_init(&m->serial, m->serial_out);
    debug_exit_init(&m->debug_exit, &m->cpu);
    return io_bus_add_pio(&m->io, &com1) && io_bus_add_pio(&m->io, &dexit) &&
           wire_platform(m);
}

int machine_init(struct machine *m, const struct machine_options *opt)
{
    int st;

    memset(m, 0, sizeof(*m));
    m->opt = *opt;
    m->ram_size = opt->mem_size;
    if ((st = open_output(opt->serial_file, stdout, &m->serial_out,
                          &m->own_serial_out, "serial")) ||
        (st = open_output(opt->trace_file, stderr, &m->trace_out,
                          &m->own_trace_out, "trace")))
        return st;
    m->ram = map_zeroed(m->ram_size);
    if (!m->ram) {
        fprintf(stderr, "nsvm: cannot allocate %llu MiB of guest RAM: %s\n",
                (unsigned long long)(m->ram_size >> 20), strerror(errno));
        return NSVM_EXIT_INTERNAL;
    }
    const struct x86_bus bus = {
        .opaque = m,
        .pio_read = machine_pio_read, .pio_write = machine_pio_write,
        .mmio_read = machine_mmio_read, .mmio_write = machine_mmio_write,
    };
    if (x86_cpu_init(&m->cpu, m->ram, m->ram_size, &bus) != 0 ||
        !wire_devices(m)) {
        fprintf(stderr, "nsvm: internal error: cannot set up the machine\n");
        return NSVM_EXIT_INTERNAL;
    }
    m->cpu.intc = (struct x86_intc){
        .opaque = m,
        .intr_pending = machine_intr_pending, .intr_ack = machine_intr_ack,
        .timer = machine_timer, .perf_interrupt = machine_perf_interrupt,
        .host_gif = machine_host_gif,
        .apic_msr = machine_apic_msr, .init = machine_init_signal,
    };
    m->cpu.trace = opt->trace;
    m->cpu.trace_out = m->trace_out;
    return 0;
}

void machine_fini(struct machine *m)
{
    serial_flush(&m->serial);
    if (m->ram) {
        x86_cpu_fini(&m->cpu);
        munmap(m->ram, m->ram_size);
        m->ram = NULL;
    }
    if (m->own_serial_out)
        fclose(m->serial_out);
    else if (m->serial_out)
        fflush(m->serial_out);
    if (m->own_trace_out)
        fclose(m->trace_out);
    else if (m->trace_out)
        fflush(m->trace_out);
    m->own_serial_out = m->own_trace_out = false;
}

int machine_load_image(struct machine *m, const char *name,
                       const uint8_t *data, size_t len)
{
    struct mb_error err;
    /* As QEMU builds it: the kernel's path, a space, the -append string. */
    const char *append = m->opt.append ? m->opt.append : "";
    size_t n = strlen(name) + 1 + strlen(append) + 1;
    char *cmdline = malloc(n);
    if (!cmdline) {
        fprintf(stderr, "nsvm: out of memory\n");
        return NSVM_EXIT_INTERNAL;
    }
    snprintf(cmdline, n, "%s %s", name, append);
    enum mb_status st = multiboot_load(m->ram, m->ram_size, data, len,
                                       cmdline, &m->image, &err);
    free(cmdline);
    if (st != MB_OK) {
        fprintf(stderr, "nsvm: %s: %s\n", name, err.msg);
        return NSVM_EXIT_PAYLOAD;
    }
    multiboot_enter(&m->cpu, &m->image);
    return 0;
}

int machine_load_file(struct machine *m, const char *path)
{
    struct mb_error err;
    uint8_t *data;
    size_t len;

    if (multiboot_read_file(path, PAYLOAD_FILE_MAX, &data, &len, &err)) {
        fprintf(stderr, "nsvm: %s\n", err.msg);
        return NSVM_EXIT_PAYLOAD;
    }
    int st = machine_load_image(m, path, data, len);
    free(data);
    return st;
}

/* One line on stderr for each of nsvm's own outcomes; the exit status. */
static int report_stop(struct machine *m, enum x86_stop why)
{
    const struct cpu *cpu = &m->cpu;
    unsigned long long rip = (unsigned long long)cpu->rip;

    switch (why) {
    case STOP_EXIT:
        if (m->shutdown.powered_off) {
            fprintf(stderr, "nsvm: guest powered off (Shutdown port 0x%x)\n",
                    SHUTDOWN_PORT);
            return 0;
        }
        if (m->debug_exit.value > 0xff)
            fprintf(stderr, "nsvm: guest wrote 0x%x to the debug-exit port; "
                    "exit status is its low 8 bits (%d)\n",
                    m->debug_exit.value, cpu->exit_status);
        return cpu->exit_status;
    case STOP_TRIPLE_FAULT:
        fprintf(stderr, "nsvm: triple fault at RIP 0x%llx (CS 0x%04x)\n",
                rip, cpu->seg[SEG_CS].sel);
        return NSVM_EXIT_TRIPLE_FAULT;
    case STOP_BUDGET:
        fprintf(stderr, "nsvm: instruction budget of %llu exhausted at RIP 0x%llx\n",
                (unsigned long long)m->opt.max_insns, rip);
        return NSVM_EXIT_BUDGET;
    case STOP_TIMEOUT:
        fprintf(stderr, "nsvm: timeout of %llu s expired at RIP 0x%llx after %llu instructions\n",
                (unsigned long long)m->opt.timeout_sec, rip,
                (unsigned long long)cpu->icount);
        return NSVM_EXIT_TIMEOUT;
    case STOP_HALT:
        /* The CPU stops halted only when no event could ever wake it: IF
         * clear, or IF set with no timer armed and nothing deliverable. */
        fprintf(stderr, "nsvm: guest halted at RIP 0x%llx with %s\n", rip,
                (x86_get_rflags(&m->cpu) & FLAG_IF)
                    ? "no interrupt source that could wake it"
                    : "interrupts disabled");
        return NSVM_EXIT_HALT;
    default:
        fprintf(stderr, "nsvm: internal error: the CPU stopped for reason %d at RIP 0x%llx\n",
                (int)why, rip);
        return NSVM_EXIT_INTERNAL;
    }
}

int machine_run(struct machine *m)
{
    struct cpu *cpu = &m->cpu;
    uint64_t budget_end = UINT64_MAX;
    enum x86_stop why;

    if (m->opt.max_insns && m->opt.max_insns < UINT64_MAX - cpu->icount)
        budget_end = cpu->icount + m->opt.max_insns;
    double start = now_seconds();
    double deadline = m->opt.timeout_sec ? start + (double)m->opt.timeout_sec : 0;
    if (!m->opt.bare)
        hv_init(&m->hv, cpu);   /* L1 starts in the state the loader left */
    for (;;) {
        uint64_t limit = budget_end;
        if (deadline && limit - cpu->icount > TIMEOUT_SLICE)
            limit = cpu->icount + TIMEOUT_SLICE;
        cpu->icount_limit = limit;
        cpu->stop = STOP_NONE;
        why = m->opt.bare ? x86_run(cpu) : hv_run(&m->hv);
        if (why != STOP_BUDGET || cpu->icount >= budget_end || !deadline)
            break;
        if (now_seconds() >= deadline) {
            why = STOP_TIMEOUT;
            break;
        }
    }
    m->wall_seconds = now_seconds() - start;
    serial_flush(&m->serial);
    return report_stop(m, why);
}

void machine_print_stats(const struct machine *m, FILE *out)
{
    const struct cpu *cpu = &m->cpu;
    double secs = m->wall_seconds > 0 ? m->wall_seconds : 1e-9;

    fprintf(out, "nsvm: stats: instructions retired: %llu\n",
            (unsigned long long)cpu->icount);
    fprintf(out, "nsvm: stats: wall time: %.3f s (%.1f million instructions/s)\n",
            m->wall_seconds, (double)cpu->icount / secs / 1e6);
    fprintf(out, "nsvm: stats: exceptions:");
    bool any = false;
    for (int v = 0; v < 32; v++) {
        if (!cpu->stat_exceptions[v])
            continue;
        fprintf(out, " %s=%llu", x86_exception_name(v),
                (unsigned long long)cpu->stat_exceptions[v]);
        any = true;
    }
    fprintf(out, "%s\n", any ? "" : " none");
    if (!m->opt.bare)
        hv_print_stats(&m->hv, out);
}

uint32_t machine_pio_read(void *opaque, uint16_t port, unsigned size)
{
    struct machine *m = opaque;
    return io_bus_pio_read(&m->io, port, size);
}

void machine_pio_write(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
    struct machine *m = opaque;
    io_bus_pio_write(&m->io, port, size, val);
}

bool machine_mmio_read(void *opaque, uint64_t pa, unsigned size, uint64_t *val)
{
    struct machine *m = opaque;
    if (apic_mmio_decodes(&m->apic, pa)) {
        *val = apic_mmio_read(&m->apic, pa, size);
        return true;
    }
    return io_bus_mmio_read(&m->io, pa, size, val);
}

bool machine_mmio_write(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
    struct machine *m = opaque;
    if (apic_mmio_decodes(&m->apic, pa)) {
        apic_mmio_write(&m->apic, pa, size, val);
        return true;
    }
    return io_bus_mmio_write(&m->io, pa, size, val);
}
