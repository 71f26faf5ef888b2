/* The x87 FPU's control state, its save images, and the #NM rules
 * (APM vol. 1, 6.2 and 6.4.3; vol. 2, 3.1.1, 8.2.8, 8.2.16, 11.4.4;
 * vol. 5, FNSAVE, FXSAVE).
 *
 * nsvm implements the x87 state that a system kernel initialises, saves
 * and restores: control word, status word, tag word, the eight data
 * registers (as raw 80-bit values), FIP/FCS, FDP/FDS and FOP.  The
 * instructions: FNINIT, FNCLEX, FNSTSW (AX and m16), FNSTCW, FLDCW,
 * FNSTENV/FLDENV, FNSAVE/FRSTOR, FXSAVE/FXRSTOR (and FXSAVE64/FXRSTOR64),
 * WAIT/FWAIT, and the 8087/80287 FENI/FDISI/FSETPM (no-ops since the
 * 80387).  FINIT, FCLEX, FSTSW, ... are WAIT followed by the FN form.
 *
 * LIMITATION: there is no floating-point arithmetic.  Every other x87
 * instruction (FLD, FADD, FST, FCOMI, FFREE, FNOP, FCMOVcc, ...) makes the
 * checks that precede its execution, #NM and then #MF, and raises #UD.
 * So FIP/FDP/FOP and the exception flags change only when FLDENV, FRSTOR
 * or FXRSTOR load them.  CPUID reports neither the FPU (leaf 1 EDX bit 0)
 * nor FXSR (bit 24).
 *
 * nsvm has no SSE.  With CR4.OSFXSR = 1 FXSAVE stores MXCSR = 0x1F80 (its
 * reset value), MXCSR_MASK = 0xFFFF and zeros for the XMM registers (8
 * outside 64-bit mode, 16 in it); FXRSTOR raises #GP(0) for an MXCSR with
 * a bit outside MXCSR_MASK and otherwise discards MXCSR and the XMMs.  With
 * CR4.OSFXSR = 0 neither touches the MXCSR and XMM part of the image.
 * Bytes 416-511 (reserved, available to software) are never written.
 *
 * Exceptions, in order:
 *   #NM  CR0.EM = 1 or CR0.TS = 1; WAIT/FWAIT only when CR0.TS = 1 and
 *        CR0.MP = 1 (APM vol. 2, 3.1.1 and 8.2.8).
 *   #MF  a waiting instruction (WAIT, FLDCW, FLDENV, FRSTOR and every
 *        arithmetic one; not FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV,
 *        FNSAVE, FXSAVE, FXRSTOR — sorted on the host EPYC) finds an
 *        unmasked exception pending (FSW.ES) and CR0.NE = 1.  With
 *        CR0.NE = 0 the legacy FERR# signal would report it; nsvm has no
 *        FERR# wiring and ignores it, as with IGNNE# asserted.
 *   #GP/#SS  non-canonical image address; #AC(0) a misaligned image at
 *        CPL 3 with alignment checking (FNSAVE/FNSTENV/FRSTOR/FLDENV: 4
 *        bytes, 2 with a 16-bit operand size; FXSAVE/FXRSTOR: 4 bytes, as
 *        the host raises #AC for them); #GP(0) an FXSAVE/FXRSTOR image not
 *        16-byte aligned; then #PF. */
#include <Zydis/Zydis.h>

#include "x86/insn.h"

#define FSW_EXC   0x003fu   /* IE DE ZE OE UE PE */
#define FSW_ES    0x0080u   /* exception summary */
#define FSW_B     0x8000u   /* busy: mirrors ES */
#define FSW_TOP(fsw) (((fsw) >> 11) & 7u)
#define FCW_INIT  0x037fu   /* FNINIT: all masked, extended precision */
#define FCW_RESET 0x0040u
/* On the host, FCW bits 7 and 15:13 read as 0 and bit 6 as 1. */
#define FCW_WRITABLE 0x1f3fu
#define FCW_ONE      0x0040u

#define TAG_VALID   0u
#define TAG_ZERO    1u
#define TAG_SPECIAL 2u
#define TAG_EMPTY   3u

