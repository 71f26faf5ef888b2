/* Unit tests: the x87 control instructions and save images, #NM and #MF
 * (x87.c).  Images and status words marked "host" were produced by the
 * same instruction sequence on the host CPU (an AMD EPYC) in user space;
 * the rest follow the APM (vol. 1, 6.2 and the FNSAVE/FXSAVE layouts;
 * vol. 2, 3.1.1 for CR0.MP/EM/TS). */
#include <Zydis/Zydis.h>

#include "sys_fixture.h"

#define BUF 0x20000u   /* images: 64-byte aligned, mapped */

static struct cpu *cpu_of(void **state)
{
    return &((struct fixture *)*state)->cpu;
}

static void cr0_bits(struct cpu *cpu, uint64_t set)
{
    cpu->cr0 = (cpu->cr0 & ~(CR0_MP | CR0_EM | CR0_TS | CR0_NE)) | set;
}

static void put_le(struct fixture *f, uint64_t pa, const uint8_t *b, size_t n)
{
    memcpy(f->ram + pa, b, n);
}

/* fnclex; frstor [rbx] from a 108-byte protected-mode image at BUF (FRSTOR
 * waits: a pending exception would raise #MF first). */
static void frstor_image(struct fixture *f, const uint32_t env[7],
                         const uint8_t regs[80])
{
    struct cpu *cpu = &f->cpu;
    memcpy(f->ram + BUF, env, 28);
    memcpy(f->ram + BUF + 28, regs, 80);
    cpu->gpr[RBX] = BUF;
    assert_int_equal(EXEC(cpu, 0xdb, 0xe2), -1);
    assert_int_equal(EXEC(cpu, 0xdd, 0x23), -1);
}

/* ---- #NM ---- */

/* Every combination of CR0.MP, EM and TS: an x87 instruction (FNINIT,
 * FXSAVE, an arithmetic one) faults with EM or TS; WAIT only with TS and
 * MP together (APM vol. 2, 3.1.1: CR0.MP, EM and TS). */
static void test_nm_rules(void **state)
{
    struct cpu *cpu = cpu_of(state);
    for (unsigned bits = 0; bits < 8; bits++) {
        uint64_t set = (bits & 1 ? CR0_MP : 0) | (bits & 2 ? CR0_EM : 0) |
                       (bits & 4 ? CR0_TS : 0);
        bool em_ts = (set & (CR0_EM | CR0_TS)) != 0;
        bool wait_nm = (set & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP);
        cr0_bits(cpu, set | CR0_NE);
        cpu->gpr[RBX] = BUF;
        assert_int_equal(EXEC(cpu, 0xdb, 0xe3), em_ts ? EXC_NM : -1);      /* fninit */
        assert_int_equal(EXEC(cpu, 0x9b), wait_nm ? EXC_NM : -1);          /* fwait */
        assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), em_ts ? EXC_NM : -1); /* fxsave */
        assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x0b), em_ts ? EXC_NM : -1); /* fxrstor */
        assert_int_equal(EXEC(cpu, 0xdf, 0xe0), em_ts ? EXC_NM : -1);      /* fnstsw ax */
        assert_int_equal(EXEC(cpu, 0xdd, 0x33), em_ts ? EXC_NM : -1);      /* fnsave */
        /* fld1: not implemented, #UD once the #NM check passes */
        assert_int_equal(EXEC(cpu, 0xd9, 0xe8), em_ts ? EXC_NM : EXC_UD);
        /* fcmovb st0, st1 */
        assert_int_equal(EXEC(cpu, 0xda, 0xc1), em_ts ? EXC_NM : EXC_UD);
    }
}

/* The faulting instruction commits nothing: RIP stays, state unchanged. */
static void test_nm_restartable(void **state)
{
    struct cpu *cpu = cpu_of(state);
    cpu->fpu.fcw = 0x0360;
    cr0_bits(cpu, CR0_TS);
    assert_fault(EXEC(cpu, 0xdb, 0xe3), cpu, EXC_NM, 0);
    assert_int_equal(cpu->rip, CODE_RIP);
    assert_int_equal(cpu->fpu.fcw, 0x0360);
    assert_false(cpu->pending_has_err);
}

