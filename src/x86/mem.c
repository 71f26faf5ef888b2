/* The slow path of guest memory access: TLB misses, MMIO, accesses that
 * cross a page, and stores to pages that hold decoded code. */
#include "x86/mem.h"

void x86_tlb_protect_code(struct cpu *cpu, uint64_t ppage);

void *phys_ptr(struct cpu *cpu, uint64_t pa, uint64_t len)
{
    if (pa >= cpu->ram_size || len > cpu->ram_size - pa)
        return NULL;
    return cpu->ram + pa;
}

/* Decoded code in [pa, pa+len) is stale: bump the pages' generations so
 * their blocks are never used again, and end the current block (it may be
 * one of them). */
void phys_invalidate(struct cpu *cpu, uint64_t pa, uint64_t len)
{
    if (len == 0 || pa >= cpu->ram_size)
        return;
    uint64_t last = pa + len - 1;
    if (last >= cpu->ram_size || last < pa)
        last = cpu->ram_size - 1;
    for (uint64_t p = pa >> 12; p <= last >> 12; p++) {
        if (cpu->code_pages[p]) {
            cpu->code_pages[p] = 0;
            cpu->page_gen[p]++;
            cpu->tlb_epoch++;     /* block links into the page are stale */
            cpu->stop_block = true;
        }
    }
}

uint64_t phys_read(struct cpu *cpu, uint64_t pa, unsigned size)
{
    const void *p = phys_ptr(cpu, pa, size);
    if (p)
        return host_load(p, size);
    uint64_t val;
    if (cpu->bus.mmio_read && cpu->bus.mmio_read(cpu->bus.opaque, pa, size, &val))
        return val;
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;  /* open bus */
}

void phys_write(struct cpu *cpu, uint64_t pa, unsigned size, uint64_t val)
{
    void *p = phys_ptr(cpu, pa, size);
    if (p) {
        if (cpu->code_pages[pa >> 12] || cpu->code_pages[(pa + size - 1) >> 12])
            phys_invalidate(cpu, pa, size);
        host_store(p, size, val);
        return;
    }
    if (cpu->bus.mmio_write)
        cpu->bus.mmio_write(cpu->bus.opaque, pa, size, val);
}

/* A non-canonical address in 64-bit mode: #SS(0) through SS, else #GP(0). */
static void check_canonical(struct cpu *cpu, uint64_t lin, unsigned acc)
{
    if ((cpu->efer & EFER_LMA) && !x86_canonical(lin))
        x86_raise(cpu, (acc & ACC_STACK) ? EXC_SS : EXC_GP, 0);
}

uint64_t mem_read_slow(struct cpu *cpu, uint64_t lin, unsigned size,
                       unsigned acc)
{
    check_canonical(cpu, lin, acc);
    if (lin & (size - 1))
        x86_check_align(cpu, acc);   /* #AC (align.c) */
    if ((lin & 0xfff) + size > 4096) {
        /* crosses a page: assemble byte by byte (reads have no side
         * effects on RAM; each byte faults on its own page) */
        uint64_t val = 0;
        for (unsigned i = 0; i < size; i++)
            val |= mem_read_lin(cpu, (lin + i) & cpu->lin_mask, 1, acc) << (8 * i);
        return val;
    }
    uint64_t pa = x86_translate(cpu, lin, acc);
    return phys_read(cpu, pa, size);
}

void mem_write_slow(struct cpu *cpu, uint64_t lin, unsigned size, uint64_t val,
                    unsigned acc)
{
    check_canonical(cpu, lin, acc);
    if (lin & (size - 1))
        x86_check_align(cpu, acc);   /* #AC (align.c) */
    if ((lin & 0xfff) + size > 4096) {
        /* both pages must be writable before any byte is stored */
        uint64_t second = (lin + size - 1) & cpu->lin_mask;
        check_canonical(cpu, second, acc);
        x86_translate(cpu, lin, acc);
        x86_translate(cpu, second, acc);
        for (unsigned i = 0; i < size; i++)
            mem_write_lin(cpu, (lin + i) & cpu->lin_mask, 1, val >> (8 * i), acc);
        return;
    }
    uint64_t pa = x86_translate(cpu, lin, acc);
    phys_write(cpu, pa, size, val);
}

void mem_probe_write(struct cpu *cpu, uint64_t lin, unsigned size)
{
    struct tlb_entry *e = tlb_slot(cpu, lin, ACC_WRITE);
    if (e->tag_write == (lin & ~0xfffull) && (lin & 0xfff) <= 4096 - size)
        return;
    check_canonical(cpu, lin, ACC_WRITE);
    x86_translate(cpu, lin, ACC_WRITE);
    if ((lin & 0xfff) + size > 4096)
        x86_translate(cpu, (lin + size - 1) & cpu->lin_mask, ACC_WRITE);
}

void mem_read_buf(struct cpu *cpu, uint64_t lin, void *buf, size_t len,
                  unsigned acc)
{
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)mem_read_lin(cpu, (lin + i) & cpu->lin_mask, 1, acc);
}

void mem_write_buf(struct cpu *cpu, uint64_t lin, const void *buf, size_t len,
                   unsigned acc)
{
    const uint8_t *b = buf;
    for (size_t i = 0; i < len; i++)
        mem_write_lin(cpu, (lin + i) & cpu->lin_mask, 1, b[i], acc);
}

/* A block was decoded from this physical page. */
void mem_mark_code(struct cpu *cpu, uint64_t ppage)
{
    if (!cpu->code_pages[ppage >> 12]) {
        cpu->code_pages[ppage >> 12] = 1;
        x86_tlb_protect_code(cpu, ppage);
    }
}