#define MXCSR_RESET 0x1f80u
#define MXCSR_MASK  0xffffu

/* ---- state ---- */

void x87_reset(struct cpu *cpu)
{
    struct x87_state *f = &cpu->fpu;
    memset(f, 0, sizeof(*f));
    f->fcw = FCW_RESET;
    f->ftw = 0xff;   /* every register +0.0: full tag word 5555h */
}

/* ES and B say whether an exception flag is set whose mask bit is clear. */
static void x87_update_es(struct x87_state *f)
{
    if (f->fsw & ~f->fcw & FSW_EXC)
        f->fsw |= FSW_ES | FSW_B;
    else
        f->fsw &= (uint16_t)~(FSW_ES | FSW_B);
}

static void x87_set_fcw(struct x87_state *f, unsigned v)
{
    f->fcw = (uint16_t)((v & FCW_WRITABLE) | FCW_ONE);
    x87_update_es(f);
}

static void x87_init(struct x87_state *f)
{
    f->fcw = FCW_INIT;
    f->fsw = 0;
    f->ftw = 0;
    f->fip = f->fdp = 0;
    f->fop = f->fcs = f->fds = 0;
}

/* The tag of a non-empty register from its contents (APM vol. 1, 6.2.3). */
static unsigned tag_of(const uint8_t r[10])
{
    uint64_t mant;
    uint16_t se;
    memcpy(&mant, r, 8);
    memcpy(&se, r + 8, 2);
    unsigned exp = se & 0x7fffu;
    if (exp == 0x7fff)
        return TAG_SPECIAL;            /* infinity, NaN */
    if (exp == 0)
        return mant ? TAG_SPECIAL : TAG_ZERO;   /* denormal or zero */
    return (mant >> 63) ? TAG_VALID : TAG_SPECIAL;   /* unnormal */
}

static uint16_t full_tag(const struct x87_state *f)
{
    unsigned t = 0;
    for (unsigned i = 0; i < 8; i++)
        t |= ((f->ftw >> i) & 1 ? tag_of(f->st[i]) : TAG_EMPTY) << (2 * i);
    return (uint16_t)t;
}

/* A loaded tag word only says empty or not: the rest follows from the
 * register contents (host EPYC). */
static uint8_t abridge(unsigned tag)
{
    unsigned a = 0;
    for (unsigned i = 0; i < 8; i++)
        if (((tag >> (2 * i)) & 3) != TAG_EMPTY)
            a |= 1u << i;
    return (uint8_t)a;
}

/* ---- exception checks ---- */

static inline void check_nm(struct cpu *cpu)
{
    if (unlikely(cpu->cr0 & (CR0_EM | CR0_TS)))
        x86_raise_noerr(cpu, EXC_NM);
}

static inline void check_mf(struct cpu *cpu)
{
    if (unlikely(cpu->fpu.fsw & FSW_ES) && (cpu->cr0 & CR0_NE))
        x86_raise_noerr(cpu, EXC_MF);
}

/* ---- image memory access ----
 *
 * An image is copied through a host buffer in pieces of `piece` bytes: 2
 * for the FNSAVE family (2-aligned at least once the #AC rule passed), 8
 * for FXSAVE (16-aligned), so no piece trips the generic #AC check. */

struct image {
    uint64_t lin;
    unsigned acc;   /* mem_acc of the operand's segment */
};

/* The linear address of the image, with the checks that precede the
 * access: canonical form, then alignment checking at `align`. */
static struct image image_at(struct cpu *cpu, const struct insn *in,
                             unsigned align)
{
    const struct operand *op = &in->op[0];
    struct image im;
    im.lin = seg_linear(cpu, op->seg, op_ea(cpu, in, op));
    im.acc = mem_acc(op->seg, ACC_READ);
    if ((cpu->efer & EFER_LMA) && !x86_canonical(im.lin))
        x86_raise(cpu, op->seg == SEG_SS ? EXC_SS : EXC_GP, 0);
    if (im.lin & (align - 1))
        x86_check_align(cpu, im.acc);
    return im;
}