/* Every x87 mnemonic Zydis decodes from D8-DF (with and without 66h/REX.W)
 * reaches an x87 handler, never the generic #UD. */
static void test_all_x87_routed(void **state)
{
    struct cpu *cpu = cpu_of(state);
    static const uint8_t prefix[] = { 0, 0x66, 0x48 };
    for (unsigned p = 0; p < 3; p++)
        for (unsigned op = 0xd8; op <= 0xdf; op++)
            for (unsigned modrm = 0; modrm < 256; modrm++) {
                uint8_t b[15] = { 0 };
                unsigned k = 0;
                if (prefix[p])
                    b[k++] = prefix[p];
                b[k] = (uint8_t)op;
                b[k + 1] = (uint8_t)modrm;
                struct insn in;
                if (!x86_decode(cpu, b, sizeof b, &in))
                    continue;
                if (in.exec == x86_op_ud)
                    fail_msg("%02x %02x %02x routed to #UD", b[0], b[1], b[2]);
            }
    struct insn in;
    assert_true(x86_decode(cpu, (const uint8_t[]){ 0x9b, 0x90 }, 2, &in));
    assert_ptr_not_equal(in.exec, x86_op_ud);
}

/* ---- control and status words ---- */

static void test_fninit_fnstcw_fnstsw(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    /* power-on: FCW 0040h, FSW 0, all registers +0.0 (tag word 5555h) */
    wr(f, BUF, 8, ~0ull);
    cpu->gpr[RBX] = BUF;
    assert_int_equal(EXEC(cpu, 0xd9, 0x3b), -1);               /* fnstcw [rbx] */
    assert_int_equal(rd(f, BUF, 8), 0xffffffffffff0040ull);
    assert_int_equal(EXEC(cpu, 0xdd, 0x33), -1);               /* fnsave [rbx] */
    assert_int_equal(rd(f, BUF + 8, 2), 0x5555);
    /* fninit: FCW 037Fh, FSW 0, every register empty */
    cpu->fpu.fsw = 0x3800;
    assert_int_equal(EXEC(cpu, 0xdb, 0xe3), -1);
    cpu->gpr[RAX] = 0xffffffffffffffffull;
    assert_int_equal(EXEC(cpu, 0xdf, 0xe0), -1);               /* fnstsw ax */
    assert_int_equal(cpu->gpr[RAX], 0xffffffffffff0000ull);   /* AX only */
    wr(f, BUF, 8, ~0ull);
    assert_int_equal(EXEC(cpu, 0xd9, 0x3b), -1);
    assert_int_equal(rd(f, BUF, 8), 0xffffffffffff037full);
    assert_int_equal(EXEC(cpu, 0xdd, 0x3b), -1);               /* fnstsw [rbx] */
    assert_int_equal(rd(f, BUF, 8), 0xffffffffffff0000ull);
    assert_int_equal(EXEC(cpu, 0xdd, 0x33), -1);
    assert_int_equal(rd(f, BUF + 8, 4), 0xffffffff);          /* FTW all empty */
}

/* FLDCW keeps bits 12:8 and 5:0; bit 6 reads 1, bits 7 and 15:13 read 0
 * (host: FFFFh -> 1F7Fh, 0 -> 0040h). */
static void test_fldcw_reserved_bits(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->gpr[RBX] = BUF;
    wr(f, BUF, 2, 0xffff);
    assert_int_equal(EXEC(cpu, 0xd9, 0x2b), -1);               /* fldcw [rbx] */
    assert_int_equal(EXEC(cpu, 0xd9, 0x3b), -1);
    assert_int_equal(rd(f, BUF, 2), 0x1f7f);
    wr(f, BUF, 2, 0);
    assert_int_equal(EXEC(cpu, 0xd9, 0x2b), -1);
    assert_int_equal(EXEC(cpu, 0xd9, 0x3b), -1);
    assert_int_equal(rd(f, BUF, 2), 0x0040);
}

