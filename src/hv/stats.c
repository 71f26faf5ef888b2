/* L0's statistics and `nsvm run --stats`, laid out as `perf kvm stat
 * report` lays out its table: one row per exit reason, with where each
 * exit went, then hypercalls and instructions per level. */
#include <stdio.h>

#include "hv/internal.h"

static const char *const exit_names[0xa7] = {
    [0x60] = "INTR", "NMI", "SMI", "INIT", "VINTR", "CR0_SEL_WRITE",
    "IDTR_READ", "GDTR_READ", "LDTR_READ", "TR_READ", "IDTR_WRITE",
    "GDTR_WRITE", "LDTR_WRITE", "TR_WRITE", "RDTSC", "RDPMC", "PUSHF",
    "POPF", "CPUID", "RSM", "IRET", "SWINT", "INVD", "PAUSE", "HLT",
    "INVLPG", "INVLPGA", "IOIO", "MSR", "TASK_SWITCH", "FERR_FREEZE",
    "SHUTDOWN", "VMRUN", "VMMCALL", "VMLOAD", "VMSAVE", "STGI", "CLGI",
    "SKINIT", "RDTSCP", "ICEBP", "WBINVD", "MONITOR", "MWAIT",
    "MWAIT_COND", "XSETBV", "RDPRU", "EFER_WRITE_TRAP",
    [0xa0] = "INVLPGB", "INVLPGB_ILLEGAL", "INVPCID", "MCOMMIT", "TLBSYNC",
    "BUSLOCK", "IDLE_HLT",
};

static const char *const npf_names[4] = {
    "NPF", "AVIC_INCOMPLETE_IPI", "AVIC_NOACCEL", "VMGEXIT",
};

unsigned hv_exit_slot(uint64_t code)
{
    if (code < HV_EXIT_SLOT_NPF)
        return (unsigned)code;
    if (code >= SVM_EXIT_NPF && code <= SVM_EXIT_VMGEXIT)
        return HV_EXIT_SLOT_NPF + (unsigned)(code - SVM_EXIT_NPF);
    return HV_EXIT_SLOT_INVALID;
}

const char *hv_exit_name(uint64_t code, char buf[24])
{
    if (code < 0x20)
        snprintf(buf, 24, "CR%u_%s", (unsigned)code & 0xf,
                 code & 0x10 ? "WRITE" : "READ");
    else if (code < 0x40)
        snprintf(buf, 24, "DR%u_%s", (unsigned)code & 0xf,
                 code & 0x10 ? "WRITE" : "READ");
    else if (code < 0x60)
        snprintf(buf, 24, "EXCP_%u", (unsigned)code - 0x40);
    else if (code >= 0x90 && code < 0xa0)
        snprintf(buf, 24, "CR%u_WRITE_TRAP", (unsigned)code - 0x90);
    else if (code < 0xa7 && exit_names[code])
        return exit_names[code];
    else if (code >= SVM_EXIT_NPF && code <= SVM_EXIT_VMGEXIT)
        return npf_names[code - SVM_EXIT_NPF];
    else if (code == SVM_EXIT_INVALID)
        return "INVALID";
    else
        snprintf(buf, 24, "0x%llx", (unsigned long long)code);
    return buf;
}

static uint64_t slot_code(unsigned slot)
{
    if (slot < HV_EXIT_SLOT_NPF)
        return slot;
    if (slot < HV_EXIT_SLOT_INVALID)
        return SVM_EXIT_NPF + (slot - HV_EXIT_SLOT_NPF);
    return SVM_EXIT_INVALID;
}

static void print_exits(const struct hv_stats *st, FILE *out)
{
    uint64_t total = 0;
    char buf[24];

    for (unsigned r = 0; r < HV_ROUTES; r++)
        for (unsigned s = 0; s < HV_EXIT_SLOTS; s++)
            total += st->exits[r][s];
    fprintf(out, "nsvm: stats: L0 exits by reason and level "
            "(L1->L0 handled by L0; L2->L0 handled by L0; L2->L1 reflected)\n");
    fprintf(out, "%22s %12s %12s %12s %9s\n", "VM-EXIT", "L1->L0",
            "L2->L0", "L2->L1", "Samples%");
    for (unsigned s = 0; s < HV_EXIT_SLOTS; s++) {
        uint64_t a = st->exits[HV_ROUTE_L1_L0][s];
        uint64_t b = st->exits[HV_ROUTE_L2_L0][s];
        uint64_t c = st->exits[HV_ROUTE_L2_L1][s];
        if (!(a | b | c))
            continue;
        fprintf(out, "%22s %12llu %12llu %12llu %8.2f%%\n",
                hv_exit_name(slot_code(s), buf), (unsigned long long)a,
                (unsigned long long)b, (unsigned long long)c,
                100.0 * (double)(a + b + c) / (double)total);
    }
    fprintf(out, "Total Samples:%llu\n", (unsigned long long)total);
}

static void print_hypercalls(const struct hv_stats *st, FILE *out)
{
    uint64_t total = 0;

    for (unsigned i = 0; i <= HV_HC_SLOTS; i++)
        total += st->hypercalls[i];
    fprintf(out, "nsvm: stats: L1 hypercalls: %llu", (unsigned long long)total);
    for (unsigned i = 0; i < HV_HC_SLOTS; i++)
        if (st->hypercalls[i])
            fprintf(out, " nr%u=%llu", i, (unsigned long long)st->hypercalls[i]);
    if (st->hypercalls[HV_HC_SLOTS])
        fprintf(out, " other=%llu", (unsigned long long)st->hypercalls[HV_HC_SLOTS]);
    fputc('\n', out);
}

void hv_print_stats(const struct hv *hv, FILE *out)
{
    const struct hv_stats *st = &hv->stats;

    print_exits(st, out);
    print_hypercalls(st, out);
    fprintf(out, "nsvm: stats: instructions retired: L1 %llu, L2 %llu\n",
            (unsigned long long)st->insns[HV_L1],
            (unsigned long long)st->insns[HV_L2]);
    fprintf(out, "nsvm: stats: L1 VMRUNs emulated: %llu (%llu failed with "
            "VMEXIT_INVALID)\n", (unsigned long long)st->vmruns,
            (unsigned long long)st->vmrun_invalid);
    fprintf(out, "nsvm: stats: exceptions L0 injected:");
    bool any = false;
    for (int v = 0; v < 32; v++) {
        if (!st->injected[v])
            continue;
        fprintf(out, " %s=%llu", x86_exception_name(v),
                (unsigned long long)st->injected[v]);
        any = true;
    }
    fprintf(out, "%s\n", any ? "" : " none");
}
