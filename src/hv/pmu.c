/* The performance counters' HostOnly and GuestOnly bits for L1 (APM
 * vol. 2, 13.2.1): L1 is the host of its guests, but the hardware runs it
 * in guest mode, where a HostOnly counter would stop and a GuestOnly one
 * would count.  So L0 keeps L1's selects as L1 wrote them and gives the
 * hardware, on each entry, selects for the level about to run: the two
 * bits dropped, and the enable bit cleared where L1's select would not
 * count at that level.  Both bits clear, or both set, count everywhere;
 * while L1's EFER.SVME is clear the bits do not filter.  Counter values
 * and RDPMC are the hardware's: nothing else to translate. */
#include "hv/internal.h"

#define HOST_GUEST (PERF_SEL_HOSTONLY | PERF_SEL_GUESTONLY)

static uint64_t select_for(const struct hv *hv, uint64_t sel, bool l2)
{
    uint64_t hg = sel & HOST_GUEST;
    bool counts = true;

    if (hg == PERF_SEL_HOSTONLY)
        counts = !l2 || !hv->l1_svme;
    else if (hg == PERF_SEL_GUESTONLY)
        counts = l2 || !hv->l1_svme;
    sel &= ~HOST_GUEST;
    return counts ? sel : sel & ~PERF_SEL_EN;
}

/* Before each entry: the hardware's selects for the level that runs. */
void hv_pmu_enter(struct hv *hv)
{
    if (!hv->perf_filtered)
        return;
    bool l2 = hv->nested.guest_mode;
    for (unsigned i = 0; i < PERF_COUNTERS; i++) {
        uint64_t sel = select_for(hv, hv->perf_sel[i], l2);
        if (sel != hv->cpu->perf.sel[i])
            x86_perf_load_select(hv->cpu, i, sel);
    }
}

/* RDMSR/WRMSR of a select by L1 or L2; false: not a select. */
bool hv_pmu_msr(struct hv *hv, uint32_t msr, bool write, uint64_t *val,
                bool *ok)
{
    int i = x86_perf_select_index(msr);
    if (i < 0)
        return false;
    if (!write) {
        *val = hv->perf_sel[i];
        *ok = true;
        return true;
    }
    /* the hardware checks the reserved bits and enables as WRMSR does */
    *ok = x86_wrmsr(hv->cpu, msr, select_for(hv, *val, hv->nested.guest_mode));
    if (!*ok)
        return true;
    hv->perf_sel[i] = *val;
    hv->perf_filtered = false;
    for (unsigned k = 0; k < PERF_COUNTERS; k++)
        if ((hv->perf_sel[k] & PERF_SEL_EN) && (hv->perf_sel[k] & HOST_GUEST))
            hv->perf_filtered = true;
    return true;
}
