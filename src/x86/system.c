/* System instructions: RFLAGS (PUSHF, POPF, CLI, STI, CLD, STD), HLT,
 * CPUID, MSRs, time stamp and performance counters, caches, software
 * interrupts, and the instructions this CPU does not offer (#UD).
 * APM vol. 3.
 *
 * SVM intercept order (APM 15.7.1): the intercept is checked after #UD
 * and the privilege #GP, and before memory accesses and checks that
 * depend on operand values.  A few intercepts outrank every exception of
 * their instruction: PUSHF, POPF, CPUID, IRET, INTn, ICEBP, PAUSE and RSM.
 * RDPMC is the exception the other way: on AMD all of its exceptions,
 * the counter number check included, come first. */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/system.h"

/* ---- RFLAGS ---- */

/* PUSHF: the image has VM and RF clear. */
static void op_pushf(struct cpu *cpu, const struct insn *in)
{
    svm_check(cpu, SVM_EXIT_PUSHF, 0, 0);
    uint64_t fl = x86_get_rflags(cpu) & ~(uint64_t)(FLAG_VM | FLAG_RF);
    stack_push(cpu, in->osize, fl & size_mask(in->osize));
}

/* POPF: IOPL changes only at CPL 0, IF only when CPL <= IOPL (silently
 * kept otherwise); VM, VIF and VIP never change; RF is cleared.  A 16-bit
 * POPF touches bits 15:0 only. */
static void op_popf(struct cpu *cpu, const struct insn *in)
{
    svm_check(cpu, SVM_EXIT_POPF, 0, 0);
    unsigned v = in->osize;
    uint64_t image = stack_peek(cpu, v, 0);
    uint64_t mask = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT;
    if (!prot_mode(cpu) || cpu->cpl == 0)
        mask |= FLAG_IOPL;
    if (!prot_mode(cpu) || cpu->cpl <= rflags_iopl(cpu))
        mask |= FLAG_IF;
    if (v >= 4)
        mask |= FLAG_AC | FLAG_ID | FLAG_RF;
    else
        image &= 0xffff;
    stack_release(cpu, v);
    uint64_t old = x86_get_rflags(cpu);
    uint64_t fl = (old & ~mask) | (image & mask & ~(uint64_t)FLAG_RF);
    x86_set_rflags(cpu, fl);
    if ((old ^ fl) & (FLAG_IF | FLAG_TF))
        cpu->stop_block = true;   /* interrupts or single-step may be due */
}

/* CLI/STI need CPL <= IOPL; at CPL 3 with CR4.PVI they work on VIF
 * instead (STI only while VIP is clear); otherwise #GP(0). */
static bool pvi_applies(struct cpu *cpu)
{
    return cpu->cpl == 3 && (cpu->cr4 & CR4_PVI);
}

static void op_cli(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (!prot_mode(cpu) || cpu->cpl <= rflags_iopl(cpu))
        flags_set(cpu, FLAG_IF, 0);
    else if (pvi_applies(cpu))
        flags_set(cpu, FLAG_VIF, 0);
    else
        x86_gp(cpu, 0);
}

/* STI: when it sets IF, interrupts stay blocked until the next
 * instruction has completed (the interrupt shadow). */
static void op_sti(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (!prot_mode(cpu) || cpu->cpl <= rflags_iopl(cpu)) {
        if (!(cpu->rflags & FLAG_IF)) {
            flags_set(cpu, FLAG_IF, FLAG_IF);
            cpu->shadow_until = cpu->icount + 1;
        }
        cpu->stop_block = true;
    } else if (pvi_applies(cpu) && !(cpu->rflags & FLAG_VIP)) {
        flags_set(cpu, FLAG_VIF, FLAG_VIF);
    } else {
        x86_gp(cpu, 0);
    }
}

/* CLD/STD: DF, which string instructions read (not privileged). */
static void op_cld(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    flags_set(cpu, FLAG_DF, 0);
}

static void op_std(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    flags_set(cpu, FLAG_DF, FLAG_DF);
}

/* ---- privileged housekeeping ---- */

/* HLT: the run loop wakes the CPU; RIP is already past the HLT. */
static void op_hlt(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    require_cpl0(cpu);
    svm_check(cpu, SVM_EXIT_HLT, 0, 0);
    cpu->halted = true;
    cpu->stop_block = true;
}

