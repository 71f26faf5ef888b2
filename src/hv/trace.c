/* `--trace=exit`: one line per exit and per nested transition, in the
 * manner of KVM's tracepoints (kvm_exit, kvm_nested_vmrun,
 * kvm_nested_vmexit_inject, kvm_inj_exception, kvm_hypercall).  Each line
 * starts with its event name and the instruction count, like the CPU's own
 * `exc` lines. */
#include "hv/internal.h"

static unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* kvm_exit / kvm_nested_vmexit: every exit L0 receives. */
void hv_trace_exit(struct hv *hv)
{
    const struct vmcb *v = hv->vmcb;
    char buf[24];

    fprintf(hv->cpu->trace_out,
            "%s %llu %s reason %s rip 0x%llx info1 0x%llx info2 0x%llx "
            "intinfo 0x%x\n",
            hv->nested.guest_mode ? "nested_vmexit" : "exit",
            ull(hv->cpu->icount), hv->nested.guest_mode ? "L2" : "L1",
            hv_exit_name(v->control.exit_code, buf), ull(v->save.rip),
            ull(v->control.exit_info_1), ull(v->control.exit_info_2),
            v->control.exit_int_info);
}

/* kvm_nested_vmrun: L1 entered L2. */
void hv_trace_nested_vmrun(struct hv *hv)
{
    const struct nested *n = &hv->nested;

    fprintf(hv->cpu->trace_out,
            "nested_vmrun %llu L1 rip 0x%llx vmcb12 0x%llx L2 rip 0x%llx "
            "asid %u event_inj 0x%x npt %s\n",
            ull(hv->cpu->icount), ull(hv->vmcb01.save.rip), ull(n->vmcb12_pa),
            ull(n->save.rip), n->ctl.asid, n->ctl.event_inj,
            (n->ctl.misc_ctl & MISC_CTL_NP_ENABLE) ? "on" : "off");
}

/* kvm_nested_vmexit_inject: a #VMEXIT written into vmcb12. */
void hv_trace_nested_vmexit_inject(struct hv *hv, const struct vmcb *vmcb12)
{
    const struct vmcb_control *c = &vmcb12->control;
    char buf[24];

    fprintf(hv->cpu->trace_out,
            "nested_vmexit_inject %llu L2->L1 reason %s info1 0x%llx "
            "info2 0x%llx intinfo 0x%x nrip 0x%llx\n",
            ull(hv->cpu->icount), hv_exit_name(c->exit_code, buf),
            ull(c->exit_info_1), ull(c->exit_info_2), c->exit_int_info,
            ull(c->next_rip));
}

void hv_trace_vmrun_invalid(struct hv *hv, const char *why)
{
    fprintf(hv->cpu->trace_out,
            "nested_vmexit_inject %llu L1 reason INVALID vmcb12 0x%llx: %s\n",
            ull(hv->cpu->icount), ull(hv->nested.vmcb12_pa), why);
}

/* kvm_inj_exception: how the exception L0 queued reaches its level. */
void hv_trace_inject(struct hv *hv, const struct hv_exception *e,
                     const char *how)
{
    fprintf(hv->cpu->trace_out, "inj_exception %llu %s vector %d",
            ull(hv->cpu->icount), hv->nested.guest_mode ? "L2" : "L1",
            e->vector);
    if (e->has_err)
        fprintf(hv->cpu->trace_out, " error 0x%x", e->err);
    fprintf(hv->cpu->trace_out, " %s\n", how);
}

/* kvm_hypercall */
void hv_trace_hypercall(struct hv *hv, uint64_t nr, const uint64_t a[4],
                        uint64_t ret)
{
    fprintf(hv->cpu->trace_out,
            "hypercall %llu L1 nr 0x%llx a0 0x%llx a1 0x%llx a2 0x%llx "
            "a3 0x%llx ret 0x%llx\n",
            ull(hv->cpu->icount), ull(nr), ull(a[0]), ull(a[1]), ull(a[2]),
            ull(a[3]), ull(ret));
}
