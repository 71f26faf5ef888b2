/* Guest memory access: linear addresses through the software TLB.
 *
 * The fast path is a TLB index, a tag compare and a host load or store;
 * everything else (page walk, A/D bits, faults, MMIO, accesses that cross
 * a page, stores to pages holding decoded code) is in mem.c. */
#ifndef NSVM_X86_MEM_H
#define NSVM_X86_MEM_H

#include <string.h>

#include "x86/cpu.h"

enum mem_access {
    ACC_READ  = 0,
    ACC_WRITE = 1,
    ACC_FETCH = 2,
    ACC_KIND  = 3,
    ACC_SUPER = 4,   /* implicit supervisor access (descriptor tables, IDT, TSS) */
    ACC_STACK = 8,   /* through SS: a non-canonical address is #SS, not #GP */
};

static inline unsigned mem_acc(unsigned seg, unsigned kind)
{
    return kind | (seg == SEG_SS ? ACC_STACK : 0);
}

uint64_t mem_read_slow(struct cpu *cpu, uint64_t lin, unsigned size, unsigned acc);
void mem_write_slow(struct cpu *cpu, uint64_t lin, unsigned size, uint64_t val,
                    unsigned acc);

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline uint64_t host_load(const void *p, unsigned size)
{
    switch (size) {
    case 1: return *(const uint8_t *)p;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static inline void host_store(void *p, unsigned size, uint64_t val)
{
    switch (size) {
    case 1: *(uint8_t *)p = (uint8_t)val; break;
    case 2: { uint16_t v = (uint16_t)val; memcpy(p, &v, 2); break; }
    case 4: { uint32_t v = (uint32_t)val; memcpy(p, &v, 4); break; }
    default: memcpy(p, &val, 8);
    }
}

static inline struct tlb_entry *tlb_slot(struct cpu *cpu, uint64_t lin,
                                         unsigned acc)
{
    unsigned user = cpu->cpl == 3 && !(acc & ACC_SUPER);
    return &cpu->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
}

/* Linear-address reads and writes of 1, 2, 4 or 8 bytes. */
static inline uint64_t mem_read_lin(struct cpu *cpu, uint64_t lin,
                                    unsigned size, unsigned acc)
{
    struct tlb_entry *e = tlb_slot(cpu, lin, acc);
    if (likely(e->tag_read == (lin & ~0xfffull) &&
               (lin & 0xfff) <= 4096 - size))
        return host_load((void *)(uintptr_t)(lin + e->addend), size);
    return mem_read_slow(cpu, lin, size, acc);
}

static inline void mem_write_lin(struct cpu *cpu, uint64_t lin, unsigned size,
                                 uint64_t val, unsigned acc)
{
    struct tlb_entry *e = tlb_slot(cpu, lin, acc);
    if (likely(e->tag_write == (lin & ~0xfffull) &&
               (lin & 0xfff) <= 4096 - size)) {
        host_store((void *)(uintptr_t)(lin + e->addend), size, val);
        return;
    }
    mem_write_slow(cpu, lin, size, val, acc | ACC_WRITE);
}

/* Segment:offset to linear.  Segment limits are not enforced (flat
 * segments); in 64-bit mode only FS and GS contribute a base. */
static inline uint64_t seg_linear(const struct cpu *cpu, unsigned seg,
                                  uint64_t ea)
{
    return (ea + cpu->seg_lin_base[seg]) & cpu->lin_mask;
}

static inline uint64_t mem_read(struct cpu *cpu, unsigned seg, uint64_t ea,
                                unsigned size)
{
    return mem_read_lin(cpu, seg_linear(cpu, seg, ea), size, mem_acc(seg, ACC_READ));
}

static inline void mem_write(struct cpu *cpu, unsigned seg, uint64_t ea,
                             unsigned size, uint64_t val)
{
    mem_write_lin(cpu, seg_linear(cpu, seg, ea), size, val, mem_acc(seg, ACC_WRITE));
}

/* Check that a write would succeed (for read-modify-write instructions that
 * must fault before changing registers). */
void mem_probe_write(struct cpu *cpu, uint64_t lin, unsigned size);

/* Copy between guest linear memory and a host buffer (slow, any length). */
void mem_read_buf(struct cpu *cpu, uint64_t lin, void *buf, size_t len,
                  unsigned acc);
void mem_write_buf(struct cpu *cpu, uint64_t lin, const void *buf, size_t len,
                   unsigned acc);

/* Physical memory.  phys_ptr returns a host pointer when [pa, pa+len) lies
 * entirely in RAM, else NULL; reads outside RAM and devices see all-ones. */
void *phys_ptr(struct cpu *cpu, uint64_t pa, uint64_t len);
uint64_t phys_read(struct cpu *cpu, uint64_t pa, unsigned size);
void phys_write(struct cpu *cpu, uint64_t pa, unsigned size, uint64_t val);
/* A read of RAM only, never of a device: false outside RAM (for probes,
 * which must change nothing). */
static inline bool phys_read_ram(struct cpu *cpu, uint64_t pa, unsigned size,
                                 uint64_t *val)
{
    const void *p = phys_ptr(cpu, pa, size);
    if (!p)
        return false;
    *val = host_load(p, size);
    return true;
}
/* Notify the decode cache that [pa, pa+len) was written behind the CPU's
 * back (loader, device). */
void phys_invalidate(struct cpu *cpu, uint64_t pa, uint64_t len);

/* Translate a linear address for the given access (walk, A/D, faults). */
uint64_t x86_translate(struct cpu *cpu, uint64_t lin, unsigned acc);
/* The same translation without side effects or faults (paging.c): false
 * where x86_translate would fault, else the host-physical address. */
bool x86_translate_probe(struct cpu *cpu, uint64_t lin, unsigned acc,
                         uint64_t *pa);

#endif