static void op_invd(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    require_cpl0(cpu);
    svm_check(cpu, SVM_EXIT_INVD, 0, 0);
}

static void op_wbinvd(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    require_cpl0(cpu);
    svm_check(cpu, SVM_EXIT_WBINVD, 0, 0);
}

/* PAUSE (F3 90): a hint; the pause filter is src/svm's. */
static void op_pause(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (cpu->svm.guest_mode)
        svm_intercept_pause(cpu);
}

/* ---- CPUID, MSRs, counters ---- */

static void write_edx_eax(struct cpu *cpu, uint64_t val)
{
    cpu->gpr[RAX] = (uint32_t)val;
    cpu->gpr[RDX] = val >> 32;
}

static void op_cpuid(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    uint32_t r[4];
    svm_check(cpu, SVM_EXIT_CPUID, 0, 0);
    x86_cpuid(cpu, (uint32_t)cpu->gpr[RAX], (uint32_t)cpu->gpr[RCX], r);
    cpu->gpr[RAX] = r[0];
    cpu->gpr[RBX] = r[1];
    cpu->gpr[RCX] = r[2];
    cpu->gpr[RDX] = r[3];
}

/* RDMSR/WRMSR: the MSR intercept is consulted before the MSR is known to
 * exist, so an intercepted unknown MSR exits instead of raising #GP. */
static void op_rdmsr(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    uint32_t msr = (uint32_t)cpu->gpr[RCX];
    uint64_t val;
    require_cpl0(cpu);
    if (cpu->svm.guest_mode)
        svm_intercept_msr(cpu, msr, 0);
    if (!x86_rdmsr(cpu, msr, &val))
        x86_gp(cpu, 0);
    write_edx_eax(cpu, val);
}

static void op_wrmsr(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    uint32_t msr = (uint32_t)cpu->gpr[RCX];
    uint64_t val = (cpu->gpr[RDX] << 32) | (uint32_t)cpu->gpr[RAX];
    require_cpl0(cpu);
    if (cpu->svm.guest_mode)
        svm_intercept_msr(cpu, msr, 1);
    if (!x86_wrmsr(cpu, msr, val))
        x86_gp(cpu, 0);
    cpu->stop_block = true;   /* EFER, segment bases ... may have changed */
}

/* CR4.TSD makes RDTSC/RDTSCP privileged. */
static void check_tsd(struct cpu *cpu)
{
    if ((cpu->cr4 & CR4_TSD) && cpu->cpl != 0)
        x86_gp(cpu, 0);
}

static void op_rdtsc(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    check_tsd(cpu);
    svm_check(cpu, SVM_EXIT_RDTSC, 0, 0);
    write_edx_eax(cpu, x86_tsc(cpu));
}

static void op_rdtscp(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    check_tsd(cpu);
    svm_check(cpu, SVM_EXIT_RDTSCP, 0, 0);
    write_edx_eax(cpu, x86_tsc(cpu));
    cpu->gpr[RCX] = (uint32_t)cpu->tsc_aux;
}

/* RDPMC: the performance counters 0-5 (perfctr.c).  CR4.PCE opens them
 * to CPL > 0. */
static void op_rdpmc(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    uint64_t val;
    if (!(cpu->cr4 & CR4_PCE) && cpu->cpl != 0)
        x86_gp(cpu, 0);
    if (!x86_perf_rdpmc(cpu, (uint32_t)cpu->gpr[RCX], &val))
        x86_gp(cpu, 0);
    svm_check(cpu, SVM_EXIT_RDPMC, 0, 0);
    write_edx_eax(cpu, val);
}

/* ---- software interrupts ---- */

/* INT n: the INTn intercept reports the vector (decode assists). */
static void op_int(struct cpu *cpu, const struct insn *in)
{
    unsigned vec = (uint8_t)in->op[0].disp;
    svm_check(cpu, SVM_EXIT_SWINT, vec, 0);
    x86_deliver_event(cpu, (int)vec, EVT_SOFTINT, 0, false);
}

/* INT3 and INTO raise #BP/#OF as exceptions that return past the
 * instruction; SVM sees them through the exception intercepts, which
 * x86_deliver_event checks. */
