/* Exceptions and interrupts: raising, the double-fault rules, and
 * delivery through the IVT (real mode) or the IDT (protected and long
 * mode).  APM vol. 2, chapter 8. */
#include <stdlib.h>

#include "svm/svm.h"
#include "svm/vmcb.h"
#include "x86/mem.h"

const char *x86_exception_name(int vector)
{
    static const char *const names[32] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
        "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
        "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC",
        "#SX", "#31",
    };
    return vector >= 0 && vector < 32 ? names[vector] : "#?";
}

static bool has_error_code(int vec)
{
    return vec == EXC_DF || (vec >= EXC_TS && vec <= EXC_PF) ||
           vec == EXC_AC || vec == 21 || vec == 29 || vec == 30;
}

enum exc_class { BENIGN, CONTRIBUTORY, PAGE_FAULT };

static enum exc_class exc_class(int vec)
{
    if (vec == EXC_DE || (vec >= EXC_TS && vec <= EXC_GP))
        return CONTRIBUTORY;
    return vec == EXC_PF ? PAGE_FAULT : BENIGN;
}

static _Noreturn void shutdown(struct cpu *cpu)
{
    /* a triple fault: in guest mode a SHUTDOWN intercept may take it */
    cpu->pending_exc = -1;
    cpu->delivering = -1;
    svm_check(cpu, SVM_EXIT_SHUTDOWN, 0, 0);
    cpu->stop = STOP_TRIPLE_FAULT;
    longjmp(cpu->fault_jmp, 1);
}

_Noreturn void x86_raise(struct cpu *cpu, int vector, uint32_t err)
{
    bool has_err = has_error_code(vector);
    if (cpu->delivering >= 0 &&
        (cpu->delivering_type == EVT_EXCEPTION || cpu->delivering_type == EVT_SOFTEXC)) {
        /* an exception while delivering an exception (APM 8.2.9) */
        enum exc_class first = exc_class(cpu->delivering);
        enum exc_class second = exc_class(vector);
        if (cpu->delivering == EXC_DF && second != BENIGN)
            shutdown(cpu);
        if ((first == CONTRIBUTORY && second == CONTRIBUTORY) ||
            (first == PAGE_FAULT && second != BENIGN)) {
            vector = EXC_DF;
            err = 0;
            has_err = true;
        }
    }
    if (!has_err)
        err = 0;
    cpu->pending_exc = vector;
    cpu->pending_err = err;
    cpu->pending_has_err = has_err;
    if (!cpu->fault_jmp_valid) {
        fprintf(stderr, "nsvm: internal error: exception %d outside the run loop\n",
                vector);
        abort();
    }
    longjmp(cpu->fault_jmp, 1);
}

_Noreturn void x86_raise_noerr(struct cpu *cpu, int vector)
{
    x86_raise(cpu, vector, 0);
}

_Noreturn void x86_page_fault(struct cpu *cpu, uint64_t lin, uint32_t err)
{
    cpu->pending_cr2 = lin;
    x86_raise(cpu, EXC_PF, err);
}

/* ---- delivery ---- */

/* EXT, bit 0 of a selector error code raised while delivering an event:
 * set when the event came from outside the processor (APM 8.4.2) —
 * external interrupts and NMI, not exceptions or software interrupts. */
static unsigned event_ext(int type)
{
    return type == EVT_EXTINT || type == EVT_NMI;
}

/* A task gate (legacy mode only) names a TSS: the event switches tasks
 * (task.c), then pushes its error code on the new task's stack. */
#define GATE_TASK 0x5u
void x86_task_gate_event(struct cpu *cpu, uint16_t tss_sel, unsigned ext,
                         uint32_t err, bool has_err, uint64_t ret_rip);

struct gate {
    uint64_t offset;
    uint16_t sel;
    unsigned type, dpl, ist;
    bool present;
};

