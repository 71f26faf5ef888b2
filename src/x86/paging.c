/* Paging: the page-table walk (APM vol. 2, 5.3–5.6) and the software TLB.
 *
 * Legacy 2-level, PAE 3-level and long-mode 4-level tables; 4K, 2M/4M and
 * 1G pages; U/S, R/W (with CR0.WP), NX (with EFER.NXE) and reserved-bit
 * checks; accessed and dirty bits.  A successful walk fills the TLB entry
 * for the page with one tag per access kind that needs no further walk.
 * The same walk, as a probe, answers "where would this access go?" for
 * readers that must change nothing (decode assists). */
#include "svm/svm.h"
#include "x86/mem.h"

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)
#define PTE_NX  (1ull << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ull

/* Bits 51:PHYS_ADDR_BITS of an entry's address field are reserved. */
#define PTE_RSVD_PHYS (((1ull << 52) - 1) & ~((1ull << PHYS_ADDR_BITS) - 1))

struct walk {
    uint64_t pa;       /* translated physical address */
    bool writable;     /* R/W at every level */
    bool user;         /* U/S at every level */
    bool nx;           /* NX at some level (with EFER.NXE) */
    bool dirty;        /* D set in the final entry */
    uint64_t pte_hpa;  /* the final entry: where, its value and size */
    uint64_t pte;
    unsigned pte_size;
};

/* Physical address of a page-table entry, through the nested page tables
 * when the CPU runs a guest with NPT. */
static uint64_t pte_host_pa(struct cpu *cpu, uint64_t gpa)
{
    if (cpu->svm.npt)
        return svm_npt_translate(cpu, gpa, ACC_READ, true);
    return gpa;
}

static uint64_t pte_read(struct cpu *cpu, uint64_t hpa, unsigned size)
{
    return phys_read(cpu, hpa, size);
}

static void pte_set_bits(struct cpu *cpu, uint64_t hpa, uint64_t pte,
                         uint64_t bits, unsigned size)
{
    if ((pte & bits) != bits)
        phys_write(cpu, hpa, size, pte | bits);
}

/* Reserved bits of an entry at a level (4 = PML4 ... 1 = PTE), given
 * whether it maps a large page.  APM 5.3.3 / 5.4 tables. */
static inline __attribute__((always_inline)) uint64_t
pte_reserved(const struct cpu *cpu, int level, bool large, bool pae)
{
    uint64_t rsvd = PTE_RSVD_PHYS;
    if (!(cpu->efer & EFER_NXE))
        rsvd |= PTE_NX;
    if (!pae)
        return 0;  /* 32-bit tables: no reserved bits beyond PSE rules */
    if (level == 4)
        rsvd |= PTE_PS;                      /* PML4E bit 7 MBZ */
    if (level == 3 && !(cpu->efer & EFER_LMA))
        rsvd = PTE_RSVD_PHYS | 0x1e6ull | PTE_NX; /* PAE PDPTE */
    if (large && level == 2)
        rsvd |= 0x1fe000ull;                 /* 2M page: bits 20:13 */
    if (large && level == 3)
        rsvd |= 0x3fffe000ull;               /* 1G page: bits 29:13 */
    return rsvd;
}

static _Noreturn void walk_fault(struct cpu *cpu, uint64_t lin, unsigned acc,
                                 uint32_t err)
{
    unsigned kind = acc & ACC_KIND;
    if (kind == ACC_WRITE)
        err |= PFERR_W;
    if (cpu->cpl == 3 && !(acc & ACC_SUPER))
        err |= PFERR_U;
    if (kind == ACC_FETCH && (cpu->efer & EFER_NXE))
        err |= PFERR_I;
    x86_page_fault(cpu, lin, err);
}

/* A failed walk: #PF, or for a probe, false. */
static inline bool walk_fail(struct cpu *cpu, uint64_t lin, unsigned acc,
                             uint32_t err, bool probe)
{
    if (!probe)
        walk_fault(cpu, lin, acc, err);
    return false;
}

