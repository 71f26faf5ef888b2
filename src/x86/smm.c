/* System-management mode (APM vol. 2, chapter 10): SMM entry on an SMI,
 * the AMD64 SMM state-save area, RSM (vol. 3), and the SMM MSRs.
 *
 * SMRAM is ordinary RAM at SMBASE: nothing hides it from code outside
 * SMM, and SMM_ADDR / SMM_MASK (the TSeg and ASeg ranges) are kept as
 * written but change no memory mapping.  The state-save area lies at
 * SMBASE + 0xFE00 and is reached by physical address (in guest mode too:
 * nested paging does not apply to it).
 *
 * SMM entry saves the interrupted state there, then enters the SMM
 * execution environment (APM 10.3.1): real-mode-like addressing with
 * 4-GiB limits, CS = SMBASE >> 4 with base SMBASE, RIP 0x8000, RFLAGS 2,
 * CR0.PE/EM/TS/PG clear, CR4 0, EFER 0, DR7 0x400, CPL 0.  In SMM further
 * SMIs are held until RSM, NMIs are blocked (until RSM, or an IRET), and
 * INTR is masked by the cleared RFLAGS.IF.  RSM reloads the state from the
 * save area, SMBASE included (the revision identifier says SMBASE
 * relocation is supported); an illegal state there is a shutdown.
 *
 * An SMI the SVM SMI intercept does not take in guest mode (APM 15.13.2)
 * enters SMM in the context it interrupts: guest mode stays on under the
 * same VMCB, and RSM returns there.  The save area's SVM fields (guest
 * flag, VMCB address) are left zero. */
#include "svm/svm.h"
#include "x86/mem.h"

#define SMM_SAVE_AREA   0xfe00u
#define SMM_ENTRY_RIP   0x8000u
/* SMM revision identifier (offset 0xFC): bit 17 SMBASE relocation, bit 16
 * I/O instruction restart (not offered), level 0x64: the AMD64 format. */
#define SMM_REVISION    0x00020064u
#define SMM_REV_RELOC   (1u << 17)
#define SMM_DATA_ATTRIB (SEG_ATTR_G | SEG_ATTR_P | SEG_ATTR_S | 0x3u)

/* Offsets in the AMD64 state-save area (APM vol. 2, table 10-2). */
enum {
    SMM_SEGS = 0x000,       /* ES, CS, SS, DS, FS, GS: 16 bytes each */
    SMM_GDTR = 0x060,       /* limit at +4, base at +8 */
    SMM_LDTR = 0x070,
    SMM_IDTR = 0x080,
    SMM_TR = 0x090,
    SMM_AUTO_HALT = 0x0c9,  /* bit 0: the SMI interrupted HLT */
    SMM_EFER = 0x0d0,
    SMM_REVISION_ID = 0x0fc,
    SMM_SMBASE = 0x100,
    SMM_CR4 = 0x148,
    SMM_CR3 = 0x150,
    SMM_CR0 = 0x158,
    SMM_DR7 = 0x160,
    SMM_DR6 = 0x168,
    SMM_RFLAGS = 0x170,
    SMM_RIP = 0x178,
    SMM_RAX = 0x1f8,        /* RAX ... R15 downwards, 8 bytes each */
};

/* The state SMM entry saves and RSM restores. */
struct smm_state {
    struct x86_seg seg[6], ldtr, tr;
    struct x86_dtable gdtr, idtr;
    uint64_t efer, cr0, cr3, cr4, dr6, dr7, rflags, rip, gpr[16];
    uint32_t smbase;
    bool halted;
};

static uint64_t save_pa(const struct cpu *cpu, unsigned off)
{
    return cpu->smbase + SMM_SAVE_AREA + off;
}

static void put(struct cpu *cpu, unsigned off, unsigned size, uint64_t val)
{
    phys_write(cpu, save_pa(cpu, off), size, val);
}

static uint64_t get(struct cpu *cpu, unsigned off, unsigned size)
{
    return phys_read(cpu, save_pa(cpu, off), size);
}