static void image_read(struct cpu *cpu, const struct image *im, unsigned off,
                       uint8_t *buf, unsigned len, unsigned piece)
{
    for (unsigned i = off; i < off + len; i += piece) {
        uint64_t v = mem_read_lin(cpu, (im->lin + i) & cpu->lin_mask, piece,
                                  im->acc);
        memcpy(buf + i, &v, piece);
    }
}

/* Both pages of [0, len) can be written: a #PF (CR2 = the first byte on
 * the faulting page) comes before any store.  An image spans at most two
 * pages. */
static void image_probe(struct cpu *cpu, const struct image *im, unsigned len)
{
    uint64_t last = (im->lin + len - 1) & cpu->lin_mask;
    mem_probe_write(cpu, im->lin, 1);
    if ((last ^ im->lin) & ~0xfffull)
        mem_probe_write(cpu, last & ~0xfffull, 1);
}

static void image_write(struct cpu *cpu, const struct image *im, unsigned off,
                        const uint8_t *buf, unsigned len, unsigned piece)
{
    for (unsigned i = off; i < off + len; i += piece) {
        uint64_t v = 0;
        memcpy(&v, buf + i, piece);
        mem_write_lin(cpu, (im->lin + i) & cpu->lin_mask, piece, v,
                      im->acc | ACC_WRITE);
    }
}

