/* Forms: ADD OR ADC SBB AND SUB XOR CMP, TEST, NOT NEG INC DEC, XADD,
 * CMPXCHG, CMPXCHG8B/16B, CBW..CQO, LAHF SAHF CLC STC CMC.
 *
 * Undefined flags (APM vol. 3, "rFLAGS Affected" of each instruction):
 *   AND, OR, XOR, TEST: "AF U" -- AF is undefined.
 * Every other instruction here defines all the flags it changes. */
#include <stdio.h>

#include "diff.h"

static const unsigned sizes[4] = { 1, 2, 4, 8 };
static const char *const alu_name[8] = {
    "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp",
};

/* the group-1 opcode extension n: 0 add .. 7 cmp */
static uint32_t alu_undef(unsigned n)
{
    return (n == 1 || n == 4 || n == 6) ? FLAG_AF : 0;
}

static void alu_size(struct form_list *fl, unsigned n, unsigned sz)
{
    unsigned bits = sz * 8, reg = pick_reg(sz), immsz = sz > 4 ? 4 : sz;
    uint8_t w = sz > 1;
    char name[48];
    struct form *f;
    for (unsigned mem = 0; mem < 2; mem++) {
        for (unsigned lock = 0; lock <= (mem && n != 7); lock++) {
            uint8_t op = (uint8_t)(n * 8 + w);
            snprintf(name, sizeof(name), "%s r/m%u, r%u", alu_name[n], bits,
                     bits);
            f = form_modrm(fl, name, sz, lock, 0, &op, 1, reg, mem, 0);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, reg, V_INT, sz);
            f->undef = alu_undef(n);

            op = sz == 1 ? 0x80 : 0x81;
            snprintf(name, sizeof(name), "%s r/m%u, imm%u", alu_name[n], bits,
                     immsz * 8);
            f = form_modrm(fl, name, sz, lock, 0, &op, 1, n, mem, immsz);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, LOC_IMM, V_INT, immsz);
            f->undef = alu_undef(n);

            if (sz == 1)
                continue;
            op = 0x83;
            snprintf(name, sizeof(name), "%s r/m%u, imm8", alu_name[n], bits);
            f = form_modrm(fl, name, sz, lock, 0, &op, 1, n, mem, 1);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, LOC_IMM, V_INT, 1);
            f->undef = alu_undef(n);
        }
        uint8_t op = (uint8_t)(n * 8 + 2 + w);
        snprintf(name, sizeof(name), "%s r%u, r/m%u", alu_name[n], bits, bits);
        f = form_modrm(fl, name, sz, false, 0, &op, 1, reg, mem, 0);
        form_slot(f, reg, V_INT, sz);
        form_slot(f, rm_loc(f, sz), V_INT, sz);
        f->undef = alu_undef(n);
    }
    uint8_t op = (uint8_t)(n * 8 + 4 + w);
    f = form_new(fl, "%s acc%u, imm%u", alu_name[n], bits, immsz * 8);
    enc_plain(f, sz, &op, 1, false, immsz);
    form_slot(f, RAX, V_INT, sz);
    form_slot(f, LOC_IMM, V_INT, immsz);
    f->undef = alu_undef(n);
}

/* 8-bit register pairs beyond pick_*: SIL/DIL need REX, AH/BH forbid it. */
static void alu_byte_regs(struct form_list *fl, unsigned n)
{
    static const unsigned pairs[2][2] = {
        { RSI, RDI }, { LOC_HIGH8 + RAX, LOC_HIGH8 + RBX },
    };
    for (unsigned i = 0; i < 2; i++) {
        uint8_t op = (uint8_t)(n * 8);
        struct form *f = form_new(fl, "%s r/m8, r8 (%s)", alu_name[n],
                                  i ? "ah, bh" : "sil, dil");
        enc_insn(f, 1, false, 0, &op, 1, pairs[i][1], pairs[i][0], 0);
        form_slot(f, pairs[i][0], V_INT, 1);
        form_slot(f, pairs[i][1], V_INT, 1);
        f->undef = alu_undef(n);
    }
}

