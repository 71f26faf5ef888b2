/* Differential fuzzing of nesting: the same L1 and L2 run bare (the L1
 * on the emulated hardware) and nested (the L1 under nsvm's L0), and L1
 * must see the same thing.  Nesting is architecturally invisible, so any
 * difference is a bug in one of the layers.
 *
 * Input: see l2_input.h (random L2 code, random intercept sets, vmcb12
 * fields).  The minimal L1 (fm_l1_stub) resumes L2 after each #VMEXIT up
 * to EXITS times, then writes the debug-exit port.  Compared: why the
 * machine stopped and its exit status, the general registers and RIP,
 * every byte of RAM (vmcb12 with its exit code and information, L2's
 * saved state, everything L2 wrote) but the host-save area, whose format
 * software may not rely on (APM 15.30.4).
 *
 * What the APM leaves undefined is kept out, since there the two modes may
 * rightly differ:
 * - L2 always runs under nested paging that leaves out the host-save area
 *   (an L2 that overwrote it would make L1's state after #VMEXIT
 *   undefined), L1's page tables and the nested table;
 * - which of a stale and a fresh translation a TLB gives after a
 *   page-table write without INVLPG is up to the TLB, whose sharing
 *   between levels nesting changes: every VMRUN flushes L2's TLB
 *   (TLB_CONTROL 1), L1 intercepts L2's CR3 writes (and skips them), and
 *   an input whose L2 wrote its page tables is not compared;
 * - CPUID is always intercepted: L0 answers an L2 CPUID that L1 lets
 *   through as for any of its guests (hypervisor bit, hypervisor leaves,
 *   the ASIDs L1 may use), which is L0's view, not the hardware's. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l2_input.h"

#define BUDGET 20000
#define EXITS  8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *stop_name(enum x86_stop why)
{
    switch (why) {
    case STOP_EXIT: return "debug-exit";
    case STOP_TRIPLE_FAULT: return "triple fault";
    case STOP_BUDGET: return "budget";
    case STOP_HALT: return "halt";
    default: return "other";
    }
}

static bool same_outcome(struct machine *b, enum x86_stop wb,
                         struct machine *n, enum x86_stop wn)
{
    bool same = true;

    if (wb != wn || b->cpu.exit_status != n->cpu.exit_status) {
        fprintf(stderr, "stop: bare %s (status %d), nested %s (status %d)\n",
                stop_name(wb), b->cpu.exit_status, stop_name(wn),
                n->cpu.exit_status);
        same = false;
    }
    for (int r = 0; r < 16; r++) {
        if (b->cpu.gpr[r] != n->cpu.gpr[r]) {
            fprintf(stderr, "gpr %d: bare 0x%llx, nested 0x%llx\n", r,
                    (unsigned long long)b->cpu.gpr[r],
                    (unsigned long long)n->cpu.gpr[r]);
            same = false;
        }
    }
    if (b->cpu.rip != n->cpu.rip) {
        fprintf(stderr, "rip: bare 0x%llx, nested 0x%llx\n",
                (unsigned long long)b->cpu.rip,
                (unsigned long long)n->cpu.rip);
        same = false;
    }
    int64_t pa = fm_ram_diff(b, n, FM_HSAVE);
    if (pa >= 0) {
        fprintf(stderr, "RAM at 0x%llx: bare 0x%02x, nested 0x%02x\n",
                (unsigned long long)pa, b->ram[pa], n->ram[pa]);
        same = false;
    }
    return same;
}

/* Nested paging on, whatever the input asked, without the host's pages;
 * a TLB flush at every VMRUN; CPUID and CR3 writes intercepted. */
static void hide_host(struct machine *m)
{
    struct vmcb *v = fm_ram(m, FM_VMCB12);

    fm_build_npt(m);
    fm_npt_hide_host(m);
    v->control.misc_ctl |= MISC_CTL_NP_ENABLE;
    v->control.nested_cr3 = FM_NPT;
    v->control.tlb_ctl = TLB_CONTROL_FLUSH_ALL;
    vmcb_set_intercept(v, INTERCEPT_CPUID);
    vmcb_set_intercept(v, INTERCEPT_CR_WRITE(3));
}

#define PT2_SIZE 0x3000u

/* L2's page tables as they were built (A and D already set, so page walks
 * do not write them): a difference means L2 wrote them itself. */
static bool l2_tables_intact(struct machine *m, const uint8_t *orig)
{
    return memcmp(fm_ram(m, FM_PT2), orig, PT2_SIZE) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct l2_input in;

    if (!l2_input_parse(data, size, &in))
        return 0;
    struct machine *b = l2_machine(true, &in, EXITS);
    struct machine *n = l2_machine(false, &in, EXITS);
    hide_host(b);
    hide_host(n);
    static_assert(FM_PT2 + PT2_SIZE <= FM_CODE, "L2's tables below its code");
    uint8_t *orig = malloc(PT2_SIZE);
    if (!orig)
        abort();
    memcpy(orig, fm_ram(b, FM_PT2), PT2_SIZE);
    enum x86_stop wb = fm_run(b, BUDGET);
    enum x86_stop wn = fm_run(n, BUDGET);
    bool compare = l2_tables_intact(b, orig) && l2_tables_intact(n, orig);
    free(orig);
    if (compare && !same_outcome(b, wb, n, wn)) {
        fprintf(stderr, "nsvm: bare and nested DIFFER\n");
        abort();
    }
    fm_free(b);
    fm_free(n);
    return 0;
}
