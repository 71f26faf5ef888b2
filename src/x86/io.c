/* Port I/O: IN, OUT, INS, OUTS (1, 2, 4 bytes; INS/OUTS with REP).
 *
 * Every access is checked in the APM's order before the port is touched:
 * first the I/O permission (protected mode with CPL > IOPL, or virtual-8086
 * mode: the TSS I/O permission bitmap, #GP(0) when denied), then, in guest
 * mode, the SVM IOIO intercept (APM vol. 2, 15.10.2), which does not
 * return when the IOPM intercepts the port.  Ports are reached through
 * cpu->bus; devices such as the serial port and the debug-exit port are
 * nothing special here. */
#include <Zydis/Zydis.h>

#include "svm/svm.h"
#include "svm/vmcb.h"
#include "x86/insn.h"

#define TSS_IOPB_OFFSET 0x66   /* 16-bit I/O map base in a 32/64-bit TSS */
#define TSS_MIN_LIMIT   0x67
#define TSS_TYPE_AVAIL  0x9    /* 32-bit TSS (64-bit in long mode) */
#define TSS_TYPE_BUSY   0xb

/* EXITINFO1 of an IOIO intercept (APM vol. 2, 15.10.2; bits in vmcb.h):
 *
 *   31:16  PORT   port number
 *   12:10  SEG    effective segment of INS/OUTS (ES=0 ... GS=5)
 *    9:7   A64 A32 A16    address size, one-hot
 *    6:4   SZ32 SZ16 SZ8  operand size, one-hot
 *    3     REP    repeated string instruction
 *    2     STR    string instruction (INS/OUTS)
 *    0     TYPE   1 = IN/INS, 0 = OUT/OUTS */
static uint64_t io_exitinfo1(uint16_t port, unsigned size, unsigned asize,
                             bool is_in, bool is_string, bool is_rep,
                             unsigned seg)
{
    uint64_t info = (uint64_t)port << IOIO_PORT_SHIFT;
    info |= size == 1 ? IOIO_SZ8 : size == 2 ? IOIO_SZ16 : IOIO_SZ32;
    info |= asize == 2 ? IOIO_A16 : asize == 4 ? IOIO_A32 : IOIO_A64;
    if (is_in)
        info |= IOIO_TYPE_IN;
    if (is_string) {
        info |= IOIO_STR | ((uint64_t)(seg & 7) << IOIO_SEG_SHIFT);
        if (is_rep)
            info |= IOIO_REP;
    }
    return info;
}

/* The TSS I/O permission bitmap (APM vol. 2, 12.2.4): every bit of the
 * accessed ports must be clear; the two bytes read must lie within the
 * TSS limit; a 16-bit TSS has no bitmap. */
static void io_check_bitmap(struct cpu *cpu, uint16_t port, unsigned size)
{
    unsigned type = SEG_ATTR_TYPE(cpu->tr.attrib);
    if ((type != TSS_TYPE_AVAIL && type != TSS_TYPE_BUSY) ||
        cpu->tr.limit < TSS_MIN_LIMIT)
        x86_gp(cpu, 0);
    uint64_t base = cpu->tr.base;
    uint64_t iopb = mem_read_lin(cpu, (base + TSS_IOPB_OFFSET) & cpu->lin_mask,
                                 2, ACC_READ | ACC_SUPER);
    uint64_t off = iopb + port / 8;
    if (off + 1 > cpu->tr.limit)
        x86_gp(cpu, 0);
    uint64_t bits = mem_read_lin(cpu, (base + off) & cpu->lin_mask, 2,
                                 ACC_READ | ACC_SUPER);
    if ((bits >> (port & 7)) & ((1u << size) - 1))
        x86_gp(cpu, 0);
}

/* Permission, then intercept: the one place every port access passes. */
static inline void io_check(struct cpu *cpu, const struct insn *in,
                            uint16_t port, unsigned size, bool is_in,
                            bool is_string, unsigned seg)
{
    if (cpu->cr0 & CR0_PE) {
        unsigned iopl = (unsigned)(cpu->rflags & FLAG_IOPL) >> 12;
        if (cpu->cpl > iopl || (cpu->rflags & FLAG_VM))
            io_check_bitmap(cpu, port, size);
    }
    if (unlikely(cpu->svm.guest_mode)) {
        bool rep = (in->flags & (INSN_REP | INSN_REPNE)) != 0;
        svm_intercept_ioio(cpu, port, size,
                           io_exitinfo1(port, size, in->asize, is_in,
                                        is_string, rep, seg));
    }
}

static inline uint16_t io_port(struct cpu *cpu, const struct insn *in,
                               const struct operand *op)
{
    if (op->kind == OP_IMM)
        return (uint16_t)(op->disp & 0xff);
    return (uint16_t)op_read(cpu, in, op);
}

/* IN AL/AX/EAX, imm8 or DX.  A 32-bit input zero-extends into RAX. */
static void op_in(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->op[0].size;
    uint16_t port = io_port(cpu, in, &in->op[1]);
    io_check(cpu, in, port, size, true, false, 0);
    reg_write(cpu, RAX, size, cpu->bus.pio_read(cpu->bus.opaque, port, size));
}