/* ES and B follow "an exception flag is set and unmasked" (host: FSW
 * FFFFh with FCW 037Fh -> 7F7Fh; with FCW 0340h -> FFFFh; SF alone never
 * sets ES -> 0040h; FLDCW unmasking a set ZE -> 8084h). */
static void test_es_summary(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint8_t regs[80] = { 0 };
    uint32_t env[7] = { 0xffff037f, 0xffffffff, 0xffffffff, 0, 0, 0, 0xffff0000 };
    frstor_image(f, env, regs);
    assert_int_equal(cpu->fpu.fsw, 0x7f7f);
    env[0] = 0xffff0340;
    frstor_image(f, env, regs);
    assert_int_equal(cpu->fpu.fsw, 0xffff);
    env[1] = 0xffff0040;
    frstor_image(f, env, regs);
    assert_int_equal(cpu->fpu.fsw, 0x0040);
    /* ZE set and masked; then fldcw unmasks it */
    env[0] = 0xffff037f;
    env[1] = 0xffff0004;
    frstor_image(f, env, regs);
    assert_int_equal(cpu->fpu.fsw, 0x0004);
    wr(f, BUF + 512, 2, 0x037b);
    cpu->gpr[RBX] = BUF + 512;
    assert_int_equal(EXEC(cpu, 0xd9, 0x2b), -1);
    cpu->gpr[RAX] = 0;
    assert_int_equal(EXEC(cpu, 0xdf, 0xe0), -1);
    assert_int_equal(cpu->gpr[RAX], 0x8084);
    /* fnclex clears flags, SF, ES and B (host: FFFFh -> 7F00h) */
    cpu->fpu.fsw = 0xffff;
    assert_int_equal(EXEC(cpu, 0xdb, 0xe2), -1);
    assert_int_equal(cpu->fpu.fsw, 0x7f00);
}

/* A pending unmasked exception: the waiting instructions raise #MF with
 * CR0.NE = 1 (host: FWAIT, FLDCW, FLDENV, FRSTOR and arithmetic ones
 * trap; FNSTSW, FNSTCW, FNCLEX, FNINIT, FNSTENV, FNSAVE, FXSAVE, FXRSTOR
 * do not).  With CR0.NE = 0 nsvm ignores it (no FERR# wiring). */
static void test_mf_pending(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cr0_bits(cpu, CR0_NE);
    cpu->fpu.fcw = 0x037b;
    cpu->fpu.fsw = 0x8084;
    cpu->gpr[RBX] = BUF;
    wr(f, BUF, 2, 0x037b);
    assert_int_equal(EXEC(cpu, 0x9b), EXC_MF);                 /* fwait */
    assert_int_equal(EXEC(cpu, 0xd9, 0x2b), EXC_MF);           /* fldcw */
    assert_int_equal(EXEC(cpu, 0xd9, 0x23), EXC_MF);           /* fldenv */
    assert_int_equal(EXEC(cpu, 0xdd, 0x23), EXC_MF);           /* frstor */
    assert_int_equal(EXEC(cpu, 0xd9, 0xe8), EXC_MF);           /* fld1 */
    assert_false(cpu->pending_has_err);
    assert_int_equal(EXEC(cpu, 0xdf, 0xe0), -1);               /* fnstsw ax */
    assert_int_equal(EXEC(cpu, 0xd9, 0x3b), -1);               /* fnstcw */
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);         /* fxsave */
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x0b), -1);         /* fxrstor */
    assert_int_equal(cpu->fpu.fsw, 0x8084);
    assert_int_equal(EXEC(cpu, 0xd9, 0x33), -1);               /* fnstenv: masks all */
    assert_int_equal(cpu->fpu.fsw, 0x0004);
    cpu->fpu.fcw = 0x037b;
    cpu->fpu.fsw = 0x8084;
    cr0_bits(cpu, 0);                                          /* NE = 0 */
    assert_int_equal(EXEC(cpu, 0x9b), -1);
    cr0_bits(cpu, CR0_NE);
    /* #NM comes first */
    cr0_bits(cpu, CR0_NE | CR0_TS | CR0_MP);
    assert_int_equal(EXEC(cpu, 0x9b), EXC_NM);
    cr0_bits(cpu, CR0_NE);
    assert_int_equal(EXEC(cpu, 0xdb, 0xe2), -1);               /* fnclex */
    assert_int_equal(EXEC(cpu, 0x9b), -1);
}

