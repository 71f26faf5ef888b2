/* Last-branch recording and branch single-step (APM vol. 2, 13.1.1):
 * DebugCtl (MSR 0x1D9) and the control-transfer records LastBranchFromIP,
 * LastBranchToIP (0x1DB, 0x1DC), LastExceptionFromIP, LastExceptionToIP
 * (0x1DD, 0x1DE); and LBR virtualization (15.23).
 *
 * With DebugCtl.LBR set, every control transfer taken loads the branch
 * pair with its source and target RIP (segment offsets).  An exception or
 * interrupt first copies the branch pair into the exception pair — so the
 * exception pair holds the last branch before the event — and then loads
 * the branch pair with the interrupted RIP and the handler's.  A #DB is
 * not recorded: its delivery clears DebugCtl.LBR, which keeps the records
 * of what led to it for the handler.  The records are read-only.
 *
 * DebugCtl.BTF turns RFLAGS.TF's single step into a step over control
 * transfers: the #DB trap comes after the next instruction that transfers
 * control (a taken branch, a far transfer, INTn), not after every
 * instruction.  BTF stays set across the #DB.
 *
 * Branches are seen on the run loop's slow path, which the loop takes
 * while DebugCtl.LBR or RFLAGS.TF is set (exec.c): an instruction is a
 * taken branch when it is a control-transfer instruction and either always
 * transfers or ended somewhere other than its fall-through RIP.  A
 * conditional branch whose target is its own fall-through is not seen as
 * taken.  Code run with LBR and TF both clear is not slowed. */
#include <Zydis/Zydis.h>

#include "svm/vmcb.h"
#include "x86/insn.h"

#define MSR_DEBUGCTL       0x1d9u
#define MSR_BR_FROM        0x1dbu
#define MSR_BR_TO          0x1dcu
#define MSR_LASTEXCP_FROM  0x1ddu
#define MSR_LASTEXCP_TO    0x1deu

bool x86_lbr_msr(struct cpu *cpu, uint32_t msr, bool write, uint64_t *val,
                 bool *gp)
{
    struct x86_lbr *l = &cpu->lbr;
    uint64_t *rec;
    switch (msr) {
    case MSR_DEBUGCTL:
        *gp = write && (*val & ~DEBUGCTL_VALID);
        if (!write)
            *val = l->debugctl;
        else if (!*gp) {
            l->debugctl = *val;
            cpu->stop_block = true;   /* the run loop looks at LBR again */
        }
        return true;
    case MSR_BR_FROM:       rec = &l->br_from; break;
    case MSR_BR_TO:         rec = &l->br_to; break;
    case MSR_LASTEXCP_FROM: rec = &l->ex_from; break;
    case MSR_LASTEXCP_TO:   rec = &l->ex_to; break;
    default:
        return false;
    }
    *gp = write;
    if (!write)
        *val = *rec;
    return true;
}

/* ---- recording ---- */

enum transfer { NOT_A_TRANSFER, CONDITIONAL, ALWAYS, EVENT };

/* The control-transfer instructions (near and far JMP, CALL, RET, IRET,
 * SYSCALL/SYSRET, SYSENTER/SYSEXIT, Jcc, JrCXZ, LOOPcc).  EVENT: INTn,
 * INT3, INTO, INT1 transfer through the IDT, recorded at delivery. */
static enum transfer transfer_kind(unsigned mnemonic)
{
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL: case ZYDIS_MNEMONIC_RET:
    case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRETQ:
    case ZYDIS_MNEMONIC_SYSCALL: case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_SYSENTER: case ZYDIS_MNEMONIC_SYSEXIT:
        return ALWAYS;
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNLE: case ZYDIS_MNEMONIC_JCXZ: case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_JRCXZ: case ZYDIS_MNEMONIC_LOOP: case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
        return CONDITIONAL;
    case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_INT3: case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_INT1:
        return EVENT;
    default:
        return NOT_A_TRANSFER;
    }
}

/* The instruction at from has just retired on the slow path (RIP is where
 * it went).  Returns whether it transferred control, for BTF. */
bool x86_lbr_step(struct cpu *cpu, const struct insn *in, uint64_t from)
{
    enum transfer t = transfer_kind(in->mnemonic);
    bool taken = t == ALWAYS || t == EVENT ||
                 (t == CONDITIONAL && cpu->rip != from + in->len);
    if (taken && t != EVENT && (cpu->lbr.debugctl & DEBUGCTL_LBR)) {
        cpu->lbr.br_from = from;
        cpu->lbr.br_to = cpu->rip;
    }
    return taken;
}

/* An exception or interrupt delivered from RIP from; RIP is the handler. */
void x86_lbr_event(struct cpu *cpu, int vector, int type, uint64_t from)
{
    struct x86_lbr *l = &cpu->lbr;
    if (!(l->debugctl & DEBUGCTL_LBR))
        return;
    if (vector == EXC_DB && (type == EVT_EXCEPTION || type == EVT_SOFTEXC)) {
        l->debugctl &= ~DEBUGCTL_LBR;
        return;
    }
    l->ex_from = l->br_from;
    l->ex_to = l->br_to;
    l->br_from = from;
    l->br_to = cpu->rip;
}

/* ---- LBR virtualization (APM 15.23) ---- */

/* VMRUN: with LBR_VIRT, the host's DebugCtl and records are kept aside
 * and the guest's come from the VMCB; without it the guest shares the
 * host's. */
void x86_lbr_vmrun(struct cpu *cpu, const struct vmcb_save *s, bool lbrv)
{
    cpu->lbr_virt = lbrv;
    if (!lbrv)
        return;
    cpu->lbr_host = cpu->lbr;
    cpu->lbr = (struct x86_lbr){
        .debugctl = s->dbgctl & DEBUGCTL_VALID,
        .br_from = s->br_from, .br_to = s->br_to,
        .ex_from = s->last_excp_from, .ex_to = s->last_excp_to,
    };
}

/* #VMEXIT: the guest's into the VMCB, the host's back. */
void x86_lbr_vmexit(struct cpu *cpu, struct vmcb_save *s)
{
    if (!cpu->lbr_virt)
        return;
    const struct x86_lbr *l = &cpu->lbr;
    s->dbgctl = l->debugctl;
    s->br_from = l->br_from;
    s->br_to = l->br_to;
    s->last_excp_from = l->ex_from;
    s->last_excp_to = l->ex_to;
    cpu->lbr = cpu->lbr_host;
    cpu->lbr_virt = false;
}
