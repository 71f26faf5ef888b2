/* Alignment checking, #AC (APM vol. 2, 8.2.18).
 *
 * Checking is active when CR0.AM = 1, RFLAGS.AC = 1 and CPL = 3; then a
 * data access that is not aligned to its size raises #AC(0): a word at an
 * odd address, a doubleword not 4-aligned, a quadword not 8-aligned.
 * Implicit supervisor accesses (descriptor tables, IDT, TSS, the frames of
 * privilege-changing event delivery) and instruction fetches are never
 * checked.  On the host (an AMD EPYC) #AC comes after the canonical-address
 * #GP and before #PF, which is where mem.c checks it.
 *
 * The fast path of a memory access never looks at alignment.  Instead,
 * while CR0.AM and RFLAGS.AC are both set ("armed"), the walk fills no read
 * or write tags into the CPL-3 TLB (paging.c), so every CPL-3 data access
 * reaches mem_read_slow/mem_write_slow, which call x86_check_align() for a
 * misaligned one.  Arming flushes those tags, since they were filled
 * without the check.  Instructions with larger or special operands (the
 * x87 and FXSAVE images) check their own rule (x87.c). */
#include "x86/mem.h"

/* Arming, or finding a different TLB current while armed, empties the
 * current CPL-3 set: its entries may have been filled unchecked. */
void x86_update_ac(struct cpu *cpu)
{
    bool armed = x86_ac_armed(cpu);
    const void *tlb = cpu->tlb;
    if (armed && (!cpu->ac_armed || cpu->ac_tlb != tlb)) {
        for (unsigned i = 0; i < TLB_SIZE; i++) {
            struct tlb_entry *e = &cpu->tlb[1][i];
            e->tag_read = e->tag_write = TLB_INVALID;
        }
    }
    cpu->ac_armed = armed;
    cpu->ac_tlb = tlb;
}

void x86_check_align(struct cpu *cpu, unsigned acc)
{
    if (cpu->cpl == 3 && !(acc & ACC_SUPER) && (acc & ACC_KIND) != ACC_FETCH &&
        x86_ac_armed(cpu))
        x86_raise(cpu, EXC_AC, 0);
}
