/* Decode assists (APM vol. 2, 15.33; CPUID 8000_000A EDX[7]).
 *
 * The EXITINFO1 parts are computed where the intercepts are taken: MOV
 * CRn/DRn report bit 63 and the GPR number (control.c), INVLPG and
 * INVLPGA the linear address, INT n the vector (system.c, svm_insn.c).
 * This file fills the rest at #VMEXIT: for an intercepted #PF and for a
 * nested page fault (15.33.4), the VMCB's "number of bytes fetched"
 * (offset 0x0D0) and "guest instruction bytes" (0x0D1-0x0DF) hold up to
 * 15 bytes read from the guest's CS:RIP.  Only data faults fill them: a
 * fault on an instruction fetch (EXITINFO1.ID) reports 0 bytes and clears
 * all 15.  Every other exit writes only the count, 0: its bytes mean
 * nothing, and writing them would cost every world switch (an L0 copies
 * them into vmcb12 only for #PF and NPF exits, so both levels agree).
 *
 * The bytes are read as the guest would read them, with its paging and
 * its CPL, through the nested page tables when they are on; the read
 * stops at the first byte it cannot reach (not present, not user at CPL
 * 3, a reserved bit, outside RAM) and changes nothing: no fault, no
 * accessed bit (x86_translate_probe).  An instruction-fetch fault on the
 * second page of an instruction whose error code has no ID bit (EFER.NXE
 * clear) therefore reports the bytes of the first page. */
#include "svm/svm_internal.h"

#define INSN_BYTES_MAX 15

/* A byte at a linear address as a guest read sees it; false if none. */
static bool read_byte(struct cpu *cpu, uint64_t lin, uint8_t *byte)
{
    uint64_t hpa;

    if ((cpu->efer & EFER_LMA) && !x86_canonical(lin))
        return false;
    if (!x86_translate_probe(cpu, lin, ACC_READ, &hpa) || hpa >= cpu->ram_size)
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
    if (code != SVM_EXIT_EXCP(EXC_PF) && code != SVM_EXIT_NPF) {
        c->insn_len = 0;   /* nothing fetched; the bytes are left as they are */
        return;
    }
    if (info1 & PF_ERR_ID) {
        c->insn_len = 0;   /* a fetch fault: nothing fetched */
        memset(c->insn_bytes, 0, INSN_BYTES_MAX);
        return;
    }
    uint64_t lin = seg_linear(cpu, SEG_CS, cpu->rip);
    while (n < INSN_BYTES_MAX &&
           read_byte(cpu, (lin + n) & cpu->lin_mask, &c->insn_bytes[n]))
        n++;
    c->insn_len = (uint8_t)n;
    memset(c->insn_bytes + n, 0, INSN_BYTES_MAX - n);
}
