/* Forms: SETcc, CMOVcc and Jcc, alone (flags from RFLAGS) and right after
 * the flag-setting instructions whose flags nsvm keeps lazy (CMP/SUB,
 * TEST/AND, ADD, INC, DEC, NEG), so that every condition is evaluated from
 * every kind of lazy state, by the generic handlers and by the decoder's
 * specialised ones; and short chains that carry CF across INC/DEC.
 * All flags compared are defined. */
#include <stdio.h>

#include "diff.h"

static const char *const cc_name[16] = {
    "o", "no", "b", "nb", "z", "nz", "be", "nbe",
    "s", "ns", "p", "np", "l", "nl", "le", "nle",
};

/* A flag-setting instruction on r/m, reg at the given size. */
struct setter {
    const char *name;
    uint8_t op;       /* 8-bit opcode; | 1 for the wider sizes */
    uint8_t ext;      /* /digit, or 0xff for an r/m, reg form */
};

static const struct setter setters[] = {
    { "cmp", 0x38, 0xff }, { "sub", 0x28, 0xff }, { "test", 0x84, 0xff },
    { "and", 0x20, 0xff }, { "add", 0x00, 0xff }, { "inc", 0xfe, 0 },
    { "dec", 0xfe, 1 }, { "neg", 0xf6, 3 }, { "sbb", 0x18, 0xff },
};

static void emit_setter(struct form *f, const struct setter *s, unsigned sz)
{
    uint8_t op = (uint8_t)(s->op | (sz > 1));
    unsigned reg = s->ext == 0xff ? pick_reg(sz) : s->ext;
    enc_insn(f, sz, false, 0, &op, 1, reg, pick_rm(sz), 0);
    form_slot(f, pick_rm(sz), V_INT, sz);
    if (s->ext == 0xff)
        form_slot(f, pick_reg(sz), V_INT, sz);
}

static void setcc_forms(struct form_list *fl, unsigned cc)
{
    uint8_t op[2] = { 0x0f, (uint8_t)(0x90 | cc) };
    char name[32];
    snprintf(name, sizeof(name), "set%s r/m8", cc_name[cc]);
    for (unsigned mem = 0; mem < 2; mem++)
        form_modrm(fl, name, 1, false, 0, op, 2, 0, mem, 0);
    struct form *f = form_new(fl, "set%s ah", cc_name[cc]);
    enc_insn(f, 1, false, 0, op, 2, 0, LOC_HIGH8 + RAX, 0);

    for (unsigned i = 0; i < sizeof(setters) / sizeof(setters[0]); i++) {
        for (unsigned sz = 1; sz <= 8; sz *= 2) {
            /* all sizes for the comparisons, one size for the others */
            if (i > 2 && sz != (i & 1 ? 4 : 1))
                continue;
            f = form_new(fl, "%s r/m%u; set%s al", setters[i].name, sz * 8,
                         cc_name[cc]);
            emit_setter(f, &setters[i], sz);
            enc_insn(f, 1, false, 0, op, 2, 0, RAX, 0);
            f->fix = FIX_EQUAL;
        }
    }
}

/* setter; Jcc rel8 over "inc eax" (FF C0): RAX tells whether it jumped. */
static void jcc_forms(struct form_list *fl, unsigned cc)
{
    struct form *f = form_new(fl, "j%s rel8", cc_name[cc]);
    uint8_t jcc[4] = { (uint8_t)(0x70 | cc), 2, 0xff, 0xc0 };
    for (unsigned i = 0; i < 4; i++)
        form_byte(f, jcc[i]);
    for (unsigned i = 0; i < sizeof(setters) / sizeof(setters[0]); i++) {
        for (unsigned sz = 1; sz <= 8; sz *= 2) {
            if (i > 2 && sz != (i & 1 ? 8 : 2))
                continue;
            f = form_new(fl, "%s r/m%u; j%s rel8", setters[i].name, sz * 8,
                         cc_name[cc]);
            emit_setter(f, &setters[i], sz);
            for (unsigned k = 0; k < 4; k++)
                form_byte(f, jcc[k]);
            f->fix = FIX_EQUAL;
        }
    }
}

static void cmovcc_forms(struct form_list *fl, unsigned cc)
{
    uint8_t op[2] = { 0x0f, (uint8_t)(0x40 | cc) };
    char name[40];
    for (unsigned sz = 2; sz <= 8; sz *= 2) {
        for (unsigned mem = 0; mem < 2; mem++) {
            snprintf(name, sizeof(name), "cmov%s r%u, r/m%u", cc_name[cc],
                     sz * 8, sz * 8);
            struct form *f = form_modrm(fl, name, sz, false, 0, op, 2,
                                        pick_reg(sz), mem, 0);
            form_slot(f, pick_reg(sz), V_INT, sz);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
        }
        for (unsigned i = 0; i < 3; i++) {
            struct form *f = form_new(fl, "%s r/m%u; cmov%s rax, rdx",
                                      setters[i].name, sz * 8, cc_name[cc]);
            emit_setter(f, &setters[i], sz);
            enc_insn(f, sz, false, 0, op, 2, RAX, RDX, 0);
            form_slot(f, RDX, V_INT, sz);
            f->fix = FIX_EQUAL;
        }
    }
}

/* Chains that keep CF in the lazy state across INC/DEC, then read it. */
static void chain_forms(struct form_list *fl)
{
    static const struct {
        const char *name;
        uint8_t bytes[16];
        uint8_t len;
    } c[] = {
        { "add ebx,ecx; inc ebx; adc eax,eax",
          { 0x01, 0xcb, 0xff, 0xc3, 0x11, 0xc0 }, 6 },
        { "sub ebx,ecx; dec bl; inc ebx; setc al",
          { 0x29, 0xcb, 0xfe, 0xcb, 0xff, 0xc3, 0x0f, 0x92, 0xc0 }, 9 },
        { "cmp rbx,rcx; inc rbx; lahf",
          { 0x48, 0x39, 0xcb, 0x48, 0xff, 0xc3, 0x9f }, 7 },
        { "test ebx,ecx; dec ebx; cmc; adc eax,ecx",
          { 0x85, 0xcb, 0xff, 0xcb, 0xf5, 0x11, 0xc8 }, 7 },
        { "neg ebx; inc ecx; sbb eax,edx",
          { 0xf7, 0xdb, 0xff, 0xc1, 0x19, 0xd0 }, 6 },
        { "sahf; inc ebx; cmc; setbe al",
          { 0x9e, 0xff, 0xc3, 0xf5, 0x0f, 0x96, 0xc0 }, 7 },
        { "and ebx,ecx; stc; inc ebx; adc eax,eax",
          { 0x21, 0xcb, 0xf9, 0xff, 0xc3, 0x11, 0xc0 }, 7 },
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct form *f = form_new(fl, "%s", c[i].name);
        for (unsigned j = 0; j < c[i].len; j++)
            form_byte(f, c[i].bytes[j]);
        form_slot(f, RBX, V_INT, 8);
        form_slot(f, RCX, V_INT, 8);
        form_slot(f, LOC_HIGH8 + RAX, V_INT, 1);
    }
}

void forms_cond(struct form_list *fl)
{
    for (unsigned cc = 0; cc < 16; cc++) {
        setcc_forms(fl, cc);
        cmovcc_forms(fl, cc);
        jcc_forms(fl, cc);
    }
    chain_forms(fl);
}