static void test_forms(struct form_list *fl, unsigned sz)
{
    unsigned bits = sz * 8, reg = pick_reg(sz), immsz = sz > 4 ? 4 : sz;
    uint8_t w = sz > 1;
    char name[48];
    for (unsigned mem = 0; mem < 2; mem++) {
        uint8_t op = 0x84 | w;
        snprintf(name, sizeof(name), "test r/m%u, r%u", bits, bits);
        struct form *f = form_modrm(fl, name, sz, false, 0, &op, 1, reg,
                                    mem, 0);
        form_slot(f, rm_loc(f, sz), V_INT, sz);
        form_slot(f, reg, V_INT, sz);
        f->undef = FLAG_AF;
        op = 0xf6 | w;
        for (unsigned ext = 0; ext < 2; ext++) {   /* /1: an alias of /0 */
            snprintf(name, sizeof(name), "test r/m%u, imm%u%s", bits,
                     immsz * 8, ext ? " (F6/F7 /1)" : "");
            f = form_modrm(fl, name, sz, false, 0, &op, 1, ext, mem, immsz);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, LOC_IMM, V_INT, immsz);
            f->undef = FLAG_AF;
        }
    }
    uint8_t op = 0xa8 | w;
    struct form *f = form_new(fl, "test acc%u, imm%u", bits, immsz * 8);
    enc_plain(f, sz, &op, 1, false, immsz);
    form_slot(f, RAX, V_INT, sz);
    form_slot(f, LOC_IMM, V_INT, immsz);
    f->undef = FLAG_AF;
}

/* NOT, NEG (F6/F7 /2 /3), INC, DEC (FE/FF /0 /1): one operand. */
static void unary_forms(struct form_list *fl, unsigned sz)
{
    static const struct { const char *name; uint8_t op, ext; } u[4] = {
        { "not", 0xf6, 2 }, { "neg", 0xf6, 3 },
        { "inc", 0xfe, 0 }, { "dec", 0xfe, 1 },
    };
    char name[32];
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned mem = 0; mem < 2; mem++) {
            for (unsigned lock = 0; lock <= mem; lock++) {
                uint8_t op = u[i].op | (sz > 1);
                snprintf(name, sizeof(name), "%s r/m%u", u[i].name, sz * 8);
                struct form *f = form_modrm(fl, name, sz, lock, 0, &op, 1,
                                            u[i].ext, mem, 0);
                form_slot(f, rm_loc(f, sz), V_INT, sz);
            }
        }
    }
}

static void xchg_forms(struct form_list *fl, unsigned sz)
{
    unsigned bits = sz * 8, reg = pick_reg(sz);
    char name[40];
    for (unsigned mem = 0; mem < 2; mem++) {
        for (unsigned lock = 0; lock <= mem; lock++) {
            uint8_t op[2] = { 0x0f, (uint8_t)(0xc0 | (sz > 1)) };
            snprintf(name, sizeof(name), "xadd r/m%u, r%u", bits, bits);
            struct form *f = form_modrm(fl, name, sz, lock, 0, op, 2, reg,
                                        mem, 0);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, reg, V_INT, sz);

            op[1] = (uint8_t)(0xb0 | (sz > 1));
            snprintf(name, sizeof(name), "cmpxchg r/m%u, r%u", bits, bits);
            f = form_modrm(fl, name, sz, lock, 0, op, 2, reg, mem, 0);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, RAX, V_INT, sz);
            form_slot(f, reg, V_INT, sz);
            f->fix = FIX_EQUAL;
        }
    }
    /* the same register as both operands */
    uint8_t op[2] = { 0x0f, (uint8_t)(0xc0 | (sz > 1)) };
    struct form *f = form_new(fl, "xadd r%u, r%u (same)", bits, bits);
    enc_insn(f, sz, false, 0, op, 2, pick_rm(sz), pick_rm(sz), 0);
    form_slot(f, pick_rm(sz), V_INT, sz);
}