static void op_int3(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    x86_deliver_event(cpu, EXC_BP, EVT_SOFTEXC, 0, false);
}

static void op_into(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (cpu->mode == MODE_LONG64)
        x86_ud(cpu);
    if (flags_get(cpu, FLAG_OF))
        x86_deliver_event(cpu, EXC_OF, EVT_SOFTEXC, 0, false);
}

/* INT1 (ICEBP, F1): a #DB that ignores the gate's DPL (APM 13.1.4);
 * its own intercept comes before the #DB exception intercept. */
static void op_int1(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    svm_check(cpu, SVM_EXIT_ICEBP, 0, 0);
    x86_deliver_event(cpu, EXC_DB, EVT_SOFTEXC, 0, false);
}

/* RSM: its intercept comes first; outside SMM it is #UD (smm.c). */
static void op_rsm(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    svm_check(cpu, SVM_EXIT_RSM, 0, 0);
    if (!cpu->in_smm)
        x86_ud(cpu);
    x86_smm_rsm(cpu);
}

/* UD0/UD1/UD2; and what CPUID does not advertise: SMAP (CLAC, STAC),
 * MONITOR/MWAIT(X), XSAVE (XGETBV, XSETBV), RDPRU.  An unsupported
 * instruction is an invalid opcode, which precedes any intercept. */
static void op_ud(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    x86_ud(cpu);
}

void x86_ops_system(insn_fn *t)
{
    static const uint16_t ud[] = {
        ZYDIS_MNEMONIC_UD0, ZYDIS_MNEMONIC_UD1, ZYDIS_MNEMONIC_UD2,
        ZYDIS_MNEMONIC_CLAC, ZYDIS_MNEMONIC_STAC, ZYDIS_MNEMONIC_MONITOR,
        ZYDIS_MNEMONIC_MWAIT, ZYDIS_MNEMONIC_MONITORX, ZYDIS_MNEMONIC_MWAITX,
        ZYDIS_MNEMONIC_XGETBV, ZYDIS_MNEMONIC_XSETBV, ZYDIS_MNEMONIC_RDPRU,
    };
    for (unsigned i = 0; i < sizeof ud / sizeof ud[0]; i++)
        t[ud[i]] = op_ud;
    t[ZYDIS_MNEMONIC_PUSHF] = op_pushf;
    t[ZYDIS_MNEMONIC_PUSHFD] = op_pushf;
    t[ZYDIS_MNEMONIC_PUSHFQ] = op_pushf;
    t[ZYDIS_MNEMONIC_POPF] = op_popf;
    t[ZYDIS_MNEMONIC_POPFD] = op_popf;
    t[ZYDIS_MNEMONIC_POPFQ] = op_popf;
    t[ZYDIS_MNEMONIC_CLI] = op_cli;
    t[ZYDIS_MNEMONIC_STI] = op_sti;
    t[ZYDIS_MNEMONIC_CLD] = op_cld;
    t[ZYDIS_MNEMONIC_STD] = op_std;
    t[ZYDIS_MNEMONIC_HLT] = op_hlt;
    t[ZYDIS_MNEMONIC_INVD] = op_invd;
    t[ZYDIS_MNEMONIC_WBINVD] = op_wbinvd;
    t[ZYDIS_MNEMONIC_PAUSE] = op_pause;
    t[ZYDIS_MNEMONIC_CPUID] = op_cpuid;
    t[ZYDIS_MNEMONIC_RDMSR] = op_rdmsr;
    t[ZYDIS_MNEMONIC_WRMSR] = op_wrmsr;
    t[ZYDIS_MNEMONIC_RDTSC] = op_rdtsc;
    t[ZYDIS_MNEMONIC_RDTSCP] = op_rdtscp;
    t[ZYDIS_MNEMONIC_RDPMC] = op_rdpmc;
    t[ZYDIS_MNEMONIC_INT] = op_int;
    t[ZYDIS_MNEMONIC_INT3] = op_int3;
    t[ZYDIS_MNEMONIC_INTO] = op_into;
    t[ZYDIS_MNEMONIC_INT1] = op_int1;
    t[ZYDIS_MNEMONIC_RSM] = op_rsm;
    sys_ops_control(t);
    sys_ops_segment(t);
    sys_ops_far(t);
    sys_ops_syscall(t);
}
