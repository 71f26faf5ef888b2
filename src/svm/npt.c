/* Nested paging (APM vol. 2, 15.25): guest-physical to host-physical
 * through the host's 4-level long-mode table at nCR3.
 *
 * Every nested access is a user access (15.25.5); an access to one of the
 * guest's own page tables during its walk is a user write (the walk may
 * set the guest's A/D bits).  A/D bits of the nested tables are set, the
 * host's EFER.NXE (latched at VMRUN) decides whether NX exists.  A failed
 * translation is #VMEXIT(NPF):
 *   EXITINFO1  #PF-style error code: P (protection, not absence), RW,
 *              US (always), RSVD, ID; bit 32 when the fault was on the final
 *              guest-physical address, bit 33 when on a guest page table
 *   EXITINFO2  the faulting guest-physical address
 * Host-physical addresses outside RAM read as all-ones (open bus), which
 * a nested walk sees as an entry with reserved bits set. */
#include "svm/svm_internal.h"

#define NPTE_P   (1ull << 0)
#define NPTE_RW  (1ull << 1)
#define NPTE_US  (1ull << 2)
#define NPTE_A   (1ull << 5)
#define NPTE_D   (1ull << 6)
#define NPTE_PS  (1ull << 7)
#define NPTE_NX  (1ull << 63)
#define NPTE_ADDR_MASK 0x000ffffffffff000ull
#define NPTE_RSVD_PHYS (((1ull << 52) - 1) & ~((1ull << PHYS_ADDR_BITS) - 1))

static _Noreturn void npf(struct cpu *cpu, uint64_t gpa, unsigned kind,
                          bool in_walk, uint64_t err)
{
    err |= PF_ERR_US;
    if (kind == ACC_WRITE)
        err |= PF_ERR_RW;
    if (kind == ACC_FETCH && cpu->svm.npt_nxe)
        err |= PF_ERR_ID;
    err |= in_walk ? NPF_INFO1_GUEST_PT_WALK : NPF_INFO1_FINAL_GPA;
    svm_vmexit(cpu, SVM_EXIT_NPF, err, gpa);
}

static uint64_t npte_reserved(const struct cpu *cpu, int level, bool large)
{
    uint64_t rsvd = NPTE_RSVD_PHYS;
    if (!cpu->svm.npt_nxe)
        rsvd |= NPTE_NX;
    if (level == 4)
        rsvd |= NPTE_PS;
    else if (large && level == 3)
        rsvd |= 0x3fffe000ull;   /* 1G page: bits 29:13 */
    else if (large && level == 2)
        rsvd |= 0x1fe000ull;     /* 2M page: bits 20:13 */
    return rsvd;
}

static void npte_set(struct cpu *cpu, uint64_t hpa, uint64_t pte, uint64_t bits)
{
    if ((pte & bits) != bits)
        phys_write(cpu, hpa, 8, pte | bits);
}

/* A failed nested walk: #VMEXIT(NPF), or for a probe, false. */
static inline bool npt_fail(struct cpu *cpu, uint64_t gpa, unsigned kind,
                            bool in_walk, uint64_t err, bool probe)
{
    if (!probe)
        npf(cpu, gpa, kind, in_walk, err);
    return false;
}

/* The nested walk.  A probe reads entries only in RAM, sets no A/D bit
 * and returns false where the walk would exit. */
static inline __attribute__((always_inline)) bool
npt_walk(struct cpu *cpu, uint64_t gpa, unsigned acc, bool in_walk,
         bool probe, uint64_t *out)
{
    unsigned kind = in_walk ? ACC_WRITE : (acc & ACC_KIND);
    uint64_t table = cpu->svm.ncr3 & NPTE_ADDR_MASK;
    bool writable = true, user = true, nx = false;

    for (int level = 4;; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        uint64_t hpa = table + ((gpa >> shift) & 511) * 8;
        uint64_t pte;
        if (!probe)
            pte = phys_read(cpu, hpa, 8);
        else if (!phys_read_ram(cpu, hpa, 8, &pte))
            return false;
        if (!(pte & NPTE_P))
            return npt_fail(cpu, gpa, kind, in_walk, 0, probe);
        bool large = (level == 2 || level == 3) && (pte & NPTE_PS);
        if (pte & npte_reserved(cpu, level, large))
            return npt_fail(cpu, gpa, kind, in_walk, PF_ERR_P | PF_ERR_RSVD,
                            probe);
        writable &= (pte & NPTE_RW) != 0;
        user &= (pte & NPTE_US) != 0;
        nx |= cpu->svm.npt_nxe && (pte & NPTE_NX);
        if (level == 1 || large) {
            if (!user || (kind == ACC_WRITE && !writable) ||
                (kind == ACC_FETCH && nx))
                return npt_fail(cpu, gpa, kind, in_walk, PF_ERR_P, probe);
            if (!probe)
                npte_set(cpu, hpa, pte,
                         NPTE_A | (kind == ACC_WRITE ? NPTE_D : 0));
            uint64_t off_mask = (1ull << shift) - 1;
            *out = (pte & NPTE_ADDR_MASK & ~off_mask) | (gpa & off_mask);
            return true;
        }
        if (!probe)
            npte_set(cpu, hpa, pte, NPTE_A);
        table = pte & NPTE_ADDR_MASK;
    }
}

uint64_t svm_npt_translate(struct cpu *cpu, uint64_t gpa, unsigned acc,
                           bool in_walk)
{
    uint64_t hpa;
    npt_walk(cpu, gpa, acc, in_walk, false, &hpa);
    return hpa;
}

bool svm_npt_probe(struct cpu *cpu, uint64_t gpa, unsigned acc, bool in_walk,
                   uint64_t *hpa)
{
    return npt_walk(cpu, gpa, acc, in_walk, true, hpa);
}