static void read_gate(struct cpu *cpu, int vector, unsigned ext, struct gate *g)
{
    unsigned size = x86_long_mode(cpu) ? 16 : 8;
    uint32_t err = (uint32_t)vector * 8 + 2 + ext;
    if ((uint64_t)vector * size + size - 1 > cpu->idtr.limit)
        x86_raise(cpu, EXC_GP, err);
    uint64_t addr = cpu->idtr.base + (uint64_t)vector * size;
    uint64_t lo = mem_read_lin(cpu, addr & cpu->lin_mask, 8, ACC_READ | ACC_SUPER);
    uint64_t hi = size == 16 ? mem_read_lin(cpu, addr + 8, 8, ACC_READ | ACC_SUPER) : 0;
    g->offset = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
    g->sel = (uint16_t)(lo >> 16);
    g->type = (lo >> 40) & 0xf;
    g->dpl = (lo >> 45) & 3;
    g->present = (lo >> 47) & 1;
    g->ist = (lo >> 32) & 7;
    bool ok = size == 16 ? (g->type == 0xe || g->type == 0xf)
                         : (g->type == 0xe || g->type == 0xf || g->type == 0x6 || g->type == 0x7 ||
                            g->type == GATE_TASK);
    if (!ok || (lo >> 44) & 1)
        x86_raise(cpu, EXC_GP, err);
    if (size == 8 && g->type < 8)
        g->offset &= 0xffff;   /* 16-bit gate */
}

/* The code segment a gate names: must be a present code segment with
 * DPL <= CPL (APM 8.7.3). */
static struct x86_seg gate_code_seg(struct cpu *cpu, const struct gate *g,
                                    unsigned ext)
{
    struct x86_seg cs;
    uint16_t sel = g->sel & ~3;
    if (sel == 0)
        x86_raise(cpu, EXC_GP, ext);
    uint64_t desc = x86_read_desc(cpu, sel);
    x86_desc_to_seg(desc, sel, &cs);
    if (!(cs.attrib & SEG_ATTR_S) || !(cs.attrib & 8) ||
        SEG_ATTR_DPL(cs.attrib) > cpu->cpl ||
        (x86_long_mode(cpu) && (!(cs.attrib & SEG_ATTR_L) || (cs.attrib & SEG_ATTR_DB))))
        x86_raise(cpu, EXC_GP, sel | ext);
    if (!(cs.attrib & SEG_ATTR_P))
        x86_raise(cpu, EXC_NP, sel | ext);
    return cs;
}

/* The gate for a vector and the code segment it enters, with the checks of
 * APM 8.7.3 in their order: gate type and limit, the DPL check of software
 * interrupts (not ICEBP), presence, the target code segment. */
static struct x86_seg gate_target(struct cpu *cpu, int vector, int type,
                                  struct gate *g)
{
    unsigned ext = event_ext(type);
    read_gate(cpu, vector, ext, g);
    if ((type == EVT_SOFTINT || type == EVT_SOFTEXC) && vector != EXC_DB &&
        g->dpl < cpu->cpl)
        x86_raise(cpu, EXC_GP, (uint32_t)vector * 8 + 2);
    if (!g->present)
        x86_raise(cpu, EXC_NP, (uint32_t)vector * 8 + 2 + ext);
    if (g->type == GATE_TASK)
        return (struct x86_seg){ .sel = 0 };
    return gate_code_seg(cpu, g, ext);
}

static uint64_t tss_read(struct cpu *cpu, unsigned off, unsigned size)
{
    if (off + size - 1 > cpu->tr.limit)
        x86_raise(cpu, EXC_TS, cpu->tr.sel & ~3);
    return mem_read_lin(cpu, (cpu->tr.base + off) & cpu->lin_mask, size,
                        ACC_READ | ACC_SUPER);
}

