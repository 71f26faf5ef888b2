/* Forms: MUL, IMUL (one, two and three operands), DIV, IDIV, MULX.
 *
 * Undefined flags (APM vol. 3, "rFLAGS Affected"):
 *   MUL, IMUL: "SF, ZF, AF, PF U" (CF and OF are defined).
 *   DIV, IDIV: all six "U".
 * Divide errors are compared as fault against fault. */
#include <stdio.h>

#include "diff.h"

#define MUL_UNDEF (FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF)
#define DIV_UNDEF (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)

/* F6/F7 /4 MUL, /5 IMUL, /6 DIV, /7 IDIV */
static void grp3_forms(struct form_list *fl, unsigned sz)
{
    static const char *const nm[4] = { "mul", "imul", "div", "idiv" };
    char name[24];
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned mem = 0; mem < 2; mem++) {
            uint8_t op = 0xf6 | (sz > 1);
            snprintf(name, sizeof(name), "%s r/m%u", nm[i], sz * 8);
            struct form *f = form_modrm(fl, name, sz, false, 0, &op, 1, 4 + i,
                                        mem, 0);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, RAX, V_INT, sz);
            if (i >= 2) {
                form_slot(f, sz == 1 ? LOC_HIGH8 + RAX : RDX, V_INT, sz);
                f->fix = i == 2 ? FIX_DIV : FIX_IDIV;
                f->undef = DIV_UNDEF;
            } else {
                f->undef = MUL_UNDEF;
            }
        }
    }
}

/* IMUL r, r/m (0F AF); IMUL r, r/m, imm (69 iz, 6B ib) */
static void imul_forms(struct form_list *fl, unsigned sz)
{
    unsigned reg = pick_reg(sz), immsz = sz > 4 ? 4 : sz;
    char name[40];
    for (unsigned mem = 0; mem < 2; mem++) {
        static const uint8_t op2[2] = { 0x0f, 0xaf };
        snprintf(name, sizeof(name), "imul r%u, r/m%u", sz * 8, sz * 8);
        struct form *f = form_modrm(fl, name, sz, false, 0, op2, 2, reg,
                                    mem, 0);
        form_slot(f, reg, V_INT, sz);
        form_slot(f, rm_loc(f, sz), V_INT, sz);
        f->undef = MUL_UNDEF;
        for (unsigned k = 0; k < 2; k++) {
            uint8_t op = k ? 0x6b : 0x69;
            unsigned isz = k ? 1 : immsz;
            snprintf(name, sizeof(name), "imul r%u, r/m%u, imm%u", sz * 8,
                     sz * 8, isz * 8);
            f = form_modrm(fl, name, sz, false, 0, &op, 1, reg, mem, isz);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            form_slot(f, LOC_IMM, V_INT, isz);
            f->undef = MUL_UNDEF;
        }
    }
}

/* MULX r9, rcx(vvvv), r/m: VEX.LZ.F2.0F38 F6 /r; also hi == lo. */
static void mulx_forms(struct form_list *fl, unsigned sz)
{
    for (unsigned mem = 0; mem < 3; mem++) {
        const char *what = mem == 2 ? "(same dest)" : mem ? "mem" : "reg";
        struct form *f = form_new(fl, "mulx r%u, r%u, r/m%u %s", sz * 8,
                                  sz * 8, sz * 8, what);
        enc_vex(f, 2, 3, sz == 8, mem == 2 ? R9 : RCX, 0xf6, R9,
                mem == 1 ? RM_MEM : RBX, 0);
        form_slot(f, mem == 1 ? LOC_MEM : RBX, V_INT, sz);
        form_slot(f, RDX, V_INT, sz);
    }
}

void forms_muldiv(struct form_list *fl)
{
    for (unsigned sz = 1; sz <= 8; sz *= 2)
        grp3_forms(fl, sz);
    for (unsigned sz = 2; sz <= 8; sz *= 2)
        imul_forms(fl, sz);
    mulx_forms(fl, 4);
    mulx_forms(fl, 8);
}