/* ---- FNSTENV/FLDENV, FNSAVE/FRSTOR ---- */

/* Host: FRSTOR of this 32-bit image, then FNSAVE. */
static void test_fnsave_layout(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    static const uint8_t want[28] = {
        0x7f, 0x1f, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xef, 0xcd, 0xab, 0x89, 0xff, 0xff, 0xff, 0x07, 0xdf, 0x9b, 0x57, 0x13,
        0xff, 0xff, 0xff, 0xff,
    };
    uint32_t env[7] = { 0x1234ffff, 0xabcd0000, 0x5678ffff, 0x89abcdef,
                        0xffffffff, 0x13579bdf, 0xffffffff };
    uint8_t regs[80];
    for (unsigned i = 0; i < 80; i++)
        regs[i] = (uint8_t)(i * 7 + 1);
    frstor_image(f, env, regs);
    memset(f->ram + BUF + 256, 0xaa, 120);
    cpu->gpr[RBX] = BUF + 256;
    assert_int_equal(EXEC(cpu, 0xdd, 0x33), -1);
    assert_memory_equal(f->ram + BUF + 256, want, 28);
    assert_memory_equal(f->ram + BUF + 256 + 28, regs, 80);
    assert_int_equal(f->ram[BUF + 256 + 108], 0xaa);
    /* then FNSAVE initialises the FPU */
    assert_int_equal(cpu->fpu.fcw, 0x037f);
    assert_int_equal(cpu->fpu.ftw, 0);
}

/* Host, 16-bit operand size: FCW FSW FTW FIP[15:0] FCS FDP[15:0] FDS; an
 * FRSTOR of a 16-bit image loads FOP = 0 and zero-extends the pointers. */
static void test_fnsave16(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    static const uint8_t want[14] = { 0x7f, 0x03, 0x00, 0x00, 0xff, 0xff, 0xef,
                                      0xcd, 0x34, 0x12, 0xdf, 0x9b, 0x21, 0x43 };
    uint32_t env[7] = { 0xffff037f, 0xffff0000, 0xffffffff, 0x89abcdef,
                        0x07ff1234, 0x13579bdf, 0xffff4321 };
    uint8_t regs[80] = { 0 };
    frstor_image(f, env, regs);
    cpu->gpr[RBX] = BUF + 256;
    assert_int_equal(EXEC(cpu, 0x66, 0xdd, 0x33), -1);
    assert_memory_equal(f->ram + BUF + 256, want, 14);
    static const uint16_t img16[7] = { 0x037f, 0, 0xffff, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd };
    put_le(f, BUF + 512, (const uint8_t *)img16, 14);
    cpu->gpr[RBX] = BUF + 512;
    assert_int_equal(EXEC(cpu, 0x66, 0xdd, 0x23), -1);        /* frstor, o16 */
    cpu->gpr[RBX] = BUF + 256;
    assert_int_equal(EXEC(cpu, 0xdd, 0x33), -1);
    assert_int_equal(rd(f, BUF + 256 + 12, 4), 0x0000aaaa);
    assert_int_equal(rd(f, BUF + 256 + 16, 4), 0x0000bbbb);   /* FOP 0 */
    assert_int_equal(rd(f, BUF + 256 + 20, 4), 0x0000cccc);
    assert_int_equal(rd(f, BUF + 256 + 24, 4), 0xffffdddd);
}

/* Real mode: FIP and FDP as 20/32-bit linear addresses split around FOP
 * (APM vol. 1, the real-mode x87 environment layouts; worked by hand). */
