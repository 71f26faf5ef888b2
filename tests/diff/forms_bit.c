/* Forms: BT BTS BTR BTC (register and immediate offsets, register and
 * memory operands), BSF BSR, LZCNT TZCNT POPCNT, BSWAP, and BMI1/BMI2
 * ANDN BLSI BLSMSK BLSR BEXTR BZHI PDEP PEXT.
 *
 * Undefined flags (APM vol. 3, "rFLAGS Affected"):
 *   BT, BTS, BTR, BTC: "OF, SF, AF, PF U" (CF is the bit, ZF unchanged).
 *   BSF, BSR: "CF, OF, SF, AF, PF U" (ZF is defined).
 *   LZCNT, TZCNT: "OF, SF, AF, PF U" (CF and ZF are defined).
 *   POPCNT: all defined (ZF from the source, the others cleared).
 *   ANDN, BLSI, BLSMSK, BLSR, BZHI: "AF, PF U".
 *   BEXTR: "SF, AF, PF U" (ZF defined, CF = OF = 0).
 *   PDEP, PEXT: flags not affected. */
#include <stdio.h>

#include "diff.h"

#define BT_UNDEF (FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF)

static void bt_forms(struct form_list *fl, unsigned sz)
{
    static const char *const nm[4] = { "bt", "bts", "btr", "btc" };
    char name[32];
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned mem = 0; mem < 2; mem++) {
            for (unsigned lock = 0; lock <= (mem && i); lock++) {
                uint8_t op[2] = { 0x0f, (uint8_t)(0xa3 + 8 * i) };
                snprintf(name, sizeof(name), "%s r/m%u, r%u", nm[i], sz * 8,
                         sz * 8);
                struct form *f = form_modrm(fl, name, sz, lock, 0, op, 2,
                                            pick_reg(sz), mem, 0);
                form_slot(f, pick_reg(sz), mem ? V_BITOFF : V_INT, sz);
                form_slot(f, rm_loc(f, sz), V_INT, sz);
                f->undef = BT_UNDEF;

                op[1] = 0xba;
                snprintf(name, sizeof(name), "%s r/m%u, imm8", nm[i], sz * 8);
                f = form_modrm(fl, name, sz, lock, 0, op, 2, 4 + i, mem, 1);
                form_slot(f, LOC_IMM, V_COUNT, 1);
                form_slot(f, rm_loc(f, sz), V_INT, sz);
                f->undef = BT_UNDEF;
            }
        }
    }
}

static void scan_forms(struct form_list *fl, unsigned sz)
{
    static const struct {
        const char *name; uint8_t pfx, op; uint32_t undef;
    } s[5] = {
        { "bsf", 0, 0xbc, FLAG_CF | BT_UNDEF },
        { "bsr", 0, 0xbd, FLAG_CF | BT_UNDEF },
        { "tzcnt", 0xf3, 0xbc, BT_UNDEF },
        { "lzcnt", 0xf3, 0xbd, BT_UNDEF },
        { "popcnt", 0xf3, 0xb8, 0 },
    };
    char name[32];
    for (unsigned i = 0; i < 5; i++) {
        for (unsigned mem = 0; mem < 2; mem++) {
            uint8_t op[2] = { 0x0f, s[i].op };
            snprintf(name, sizeof(name), "%s r%u, r/m%u", s[i].name, sz * 8,
                     sz * 8);
            struct form *f = form_modrm(fl, name, sz, false, s[i].pfx, op, 2,
                                        pick_reg(sz), mem, 0);
            form_slot(f, rm_loc(f, sz), V_INT, sz);
            f->undef = s[i].undef;
        }
    }
}

/* BSWAP: 0F C8+r, with RBX and with R10 (REX.B). */
static void bswap_forms(struct form_list *fl, unsigned sz)
{
    for (unsigned r = 0; r < 2; r++) {
        unsigned reg = r ? R10 : RBX;
        uint8_t op[2] = { 0x0f, (uint8_t)(0xc8 + (reg & 7)) };
        struct form *f = form_new(fl, "bswap r%u (%s)%s", sz * 8,
                                  r ? "r10" : "rbx",
                                  sz == 2 ? " [16-bit: undefined result]" : "");
        enc_plain(f, sz, op, 2, reg & 8, 0);
        form_slot(f, reg, V_INT, sz);
    }
}

#define BMI_UNDEF (FLAG_AF | FLAG_PF)

/* VEX.LZ.0F38 forms: reg = R9, vvvv = RCX (or /digit forms: vvvv = R9),
 * r/m = RBX or [rsi]. */
static void bmi_forms(struct form_list *fl, unsigned sz)
{
    static const struct {
        const char *name; uint8_t op, pp, ext; uint8_t cls; uint32_t undef;
    } b[] = {
        { "andn", 0xf2, 0, 0xff, V_INT, BMI_UNDEF },
        { "blsr", 0xf3, 0, 1, V_INT, BMI_UNDEF },
        { "blsmsk", 0xf3, 0, 2, V_INT, BMI_UNDEF },
        { "blsi", 0xf3, 0, 3, V_INT, BMI_UNDEF },
        { "bextr", 0xf7, 0, 0xff, V_CTL, BMI_UNDEF | FLAG_SF },
        { "bzhi", 0xf5, 0, 0xff, V_COUNT, BMI_UNDEF },
        { "pdep", 0xf5, 3, 0xff, V_INT, 0 },
        { "pext", 0xf5, 2, 0xff, V_INT, 0 },
    };
    for (unsigned i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        for (unsigned mem = 0; mem < 2; mem++) {
            struct form *f = form_new(fl, "%s r%u %s", b[i].name, sz * 8,
                                      mem ? "mem" : "reg");
            bool digit = b[i].ext != 0xff;
            enc_vex(f, 2, b[i].pp, sz == 8, digit ? R9 : RCX, b[i].op,
                    digit ? b[i].ext : R9, mem ? RM_MEM : RBX, 0);
            form_slot(f, mem ? LOC_MEM : RBX, V_INT, sz);
            if (!digit)
                form_slot(f, RCX, b[i].cls, b[i].cls == V_INT ? sz : 2);
            f->undef = b[i].undef;
        }
    }
}

void forms_bit(struct form_list *fl)
{
    for (unsigned sz = 2; sz <= 8; sz *= 2) {
        bt_forms(fl, sz);
        scan_forms(fl, sz);
        bswap_forms(fl, sz);
    }
    bmi_forms(fl, 4);
    bmi_forms(fl, 8);
}