/* Segment attributes in the save area keep the descriptor's layout:
 * type/S/DPL/P in bits 7:0, AVL/L/D/G in bits 15:12. */
static void put_seg(struct cpu *cpu, unsigned off, const struct x86_seg *s)
{
    put(cpu, off, 2, s->sel);
    put(cpu, off + 2, 2, (s->attrib & 0xffu) | (s->attrib & 0xf00u) << 4);
    put(cpu, off + 4, 4, s->limit);
    put(cpu, off + 8, 8, s->base);
}

static void get_seg(struct cpu *cpu, unsigned off, struct x86_seg *s)
{
    unsigned ar = (unsigned)get(cpu, off + 2, 2);
    s->sel = (uint16_t)get(cpu, off, 2);
    s->attrib = (uint16_t)((ar & 0xffu) | (ar >> 4 & 0xf00u));
    s->limit = (uint32_t)get(cpu, off + 4, 4);
    s->base = get(cpu, off + 8, 8);
}

static void put_dtable(struct cpu *cpu, unsigned off, const struct x86_dtable *t)
{
    put(cpu, off, 4, 0);
    put(cpu, off + 4, 4, t->limit);
    put(cpu, off + 8, 8, t->base);
}

static void store_state(struct cpu *cpu, const struct smm_state *st)
{
    for (unsigned s = 0; s < 6; s++)
        put_seg(cpu, SMM_SEGS + 16 * s, &st->seg[s]);
    put_dtable(cpu, SMM_GDTR, &st->gdtr);
    put_seg(cpu, SMM_LDTR, &st->ldtr);
    put_dtable(cpu, SMM_IDTR, &st->idtr);
    put_seg(cpu, SMM_TR, &st->tr);
    put(cpu, SMM_AUTO_HALT, 1, st->halted);
    put(cpu, SMM_EFER, 8, st->efer);
    put(cpu, SMM_REVISION_ID, 4, SMM_REVISION);
    put(cpu, SMM_SMBASE, 4, st->smbase);
    put(cpu, SMM_CR4, 8, st->cr4);
    put(cpu, SMM_CR3, 8, st->cr3);
    put(cpu, SMM_CR0, 8, st->cr0);
    put(cpu, SMM_DR7, 8, st->dr7);
    put(cpu, SMM_DR6, 8, st->dr6);
    put(cpu, SMM_RFLAGS, 8, st->rflags);
    put(cpu, SMM_RIP, 8, st->rip);
    for (unsigned r = 0; r < 16; r++)
        put(cpu, SMM_RAX - 8 * r, 8, st->gpr[r]);
}

static void load_state(struct cpu *cpu, struct smm_state *st)
{
    for (unsigned s = 0; s < 6; s++)
        get_seg(cpu, SMM_SEGS + 16 * s, &st->seg[s]);
    st->gdtr.limit = (uint16_t)get(cpu, SMM_GDTR + 4, 2);
    st->gdtr.base = get(cpu, SMM_GDTR + 8, 8);
    get_seg(cpu, SMM_LDTR, &st->ldtr);
    st->idtr.limit = (uint16_t)get(cpu, SMM_IDTR + 4, 2);
    st->idtr.base = get(cpu, SMM_IDTR + 8, 8);
    get_seg(cpu, SMM_TR, &st->tr);
    st->halted = get(cpu, SMM_AUTO_HALT, 1) & 1;
    st->efer = get(cpu, SMM_EFER, 8);
    st->smbase = (uint32_t)get(cpu, SMM_SMBASE, 4);
    st->cr4 = get(cpu, SMM_CR4, 8);
    st->cr3 = get(cpu, SMM_CR3, 8);
    st->cr0 = get(cpu, SMM_CR0, 8);
    st->dr7 = get(cpu, SMM_DR7, 8);
    st->dr6 = get(cpu, SMM_DR6, 8);
    st->rflags = get(cpu, SMM_RFLAGS, 8);
    st->rip = get(cpu, SMM_RIP, 8);
    for (unsigned r = 0; r < 16; r++)
        st->gpr[r] = get(cpu, SMM_RAX - 8 * r, 8);
}

