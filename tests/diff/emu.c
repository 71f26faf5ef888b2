/* Running instruction bytes on an emulated nsvm CPU: long mode (64-bit
 * or a 32-bit compatibility-mode code segment), paging off (linear =
 * physical), CPL 0, with the test buffer at BUF_GPA of a small guest RAM.  Each instruction goes through x86_decode and
 * x86_exec_insn, as the run loop would execute it. */
#include <stdlib.h>
#include <string.h>

#include "x86/decode.h"
#include "diff.h"

#define RAM_SIZE (64u * 1024)
#define BUF_GPA  0x4000u
#define CODE_RIP 0x1000u

struct emu {
    struct cpu cpu;
    uint8_t *ram;
};

static uint32_t no_pio_read(void *o, uint16_t port, unsigned size)
{
    (void)o, (void)port, (void)size;
    return ~0u;
}

static void no_pio_write(void *o, uint16_t port, unsigned size, uint32_t v)
{
    (void)o, (void)port, (void)size, (void)v;
}

static bool no_mmio_read(void *o, uint64_t pa, unsigned size, uint64_t *v)
{
    (void)o, (void)pa, (void)size, (void)v;
    return false;
}

static bool no_mmio_write(void *o, uint64_t pa, unsigned size, uint64_t v)
{
    (void)o, (void)pa, (void)size, (void)v;
    return false;
}

/* 64-bit mode (CS.L = 1) or compatibility mode with a 32-bit code
 * segment (CS.L = 0, CS.D = 1); flat segments either way. */
static void set_mode(struct cpu *cpu, bool compat32)
{
    unsigned want = compat32 ? MODE_COMPAT32 : MODE_LONG64;
    if (cpu->mode == want)
        return;
    cpu->seg[SEG_CS].attrib = compat32 ? 0x49b : 0x29b;
    cpu->seg[SEG_CS].limit = 0xffffffff;
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
}

struct emu *emu_new(void)
{
    static const struct x86_bus bus = {
        NULL, no_pio_read, no_pio_write, no_mmio_read, no_mmio_write,
    };
    struct emu *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->ram = calloc(1, RAM_SIZE);
    if (!e->ram || x86_cpu_init(&e->cpu, e->ram, RAM_SIZE, &bus) != 0) {
        free(e->ram);
        free(e);
        return NULL;
    }
    struct cpu *cpu = &e->cpu;
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->efer = EFER_LME | EFER_LMA;
    cpu->seg[SEG_CS].sel = 8;
    for (int s = 0; s < 6; s++)
        cpu->seg[s].base = 0;
    set_mode(cpu, false);
    return e;
}

void emu_free(struct emu *e)
{
    if (!e)
        return;
    x86_cpu_fini(&e->cpu);
    free(e->ram);
    free(e);
}

int emu_exec(struct emu *e, const uint8_t *code, size_t len, bool mem_rsi,
             bool compat32, struct regs *io, uint8_t *buf)
{
    struct cpu *cpu = &e->cpu;
    set_mode(cpu, compat32);
    memcpy(cpu->gpr, io->gpr, sizeof(cpu->gpr));
    if (mem_rsi)
        cpu->gpr[6] += BUF_GPA;
    x86_set_rflags(cpu, io->rflags);
    memcpy(e->ram + BUF_GPA, buf, BUF_SIZE);
    cpu->rip = CODE_RIP;

    /* follow RIP: the bytes may hold forward branches */
    int vec = -1;
    for (unsigned n = 0; vec < 0 && cpu->rip != CODE_RIP + len; n++) {
        uint64_t off = cpu->rip - CODE_RIP;
        struct insn in;
        if (off >= len || n == MAX_BYTES) {
            vec = EMU_BAD_RIP;
            break;
        }
        if (!x86_decode(cpu, code + off, len - off, &in))
            return EMU_DECODE_FAIL;
        vec = x86_exec_insn(cpu, &in);
    }

    memcpy(io->gpr, cpu->gpr, sizeof(cpu->gpr));
    if (mem_rsi)
        io->gpr[6] -= BUF_GPA;
    io->rflags = x86_get_rflags(cpu);
    memcpy(buf, e->ram + BUF_GPA, BUF_SIZE);
    return vec;
}
