/* Control and debug registers: MOV CRn, MOV DRn, LMSW, SMSW, CLTS, and
 * INVLPG (APM vol. 3; vol. 2, 3.1 and 13.1).
 *
 * SVM (APM 15.8, 15.9, 15.33.1): CRn/DRn accesses exit with codes
 * 0x00-0x3F after the #UD and CPL checks; with decode assists EXITINFO1
 * bit 63 says "MOV CRn/DRn" and bits 3:0 name the GPR, while LMSW, SMSW
 * and CLTS report 0.  A MOV CR0 or LMSW that changes a CR0 bit other
 * than TS and MP also meets the selective CR0 write intercept (0x65),
 * which the plain CR0 write intercept outranks. */
#include <Zydis/Zydis.h>

#include "x86/system.h"

#define EXITINFO1_MOV_CR (1ull << 63)

#define DR6_FIXED1  0xffff0ff0ull   /* reserved bits that read as 1 */
#define DR6_VALID   0x0000e00full   /* B0-B3, BD, BS, BT */
#define DR7_FIXED1  0x00000400ull
#define DR7_VALID   0xffff23ffull   /* L/G0-3, LE, GE, GD, R/W and LEN */

/* MOV CRn/DRn always move 64 bits in 64-bit mode, else 32 (the operand
 * size prefix and REX.W are ignored). */
static unsigned crdr_size(const struct cpu *cpu)
{
    return cpu->mode == MODE_LONG64 ? 8 : 4;
}

/* CR0, CR2, CR3, CR4 and CR8 exist; the others are #UD (the decoder
 * already rejects most of them, and LOCK MOV CR0: AltMovCr8 is not
 * offered). */
static bool cr_exists(unsigned n)
{
    return n == 0 || n == 2 || n == 3 || n == 4 || n == 8;
}

/* A MOV CR0 or LMSW changing a bit other than TS and MP (APM 15.9.1). */
static void check_cr0_selective(struct cpu *cpu, uint64_t val, uint64_t info1)
{
    if ((cpu->cr0 ^ val) & ~(CR0_TS | CR0_MP))
        svm_check(cpu, SVM_EXIT_CR0_SEL_WRITE, info1, 0);
}

static uint64_t read_cr(struct cpu *cpu, unsigned n)
{
    switch (n) {
    case 0: return cpu->cr0;
    case 2: return cpu->cr2;
    case 3: return cpu->cr3;
    case 4: return cpu->cr4;
    default: return cpu->cr8 & 0xf;   /* the TPR, bits 3:0 */
    }
}

static void write_cr(struct cpu *cpu, unsigned n, uint64_t val)
{
    switch (n) {
    case 0: x86_write_cr0(cpu, val); break;
    case 2: cpu->cr2 = val; break;
    case 3: x86_write_cr3(cpu, val); break;
    case 4: x86_write_cr4(cpu, val); break;
    default:
        if (val & ~0xfull)
            x86_gp(cpu, 0);
        cpu->cr8 = val;
    }
    /* paging, the mode or the interrupt priority may have changed */
    cpu->stop_block = true;
}

void x86_op_mov_cr(struct cpu *cpu, const struct insn *in)
{
    bool to_cr = in->op[0].kind == OP_CR;
    const struct operand *crop = &in->op[to_cr ? 0 : 1];
    const struct operand *gpr = &in->op[to_cr ? 1 : 0];
    unsigned n = crop->reg, size = crdr_size(cpu);
    if (!cr_exists(n))
        x86_ud(cpu);
    require_cpl0(cpu);
    uint64_t info1 = EXITINFO1_MOV_CR | gpr->reg;
    if (to_cr) {
        uint64_t val = reg_read(cpu, gpr->reg, size);
        svm_check(cpu, SVM_EXIT_CR_WRITE(n), info1, 0);
        if (n == 0)
            check_cr0_selective(cpu, val, info1);
        write_cr(cpu, n, val);
    } else {
        svm_check(cpu, SVM_EXIT_CR_READ(n), info1, 0);
        reg_write(cpu, gpr->reg, size, read_cr(cpu, n));
    }
}

/* LMSW loads CR0 bits 3:0 (PE, MP, EM, TS) and cannot clear PE.  The
 * unconditional CR0 write intercept comes before the operand is read; the
 * selective one depends on the value, so it follows the read. */
