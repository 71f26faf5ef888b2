/* Fuzz target (a): random bytes as L2 code, with random intercept sets,
 * under a host that is C code: the VMCB is in host memory and the guest
 * runs with svm_vmrun_native(), the path src/hv uses on the hardware.
 *
 * Input: see l2_input.h.  The host resumes the guest after each #VMEXIT
 * the way a simple hypervisor does (at NRIP when the hardware gives one,
 * reinjecting an event whose delivery the exit interrupted), up to
 * MAX_EXITS exits, all within one instruction budget. */
#include <stdlib.h>
#include <string.h>

#include "l2_input.h"
#include "svm/svm.h"

#define BUDGET    20000
#define MAX_EXITS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void resume_after_exit(struct vmcb *v)
{
    struct vmcb_control *c = &v->control;

    c->event_inj = 0;
    if (c->exit_int_info & EVENTINJ_V) {
        c->event_inj = c->exit_int_info;
        c->event_inj_err = c->exit_int_info_err;
    }
    if (c->next_rip)
        v->save.rip = c->next_rip;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct l2_input in;

    if (!l2_input_parse(data, size, &in))
        return 0;
    struct machine *m = fm_new(true, 0, in.code, in.code_len);
    struct vmcb *v = aligned_alloc(VMCB_SIZE, VMCB_SIZE);
    if (!v)
        abort();
    l2_input_apply(m, &in);
    memcpy(v, fm_ram(m, FM_VMCB12), VMCB_SIZE);
    m->cpu.icount_limit = m->cpu.icount + BUDGET;
    for (int i = 0; i < MAX_EXITS; i++) {
        enum x86_stop why = svm_vmrun_native(&m->cpu, v);
        if (why == STOP_EXIT || why == STOP_TRIPLE_FAULT ||
            why == STOP_BUDGET || why == STOP_HALT)
            break;
        if (why != STOP_VMEXIT)
            abort();
        if (v->control.exit_code == SVM_EXIT_INVALID)
            break;
        resume_after_exit(v);
    }
    free(v);
    fm_free(m);
    return 0;
}
