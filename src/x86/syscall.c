/* Fast system calls: SYSCALL/SYSRET (EFER.SCE; STAR, LSTAR, CSTAR,
 * SFMASK) and SYSENTER/SYSEXIT (legacy mode only: AMD makes them #UD in
 * long mode).  APM vol. 2, 6.1; vol. 3.
 *
 * None of them reads a descriptor: CS and SS get fixed flat attributes,
 * and the selectors come from STAR or SYSENTER_CS.  SVM has no intercept
 * for them. */
#include <Zydis/Zydis.h>

#include "x86/flags.h"
#include "x86/system.h"

/* Flat 4 GiB segments, attributes packed as in struct x86_seg. */
#define ATTR_CODE     (0xbu | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_G)  /* exec/read, accessed */
#define ATTR_DATA     (0x3u | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_G | SEG_ATTR_DB)
#define ATTR_CODE64   (ATTR_CODE | SEG_ATTR_L)
#define ATTR_CODE32   (ATTR_CODE | SEG_ATTR_DB)
#define ATTR_DPL3     (3u << 5)

static void flat_seg(struct x86_seg *s, uint16_t sel, unsigned attrib)
{
    s->sel = sel;
    s->attrib = (uint16_t)attrib;
    s->base = 0;
    s->limit = 0xffffffffu;
}

/* Enter CPL 0 at rip with CS = sel (flat) and SS = sel + 8 (flat). */
static void enter_cpl0(struct cpu *cpu, uint16_t sel, unsigned cs_attrib,
                       uint64_t rip)
{
    struct x86_seg cs;
    flat_seg(&cpu->seg[SEG_SS], (uint16_t)(sel + 8), ATTR_DATA);
    flat_seg(&cs, sel, cs_attrib);
    commit_cs(cpu, &cs, rip);
}

/* SYSCALL: RCX = return RIP; in long mode R11 = RFLAGS (RF clear) and
 * RFLAGS &= ~SFMASK, entering 64-bit mode at LSTAR (from 64-bit mode) or
 * CSTAR (from compatibility mode); in legacy mode EIP = STAR[31:0] and
 * VM, IF, RF are cleared. */
static void op_syscall(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (!(cpu->efer & EFER_SCE) || !prot_mode(cpu))
        x86_ud(cpu);
    uint16_t sel = (uint16_t)(cpu->star >> 32) & 0xfffc;
    uint64_t fl = x86_get_rflags(cpu);
    if (x86_long_mode(cpu)) {
        uint64_t target = cpu->mode == MODE_LONG64 ? cpu->lstar : cpu->cstar;
        cpu->gpr[RCX] = cpu->next_rip;
        cpu->gpr[R11] = fl & ~(uint64_t)FLAG_RF;
        x86_set_rflags(cpu, fl & ~cpu->sfmask & ~(uint64_t)FLAG_RF);
        enter_cpl0(cpu, sel, ATTR_CODE64, target);
    } else {
        reg_write(cpu, RCX, 4, cpu->next_rip);
        x86_set_rflags(cpu, fl & ~(uint64_t)(FLAG_VM | FLAG_IF | FLAG_RF));
        enter_cpl0(cpu, sel, ATTR_CODE32, (uint32_t)cpu->star);
    }
}

/* SYSRET: back to CPL 3 at RCX (REX.W: 64-bit mode, CS = STAR[63:48] +
 * 16) or ECX (compatibility or legacy mode, CS = STAR[63:48]); SS =
 * STAR[63:48] + 8.  RPL 3 is forced on both.  SS keeps its hidden
 * attributes (AMD; Linux's X86_BUG_SYSRET_SS_ATTRS). */
static void op_sysret(struct cpu *cpu, const struct insn *in)
{
    if (!(cpu->efer & EFER_SCE))
        x86_ud(cpu);
    if (!prot_mode(cpu))
        x86_gp(cpu, 0);
    require_cpl0(cpu);
    uint16_t base = (uint16_t)(cpu->star >> 48);
    struct x86_seg cs;
    uint64_t rip;
    if (x86_long_mode(cpu) && in->osize == 8) {
        rip = cpu->gpr[RCX];
        if (!x86_canonical(rip))
            x86_gp(cpu, 0);
        flat_seg(&cs, (uint16_t)((base + 16) | 3), ATTR_CODE64 | ATTR_DPL3);
    } else {
        rip = (uint32_t)cpu->gpr[RCX];
        flat_seg(&cs, base | 3, ATTR_CODE32 | ATTR_DPL3);
    }
    if (x86_long_mode(cpu))
        x86_set_rflags(cpu, cpu->gpr[R11] & ~(uint64_t)(FLAG_RF | FLAG_VM));
    else
        flags_set(cpu, FLAG_IF, FLAG_IF);
    cpu->seg[SEG_SS].sel = (uint16_t)((base + 8) | 3);
    commit_cs(cpu, &cs, rip);
}

/* SYSENTER: CPL 0 at SYSENTER_EIP with ESP = SYSENTER_ESP; CS from
 * SYSENTER_CS, SS = CS + 8.  #GP(0) when SYSENTER_CS is null. */
static void op_sysenter(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (x86_long_mode(cpu))
        x86_ud(cpu);
    uint16_t sel = (uint16_t)cpu->sysenter_cs & 0xfffc;
    if (!prot_mode(cpu) || sel == 0)
        x86_gp(cpu, 0);
    flags_set(cpu, FLAG_VM | FLAG_IF | FLAG_RF, 0);
    cpu->gpr[RSP] = (uint32_t)cpu->sysenter_esp;
    enter_cpl0(cpu, sel, ATTR_CODE32, (uint32_t)cpu->sysenter_eip);
}

/* SYSEXIT: CPL 3 at EDX with ESP = ECX; CS = SYSENTER_CS + 16, SS = + 24. */
static void op_sysexit(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (x86_long_mode(cpu))
        x86_ud(cpu);
    uint16_t sel = (uint16_t)cpu->sysenter_cs & 0xfffc;
    if (!prot_mode(cpu) || cpu->cpl != 0 || sel == 0)
        x86_gp(cpu, 0);
    struct x86_seg cs;
    flat_seg(&cpu->seg[SEG_SS], (uint16_t)((sel + 24) | 3), ATTR_DATA | ATTR_DPL3);
    flat_seg(&cs, (uint16_t)((sel + 16) | 3), ATTR_CODE32 | ATTR_DPL3);
    cpu->gpr[RSP] = (uint32_t)cpu->gpr[RCX];
    commit_cs(cpu, &cs, (uint32_t)cpu->gpr[RDX]);
}

void sys_ops_syscall(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_SYSCALL] = op_syscall;
    t[ZYDIS_MNEMONIC_SYSRET] = op_sysret;
    t[ZYDIS_MNEMONIC_SYSENTER] = op_sysenter;
    t[ZYDIS_MNEMONIC_SYSEXIT] = op_sysexit;
}