/* CMPXCHG8B m64, CMPXCHG16B m128 (REX.W); the latter also misaligned. */
static void cmpxchg8b_forms(struct form_list *fl)
{
    static const uint8_t op[2] = { 0x0f, 0xc7 };
    for (unsigned sz = 4; sz <= 8; sz += 4) {
        for (unsigned v = 0; v < (sz == 8 ? 3u : 2u); v++) {
            bool lock = v == 1;
            struct form *f = form_new(fl, "%scmpxchg%s%s", lock ? "lock " : "",
                                      sz == 4 ? "8b m64" : "16b m128",
                                      v == 2 ? " (misaligned: #GP)" : "");
            enc_insn(f, sz, lock, 0, op, 2, 1, RM_MEM, 0);
            f->mem_adj = v == 2 ? 8 : 0;
            form_slot(f, LOC_MEM, V_INT, sz);
            form_slot(f, LOC_MEM_HI, V_INT, sz);
            form_slot(f, RAX, V_INT, sz);
            form_slot(f, RDX, V_INT, sz);
            f->fix = FIX_EQUAL2;
        }
    }
}

/* Instructions without ModRM: rAX conversions and flag moves. */
static void plain_forms(struct form_list *fl)
{
    static const struct {
        const char *name; uint8_t op; uint8_t size; uint8_t in_size;
    } p[] = {
        { "cbw", 0x98, 2, 1 }, { "cwde", 0x98, 4, 2 }, { "cdqe", 0x98, 8, 4 },
        { "cwd", 0x99, 2, 2 }, { "cdq", 0x99, 4, 4 }, { "cqo", 0x99, 8, 8 },
        { "lahf", 0x9f, 4, 0 }, { "sahf", 0x9e, 4, 0 },
        { "clc", 0xf8, 4, 0 }, { "stc", 0xf9, 4, 0 }, { "cmc", 0xf5, 4, 0 },
    };
    for (unsigned i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        struct form *f = form_new(fl, "%s", p[i].name);
        enc_plain(f, p[i].size, &p[i].op, 1, false, 0);
        if (p[i].in_size)
            form_slot(f, RAX, V_INT, p[i].in_size);
        if (p[i].op == 0x9e)
            form_slot(f, LOC_HIGH8 + RAX, V_INT, 1);
    }
}

/* LOCK where the APM makes it #UD: a register destination, and
 * instructions that do not write memory (CMP, TEST, BT). */
static void lock_ud_forms(struct form_list *fl)
{
    static const struct {
        const char *name; uint8_t op[2]; uint8_t len, reg; bool mem;
    } u[] = {
        { "lock add r/m32, r32 reg (#UD)", { 0x01 }, 1, RCX, false },
        { "lock inc r/m32 reg (#UD)", { 0xff }, 1, 0, false },
        { "lock xadd r/m32, r32 reg (#UD)", { 0x0f, 0xc1 }, 2, RCX, false },
        { "lock cmp r/m32, r32 mem (#UD)", { 0x39 }, 1, RCX, true },
        { "lock test r/m32, r32 mem (#UD)", { 0x85 }, 1, RCX, true },
        { "lock bt r/m32, r32 mem (#UD)", { 0x0f, 0xa3 }, 2, RCX, true },
    };
    for (unsigned i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        struct form *f = form_new(fl, "%s", u[i].name);
        enc_insn(f, 4, true, 0, u[i].op, u[i].len, u[i].reg,
                 u[i].mem ? RM_MEM : pick_rm(4), 0);
        form_slot(f, u[i].mem ? LOC_MEM : pick_rm(4), V_INT, 4);
    }
}

void forms_alu(struct form_list *fl)
{
    lock_ud_forms(fl);
    for (unsigned n = 0; n < 8; n++) {
        for (unsigned i = 0; i < 4; i++)
            alu_size(fl, n, sizes[i]);
        alu_byte_regs(fl, n);
    }
    for (unsigned i = 0; i < 4; i++) {
        test_forms(fl, sizes[i]);
        unary_forms(fl, sizes[i]);
        xchg_forms(fl, sizes[i]);
    }
    cmpxchg8b_forms(fl);
    plain_forms(fl);
}
