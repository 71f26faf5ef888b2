/* The run loop: find the decoded block at RIP, run it, deliver what is
 * pending, stop when something says so.
 *
 * Faults unwind with longjmp to the top of x86_run(): an instruction that
 * raises an exception has committed nothing (RIP still points at it), the
 * loop delivers the exception and carries on.  setjmp runs once per fault,
 * not once per instruction. */
#include <stdlib.h>

#include "svm/svm.h"
#include "x86/decode.h"
#include "x86/decode_cache.h"

void mem_mark_code(struct cpu *cpu, uint64_t ppage);

static inline unsigned block_hash(uint64_t pa, unsigned mode)
{
    return (unsigned)(((pa ^ ((uint64_t)mode << 60)) * 0x9e3779b97f4a7c15ull) >>
                      (64 - 14)) & (DC_BUCKETS - 1);
}

/* Physical address of RIP for an instruction fetch. */
static uint64_t fetch_pa(struct cpu *cpu, uint64_t lin)
{
    struct tlb_entry *e = tlb_slot(cpu, lin, ACC_FETCH);
    if (likely(e->tag_fetch == (lin & ~0xfffull)))
        return e->ppage | (lin & 0xfff);
    if ((cpu->efer & EFER_LMA) && !x86_canonical(lin))
        x86_gp(cpu, 0);
    return x86_translate(cpu, lin, ACC_FETCH);
}

static struct block *block_build(struct cpu *cpu, uint64_t pa)
{
    struct decode_cache *dc = cpu->dc;
    size_t need = sizeof(struct block) + BLOCK_MAX_INSNS * sizeof(struct insn);
    if (dc->used + need > DC_ARENA_SIZE) {
        decode_cache_flush(dc);
        cpu->last_block = NULL;   /* its memory is about to be reused */
    }

    struct block *b = (struct block *)(dc->arena + dc->used);
    const uint8_t *page = cpu->ram + (pa & ~0xfffull);
    unsigned off = pa & 0xfff, n = 0;
    while (n < BLOCK_MAX_INSNS && off < 4096) {
        unsigned avail = 4096 - off;
        struct insn *in = &b->insn[n];
        if (!x86_decode(cpu, page + off, avail < 15 ? avail : 15, in) && avail < 15)
            break;   /* may continue on the next page: decode it alone */
        n++;
        off += in->len;
        if (in->flags & INSN_BRANCH)
            break;
    }
    if (n == 0)
        return NULL;
    b->pa = pa;
    b->mode = cpu->mode;
    b->gen = cpu->page_gen[pa >> 12];
    b->n = (uint16_t)n;
    b->link[0] = b->link[1] = (struct block_link){ NULL, 0, ~0ull };
    b->last_rip = cpu->rip + (off - (pa & 0xfff)) - b->insn[n - 1].len;
    dc->used += (sizeof(struct block) + n * sizeof(struct insn) + 15) & ~(size_t)15;
    dc->blocks_decoded++;
    unsigned h = block_hash(pa, cpu->mode);
    b->next = dc->bucket[h];
    dc->bucket[h] = b;
    mem_mark_code(cpu, pa & ~0xfffull);
    return b;
}

static struct block *block_lookup(struct cpu *cpu, uint64_t pa)
{
    for (struct block *b = cpu->dc->bucket[block_hash(pa, cpu->mode)]; b; b = b->next)
        if (b->pa == pa && b->mode == cpu->mode && b->gen == cpu->page_gen[pa >> 12])
            return b;
    return NULL;
}

/* An instruction that spans two pages, or code outside RAM: decode it on
 * its own, uncached, fetching the second page only if it is needed. */
static void exec_uncached(struct cpu *cpu, uint64_t lin, struct insn *in)
{
    uint8_t buf[15];
    unsigned first = 4096 - (lin & 0xfff);
    if (first > 15)
        first = 15;
    mem_read_buf(cpu, lin, buf, first, ACC_FETCH);
    if (!x86_decode(cpu, buf, first, in) && first < 15) {
        mem_read_buf(cpu, (lin + first) & cpu->lin_mask, buf + first,
                     15 - first, ACC_FETCH);
        x86_decode(cpu, buf, 15, in);
    }
    cpu->next_rip = cpu->rip + in->len;
    in->exec(cpu, in);
    cpu->rip = cpu->next_rip;
    cpu->icount++;
    cpu->stop_block = false;
}