static void test_env_real_mode(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->fpu.fcw = 0x037f;
    cpu->fpu.fsw = 0;
    cpu->fpu.ftw = 0;
    cpu->fpu.fip = 0x12345678;
    cpu->fpu.fdp = 0x9abcdef0;
    cpu->fpu.fop = 0x5a5;
    cpu->efer = 0;
    cpu->cr0 = CR0_ET;
    cpu->cr4 = 0;
    for (int s = 0; s < 6; s++)
        cpu->seg[s] = (struct x86_seg){ 0, 0x93, 0xffff, 0 };
    x86_update_mode(cpu);
    x86_tlb_flush(cpu);
    assert_int_equal(cpu->mode, MODE_REAL);
    cpu->gpr[RBX] = 0x6000;
    /* 32-bit (66h in real mode): offset 12 FIP[15:0], 16 FIP[31:16] << 12
     * | FOP, 20 FDP[15:0], 24 FDP[31:16] << 12 */
    assert_int_equal(EXEC(cpu, 0x66, 0xd9, 0x37), -1);        /* fnstenv [bx] */
    assert_int_equal(rd(f, 0x6000 + 12, 4), 0xffff5678);
    assert_int_equal(rd(f, 0x6000 + 16, 4), 0x012345a5);
    assert_int_equal(rd(f, 0x6000 + 20, 4), 0xffffdef0);
    assert_int_equal(rd(f, 0x6000 + 24, 4), 0x09abc000);
    /* 16-bit: offset 6 FIP[15:0], 8 FIP[19:16] << 12 | FOP, 10 FDP[15:0],
     * 12 FDP[19:16] << 12 */
    assert_int_equal(EXEC(cpu, 0xd9, 0x37), -1);
    assert_int_equal(rd(f, 0x6000 + 6, 2), 0x5678);
    assert_int_equal(rd(f, 0x6000 + 8, 2), 0x45a5);
    assert_int_equal(rd(f, 0x6000 + 10, 2), 0xdef0);
    assert_int_equal(rd(f, 0x6000 + 12, 2), 0xc000);
    /* and back */
    cpu->fpu.fip = cpu->fpu.fdp = 0;
    cpu->fpu.fop = 0;
    assert_int_equal(EXEC(cpu, 0xd9, 0x27), -1);              /* fldenv [bx] */
    assert_int_equal(cpu->fpu.fip, 0x45678);
    assert_int_equal(cpu->fpu.fdp, 0xcdef0);
    assert_int_equal(cpu->fpu.fop, 0x5a5);
}

/* Host: the tag word loaded only says empty or not; FNSAVE derives the
 * tags from the contents (zero 01, valid 00, special 10), by physical
 * register; FXSAVE stores the abridged form. */
static void test_tag_word(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    static const struct { uint64_t mant; uint16_t se; } st[8] = {
        { 0, 0 },                            /* +0 */
        { 0x8000000000000000ull, 0x3fff },   /* 1.0 */
        { 1, 0 },                            /* denormal */
        { 0x8000000000000000ull, 0x7fff },   /* infinity */
        { 1, 0x3fff },                       /* unnormal */
        { 0x8000000000000000ull, 0 },        /* pseudo-denormal */
        { 0, 0x8000 },                       /* -0 */
        { 0xc000000000000000ull, 0xffff },   /* -QNaN */
    };
    static const struct { unsigned top; uint16_t in, out; uint8_t abridged; } c[] = {
        { 0, 0x0000, 0x9aa1, 0xff }, { 0, 0x3c0f, 0xbeaf, 0x9c },
        { 0, 0xfff0, 0xfff1, 0x03 }, { 3, 0x0000, 0xa866, 0xff },
        { 3, 0x3c0f, 0xbc6f, 0x9c }, { 6, 0x3c0f, 0x3daf, 0x9c },
        { 6, 0xffff, 0xffff, 0x00 },
    };
    uint8_t regs[80];
    for (unsigned i = 0; i < 8; i++) {
        memcpy(regs + 10 * i, &st[i].mant, 8);
        memcpy(regs + 10 * i + 8, &st[i].se, 2);
    }
    cpu->cr4 |= CR4_OSFXSR;
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        uint32_t env[7] = { 0xffff037f, 0xffff0000u | c[k].top << 11,
                            0xffff0000u | c[k].in, 0, 0, 0, 0xffff0000 };
        frstor_image(f, env, regs);
        cpu->gpr[RBX] = BUF + 1024;
        assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);     /* fxsave */
        assert_int_equal(f->ram[BUF + 1024 + 4], c[k].abridged);
        cpu->gpr[RBX] = BUF + 256;
        assert_int_equal(EXEC(cpu, 0xdd, 0x33), -1);           /* fnsave */
        assert_int_equal(rd(f, BUF + 256 + 8, 2), c[k].out);
        /* fxrstor of the abridged image gives the same full tags */
        cpu->gpr[RBX] = BUF + 1024;
        assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x0b), -1);
        cpu->gpr[RBX] = BUF + 256;
        assert_int_equal(EXEC(cpu, 0xdd, 0x33), -1);
        assert_int_equal(rd(f, BUF + 256 + 8, 2), c[k].out);
    }
}