static inline void put16(uint8_t *p, unsigned v) { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline unsigned get16(const uint8_t *p) { uint16_t x; memcpy(&x, p, 2); return x; }
static inline uint32_t get32(const uint8_t *p) { uint32_t x; memcpy(&x, p, 4); return x; }
static inline uint64_t get64(const uint8_t *p) { uint64_t x; memcpy(&x, p, 8); return x; }

/* ---- FNSTENV/FLDENV environment: 14 bytes (16-bit operand size) or 28
 * (32-bit), in a protected-mode or a real-mode (CR0.PE = 0 or
 * virtual-8086) layout.  APM vol. 1, figures 6-10 to 6-13.  Reserved
 * halves are stored as FFFFh, as the host does. ---- */

struct env_fmt {
    bool o32, real;
};

static struct env_fmt env_fmt(const struct cpu *cpu, const struct insn *in)
{
    return (struct env_fmt){ in->osize != 2,
                             !(cpu->cr0 & CR0_PE) || (cpu->rflags & FLAG_VM) };
}

static unsigned env_size(struct env_fmt fm)
{
    return fm.o32 ? 28 : 14;
}

static void env_store(const struct x87_state *f, struct env_fmt fm, uint8_t *b)
{
    uint32_t ip = (uint32_t)f->fip, dp = (uint32_t)f->fdp;
    if (fm.o32) {
        put32(b, 0xffff0000u | f->fcw);
        put32(b + 4, 0xffff0000u | f->fsw);
        put32(b + 8, 0xffff0000u | full_tag(f));
    } else {
        put16(b, f->fcw);
        put16(b + 2, f->fsw);
        put16(b + 4, full_tag(f));
    }
    if (fm.o32 && !fm.real) {
        put32(b + 12, ip);
        put32(b + 16, f->fcs | (uint32_t)(f->fop & 0x7ff) << 16);
        put32(b + 20, dp);
        put32(b + 24, 0xffff0000u | f->fds);
    } else if (fm.o32) {
        put32(b + 12, 0xffff0000u | (ip & 0xffff));
        put32(b + 16, (ip >> 16) << 12 | (f->fop & 0x7ff));
        put32(b + 20, 0xffff0000u | (dp & 0xffff));
        put32(b + 24, (dp >> 16) << 12);
    } else if (!fm.real) {
        put16(b + 6, ip);
        put16(b + 8, f->fcs);
        put16(b + 10, dp);
        put16(b + 12, f->fds);
    } else {
        put16(b + 6, ip);
        put16(b + 8, ((ip >> 16) & 0xf) << 12 | (f->fop & 0x7ff));
        put16(b + 10, dp);
        put16(b + 12, ((dp >> 16) & 0xf) << 12);
    }
}

/* The host loads FOP = 0 from a 16-bit image; the selectors a real-mode
 * image lacks load as 0 too. */
static void env_load(struct x87_state *f, struct env_fmt fm, const uint8_t *b)
{
    unsigned w = fm.o32 ? 4 : 2;
    unsigned fcw = get16(b), tag = get16(b + 2 * w);
    f->fsw = (uint16_t)get16(b + w);
    f->ftw = abridge(tag);
    f->fop = f->fcs = f->fds = 0;
    if (fm.o32 && !fm.real) {
        f->fip = get32(b + 12);
        f->fcs = (uint16_t)get16(b + 16);
        f->fop = (uint16_t)((get32(b + 16) >> 16) & 0x7ff);
        f->fdp = get32(b + 20);
        f->fds = (uint16_t)get16(b + 24);
    } else if (fm.o32) {
        f->fip = get16(b + 12) | ((get32(b + 16) >> 12) & 0xffff) << 16;
        f->fop = (uint16_t)(get32(b + 16) & 0x7ff);
        f->fdp = get16(b + 20) | ((get32(b + 24) >> 12) & 0xffff) << 16;
    } else if (!fm.real) {
        f->fip = get16(b + 6);
        f->fcs = (uint16_t)get16(b + 8);
        f->fdp = get16(b + 10);
        f->fds = (uint16_t)get16(b + 12);
    } else {
        f->fip = get16(b + 6) | (uint64_t)(get16(b + 8) >> 12) << 16;
        f->fop = (uint16_t)(get16(b + 8) & 0x7ff);
        f->fdp = get16(b + 10) | (uint64_t)(get16(b + 12) >> 12) << 16;
    }
    x87_set_fcw(f, fcw);
}

/* ---- control instructions ---- */

static void op_fninit(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    check_nm(cpu);
    x87_init(&cpu->fpu);
}

/* FNCLEX clears the exception flags, SF, ES and B (host: FFFFh -> 7F00h). */
static void op_fnclex(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    check_nm(cpu);
    cpu->fpu.fsw &= 0x7f00;
}

static void op_fnstsw(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    op_write(cpu, in, &in->op[0], cpu->fpu.fsw);
}

static void op_fnstcw(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    op_write(cpu, in, &in->op[0], cpu->fpu.fcw);
}

/* Unmasking a flag that is set makes an exception pending (ES). */
static void op_fldcw(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    check_mf(cpu);
    x87_set_fcw(&cpu->fpu, (unsigned)op_read(cpu, in, &in->op[0]));
}

static void op_fwait(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    if (unlikely((cpu->cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP)))
        x86_raise_noerr(cpu, EXC_NM);
    check_mf(cpu);
}

/* FENI, FDISI, FSETPM: no-ops since the 80387 (and non-waiting). */
static void op_fnop_legacy(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    check_nm(cpu);
}

/* Every x87 instruction nsvm does not implement (the arithmetic). */
static void op_x87_ud(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    check_nm(cpu);
    check_mf(cpu);
    x86_ud(cpu);
}

/* FNSTENV stores the environment, then masks every exception. */
static void op_fnstenv(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    struct env_fmt fm = env_fmt(cpu, in);
    struct image im = image_at(cpu, in, fm.o32 ? 4 : 2);
    uint8_t b[28];
    env_store(&cpu->fpu, fm, b);
    image_probe(cpu, &im, env_size(fm));
    image_write(cpu, &im, 0, b, env_size(fm), 2);
    x87_set_fcw(&cpu->fpu, cpu->fpu.fcw | FSW_EXC);
}

static void op_fldenv(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    check_mf(cpu);
    struct env_fmt fm = env_fmt(cpu, in);
    struct image im = image_at(cpu, in, fm.o32 ? 4 : 2);
    uint8_t b[28];
    image_read(cpu, &im, 0, b, env_size(fm), 2);
    env_load(&cpu->fpu, fm, b);
}

/* FNSAVE: the environment, then ST(0)..ST(7), then FNINIT. */
static void op_fnsave(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    struct x87_state *f = &cpu->fpu;
    struct env_fmt fm = env_fmt(cpu, in);
    struct image im = image_at(cpu, in, fm.o32 ? 4 : 2);
    unsigned n = env_size(fm), top = FSW_TOP(f->fsw);
    uint8_t b[108];
    env_store(f, fm, b);
    for (unsigned i = 0; i < 8; i++)
        memcpy(b + n + 10 * i, f->st[(top + i) & 7], 10);
    image_probe(cpu, &im, n + 80);
    image_write(cpu, &im, 0, b, n + 80, 2);
    x87_init(f);
}

static void op_frstor(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    check_mf(cpu);
    struct x87_state *f = &cpu->fpu;
    struct env_fmt fm = env_fmt(cpu, in);
    struct image im = image_at(cpu, in, fm.o32 ? 4 : 2);
    unsigned n = env_size(fm);
    uint8_t b[108];
    image_read(cpu, &im, 0, b, n + 80, 2);
    env_load(f, fm, b);
    unsigned top = FSW_TOP(f->fsw);
    for (unsigned i = 0; i < 8; i++)
        memcpy(f->st[(top + i) & 7], b + n + 10 * i, 10);
}

/* ---- FXSAVE/FXRSTOR: the 512-byte image (APM vol. 2, 11.4.4; vol. 5
 * FXSAVE).  Offsets, 64-bit form (REX.W) / legacy form:
 *     0 FCW   2 FSW   4 FTW (abridged)   5 0   6 FOP
 *     8 FIP[63:0]  /  FIP[31:0], 12 FCS, 14 0
 *    16 FDP[63:0]  /  FDP[31:0], 20 FDS, 22 0
 *    24 MXCSR   28 MXCSR_MASK
 *    32 + 16 i    ST(i): 10 bytes, then 6 zero bytes
 *   160 + 16 i    XMMi
 * AMD processors store FOP, FIP, FCS, FDP, FDS only while an exception
 * is pending (FSW.ES = 1), else zeros (host EPYC); FXRSTOR loads them.
 * The 64-bit form has no FCS/FDS: FXRSTOR64 clears them (host). ---- */

#define FX_REGS  32u
#define FX_XMM   160u

static bool fx64(const struct insn *in)
{
    return in->mnemonic == ZYDIS_MNEMONIC_FXSAVE64 ||
           in->mnemonic == ZYDIS_MNEMONIC_FXRSTOR64;
}

/* The end of the part of the image an FXSAVE writes / FXRSTOR reads. */
static unsigned fx_end(const struct cpu *cpu)
{
    if (!(cpu->cr4 & CR4_OSFXSR))
        return FX_XMM;
    return FX_XMM + 16 * (cpu->mode == MODE_LONG64 ? 16 : 8);
}

static struct image fx_image(struct cpu *cpu, const struct insn *in)
{
    check_nm(cpu);
    struct image im = image_at(cpu, in, 4);
    if (im.lin & 15)
        x86_gp(cpu, 0);
    return im;
}

static void fx_store(const struct cpu *cpu, const struct insn *in, uint8_t *b)
{
    const struct x87_state *f = &cpu->fpu;
    bool ptrs = (f->fsw & FSW_ES) != 0;
    put16(b, f->fcw);
    put16(b + 2, f->fsw);
    b[4] = f->ftw;
    put16(b + 6, ptrs ? f->fop : 0);
    if (fx64(in)) {
        put64(b + 8, ptrs ? f->fip : 0);
        put64(b + 16, ptrs ? f->fdp : 0);
    } else if (ptrs) {
        put32(b + 8, (uint32_t)f->fip);
        put16(b + 12, f->fcs);
        put32(b + 16, (uint32_t)f->fdp);
        put16(b + 20, f->fds);
    }
    put32(b + 24, MXCSR_RESET);
    put32(b + 28, MXCSR_MASK);
    unsigned top = FSW_TOP(f->fsw);
    for (unsigned i = 0; i < 8; i++)
        memcpy(b + FX_REGS + 16 * i, f->st[(top + i) & 7], 10);
}

static void op_fxsave(struct cpu *cpu, const struct insn *in)
{
    struct image im = fx_image(cpu, in);
    uint8_t b[416] = { 0 };
    fx_store(cpu, in, b);
    image_probe(cpu, &im, fx_end(cpu));
    if (cpu->cr4 & CR4_OSFXSR) {
        image_write(cpu, &im, 0, b, fx_end(cpu), 8);
    } else {   /* MXCSR and MXCSR_MASK (24..31) stay untouched */
        image_write(cpu, &im, 0, b, 24, 8);
        image_write(cpu, &im, FX_REGS, b, FX_XMM - FX_REGS, 8);
    }
}

static void op_fxrstor(struct cpu *cpu, const struct insn *in)
{
    struct image im = fx_image(cpu, in);
    struct x87_state *f = &cpu->fpu;
    uint8_t b[416];
    image_read(cpu, &im, 0, b, fx_end(cpu), 8);
    if ((cpu->cr4 & CR4_OSFXSR) && (get32(b + 24) & ~MXCSR_MASK))
        x86_gp(cpu, 0);
    f->fsw = (uint16_t)get16(b + 2);
    f->ftw = b[4];
    f->fop = (uint16_t)(get16(b + 6) & 0x7ff);
    if (fx64(in)) {
        f->fip = get64(b + 8);
        f->fdp = get64(b + 16);
        f->fcs = f->fds = 0;
    } else {
        f->fip = get32(b + 8);
        f->fcs = (uint16_t)get16(b + 12);
        f->fdp = get32(b + 16);
        f->fds = (uint16_t)get16(b + 20);
    }
    unsigned top = FSW_TOP(f->fsw);
    for (unsigned i = 0; i < 8; i++)
        memcpy(f->st[(top + i) & 7], b + FX_REGS + 16 * i, 10);
    x87_set_fcw(f, get16(b));
}

/* ---- registration ---- */

/* The x87 mnemonics Zydis decodes from D8-DF (categories X87_ALU and
 * FCMOV) that nsvm does not implement. */
static const uint16_t x87_unimplemented[] = {
    ZYDIS_MNEMONIC_F2XM1, ZYDIS_MNEMONIC_FABS, ZYDIS_MNEMONIC_FADD,
    ZYDIS_MNEMONIC_FADDP, ZYDIS_MNEMONIC_FBLD, ZYDIS_MNEMONIC_FBSTP,
    ZYDIS_MNEMONIC_FCHS, ZYDIS_MNEMONIC_FCMOVB, ZYDIS_MNEMONIC_FCMOVBE,
    ZYDIS_MNEMONIC_FCMOVE, ZYDIS_MNEMONIC_FCMOVNB, ZYDIS_MNEMONIC_FCMOVNBE,
    ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNU, ZYDIS_MNEMONIC_FCMOVU,
    ZYDIS_MNEMONIC_FCOM, ZYDIS_MNEMONIC_FCOMI, ZYDIS_MNEMONIC_FCOMIP,
    ZYDIS_MNEMONIC_FCOMP, ZYDIS_MNEMONIC_FCOMPP, ZYDIS_MNEMONIC_FCOS,
    ZYDIS_MNEMONIC_FDECSTP, ZYDIS_MNEMONIC_FDIV, ZYDIS_MNEMONIC_FDIVP,
    ZYDIS_MNEMONIC_FDIVR, ZYDIS_MNEMONIC_FDIVRP, ZYDIS_MNEMONIC_FFREE,
    ZYDIS_MNEMONIC_FFREEP, ZYDIS_MNEMONIC_FIADD, ZYDIS_MNEMONIC_FICOM,
    ZYDIS_MNEMONIC_FICOMP, ZYDIS_MNEMONIC_FIDIV, ZYDIS_MNEMONIC_FIDIVR,
    ZYDIS_MNEMONIC_FILD, ZYDIS_MNEMONIC_FIMUL, ZYDIS_MNEMONIC_FINCSTP,
    ZYDIS_MNEMONIC_FIST, ZYDIS_MNEMONIC_FISTP, ZYDIS_MNEMONIC_FISTTP,
    ZYDIS_MNEMONIC_FISUB, ZYDIS_MNEMONIC_FISUBR, ZYDIS_MNEMONIC_FLD,
    ZYDIS_MNEMONIC_FLD1, ZYDIS_MNEMONIC_FLDL2E, ZYDIS_MNEMONIC_FLDL2T,
    ZYDIS_MNEMONIC_FLDLG2, ZYDIS_MNEMONIC_FLDLN2, ZYDIS_MNEMONIC_FLDPI,
    ZYDIS_MNEMONIC_FLDZ, ZYDIS_MNEMONIC_FMUL, ZYDIS_MNEMONIC_FMULP,
    ZYDIS_MNEMONIC_FNOP, ZYDIS_MNEMONIC_FPATAN, ZYDIS_MNEMONIC_FPREM,
    ZYDIS_MNEMONIC_FPREM1, ZYDIS_MNEMONIC_FPTAN, ZYDIS_MNEMONIC_FRNDINT,
    ZYDIS_MNEMONIC_FSCALE, ZYDIS_MNEMONIC_FSIN, ZYDIS_MNEMONIC_FSINCOS,
    ZYDIS_MNEMONIC_FSQRT, ZYDIS_MNEMONIC_FST, ZYDIS_MNEMONIC_FSTP,
    ZYDIS_MNEMONIC_FSTPNCE, ZYDIS_MNEMONIC_FSUB, ZYDIS_MNEMONIC_FSUBP,
    ZYDIS_MNEMONIC_FSUBR, ZYDIS_MNEMONIC_FSUBRP, ZYDIS_MNEMONIC_FTST,
    ZYDIS_MNEMONIC_FUCOM, ZYDIS_MNEMONIC_FUCOMI, ZYDIS_MNEMONIC_FUCOMIP,
    ZYDIS_MNEMONIC_FUCOMP, ZYDIS_MNEMONIC_FUCOMPP, ZYDIS_MNEMONIC_FXAM,
    ZYDIS_MNEMONIC_FXCH, ZYDIS_MNEMONIC_FXTRACT, ZYDIS_MNEMONIC_FYL2X,
    ZYDIS_MNEMONIC_FYL2XP1,
};

void x86_ops_x87(insn_fn *t)
{
    for (size_t i = 0; i < sizeof(x87_unimplemented) / sizeof(x87_unimplemented[0]); i++)
        t[x87_unimplemented[i]] = op_x87_ud;
    t[ZYDIS_MNEMONIC_FNINIT] = op_fninit;
    t[ZYDIS_MNEMONIC_FNCLEX] = op_fnclex;
    t[ZYDIS_MNEMONIC_FNSTSW] = op_fnstsw;
    t[ZYDIS_MNEMONIC_FNSTCW] = op_fnstcw;
    t[ZYDIS_MNEMONIC_FLDCW] = op_fldcw;
    t[ZYDIS_MNEMONIC_FWAIT] = op_fwait;
    t[ZYDIS_MNEMONIC_FENI8087_NOP] = op_fnop_legacy;
    t[ZYDIS_MNEMONIC_FDISI8087_NOP] = op_fnop_legacy;
    t[ZYDIS_MNEMONIC_FSETPM287_NOP] = op_fnop_legacy;
    t[ZYDIS_MNEMONIC_FNSTENV] = op_fnstenv;
    t[ZYDIS_MNEMONIC_FLDENV] = op_fldenv;
    t[ZYDIS_MNEMONIC_FNSAVE] = op_fnsave;
    t[ZYDIS_MNEMONIC_FRSTOR] = op_frstor;
    t[ZYDIS_MNEMONIC_FXSAVE] = op_fxsave;
    t[ZYDIS_MNEMONIC_FXSAVE64] = op_fxsave;
    t[ZYDIS_MNEMONIC_FXRSTOR] = op_fxrstor;
    t[ZYDIS_MNEMONIC_FXRSTOR64] = op_fxrstor;
}
