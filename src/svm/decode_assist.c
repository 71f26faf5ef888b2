/* Decode assists (APM vol. 2, 15.33; CPUID 8000_000A EDX[7]).
 *
 * The EXITINFO1 parts are computed where the intercepts are taken: MOV
 * CRn/DRn report bit 63 and the GPR number (control.c), INVLPG and
 * INVLPGA the linear address, INT n the vector (system.c, svm_insn.c).
 * This file fills the rest at #VMEXIT: for an intercepted #PF and for a
 * nested page fault (15.33.4), the VMCB's "number of bytes fetched"
 * (offset 0x0D0) and "guest instruction bytes" (0x0D1-0x0DF) hold up to
 * 15 bytes read from the guest's CS:RIP.  Only data faults fill them: a
 * fault on an instruction fetch (EXITINFO1.ID) reports 0 bytes, as does
 * every other exit.
 *
 * The bytes are read as the guest would read them, with its paging and
 * its CPL, through the nested page tables when they are on; the read
 * stops at the first byte it cannot reach (not present, not user at CPL
 * 3, a reserved bit, outside RAM) and changes nothing: no fault, no
 * accessed bit.  An instruction-fetch fault on the second page of an
 * instruction whose error code has no ID bit (EFER.NXE clear) therefore
 * reports the bytes of the first page. */
#include "svm/svm_internal.h"

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)
#define PTE_PS  (1ull << 7)
#define PTE_NX  (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull
#define PTE_RSVD_PHYS (((1ull << 52) - 1) & ~((1ull << PHYS_ADDR_BITS) - 1))
#define INSN_BYTES_MAX 15

/* An entry of a table in RAM (open bus is not walked: nothing is read). */
static bool read_entry(struct cpu *cpu, uint64_t hpa, unsigned size,
                       uint64_t *pte)
{
    if (hpa >= cpu->ram_size || cpu->ram_size - hpa < size)
        return false;
    *pte = phys_read(cpu, hpa, size);
    return true;
}

/* Guest-physical to host-physical through the nested tables, for a read
 * (or, for the guest's own page tables, a write: 15.25.5); false where
 * the nested walk would fault. */
static bool npt_probe(struct cpu *cpu, uint64_t gpa, bool write,
                      uint64_t *hpa)
{
    const struct svm_state *svm = &cpu->svm;
    uint64_t table = svm->ncr3 & PTE_ADDR_MASK, pte;
    bool writable = true, user = true;

    if (!svm->npt) {
        *hpa = gpa;
        return true;
    }
    for (int level = 4;; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        if (!read_entry(cpu, table + ((gpa >> shift) & 511) * 8, 8, &pte) ||
            !(pte & PTE_P))
            return false;
        bool large = (level == 2 || level == 3) && (pte & PTE_PS);
        uint64_t rsvd = PTE_RSVD_PHYS | (svm->npt_nxe ? 0 : PTE_NX) |
                        (level == 4 ? PTE_PS : 0) |
                        (large ? ((1ull << shift) - 1) & ~0x1fffull : 0);
        if (pte & rsvd)
            return false;
        writable &= (pte & PTE_RW) != 0;
        user &= (pte & PTE_US) != 0;
        if (level == 1 || large) {
            uint64_t off = (1ull << shift) - 1;
            *hpa = (pte & PTE_ADDR_MASK & ~off) | (gpa & off);
            return user && (writable || !write);
        }
        table = pte & PTE_ADDR_MASK;
    }
}

/* Reserved bits of a PAE or long-mode entry (APM vol. 2, 5.3.3, 5.4). */
static uint64_t guest_reserved(const struct cpu *cpu, int level, bool large)
{
    bool lma = (cpu->efer & EFER_LMA) != 0;
    uint64_t rsvd = PTE_RSVD_PHYS | ((cpu->efer & EFER_NXE) ? 0 : PTE_NX);

    if (level == 4)
        rsvd |= PTE_PS;
    if (level == 3 && !lma)
        rsvd |= 0x1e6ull | PTE_NX;               /* PAE PDPTE */
    if (large)
        rsvd |= (level == 2 ? 0x1fe000ull : 0x3fffe000ull);
    return rsvd;
}

