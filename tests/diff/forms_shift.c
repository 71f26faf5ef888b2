/* Forms: ROL ROR RCL RCR SHL SHR SAL(/6) SAR with counts 1, CL and imm8;
 * SHLD and SHRD with imm8 and CL; BMI2 SHLX SHRX SARX RORX.
 *
 * Undefined flags (APM vol. 3, "rFLAGS Affected"):
 *   SHL/SAL, SHR, SAR: "AF U" for a nonzero count, and OF "is defined only
 *     for 1-bit shifts" -- so OF is masked when the masked count is > 1.
 *   ROL, ROR, RCL, RCR: OF "is defined only for 1-bit rotates".
 *   SHLD, SHRD: "AF U"; OF defined only for 1-bit shifts.  A count above
 *     the operand size (16-bit forms only) leaves the result and all flags
 *     undefined: those cases are compared too, against the host (see the
 *     report in shift.c), not masked.
 * A masked count of 0 changes no flags: compared exactly. */
#include <stdio.h>

#include "diff.h"

static const char *const grp2_name[8] = {
    "rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar",
};

static void grp2_size(struct form_list *fl, unsigned n, unsigned sz)
{
    static const char *const cnt_name[3] = { "1", "cl", "imm8" };
    uint8_t w = sz > 1;
    const uint8_t ops[3] = { (uint8_t)(0xd0 | w), (uint8_t)(0xd2 | w),
                             (uint8_t)(0xc0 | w) };
    uint32_t undef = n >= 4 ? FLAG_AF : 0;
    char name[32];
    for (unsigned k = 0; k < 3; k++) {
        for (unsigned mem = 0; mem < 2; mem++) {
            snprintf(name, sizeof(name), "%s r/m%u, %s", grp2_name[n], sz * 8,
                     cnt_name[k]);
            struct form *f = form_modrm(fl, name, sz, false, 0, &ops[k], 1, n,
                                        mem, k == 2);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            if (k == 1)
                form_slot(f, RCX, V_COUNT, 1);
            else if (k == 2)
                form_slot(f, LOC_IMM, V_COUNT, 1);
            f->count_mask = sz == 8 ? 63 : 31;
            f->count_slot = k ? 2 : 0;
            if (k == 0) {
                f->undef = undef;
            } else {
                f->undef_nonzero = undef;
                f->undef_multi = FLAG_OF;
            }
        }
    }
}

static void shxd_forms(struct form_list *fl, unsigned sz)
{
    static const char *const nm[2] = { "shld", "shrd" };
    char name[40];
    for (unsigned d = 0; d < 2; d++) {
        for (unsigned cl = 0; cl < 2; cl++) {
            for (unsigned mem = 0; mem < 2; mem++) {
                uint8_t op[2] = { 0x0f, (uint8_t)((d ? 0xac : 0xa4) + cl) };
                snprintf(name, sizeof(name), "%s r/m%u, r%u, %s", nm[d],
                         sz * 8, sz * 8, cl ? "cl" : "imm8");
                struct form *f = form_modrm(fl, name, sz, false, 0, op, 2,
                                            pick_reg(sz), mem, !cl);
                form_slot(f, rm_loc(f, sz), V_INT, sz);
                form_slot(f, cl ? RCX : LOC_IMM, V_COUNT, 1);
                form_slot(f, pick_reg(sz), V_INT, sz);
                f->count_mask = sz == 8 ? 63 : 31;
                f->count_slot = 2;
                f->undef_nonzero = FLAG_AF;
                f->undef_multi = FLAG_OF;
            }
        }
    }
}

/* VEX.LZ.0F38 F7 /r: SHLX (66), SARX (F3), SHRX (F2); RORX: 0F3A F0 (F2). */
static void bmi2_shift_forms(struct form_list *fl, unsigned sz)
{
    static const struct { const char *name; unsigned pp; } x[3] = {
        { "shlx", 1 }, { "sarx", 2 }, { "shrx", 3 },
    };
    bool w = sz == 8;
    for (unsigned mem = 0; mem < 2; mem++) {
        for (unsigned i = 0; i < 3; i++) {
            struct form *f = form_new(fl, "%s r%u, r/m%u, r%u %s", x[i].name,
                                      sz * 8, sz * 8, sz * 8,
                                      mem ? "mem" : "reg");
            enc_vex(f, 2, x[i].pp, w, RCX, 0xf7, R9, mem ? RM_MEM : RBX, 0);
            form_slot(f, mem ? LOC_MEM : RBX, V_INT, sz);
            form_slot(f, RCX, V_COUNT, 1);
        }
        struct form *f = form_new(fl, "rorx r%u, r/m%u, imm8 %s", sz * 8,
                                  sz * 8, mem ? "mem" : "reg");
        enc_vex(f, 3, 3, w, 0, 0xf0, R9, mem ? RM_MEM : RBX, 1);
        form_slot(f, mem ? LOC_MEM : RBX, V_INT, sz);
        form_slot(f, LOC_IMM, V_COUNT, 1);
    }
}

void forms_shift(struct form_list *fl)
{
    for (unsigned n = 0; n < 8; n++)
        for (unsigned sz = 1; sz <= 8; sz *= 2)
            grp2_size(fl, n, sz);
    for (unsigned sz = 2; sz <= 8; sz *= 2)
        shxd_forms(fl, sz);
    bmi2_shift_forms(fl, 4);
    bmi2_shift_forms(fl, 8);
}