static void capture(struct cpu *cpu, struct smm_state *st)
{
    for (unsigned s = 0; s < 6; s++)
        st->seg[s] = cpu->seg[s];
    st->ldtr = cpu->ldtr;
    st->tr = cpu->tr;
    st->gdtr = cpu->gdtr;
    st->idtr = cpu->idtr;
    st->efer = cpu->efer;
    st->cr0 = cpu->cr0;
    st->cr3 = cpu->cr3;
    st->cr4 = cpu->cr4;
    st->dr6 = cpu->dr6;
    st->dr7 = cpu->dr7;
    st->rflags = x86_get_rflags(cpu);
    st->rip = cpu->rip;
    for (unsigned r = 0; r < 16; r++)
        st->gpr[r] = cpu->gpr[r];
    st->smbase = (uint32_t)cpu->smbase;
    st->halted = cpu->halted;
}

/* The SMM execution environment (APM 10.3.1). */
static void load_smm_environment(struct cpu *cpu)
{
    for (unsigned s = 0; s < 6; s++)
        cpu->seg[s] = (struct x86_seg){ 0, SMM_DATA_ATTRIB, 0xffffffffu, 0 };
    cpu->seg[SEG_CS].sel = (uint16_t)(cpu->smbase >> 4);
    cpu->seg[SEG_CS].base = cpu->smbase;
    x86_set_rflags(cpu, FLAGS_FIXED1);
    cpu->rip = cpu->next_rip = SMM_ENTRY_RIP;
    cpu->cr0 &= ~(CR0_PE | CR0_EM | CR0_TS | CR0_PG);
    cpu->cr4 = 0;
    cpu->efer = 0;
    cpu->dr7 = 0x400;
    x86_tlb_flush(cpu);
    x86_update_mode(cpu);
}

void x86_smm_enter(struct cpu *cpu)
{
    struct smm_state st;
    capture(cpu, &st);
    store_state(cpu, &st);
    if (cpu->trace & TRACE_EXC)
        fprintf(cpu->trace_out, "smm %llu enter smbase 0x%llx rip 0x%llx\n",
                (unsigned long long)cpu->icount,
                (unsigned long long)cpu->smbase, (unsigned long long)cpu->rip);
    cpu->in_smm = true;
    cpu->smm_nmi_blocked = cpu->nmi_blocked;
    cpu->nmi_blocked = true;
    cpu->halted = false;
    cpu->shadow_until = 0;
    load_smm_environment(cpu);
}

/* RSM enters shutdown when the save area holds a state no instruction
 * could have produced (APM vol. 3, RSM). */
static const char *illegal_state(const struct smm_state *st)
{
    bool lmp = (st->efer & EFER_LME) && (st->cr0 & CR0_PG);
    if (st->cr0 >> 32)
        return "CR0[63:32] set";
    if ((st->cr0 & CR0_PG) && !(st->cr0 & CR0_PE))
        return "CR0.PG set with CR0.PE clear";
    if ((st->cr0 & CR0_NW) && !(st->cr0 & CR0_CD))
        return "CR0.NW set with CR0.CD clear";
    if (st->cr4 & ~CR4_VALID)
        return "a reserved CR4 bit set";
    if (st->efer & ~EFER_VALID)
        return "a reserved EFER bit set";
    if (lmp && !(st->cr4 & CR4_PAE))
        return "long mode without CR4.PAE";
    if (lmp && (st->cr3 >> PHYS_ADDR_BITS))
        return "a reserved CR3 bit set";
    if (lmp && (st->seg[SEG_CS].attrib & SEG_ATTR_L) &&
        (st->seg[SEG_CS].attrib & SEG_ATTR_DB))
        return "CS.L and CS.D both set";
    return NULL;
}