/* FNSTENV stores, then masks every exception (host: FCW 0360h stored,
 * 037Fh after); FLDENV recomputes ES (host). */
static void test_fnstenv_fldenv(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->fpu.fcw = 0x0360;
    cpu->gpr[RBX] = BUF;
    assert_int_equal(EXEC(cpu, 0xd9, 0x33), -1);
    assert_int_equal(rd(f, BUF, 4), 0xffff0360);
    assert_int_equal(cpu->fpu.fcw, 0x037f);
    wr(f, BUF, 4, 0xffff037f);
    wr(f, BUF + 4, 4, 0xffff0084);   /* ES without an unmasked flag */
    assert_int_equal(EXEC(cpu, 0xd9, 0x23), -1);
    assert_int_equal(cpu->fpu.fsw, 0x0004);
    wr(f, BUF, 4, 0xffff037b);
    wr(f, BUF + 4, 4, 0xffff0004);
    assert_int_equal(EXEC(cpu, 0xd9, 0x23), -1);
    assert_int_equal(cpu->fpu.fsw, 0x8084);
}

/* ---- FXSAVE/FXRSTOR ---- */

static void test_fxsave_layout_after_fninit(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    static const uint8_t want[32] = {
        0x7f, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x1f, 0, 0, 0xff, 0xff, 0, 0,
    };
    uint8_t zero[416 - 32] = { 0 };
    cpu->cr4 |= CR4_OSFXSR;
    assert_int_equal(EXEC(cpu, 0xdb, 0xe3), -1);
    memset(f->ram + BUF, 0xaa, 512);
    cpu->gpr[RBX] = BUF;
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);
    /* FCW FSW FTW 0 FOP | FIP FCS 0 | FDP FDS 0 | MXCSR 1F80h,
     * MXCSR_MASK FFFFh (nsvm; no SSE) */
    assert_memory_equal(f->ram + BUF, want, 32);
    /* ST0..ST7 with zero padding, XMM0..15 zero (64-bit mode) */
    assert_memory_equal(f->ram + BUF + 32, zero, sizeof zero);
    for (unsigned i = 416; i < 512; i++)   /* never written */
        assert_int_equal(f->ram[BUF + i], 0xaa);
}

/* Outside 64-bit mode 8 XMM registers; with CR4.OSFXSR = 0 the MXCSR and
 * XMM part is left alone. */
static void test_fxsave_osfxsr(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->cr4 &= ~CR4_OSFXSR;
    memset(f->ram + BUF, 0xaa, 512);
    cpu->gpr[RBX] = BUF;
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);
    for (unsigned i = 24; i < 32; i++)
        assert_int_equal(f->ram[BUF + i], 0xaa);
    for (unsigned i = 160; i < 512; i++)
        assert_int_equal(f->ram[BUF + i], 0xaa);
    assert_int_equal(rd(f, BUF, 2), cpu->fpu.fcw);
    /* 32-bit compatibility mode with OSFXSR: XMM0-7 only */
    cpu->cr4 |= CR4_OSFXSR;
    seg_set(cpu, SEG_CS, UCODE32 & ~3, 0x9b | SEG_ATTR_DB | SEG_ATTR_G);
    x86_update_mode(cpu);
    assert_int_equal(cpu->mode, MODE_COMPAT32);
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);
    assert_int_equal(rd(f, BUF + 24, 4), 0x1f80);
    for (unsigned i = 160; i < 288; i++)
        assert_int_equal(f->ram[BUF + i], 0);
    for (unsigned i = 288; i < 512; i++)
        assert_int_equal(f->ram[BUF + i], 0xaa);
}