static bool deliver_long(struct cpu *cpu, int vector, int type, uint32_t err,
                         bool has_err, uint64_t ret_rip)
{
    unsigned ext = event_ext(type);
    struct gate g;
    struct x86_seg cs = gate_target(cpu, vector, type, &g);
    unsigned new_cpl = (cs.attrib & 4) ? cpu->cpl : SEG_ATTR_DPL(cs.attrib);

    uint64_t rsp = cpu->gpr[RSP];
    if (g.ist)
        rsp = tss_read(cpu, 36 + (g.ist - 1) * 8, 8);
    else if (new_cpl < cpu->cpl)
        rsp = tss_read(cpu, 4 + new_cpl * 8, 8);
    rsp &= ~0xfull;
    if (!x86_canonical(rsp))
        x86_raise(cpu, EXC_SS, ext);

    uint64_t frame[6];
    unsigned n = 0;
    if (has_err)
        frame[n++] = err;
    frame[n++] = ret_rip;
    frame[n++] = cpu->seg[SEG_CS].sel;
    frame[n++] = x86_get_rflags(cpu);
    frame[n++] = cpu->gpr[RSP];
    frame[n++] = cpu->seg[SEG_SS].sel;
    unsigned acc = ACC_WRITE | (new_cpl < 3 ? ACC_SUPER : 0);
    for (unsigned i = 0; i < n; i++)
        mem_write_lin(cpu, rsp - 8 * (n - i), 8, frame[i], acc);

    if (new_cpl != cpu->cpl) {
        cpu->seg[SEG_SS].sel = (uint16_t)new_cpl;
        cpu->seg[SEG_SS].base = 0;
        cpu->seg[SEG_SS].limit = 0;
        cpu->seg[SEG_SS].attrib = (uint16_t)(new_cpl << 5);
    }
    cpu->gpr[RSP] = rsp - 8 * n;
    cs.sel = (uint16_t)((g.sel & ~3) | new_cpl);
    cpu->seg[SEG_CS] = cs;
    cpu->rip = g.offset;
    return g.type & 1;   /* trap gate: IF unchanged */
}

static bool deliver_prot(struct cpu *cpu, int vector, int type, uint32_t err,
                         bool has_err, uint64_t ret_rip, bool *task)
{
    struct gate g;
    struct x86_seg cs = gate_target(cpu, vector, type, &g);
    if (g.type == GATE_TASK) {
        *task = true;
        x86_task_gate_event(cpu, g.sel, event_ext(type), err, has_err, ret_rip);
        return false;
    }
    unsigned new_cpl = (cs.attrib & 4) ? cpu->cpl : SEG_ATTR_DPL(cs.attrib);
    unsigned w = (g.type & 8) ? 4 : 2;

    struct x86_seg ss = cpu->seg[SEG_SS];
    uint64_t esp = cpu->gpr[RSP];
    if (new_cpl < cpu->cpl) {
        uint16_t ss_sel = (uint16_t)tss_read(cpu, 8 + new_cpl * 8, 2);
        esp = tss_read(cpu, 4 + new_cpl * 8, 4);
        x86_desc_to_seg(x86_read_desc(cpu, ss_sel), ss_sel, &ss);
    }
    uint32_t frame[6];
    unsigned n = 0;
    if (has_err)
        frame[n++] = err;
    frame[n++] = (uint32_t)ret_rip;
    frame[n++] = cpu->seg[SEG_CS].sel;
    frame[n++] = (uint32_t)x86_get_rflags(cpu);
    if (new_cpl < cpu->cpl) {
        frame[n++] = (uint32_t)cpu->gpr[RSP];
        frame[n++] = cpu->seg[SEG_SS].sel;
    }
    uint32_t sp_mask = (ss.attrib & SEG_ATTR_DB) ? 0xffffffffu : 0xffffu;
    for (unsigned i = 0; i < n; i++)
        mem_write_lin(cpu, (ss.base + ((esp - w * (n - i)) & sp_mask)) & 0xffffffffu,
                      w, frame[i], ACC_WRITE | ACC_SUPER);
    cpu->seg[SEG_SS] = ss;
    cpu->gpr[RSP] = (cpu->gpr[RSP] & ~(uint64_t)sp_mask) | ((esp - w * n) & sp_mask);
    cs.sel = (uint16_t)((g.sel & ~3) | new_cpl);
    cpu->seg[SEG_CS] = cs;
    cpu->rip = g.offset;
    return g.type & 1;   /* trap gate: IF unchanged */
}

static void deliver_real(struct cpu *cpu, int vector, uint64_t ret_rip)
{
    uint64_t ivt = cpu->idtr.base + (uint64_t)vector * 4;
    if ((uint64_t)vector * 4 + 3 > cpu->idtr.limit)
        x86_raise(cpu, EXC_GP, 0);
    uint32_t ent = (uint32_t)mem_read_lin(cpu, ivt, 4, ACC_READ | ACC_SUPER);
    uint16_t sp = (uint16_t)cpu->gpr[RSP];
    uint64_t ss = cpu->seg[SEG_SS].base;
    mem_write_lin(cpu, (ss + (uint16_t)(sp - 2)) & 0xfffff, 2, x86_get_rflags(cpu), ACC_WRITE);
    mem_write_lin(cpu, (ss + (uint16_t)(sp - 4)) & 0xfffff, 2, cpu->seg[SEG_CS].sel, ACC_WRITE);
    mem_write_lin(cpu, (ss + (uint16_t)(sp - 6)) & 0xfffff, 2, ret_rip, ACC_WRITE);
    cpu->gpr[RSP] = (cpu->gpr[RSP] & ~0xffffull) | (uint16_t)(sp - 6);
    cpu->seg[SEG_CS].sel = (uint16_t)(ent >> 16);
    cpu->seg[SEG_CS].base = (uint64_t)(ent >> 16) << 4;
    cpu->rip = ent & 0xffff;
}