/* Linear to guest-physical through the guest's tables, for a read at the
 * guest's CPL; false where the walk would fault. */
static bool guest_probe(struct cpu *cpu, uint64_t lin, uint64_t *gpa)
{
    bool pae = (cpu->cr4 & CR4_PAE) != 0;
    bool lma = (cpu->efer & EFER_LMA) != 0;
    int level = lma ? 4 : pae ? 3 : 2;
    unsigned esize = pae ? 8 : 4;
    uint64_t table = pae ? (lma ? cpu->cr3 & PTE_ADDR_MASK : cpu->cr3 & 0xffffffe0ull)
                         : cpu->cr3 & 0xfffff000ull;
    bool user = true;
    uint64_t hpa, pte;

    if (!(cpu->cr0 & CR0_PG)) {
        *gpa = lin & cpu->lin_mask;
        return true;
    }
    for (;; level--) {
        unsigned shift = pae ? 12 + 9 * (unsigned)(level - 1)
                             : 12 + 10 * (unsigned)(level - 1);
        unsigned idx_bits = pae ? (level == 3 && !lma ? 2 : 9) : 10;
        uint64_t idx = (lin >> shift) & ((1ull << idx_bits) - 1);
        bool legacy_pdpte = pae && !lma && level == 3;
        if (!npt_probe(cpu, table + idx * esize, true, &hpa) ||
            !read_entry(cpu, hpa, esize, &pte) || !(pte & PTE_P))
            return false;
        bool large = level > 1 && !legacy_pdpte && (pte & PTE_PS) &&
                     (pae || (cpu->cr4 & CR4_PSE));
        if (pae && (pte & guest_reserved(cpu, level, large)))
            return false;
        if (!legacy_pdpte)
            user &= (pte & PTE_US) != 0;
        if (level == 1 || large) {
            uint64_t off = (1ull << shift) - 1;
            uint64_t base = pte & PTE_ADDR_MASK & ~off;
            if (!pae && large)   /* 4M page: PSE-36 address bits 39:32 */
                base = (pte & 0xffc00000ull) | ((pte & 0x1fe000ull) << 19);
            *gpa = base | (lin & off);
            return user || cpu->cpl != 3;
        }
        table = pte & (pae ? PTE_ADDR_MASK : 0xfffff000ull);
    }
}

/* A byte at a linear address as a guest read sees it; false if none. */
static bool read_byte(struct cpu *cpu, uint64_t lin, uint8_t *byte)
{
    uint64_t gpa, hpa;

    if ((cpu->efer & EFER_LMA) && !x86_canonical(lin))
        return false;
    if (!guest_probe(cpu, lin, &gpa) || !npt_probe(cpu, gpa, false, &hpa) ||
        hpa >= cpu->ram_size)
        return false;
    *byte = cpu->ram[hpa];
    return true;
}

void svm_decode_assist_exit(struct cpu *cpu, struct vmcb_control *c,
                            uint64_t code, uint64_t info1)
{
    unsigned n = 0;

    if (!(cpu->svm_features & SVM_FEATURE_DECODE_ASSISTS))
        return;
    if ((code != SVM_EXIT_EXCP(EXC_PF) && code != SVM_EXIT_NPF) ||
        (info1 & PF_ERR_ID)) {
        c->insn_len = 0;   /* nothing fetched: the bytes mean nothing */
        return;
    }
    uint64_t lin = seg_linear(cpu, SEG_CS, cpu->rip);
    while (n < INSN_BYTES_MAX &&
           read_byte(cpu, (lin + n) & cpu->lin_mask, &c->insn_bytes[n]))
        n++;
    c->insn_len = (uint8_t)n;
    memset(c->insn_bytes + n, 0, INSN_BYTES_MAX - n);
}
