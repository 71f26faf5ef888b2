/* Forms: the hot ALU instructions with every addressing shape the
 * decoder distinguishes ([base], [base+disp8], [base+disp32],
 * [base+index*scale+disp8]), in both directions and with immediates, so
 * that specialised handlers for memory operands meet the same cases as
 * the generic ones.  AND, OR, XOR, TEST: "AF U" (APM). */
#include <stdio.h>

#include "diff.h"

static const struct {
    const char *name;
    uint8_t op;       /* r/m, reg form; +2: reg, r/m (not for TEST) */
    uint8_t ext;      /* /digit of the 81/83 immediate form, 0xff: none */
    uint32_t undef;
} ops[] = {
    { "add", 0x01, 0, 0 },      { "sub", 0x29, 5, 0 },
    { "cmp", 0x39, 7, 0 },      { "and", 0x21, 4, FLAG_AF },
    { "or", 0x09, 1, FLAG_AF }, { "xor", 0x31, 6, FLAG_AF },
    { "adc", 0x11, 2, 0 },      { "test", 0x85, 0xff, FLAG_AF },
};

static void addr_forms(struct form_list *fl, unsigned i, unsigned sz,
                       unsigned mode)
{
    unsigned reg = pick_reg(sz), bits = sz * 8;
    char name[40];
    for (unsigned dir = 0; dir < (ops[i].op == 0x85 ? 1u : 2u); dir++) {
        uint8_t op = (uint8_t)(ops[i].op + 2 * dir);
        snprintf(name, sizeof(name), dir ? "%s r%u, m%u" : "%s m%u, r%u",
                 ops[i].name, bits, bits);
        struct form *f = form_modrm_addr(fl, name, sz, &op, 1, reg, mode, 0);
        form_slot(f, dir ? reg : LOC_MEM, V_INT, sz);
        form_slot(f, dir ? LOC_MEM : reg, V_INT, sz);
        f->undef = ops[i].undef;
    }
    if (ops[i].ext == 0xff)
        return;
    for (unsigned k = 0; k < 2; k++) {
        uint8_t op = k ? 0x83 : 0x81;
        unsigned isz = k ? 1 : 4;
        snprintf(name, sizeof(name), "%s m%u, imm%u", ops[i].name, bits,
                 isz * 8);
        struct form *f = form_modrm_addr(fl, name, sz, &op, 1, ops[i].ext,
                                         mode, isz);
        form_slot(f, LOC_MEM, V_INT, sz);
        form_slot(f, LOC_IMM, V_INT, isz);
        f->undef = ops[i].undef;
    }
}

void forms_addr(struct form_list *fl)
{
    for (unsigned mode = MEM_RSI_D8; mode <= MEM_SIB; mode++)
        for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            for (unsigned sz = 4; sz <= 8; sz *= 2)
                addr_forms(fl, i, sz, mode);
}