static void op_lmsw(struct cpu *cpu, const struct insn *in)
{
    require_cpl0(cpu);
    svm_check(cpu, SVM_EXIT_CR_WRITE(0), 0, 0);
    uint64_t src = op_read(cpu, in, &in->op[0]);
    uint64_t val = (cpu->cr0 & ~0xfull) | (src & 0xf) | (cpu->cr0 & CR0_PE);
    check_cr0_selective(cpu, val, 0);
    write_cr(cpu, 0, val);
}

/* SMSW: the machine status word is CR0[15:0]; a register destination
 * receives CR0 to the operand size (AMD), memory always 16 bits. */
static void op_smsw(struct cpu *cpu, const struct insn *in)
{
    svm_check(cpu, SVM_EXIT_CR_READ(0), 0, 0);
    const struct operand *op = &in->op[0];
    if (op->kind == OP_REG)
        reg_write(cpu, op->reg, op->size, cpu->cr0);
    else
        mem_write(cpu, op->seg, op_ea(cpu, in, op), 2, cpu->cr0 & 0xffff);
}

/* CLTS only clears TS, so it never meets the selective intercept. */
static void op_clts(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    require_cpl0(cpu);
    svm_check(cpu, SVM_EXIT_CR_WRITE(0), 0, 0);
    cpu->cr0 &= ~CR0_TS;
}

/* DR4/DR5 are DR6/DR7 unless CR4.DE makes them #UD; DR8-15 do not exist. */
static unsigned dr_index(struct cpu *cpu, unsigned n)
{
    if (n > 7)
        x86_ud(cpu);
    if (n == 4 || n == 5) {
        if (cpu->cr4 & CR4_DE)
            x86_ud(cpu);
        n += 2;
    }
    return n;
}

static uint64_t read_dr(const struct cpu *cpu, unsigned n)
{
    if (n < 4)
        return cpu->dr[n];
    return n == 6 ? (cpu->dr6 & DR6_VALID) | DR6_FIXED1
                  : (cpu->dr7 & DR7_VALID) | DR7_FIXED1;
}

/* DR6 and DR7 bits 63:32 must be zero (#GP(0)); their fixed bits are
 * forced. */
static void write_dr(struct cpu *cpu, unsigned n, uint64_t val)
{
    if (n < 4) {
        cpu->dr[n] = val;
        return;
    }
    if (val >> 32)
        x86_gp(cpu, 0);
    if (n == 6)
        cpu->dr6 = (val & DR6_VALID) | DR6_FIXED1;
    else
        cpu->dr7 = (val & DR7_VALID) | DR7_FIXED1;
}

/* MOV DRn.  DR7.GD (general detect) is not implemented. */
void x86_op_mov_dr(struct cpu *cpu, const struct insn *in)
{
    bool to_dr = in->op[0].kind == OP_DR;
    const struct operand *drop = &in->op[to_dr ? 0 : 1];
    const struct operand *gpr = &in->op[to_dr ? 1 : 0];
    unsigned enc = drop->reg, size = crdr_size(cpu);
    unsigned n = dr_index(cpu, enc);
    require_cpl0(cpu);
    uint64_t info1 = EXITINFO1_MOV_CR | gpr->reg;
    if (to_dr) {
        svm_check(cpu, SVM_EXIT_DR_WRITE(enc), info1, 0);
        write_dr(cpu, n, reg_read(cpu, gpr->reg, size));
    } else {
        svm_check(cpu, SVM_EXIT_DR_READ(enc), info1, 0);
        reg_write(cpu, gpr->reg, size, read_dr(cpu, n));
    }
}

/* INVLPG m: the operand is an address, never accessed; EXITINFO1 is the
 * linear address (decode assists). */
static void op_invlpg(struct cpu *cpu, const struct insn *in)
{
    const struct operand *op = &in->op[0];
    require_cpl0(cpu);
    uint64_t lin = seg_linear(cpu, op->seg, op_ea(cpu, in, op));
    svm_check(cpu, SVM_EXIT_INVLPG, lin, 0);
    x86_tlb_flush_page(cpu, lin);
}

void sys_ops_control(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_LMSW] = op_lmsw;
    t[ZYDIS_MNEMONIC_SMSW] = op_smsw;
    t[ZYDIS_MNEMONIC_CLTS] = op_clts;
    t[ZYDIS_MNEMONIC_INVLPG] = op_invlpg;
}