static void trace_event(struct cpu *cpu, int vector, int type, uint32_t err,
                        bool has_err, uint64_t ret_rip)
{
    static const char *const kind[] = { "interrupt", "?", "nmi", "exception",
                                        "software interrupt", "exception" };
    fprintf(cpu->trace_out, "exc %llu %s%s vector %d", (unsigned long long)cpu->icount,
            cpu->svm.guest_mode ? "G " : "", kind[type], vector);
    if (has_err)
        fprintf(cpu->trace_out, " error 0x%x", err);
    if (vector == EXC_PF && type == EVT_EXCEPTION)
        fprintf(cpu->trace_out, " cr2 0x%llx", (unsigned long long)cpu->cr2);
    fprintf(cpu->trace_out, " at rip 0x%llx\n", (unsigned long long)ret_rip);
}

/* Deliver an event now; on return RIP (and next_rip) is the handler's. */
static void deliver(struct cpu *cpu, int vector, int type, uint32_t err,
                    bool has_err, uint64_t ret_rip)
{
    int saved = cpu->delivering;
    uint64_t from = cpu->rip;
    cpu->delivering = vector;
    cpu->delivering_type = type;
    cpu->delivering_err = err;
    cpu->delivering_has_err = has_err;
    if (cpu->trace & TRACE_EXC)
        trace_event(cpu, vector, type, err, has_err, ret_rip);

    uint64_t rflags = x86_get_rflags(cpu);
    bool trap_gate = false, task = false;
    if (!(cpu->cr0 & CR0_PE))
        deliver_real(cpu, vector, ret_rip);
    else if (x86_long_mode(cpu))
        trap_gate = deliver_long(cpu, vector, type, err, has_err, ret_rip);
    else
        trap_gate = deliver_prot(cpu, vector, type, err, has_err, ret_rip, &task);

    rflags &= ~(uint64_t)(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
    if (!trap_gate)
        rflags &= ~(uint64_t)(FLAG_IF | (cpu->cr0 & CR0_PE ? 0 : FLAG_AC));
    if (!task)   /* a task switch took RFLAGS from the new TSS */
        x86_set_rflags(cpu, rflags);
    x86_update_mode(cpu);
    if (unlikely(cpu->lbr.debugctl & DEBUGCTL_LBR))
        x86_lbr_event(cpu, vector, type, from);
    cpu->next_rip = cpu->rip;
    cpu->stop_block = true;
    cpu->delivering = saved;
}

void x86_deliver_event(struct cpu *cpu, int vector, int type, uint32_t err,
                       bool has_err)
{
    bool trap_like = type == EVT_SOFTINT || type == EVT_SOFTEXC;
    if (type == EVT_SOFTEXC && cpu->svm.guest_mode)
        svm_intercept_exception(cpu, vector, err, has_err, 0);
    deliver(cpu, vector, type, err, has_err, trap_like ? cpu->next_rip : cpu->rip);
}

/* The run loop found an exception pending: intercept or deliver it. */
void x86_deliver_pending(struct cpu *cpu)
{
    int vec = cpu->pending_exc;
    uint32_t err = cpu->pending_err;
    bool has_err = cpu->pending_has_err;

    cpu->pending_exc = -1;
    if (vec >= 0 && vec < 32)
        cpu->stat_exceptions[vec]++;
    if (cpu->svm.guest_mode)
        svm_intercept_exception(cpu, vec, err, has_err, cpu->pending_cr2);
    if (vec == EXC_PF)
        cpu->cr2 = cpu->pending_cr2;
    deliver(cpu, vec, EVT_EXCEPTION, err, has_err, cpu->rip);
    cpu->delivering = -1;
}