/* Host: FIP/FCS/FDP/FDS/FOP are stored only while ES = 1; FXSAVE64 stores
 * 64-bit FIP/FDP without selectors. */
static void test_fxsave_pointers(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    static const uint8_t want[24] = {
        0x7b, 0x03, 0x84, 0x80, 0x00, 0x00, 0xff, 0x07, 0xef, 0xcd, 0xab, 0x89,
        0x34, 0x12, 0x00, 0x00, 0xdf, 0x9b, 0x57, 0x13, 0x21, 0x43, 0x00, 0x00,
    };
    static const uint8_t want64[24] = {
        0x7b, 0x03, 0x84, 0x80, 0x00, 0x00, 0xff, 0x07, 0xef, 0xcd, 0xab, 0x89,
        0x00, 0x00, 0x00, 0x00, 0xdf, 0x9b, 0x57, 0x13, 0x00, 0x00, 0x00, 0x00,
    };
    uint32_t env[7] = { 0xffff037b, 0xffff0004, 0xffffffff, 0x89abcdef,
                        0x07ff1234, 0x13579bdf, 0xffff4321 };
    uint8_t regs[80] = { 0 };
    cpu->cr4 |= CR4_OSFXSR;
    frstor_image(f, env, regs);
    cpu->gpr[RBX] = BUF + 1024;
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);
    assert_memory_equal(f->ram + BUF + 1024, want, 24);
    assert_int_equal(EXEC(cpu, 0x48, 0x0f, 0xae, 0x03), -1);  /* fxsave64 */
    assert_memory_equal(f->ram + BUF + 1024, want64, 24);
    /* ES = 0: zeros, though FRSTOR loaded the pointers */
    env[0] = 0xffff037f;
    frstor_image(f, env, regs);
    cpu->gpr[RBX] = BUF + 1024;
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);
    for (unsigned i = 6; i < 24; i++)
        assert_int_equal(f->ram[BUF + 1024 + i], 0);
    wr(f, BUF + 1024 + 8, 8, 0x1111222233334444ull);
    wr(f, BUF + 1024 + 16, 8, 0x5555666677778888ull);
    wr(f, BUF + 1024 + 6, 2, 0x0123);
    cpu->gpr[RBX] = BUF + 1024;
    assert_int_equal(EXEC(cpu, 0x48, 0x0f, 0xae, 0x0b), -1);  /* fxrstor64 */
    cpu->gpr[RBX] = BUF + 256;
    assert_int_equal(EXEC(cpu, 0xdd, 0x33), -1);
    /* host: FIP 33334444, FCS 0, FOP 123, FDP 77778888, FDS 0 */
    assert_int_equal(rd(f, BUF + 256 + 12, 4), 0x33334444);
    assert_int_equal(rd(f, BUF + 256 + 16, 4), 0x01230000);
    assert_int_equal(rd(f, BUF + 256 + 20, 4), 0x77778888);
    assert_int_equal(rd(f, BUF + 256 + 24, 4), 0xffff0000);
}