/* OUT imm8 or DX, AL/AX/EAX. */
static void op_out(struct cpu *cpu, const struct insn *in)
{
    unsigned size = in->op[1].size;
    uint16_t port = io_port(cpu, in, &in->op[0]);
    io_check(cpu, in, port, size, false, false, 0);
    cpu->bus.pio_write(cpu->bus.opaque, port, size,
                       (uint32_t)reg_read(cpu, RAX, size));
}

/* ---- INS / OUTS ----
 *
 * Port I/O is slow anyway, so the string forms go one element at a time.
 * INS checks that the destination is writable before it reads the port,
 * so a #PF does not consume device data; rDI/rSI/rCX are advanced after
 * each element, as for the other string instructions.  Long REP runs
 * yield after IO_BUDGET elements with RIP at the instruction. */

#define IO_BUDGET 64u   /* a device access each: keep one execution short */

static inline unsigned io_src_seg(const struct insn *in)
{
    for (unsigned i = 0; i < 3; i++)
        if (in->op[i].kind == OP_MEM && in->op[i].base == RSI)
            return in->op[i].seg;
    return SEG_DS;
}

static inline void io_advance(struct cpu *cpu, const struct insn *in,
                              unsigned reg, unsigned size)
{
    int64_t d = (cpu->rflags & FLAG_DF) ? -(int64_t)size : (int64_t)size;
    reg_write(cpu, reg, in->asize, cpu->gpr[reg] + (uint64_t)d);
}

static void ins_one(struct cpu *cpu, const struct insn *in, unsigned size,
                    uint16_t port)
{
    uint64_t di = cpu->gpr[RDI] & size_mask(in->asize);
    uint64_t lin = seg_linear(cpu, SEG_ES, di);
    mem_probe_write(cpu, lin, size);
    uint32_t v = cpu->bus.pio_read(cpu->bus.opaque, port, size);
    mem_write_lin(cpu, lin, size, v, ACC_WRITE);
    io_advance(cpu, in, RDI, size);
}

static void outs_one(struct cpu *cpu, const struct insn *in, unsigned size,
                     uint16_t port, unsigned seg)
{
    uint64_t si = cpu->gpr[RSI] & size_mask(in->asize);
    uint32_t v = (uint32_t)mem_read(cpu, seg, si, size);
    cpu->bus.pio_write(cpu->bus.opaque, port, size, v);
    io_advance(cpu, in, RSI, size);
}

static void op_ins(struct cpu *cpu, const struct insn *in, unsigned size)
{
    uint16_t port = (uint16_t)cpu->gpr[RDX];
    io_check(cpu, in, port, size, true, true, SEG_ES);
    if (!(in->flags & (INSN_REP | INSN_REPNE))) {
        ins_one(cpu, in, size, port);
        return;
    }
    uint64_t count = cpu->gpr[RCX] & size_mask(in->asize);
    for (unsigned budget = IO_BUDGET; count; budget--) {
        if (budget == 0) {
            cpu->next_rip = cpu->rip;
            cpu->stop_block = true;
            return;
        }
        ins_one(cpu, in, size, port);
        reg_write(cpu, RCX, in->asize, --count);
    }
}

static void op_outs(struct cpu *cpu, const struct insn *in, unsigned size)
{
    uint16_t port = (uint16_t)cpu->gpr[RDX];
    unsigned seg = io_src_seg(in);
    io_check(cpu, in, port, size, false, true, seg);
    if (!(in->flags & (INSN_REP | INSN_REPNE))) {
        outs_one(cpu, in, size, port, seg);
        return;
    }
    uint64_t count = cpu->gpr[RCX] & size_mask(in->asize);
    for (unsigned budget = IO_BUDGET; count; budget--) {
        if (budget == 0) {
            cpu->next_rip = cpu->rip;
            cpu->stop_block = true;
            return;
        }
        outs_one(cpu, in, size, port, seg);
        reg_write(cpu, RCX, in->asize, --count);
    }
}

static void op_insb(struct cpu *c, const struct insn *i) { op_ins(c, i, 1); }
static void op_insw(struct cpu *c, const struct insn *i) { op_ins(c, i, 2); }
static void op_insd(struct cpu *c, const struct insn *i) { op_ins(c, i, 4); }
static void op_outsb(struct cpu *c, const struct insn *i) { op_outs(c, i, 1); }
static void op_outsw(struct cpu *c, const struct insn *i) { op_outs(c, i, 2); }
static void op_outsd(struct cpu *c, const struct insn *i) { op_outs(c, i, 4); }

void x86_ops_io(insn_fn *t)
{
    t[ZYDIS_MNEMONIC_IN] = op_in;
    t[ZYDIS_MNEMONIC_OUT] = op_out;
    t[ZYDIS_MNEMONIC_INSB] = op_insb;
    t[ZYDIS_MNEMONIC_INSW] = op_insw;
    t[ZYDIS_MNEMONIC_INSD] = op_insd;
    t[ZYDIS_MNEMONIC_OUTSB] = op_outsb;
    t[ZYDIS_MNEMONIC_OUTSW] = op_outsw;
    t[ZYDIS_MNEMONIC_OUTSD] = op_outsd;
}