static _Noreturn void rsm_shutdown(struct cpu *cpu, const char *why)
{
    if (cpu->trace & TRACE_EXC)
        fprintf(cpu->trace_out, "smm %llu rsm: shutdown: %s\n",
                (unsigned long long)cpu->icount, why);
    cpu->pending_exc = -1;
    cpu->delivering = -1;
    svm_check(cpu, SVM_EXIT_SHUTDOWN, 0, 0);
    cpu->stop = STOP_TRIPLE_FAULT;
    longjmp(cpu->fault_jmp, 1);
}

static void restore(struct cpu *cpu, const struct smm_state *st)
{
    for (unsigned s = 0; s < 6; s++)
        cpu->seg[s] = st->seg[s];
    cpu->ldtr = st->ldtr;
    cpu->tr = st->tr;
    cpu->gdtr = st->gdtr;
    cpu->idtr = st->idtr;
    cpu->efer = st->efer & ~EFER_LMA;
    if ((st->efer & EFER_LME) && (st->cr0 & CR0_PG))
        cpu->efer |= EFER_LMA;
    cpu->cr0 = st->cr0 | CR0_ET;
    cpu->cr3 = st->cr3;
    cpu->cr4 = st->cr4;
    cpu->dr6 = st->dr6;
    cpu->dr7 = st->dr7;
    x86_set_rflags(cpu, st->rflags);
    cpu->rip = cpu->next_rip = st->rip;
    for (unsigned r = 0; r < 16; r++)
        cpu->gpr[r] = st->gpr[r];
    x86_tlb_flush(cpu);
    x86_update_mode(cpu);
    /* CPL: the DPL of SS in protected mode (real mode 0, virtual-8086 3) */
    if (cpu->mode != MODE_REAL && !(cpu->rflags & FLAG_VM))
        cpu->cpl = SEG_ATTR_DPL(cpu->seg[SEG_SS].attrib);
}

void x86_smm_rsm(struct cpu *cpu)
{
    struct smm_state st;
    load_state(cpu, &st);
    const char *bad = illegal_state(&st);
    if (bad)
        rsm_shutdown(cpu, bad);
    restore(cpu, &st);
    if (SMM_REVISION & SMM_REV_RELOC)
        cpu->smbase = st.smbase;
    cpu->in_smm = false;
    cpu->nmi_blocked = cpu->smm_nmi_blocked;
    cpu->halted = st.halted;   /* auto-halt restart: back into HLT */
    cpu->shadow_until = 0;
    cpu->stop_block = true;
    if (cpu->trace & TRACE_EXC)
        fprintf(cpu->trace_out, "smm %llu rsm rip 0x%llx%s\n",
                (unsigned long long)cpu->icount, (unsigned long long)st.rip,
                st.halted ? " halted" : "");
}

void x86_smm_reset(struct cpu *cpu)
{
    cpu->in_smm = false;
    cpu->smm_nmi_blocked = false;
    cpu->smbase = SMM_DEFAULT_SMBASE;
    cpu->smm_addr = cpu->smm_mask = 0;
}

/* SMM_ADDR: the TSeg base, bits 47:17.  SMM_MASK: the TSeg mask (47:17),
 * the DRAM memory types of TSeg (14:12) and ASeg (10:8), and the I/O
 * memory type, close and valid bits of both (5:0). */
#define SMM_ADDR_VALID 0x0000fffffffe0000ull
#define SMM_MASK_VALID (SMM_ADDR_VALID | 0x773full)

bool x86_smm_msr(struct cpu *cpu, uint32_t msr, bool write, uint64_t *val)
{
    uint64_t *reg, valid;
    switch (msr) {
    case MSR_SMM_BASE: reg = &cpu->smbase;   valid = 0xffffffffull; break;
    case MSR_SMM_ADDR: reg = &cpu->smm_addr; valid = SMM_ADDR_VALID; break;
    case MSR_SMM_MASK: reg = &cpu->smm_mask; valid = SMM_MASK_VALID; break;
    default: return false;
    }
    if (!write) {
        *val = *reg;
        return true;
    }
    if (*val & ~valid)
        return false;
    *reg = *val;
    return true;
}