static void trace_insn(struct cpu *cpu, const struct insn *in)
{
    uint8_t buf[15];
    char text[96];
    uint64_t lin = seg_linear(cpu, SEG_CS, cpu->rip);
    for (unsigned i = 0; i < in->len; i++) {
        uint64_t pa = x86_translate(cpu, (lin + i) & cpu->lin_mask, ACC_FETCH);
        buf[i] = (uint8_t)phys_read(cpu, pa, 1);
    }
    x86_disasm(cpu, buf, in->len, cpu->rip, text, sizeof(text));
    fprintf(cpu->trace_out, "insn %llu %s%016llx: %s\n",
            (unsigned long long)cpu->icount, cpu->svm.guest_mode ? "G " : "",
            (unsigned long long)cpu->rip, text);
}

/* Run a block's instructions (at most up to insn_stop).  Inlined twice:
 * with tracing compiled out for the hot path, and with it in.  Returns
 * false when an instruction asked to leave the block (stop_block). */
static inline __attribute__((always_inline)) bool
run_insns(struct cpu *cpu, const struct block *b, bool trace)
{
    uint64_t left = cpu->insn_stop - cpu->icount;
    const struct insn *in = b->insn;
    const struct insn *end = in + (left < b->n ? left : b->n);

    for (; in < end; in++) {
        if (trace)
            trace_insn(cpu, in);
        cpu->next_rip = cpu->rip + in->len;
        in->exec(cpu, in);
        cpu->rip = cpu->next_rip;
        cpu->icount++;
        if (unlikely(cpu->stop_block)) {
            cpu->stop_block = false;
            return false;
        }
    }
    return true;
}

static bool run_block(struct cpu *cpu, const struct block *b)
{
    if (unlikely(cpu->trace & TRACE_INSN))
        return run_insns(cpu, b, true);
    return run_insns(cpu, b, false);
}

/* The successor of a block through its links, or NULL. */
static inline struct block *linked(const struct cpu *cpu, const struct block *b)
{
    for (unsigned i = 0; i < 2; i++) {
        const struct block_link *l = &b->link[i];
        /* the epoch moves on every TLB flush, mode or CPL change and code
         * invalidation, so a link from this epoch is still exact */
        if (l->rip == cpu->rip && l->epoch == cpu->tlb_epoch)
            return l->to;
    }
    return NULL;
}

/* The block at RIP: first through the links of the block just run (no
 * TLB or hash lookup on a hot path), else through the cache. */
static struct block *next_block(struct cpu *cpu, uint64_t *lin_out)
{
    struct block *prev = cpu->last_block;
    struct block *b;
    if (prev && (b = linked(cpu, prev)))
        return b;
    uint64_t lin = seg_linear(cpu, SEG_CS, cpu->rip);
    uint64_t pa = fetch_pa(cpu, lin);
    *lin_out = lin;
    if (unlikely(pa >= cpu->ram_size))
        return NULL;
    b = block_lookup(cpu, pa);
    if (!b)
        b = block_build(cpu, pa);
    if (b && prev) {
        /* slot 0: the fall-through successor, slot 1: any other */
        uint64_t end = prev->insn[prev->n - 1].len + prev->last_rip;
        prev->link[cpu->rip == end ? 0 : 1] =
            (struct block_link){ b, cpu->rip, cpu->tlb_epoch };
    }
    return b;
}

/* RFLAGS.TF: one instruction, then a #DB trap with DR6.BS (APM 13.1.3.3);
 * with DebugCtl.BTF only once it transferred control.  An instruction that
 * faults reports its fault instead.  DebugCtl.LBR brings every instruction
 * here too, to record taken branches (lbr.c). */
static void single_step(struct cpu *cpu)
{
    struct insn in;
    uint64_t from = cpu->rip;
    bool tf = (cpu->rflags & FLAG_TF) != 0;
    cpu->last_block = NULL;
    exec_uncached(cpu, seg_linear(cpu, SEG_CS, cpu->rip), &in);
    bool transfer = x86_lbr_step(cpu, &in, from);
    if (!tf || ((cpu->lbr.debugctl & DEBUGCTL_BTF) && !transfer))
        return;
    cpu->dr6 |= DR6_BS;
    cpu->pending_exc = EXC_DB;
    cpu->pending_err = 0;
    cpu->pending_has_err = false;
}

/* Run blocks from RIP, following links from block to block for as long as
 * nothing needs the run loop: no instruction left its block early, the
 * instruction budget or timer is not reached, no event is pending, and
 * RFLAGS.TF is clear. */
