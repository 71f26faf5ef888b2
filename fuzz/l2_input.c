/* The L2 targets' input format (see l2_input.h). */
#include "l2_input.h"

#include <string.h>

bool l2_input_parse(const uint8_t *data, size_t size, struct l2_input *in)
{
    if (size < 1 + L2_INTERCEPT_BYTES)
        return false;
    in->flags = data[0] & 0x0f;
    in->npatches = data[0] >> 4;
    in->intercepts = data + 1;
    in->patches = data + 1 + L2_INTERCEPT_BYTES;
    size_t head = 1 + L2_INTERCEPT_BYTES + 3 * (size_t)in->npatches;
    if (size < head)
        return false;
    in->code = data + head;
    in->code_len = size - head;
    return true;
}

static void user_segments(struct vmcb_save *s)
{
    const uint16_t data = 0xf3 | SEG_ATTR_DB | SEG_ATTR_G;

    s->cs = (struct vmcb_seg){ FM_UCODE64, 0xfb | SEG_ATTR_L | SEG_ATTR_G,
                               0xffffffff, 0 };
    s->ss = s->ds = s->es = (struct vmcb_seg){ FM_UDATA, data, 0xffffffff, 0 };
    s->cpl = 3;
}

void l2_input_apply(struct machine *m, const struct l2_input *in)
{
    struct vmcb *v = fm_ram(m, FM_VMCB12);
    uint8_t *raw = (uint8_t *)v;

    fm_vmcb_template(m, v, FM_CODE);
    if (in->flags & L2_USER)
        user_segments(&v->save);
    if (in->flags & L2_NPT) {
        fm_build_npt(m);
        v->control.misc_ctl |= MISC_CTL_NP_ENABLE;
        v->control.nested_cr3 = FM_NPT;
    }
    memset(fm_ram(m, FM_IOPM), (in->flags & L2_IOPM_ALL) ? 0xff : 0, IOPM_SIZE);
    memset(fm_ram(m, FM_MSRPM), (in->flags & L2_MSRPM_ALL) ? 0xff : 0,
           MSRPM_SIZE);
    for (unsigned i = 0; i < L2_INTERCEPT_BYTES; i++)
        raw[i] ^= in->intercepts[i];
    vmcb_set_intercept(v, INTERCEPT_VMRUN);
    for (unsigned i = 0; i < in->npatches; i++) {
        const uint8_t *p = in->patches + 3 * i;
        raw[(p[0] | p[1] << 8) & 0xfff] ^= p[2];
    }
}

struct machine *l2_machine(bool bare, const struct l2_input *in,
                           uint32_t exits)
{
    struct machine *m = fm_new(bare, 0, in->code, in->code_len);

    l2_input_apply(m, in);
    fm_l1_stub(m, exits);
    return m;
}