/* A probe's read of an entry: through the nested tables without faulting,
 * and from RAM only (no device is read). */
static bool probe_entry(struct cpu *cpu, uint64_t gpa, unsigned size,
                        uint64_t *hpa, uint64_t *pte)
{
    *hpa = gpa;
    if (cpu->svm.npt && !svm_npt_probe(cpu, gpa, ACC_READ, true, hpa))
        return false;
    return phys_read_ram(cpu, *hpa, size, pte);
}

/* Walk the tables; fault (#PF) on a missing or reserved entry.  Permission
 * checks are left to the caller, which knows the access.  A probe faults
 * nowhere, sets no accessed bit and returns false where the walk would
 * fault; the walk itself is the same. */
static inline __attribute__((always_inline)) bool
walk_tables(struct cpu *cpu, uint64_t lin, unsigned acc, struct walk *w,
            bool probe)
{
    bool pae = (cpu->cr4 & CR4_PAE) != 0;
    bool lma = (cpu->efer & EFER_LMA) != 0;
    int level = lma ? 4 : pae ? 3 : 2;
    unsigned esize = pae ? 8 : 4;
    uint64_t table = pae ? (lma ? cpu->cr3 & PTE_ADDR_MASK : cpu->cr3 & 0xffffffe0ull)
                         : cpu->cr3 & 0xfffff000ull;
    w->writable = w->user = true;
    w->nx = false;

    for (;; level--) {
        unsigned shift = pae ? 12 + 9 * (level - 1) : 12 + 10 * (level - 1);
        unsigned idx_bits = pae ? (level == 3 && !lma ? 2 : 9) : 10;
        uint64_t idx = (lin >> shift) & ((1ull << idx_bits) - 1);
        uint64_t hpa, pte;

        if (!probe) {
            hpa = pte_host_pa(cpu, table + idx * esize);
            pte = pte_read(cpu, hpa, esize);
        } else if (!probe_entry(cpu, table + idx * esize, esize, &hpa, &pte)) {
            return false;
        }
        bool pdpte_legacy = pae && !lma && level == 3;

        if (!(pte & PTE_P))
            return walk_fail(cpu, lin, acc, 0, probe);
        bool large = level > 1 && !pdpte_legacy && (pte & PTE_PS) &&
                     (pae || (cpu->cr4 & CR4_PSE));
        if (pte & pte_reserved(cpu, level, large, pae))
            return walk_fail(cpu, lin, acc, PFERR_P | PFERR_RSVD, probe);
        if (!pdpte_legacy) {
            w->writable &= (pte & PTE_RW) != 0;
            w->user &= (pte & PTE_US) != 0;
            if (pae && (cpu->efer & EFER_NXE) && (pte & PTE_NX))
                w->nx = true;
        }
        if (level == 1 || large) {
            uint64_t off_mask = (1ull << shift) - 1;
            uint64_t base = pte & PTE_ADDR_MASK & ~off_mask;
            if (!pae && large)  /* 4M page: PSE-36 address bits 39:32 */
                base = (pte & 0xffc00000ull) | ((pte & 0x1fe000ull) << 19);
            w->pa = base | (lin & off_mask);
            w->dirty = (pte & PTE_D) != 0;
            w->pte_hpa = hpa;
            w->pte = pte;
            w->pte_size = esize;
            return true;
        }
        if (!pdpte_legacy && !probe)
            pte_set_bits(cpu, hpa, pte, PTE_A, esize);
        table = pte & (pae ? PTE_ADDR_MASK : 0xfffff000ull);
    }
}

/* Whether U/S, R/W (with CR0.WP) or NX forbid the access. */
static inline __attribute__((always_inline)) bool
walk_denied(const struct cpu *cpu, const struct walk *w, unsigned acc)
{
    unsigned kind = acc & ACC_KIND;
    bool user_access = cpu->cpl == 3 && !(acc & ACC_SUPER);
    bool wp = (cpu->cr0 & CR0_WP) || user_access;
    return (user_access && !w->user) ||
           (kind == ACC_WRITE && wp && !w->writable) ||
           (kind == ACC_FETCH && w->nx);
}

