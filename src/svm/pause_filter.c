/* Pause intercept filtering (APM vol. 2, 15.14.4).
 *
 * VMRUN loads an internal counter from the VMCB's PAUSE_FILTER_COUNT
 * (offset 0x03E).  With the PAUSE intercept set, a PAUSE while the
 * counter is zero is #VMEXIT(PAUSE); otherwise the PAUSE decrements the
 * counter and completes: a count of N lets N PAUSEs through and the next
 * one exits, a count of 0 exits on every PAUSE.
 *
 * With the threshold (PAUSE_FILTER_THRESHOLD, offset 0x03C) not zero, a
 * PAUSE that comes more than that many cycles after the previous one
 * first reloads the counter from the count: only PAUSEs in a tight loop
 * add up to an exit.  Cycles are the machine's clock (x86_clock: retired
 * instructions and cycles spent halted); VMRUN counts as a PAUSE.
 *
 * Without the PAUSE intercept the filter does nothing. */
#include "svm/svm_internal.h"

void svm_pause_filter_enter(struct cpu *cpu, const struct vmcb_control *c)
{
    struct svm_state *svm = &cpu->svm;
    bool filter = (cpu->svm_features & SVM_FEATURE_PAUSE_FILTER) != 0;
    bool threshold = (cpu->svm_features & SVM_FEATURE_PF_THRESHOLD) != 0;

    svm->pause_count = filter ? c->pause_filter_count : 0;
    svm->pause_threshold = threshold ? c->pause_filter_thresh : 0;
    svm->pause_counter = svm->pause_count;
    svm->pause_last = x86_clock(cpu);
}

void svm_intercept_pause(struct cpu *cpu)
{
    struct svm_state *svm = &cpu->svm;
    uint64_t now = x86_clock(cpu);

    if (!((svm->intercepts[INTERCEPT_PAUSE / 32] >> (INTERCEPT_PAUSE % 32)) & 1))
        return;
    if (svm->pause_threshold && now - svm->pause_last > svm->pause_threshold)
        svm->pause_counter = svm->pause_count;
    svm->pause_last = now;
    if (svm->pause_counter == 0)
        svm_vmexit(cpu, SVM_EXIT_PAUSE, 0, 0);
    svm->pause_counter--;
}