static void step(struct cpu *cpu)
{
    uint64_t lin = 0;
    if (unlikely((cpu->rflags & FLAG_TF) | (cpu->lbr.debugctl & DEBUGCTL_LBR))) {
        single_step(cpu);
        return;
    }
    struct block *b = next_block(cpu, &lin);
    cpu->last_block = NULL;
    if (!b) {
        struct insn in;
        exec_uncached(cpu, seg_linear(cpu, SEG_CS, cpu->rip), &in);
        return;
    }
    for (;;) {
        bool whole = run_block(cpu, b);
        cpu->last_block = b;
        if (!whole || cpu->icount >= cpu->insn_stop || cpu->events ||
            (cpu->rflags & FLAG_TF) || !(b = linked(cpu, b)))
            return;
    }
}

void x86_set_deadline(struct cpu *cpu, enum x86_deadline which, uint64_t at)
{
    uint64_t apic, perf, old = cpu->timer_at;
    cpu->deadline[which] = at;
    apic = cpu->deadline[DEADLINE_APIC];
    perf = cpu->deadline[DEADLINE_PERF];
    cpu->timer_at = apic < perf ? apic : perf;
    if (cpu->timer_at < old)
        cpu->stop_block = true;   /* the current block may run past it */
}

/* icount reached timer_at: whichever deadlines are due, each of which
 * sets its next one. */
static __attribute__((noinline)) void deadlines_due(struct cpu *cpu)
{
    if (cpu->icount >= cpu->deadline[DEADLINE_APIC]) {
        x86_set_deadline(cpu, DEADLINE_APIC, UINT64_MAX);
        if (cpu->intc.timer)
            cpu->intc.timer(cpu->intc.opaque);
    }
    if (cpu->icount >= cpu->deadline[DEADLINE_PERF])
        x86_perf_overflow(cpu);
}

enum x86_stop x86_run(struct cpu *cpu)
{
    /* icount at the last delivery; volatile: it lives across longjmp */
    volatile uint64_t delivered_at = UINT64_MAX;

    cpu->stop = STOP_NONE;
    cpu->fault_jmp_valid = true;
    setjmp(cpu->fault_jmp);   /* x86_raise() comes back here */
    cpu->stop_block = false;
    cpu->last_block = NULL;

    while (cpu->stop == STOP_NONE) {
        if (cpu->pending_exc >= 0) {
            /* A delivery retires nothing.  One that follows another with
             * no instruction retired in between takes one instruction from
             * the budget, so that handlers which fault on their first
             * instruction forever (an IST stack makes every round alike)
             * still meet --max-insns and --timeout. */
            if (delivered_at == cpu->icount && cpu->icount_limit > cpu->icount)
                cpu->icount_limit--;
            delivered_at = cpu->icount;
            x86_deliver_pending(cpu);
            continue;
        }
        if (unlikely(cpu->icount >= cpu->timer_at))
            deadlines_due(cpu);
        cpu->insn_stop = cpu->icount_limit < cpu->timer_at ? cpu->icount_limit
                                                           : cpu->timer_at;
        if (unlikely(cpu->events) && x86_check_events(cpu))
            cpu->insn_stop = cpu->icount + 1;   /* through the shadow only */
        if (unlikely(cpu->halted)) {
            if (!x86_halt_wait(cpu, (cpu->rflags & FLAG_IF) != 0)) {
                cpu->stop = STOP_HALT;
                break;
            }
            continue;
        }
        if (unlikely(cpu->icount >= cpu->icount_limit)) {
            cpu->stop = STOP_BUDGET;
            break;
        }
        step(cpu);
    }
    cpu->fault_jmp_valid = false;
    return cpu->stop;
}

int x86_exec_insn(struct cpu *cpu, const struct insn *in)
{
    jmp_buf saved;
    bool saved_valid = cpu->fault_jmp_valid;
    volatile int result = -1;

    memcpy(saved, cpu->fault_jmp, sizeof(saved));
    cpu->pending_exc = -1;
    cpu->fault_jmp_valid = true;
    if (setjmp(cpu->fault_jmp) == 0) {
        cpu->next_rip = cpu->rip + in->len;
        in->exec(cpu, in);
        cpu->rip = cpu->next_rip;
        cpu->icount++;
    } else {
        result = cpu->pending_exc;
    }
    cpu->stop_block = false;
    memcpy(cpu->fault_jmp, saved, sizeof(saved));
    cpu->fault_jmp_valid = saved_valid;
    return result;
}