/* Translate, check permissions, set A/D bits and fill the TLB. */
uint64_t x86_translate(struct cpu *cpu, uint64_t lin, unsigned acc)
{
    unsigned kind = acc & ACC_KIND;
    bool user_access = cpu->cpl == 3 && !(acc & ACC_SUPER);
    struct tlb_entry *e = tlb_slot(cpu, lin, acc);
    uint64_t page = lin & ~0xfffull;
    struct walk w;

    if (!(cpu->cr0 & CR0_PG)) {
        w.pa = lin & cpu->lin_mask;
        w.writable = w.user = w.dirty = true;
        w.nx = false;
    } else {
        walk_tables(cpu, lin, acc, &w, false);
        if (walk_denied(cpu, &w, acc))
            walk_fault(cpu, lin, acc, PFERR_P);
        uint64_t bits = PTE_A | (kind == ACC_WRITE ? PTE_D : 0);
        pte_set_bits(cpu, w.pte_hpa, w.pte, bits, w.pte_size);
        if (kind == ACC_WRITE)
            w.dirty = true;
        if (user_access ? !w.writable : (!w.writable && (cpu->cr0 & CR0_WP)))
            w.dirty = false;   /* never fill a write tag for a read-only page */
    }

    uint64_t gpa = w.pa;
    if (cpu->svm.npt)
        w.pa = svm_npt_translate(cpu, gpa, acc, false);

    uint64_t ppage = w.pa & ~0xfffull;
    if (ppage < cpu->ram_size) {
        e->addend = (uintptr_t)(cpu->ram + ppage) - (uintptr_t)page;
        e->ppage = ppage;
        e->tag_read = page;
        e->tag_write = (w.dirty && !cpu->code_pages[ppage >> 12]) ? page : TLB_INVALID;
        e->tag_fetch = w.nx ? TLB_INVALID : page;
        if (cpu->svm.npt) {
            /* the nested walk checked only this access kind */
            if (kind != ACC_WRITE)
                e->tag_write = TLB_INVALID;
            if (kind != ACC_FETCH)
                e->tag_fetch = TLB_INVALID;
        }
    } else {
        e->tag_read = e->tag_write = e->tag_fetch = TLB_INVALID;
    }
    if (user_access && x86_ac_armed(cpu))   /* alignment checks (align.c) */
        e->tag_read = e->tag_write = TLB_INVALID;
    return w.pa;
}

/* The host-physical address x86_translate would give the access, found
 * without a fault, an accessed or dirty bit, a TLB fill or a read outside
 * RAM; false where the access would fault. */
bool x86_translate_probe(struct cpu *cpu, uint64_t lin, unsigned acc,
                         uint64_t *pa)
{
    struct walk w;

    if (!(cpu->cr0 & CR0_PG))
        w.pa = lin & cpu->lin_mask;
    else if (!walk_tables(cpu, lin, acc, &w, true) || walk_denied(cpu, &w, acc))
        return false;
    *pa = w.pa;
    return !cpu->svm.npt || svm_npt_probe(cpu, w.pa, acc, false, pa);
}

static void flush_context(struct cpu *cpu, unsigned ctx)
{
    for (unsigned u = 0; u < 2; u++)
        for (unsigned i = 0; i < TLB_SIZE; i++) {
            struct tlb_entry *e = &cpu->tlb_store[ctx][u][i];
            e->tag_read = e->tag_write = e->tag_fetch = TLB_INVALID;
        }
}

static void flush_context_page(struct cpu *cpu, unsigned ctx, uint64_t lin)
{
    unsigned i = (lin >> 12) & (TLB_SIZE - 1);
    for (unsigned u = 0; u < 2; u++) {
        struct tlb_entry *e = &cpu->tlb_store[ctx][u][i];
        e->tag_read = e->tag_write = e->tag_fetch = TLB_INVALID;
    }
}