static void test_fxsave_roundtrip_and_faults(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->cr4 |= CR4_OSFXSR;
    cpu->fpu.fcw = 0x0f7f;
    cpu->fpu.fsw = 0x2000;   /* TOP 4 */
    cpu->fpu.ftw = 0x30;
    for (unsigned i = 0; i < 8; i++)
        memset(cpu->fpu.st[i], 0x10 + i, 10);
    uint8_t st[8][10];
    memcpy(st, cpu->fpu.st, sizeof st);
    cpu->gpr[RBX] = BUF;
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x03), -1);
    /* ST(0) is physical register 4 */
    assert_int_equal(f->ram[BUF + 32], 0x14);
    assert_int_equal(f->ram[BUF + 32 + 16 * 7], 0x13);
    assert_int_equal(rd(f, BUF + 32 + 10, 6), 0);
    assert_int_equal(EXEC(cpu, 0xdb, 0xe3), -1);
    memset(cpu->fpu.st, 0, sizeof cpu->fpu.st);
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x0b), -1);
    assert_int_equal(cpu->fpu.fcw, 0x0f7f);
    assert_int_equal(cpu->fpu.fsw, 0x2000);
    assert_int_equal(cpu->fpu.ftw, 0x30);
    assert_memory_equal(cpu->fpu.st, st, sizeof st);
    /* not 16-byte aligned: #GP(0) */
    cpu->gpr[RBX] = BUF + 8;
    assert_fault(EXEC(cpu, 0x0f, 0xae, 0x03), cpu, EXC_GP, 0);
    assert_fault(EXEC(cpu, 0x0f, 0xae, 0x0b), cpu, EXC_GP, 0);
    /* non-canonical: #GP(0) */
    cpu->gpr[RBX] = 0x8000000000000000ull;
    assert_fault(EXEC(cpu, 0x0f, 0xae, 0x03), cpu, EXC_GP, 0);
    /* an MXCSR bit outside MXCSR_MASK: #GP(0), nothing loaded */
    cpu->gpr[RBX] = BUF;
    wr(f, BUF + 24, 4, 0x10000);
    wr(f, BUF, 2, 0x037f);
    assert_fault(EXEC(cpu, 0x0f, 0xae, 0x0b), cpu, EXC_GP, 0);
    assert_int_equal(cpu->fpu.fcw, 0x0f7f);
    /* with CR4.OSFXSR = 0 MXCSR is not looked at */
    cpu->cr4 &= ~CR4_OSFXSR;
    assert_int_equal(EXEC(cpu, 0x0f, 0xae, 0x0b), -1);
    assert_int_equal(cpu->fpu.fcw, 0x037f);
}

/* A #PF on the second page of an image: nothing written, no state changed. */
static void test_image_page_fault(void **state)
{
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    uint64_t *pt = (uint64_t *)(f->ram + PT_BASE + 0x3000);
    pt[0x31] = 0;                       /* 0x31000 not present */
    x86_tlb_flush(cpu);
    memset(f->ram + 0x30fc0, 0xaa, 64);
    cpu->fpu.fcw = 0x0360;
    cpu->gpr[RBX] = 0x30fc0;            /* 108 bytes cross into 0x31000 */
    assert_fault(EXEC(cpu, 0xdd, 0x33), cpu, EXC_PF, PFERR_W);
    assert_int_equal(cpu->pending_cr2, 0x31000);
    assert_int_equal(cpu->fpu.fcw, 0x0360);
    for (unsigned i = 0; i < 64; i++)
        assert_int_equal(f->ram[0x30fc0 + i], 0xaa);
    cpu->cr4 |= CR4_OSFXSR;
    assert_fault(EXEC(cpu, 0x0f, 0xae, 0x03), cpu, EXC_PF, PFERR_W);
    for (unsigned i = 0; i < 64; i++)
        assert_int_equal(f->ram[0x30fc0 + i], 0xaa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_nm_rules),
        T(test_nm_restartable),
        T(test_all_x87_routed),
        T(test_fninit_fnstcw_fnstsw),
        T(test_fldcw_reserved_bits),
        T(test_es_summary),
        T(test_mf_pending),
        T(test_fnsave_layout),
        T(test_fnsave16),
        T(test_env_real_mode),
        T(test_tag_word),
        T(test_fnstenv_fldenv),
        T(test_fxsave_layout_after_fninit),
        T(test_fxsave_osfxsr),
        T(test_fxsave_pointers),
        T(test_fxsave_roundtrip_and_faults),
        T(test_image_page_fault),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