void x86_tlb_flush(struct cpu *cpu)
{
    cpu->tlb_epoch++;
    flush_context(cpu, cpu->tlb_ctx);
}

void x86_tlb_flush_page(struct cpu *cpu, uint64_t lin)
{
    cpu->tlb_epoch++;
    flush_context_page(cpu, cpu->tlb_ctx, lin);
}

void x86_tlb_flush_all(struct cpu *cpu)
{
    cpu->tlb_epoch++;
    for (unsigned c = 0; c < TLB_CONTEXTS; c++) {
        flush_context(cpu, c);
        cpu->tlb_tags[c].valid = c == 0;
    }
}

static void select_context(struct cpu *cpu, unsigned ctx)
{
    cpu->tlb_ctx = ctx;
    cpu->tlb = cpu->tlb_store[ctx];
    cpu->tlb_epoch++;
    x86_update_ac(cpu);   /* its CPL-3 set may hold unchecked entries */
}

/* What a guest context's entries depend on besides the page tables. */
static struct tlb_tag current_tag(const struct cpu *cpu, uint32_t asid,
                                  uint64_t ncr3)
{
    uint64_t paging = (cpu->cr0 & (CR0_PG | CR0_WP | CR0_PE)) |
                      (cpu->cr4 & (CR4_PAE | CR4_PSE | CR4_PGE)) |
                      ((cpu->efer & (EFER_NXE | EFER_LMA)) << 32) |
                      ((uint64_t)cpu->svm.npt << 63);
    return (struct tlb_tag){ cpu->cr3, ncr3, paging, asid, true };
}

static bool tag_equal(const struct tlb_tag *a, const struct tlb_tag *b)
{
    return a->valid && b->valid && a->asid == b->asid && a->cr3 == b->cr3 &&
           a->ncr3 == b->ncr3 && a->paging == b->paging;
}

void x86_tlb_enter_guest(struct cpu *cpu, uint32_t asid, uint64_t ncr3,
                         bool flush)
{
    struct tlb_tag tag = current_tag(cpu, asid, ncr3);
    unsigned ctx = 0;
    for (unsigned c = 1; c < TLB_CONTEXTS && !ctx; c++)
        if (tag_equal(&cpu->tlb_tags[c], &tag))
            ctx = c;
    if (!ctx) {
        ctx = 1 + cpu->tlb_victim;
        cpu->tlb_victim = (cpu->tlb_victim + 1) % (TLB_CONTEXTS - 1);
        flush = true;
    }
    if (flush)
        flush_context(cpu, ctx);
    cpu->tlb_tags[ctx] = tag;
    select_context(cpu, ctx);
}

void x86_tlb_enter_host(struct cpu *cpu)
{
    /* the guest may have changed CR3 or paging while it ran: its context
     * now holds translations for the state it left in */
    struct tlb_tag *t = &cpu->tlb_tags[cpu->tlb_ctx];
    if (cpu->tlb_ctx != 0)
        *t = current_tag(cpu, t->asid, t->ncr3);
    select_context(cpu, 0);
}

void x86_tlb_flush_asid_page(struct cpu *cpu, uint32_t asid, uint64_t lin)
{
    cpu->tlb_epoch++;
    for (unsigned c = 0; c < TLB_CONTEXTS; c++)   /* ASID 0: the host's */
        if (cpu->tlb_tags[c].asid == asid)
            flush_context_page(cpu, c, lin);
}

/* A physical page now holds decoded code: stores to it must take the slow
 * path, so drop every write tag that maps it, in every context. */
void x86_tlb_protect_code(struct cpu *cpu, uint64_t ppage)
{
    struct tlb_entry *e = &cpu->tlb_store[0][0][0];
    struct tlb_entry *end = e + TLB_CONTEXTS * 2 * TLB_SIZE;
    for (; e < end; e++)
        if (e->ppage == ppage)
            e->tag_write = TLB_INVALID;
}
