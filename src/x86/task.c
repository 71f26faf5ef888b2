/* Hardware task switches (APM vol. 2, chapter 12; vol. 3, JMP, CALL,
 * INTn and IRET), legacy protected mode only: in long mode a TSS or task
 * gate as a far target, a task gate in the IDT and IRET with NT = 1 are
 * #GP before anything reaches this file.
 *
 * A switch has two halves.  Before the commit point every check and every
 * read of the new TSS is made and every page the switch writes is probed,
 * so a fault leaves the old task untouched and the instruction (or event)
 * restartable; the SVM task-switch intercept (APM 15.14.1 "Task Switch
 * Intercept", exit code 0x7D) is checked there too.  After it the old
 * task's state is in its TSS, TR names the new TSS, and faults while the
 * new task's LDT and segments are loaded are raised in the new task's
 * context: RIP is already the new task's EIP. */
#include "x86/system.h"

/* 32-bit TSS fields (APM 12.2.5). */
#define TSS32_CR3     0x1c
#define TSS32_EIP     0x20
#define TSS32_EFLAGS  0x24
#define TSS32_GPR     0x28   /* EAX..EDI, 4 bytes each */
#define TSS32_SEG     0x48   /* ES, CS, SS, DS, FS, GS, 4-byte slots */
#define TSS32_LDT     0x60
#define TSS32_TRAP    0x64   /* bit 0: T, #DB on entry to the task */
#define TSS32_LIMIT_MIN 0x67
/* 16-bit TSS fields (APM 12.2.4). */
#define TSS16_IP      0x0e
#define TSS16_FLAGS   0x10
#define TSS16_GPR     0x12   /* AX..DI, 2 bytes each */
#define TSS16_SEG     0x22   /* ES, CS, SS, DS */
#define TSS16_LDT     0x2a
#define TSS16_LIMIT_MIN 0x2b

#define DESC_TSS_BUSY_BIT 0x2u   /* type bit 1: available -> busy */
#define DR6_BT (1ull << 15)      /* #DB from a task switch (T bit) */
#define DR7_LOCAL_ENABLES 0x55ull

/* EXITINFO2 of a task-switch intercept (APM 15.14.1 "Task Switch
 * Intercept"):
 *   bits 31:0  error code of the exception delivered through a task gate
 *   bit 36     the switch is an IRET's
 *   bit 38     the switch is a far JMP's
 *   bit 44     bits 31:0 hold an error code
 *   bit 48     RFLAGS.RF */
#define TS_INFO2_IRET    (1ull << 36)
#define TS_INFO2_JMP     (1ull << 38)
#define TS_INFO2_HAS_ERR (1ull << 44)
#define TS_INFO2_RF      (1ull << 48)

enum task_src { TASK_JMP, TASK_CALL, TASK_INT, TASK_IRET };

struct task_switch {
    enum task_src src;
    uint16_t sel;          /* the new TSS */
    struct desc d;         /* its descriptor (in the GDT) */
    struct x86_seg tss;    /* unpacked */
    unsigned ext;          /* EXT bit of the error codes raised */
    uint32_t err;          /* error code of an exception through a task gate */
    bool has_err;
    uint64_t ret_eip;      /* EIP saved in the old task */
};

/* The new task's state, read from its TSS before the commit point. */
struct task_image {
    uint32_t cr3, eip, eflags, gpr[8];
    uint16_t seg[6], ldt;
    bool trap;
};

static bool tss_is32(uint16_t attrib)
{
    return (SEG_ATTR_TYPE(attrib) & 8) != 0;
}

/* Where a TSS keeps the fields a switch reads and writes: the 32-bit TSS
 * in 4-byte slots, the 16-bit one in 2-byte slots and without CR3, FS, GS
 * and the T bit.  Selectors are 2 bytes in either. */
struct tss_layout {
    unsigned eip, eflags, gpr, seg, ldt;
    unsigned width;   /* bytes of EIP, EFLAGS, a GPR, a selector's slot */
    unsigned nseg;
};

static const struct tss_layout tss32_layout = {
    TSS32_EIP, TSS32_EFLAGS, TSS32_GPR, TSS32_SEG, TSS32_LDT, 4, 6
};
static const struct tss_layout tss16_layout = {
    TSS16_IP, TSS16_FLAGS, TSS16_GPR, TSS16_SEG, TSS16_LDT, 2, 4
};

static const struct tss_layout *tss_layout(uint16_t attrib)
{
    return tss_is32(attrib) ? &tss32_layout : &tss16_layout;
}

static uint64_t tss_lin(const struct x86_seg *tss, unsigned off)
{
    return (uint32_t)(tss->base + off);
}

static uint64_t tss_rd(struct cpu *cpu, const struct x86_seg *tss,
                       unsigned off, unsigned size)
{
    return mem_read_lin(cpu, tss_lin(tss, off), size, ACC_READ | ACC_SUPER);
}

static void tss_wr(struct cpu *cpu, const struct x86_seg *tss, unsigned off,
                   unsigned size, uint64_t val)
{
    mem_write_lin(cpu, tss_lin(tss, off), size, val, ACC_WRITE | ACC_SUPER);
}

/* Make sure a later supervisor write of [lin, lin + size) cannot fault:
 * the bytes are read and written back unchanged. */
static void probe_write(struct cpu *cpu, uint64_t lin, unsigned size)
{
    uint64_t last = (uint32_t)(lin + size - 1);
    uint64_t a = mem_read_lin(cpu, lin, 1, ACC_READ | ACC_SUPER);
    uint64_t b = mem_read_lin(cpu, last, 1, ACC_READ | ACC_SUPER);
    mem_write_lin(cpu, lin, 1, a, ACC_WRITE | ACC_SUPER);
    mem_write_lin(cpu, last, 1, b, ACC_WRITE | ACC_SUPER);
}

static _Noreturn void task_fault(struct cpu *cpu, int vec, uint16_t sel,
                                 unsigned ext)
{
    x86_raise(cpu, vec, sel_err(sel) | ext);
}

static void read_image(struct cpu *cpu, const struct x86_seg *t,
                       struct task_image *im)
{
    const struct tss_layout *l = tss_layout(t->attrib);
    bool is32 = l == &tss32_layout;
    im->cr3 = is32 ? (uint32_t)tss_rd(cpu, t, TSS32_CR3, 4) : 0;
    im->eip = (uint32_t)tss_rd(cpu, t, l->eip, l->width);
    im->eflags = (uint32_t)tss_rd(cpu, t, l->eflags, l->width);
    for (unsigned i = 0; i < 8; i++)
        im->gpr[i] = (uint32_t)tss_rd(cpu, t, l->gpr + l->width * i, l->width);
    for (unsigned i = 0; i < 6; i++)   /* FS, GS: none in a 16-bit TSS */
        im->seg[i] = i < l->nseg
                     ? (uint16_t)tss_rd(cpu, t, l->seg + l->width * i, 2) : 0;
    im->ldt = (uint16_t)tss_rd(cpu, t, l->ldt, 2);
    im->trap = is32 && (tss_rd(cpu, t, TSS32_TRAP, 2) & 1);
}

/* The old task's dynamic state into its TSS (the TR of the moment). */
static void save_old(struct cpu *cpu, const struct task_switch *ts,
                     uint32_t eflags)
{
    const struct x86_seg *t = &cpu->tr;
    const struct tss_layout *l = tss_layout(t->attrib);
    tss_wr(cpu, t, l->eip, l->width, ts->ret_eip);
    tss_wr(cpu, t, l->eflags, l->width, eflags);
    for (unsigned i = 0; i < 8; i++)
        tss_wr(cpu, t, l->gpr + l->width * i, l->width, cpu->gpr[i]);
    for (unsigned i = 0; i < l->nseg; i++)
        tss_wr(cpu, t, l->seg + l->width * i, 2, cpu->seg[i].sel);
}

/* The writes the switch will make, probed so that none faults after the
 * first has been made: the old TSS's dynamic fields, the busy bits, the
 * new TSS's link field. */
static void probe_switch(struct cpu *cpu, const struct task_switch *ts,
                         const struct desc *old)
{
    const struct x86_seg *t = &cpu->tr;
    const struct tss_layout *l = tss_layout(t->attrib);
    probe_write(cpu, tss_lin(t, l->eip), l->ldt - l->eip);
    if (old)
        probe_write(cpu, (uint32_t)(old->lin + 5), 1);
    if (ts->src != TASK_IRET)
        probe_write(cpu, (uint32_t)(ts->d.lin + 5), 1);
    if (ts->src == TASK_CALL || ts->src == TASK_INT)
        probe_write(cpu, tss_lin(&ts->tss, 0), 2);
}

static void write_type(struct cpu *cpu, const struct desc *d, bool busy)
{
    uint8_t access = (uint8_t)(d->lo >> 40);
    access = busy ? access | DESC_TSS_BUSY_BIT : access & ~DESC_TSS_BUSY_BIT;
    mem_write_lin(cpu, (uint32_t)(d->lin + 5), 1, access, ACC_WRITE | ACC_SUPER);
}

/* The descriptor of a selector that must not be null; a null selector or
 * one beyond its table is #TS.  Returns its attributes. */
static uint16_t fetch_required(struct cpu *cpu, uint16_t sel, unsigned ext,
                               struct desc *d)
{
    if ((sel_null(sel) && !(sel & 4)) || !desc_fetch(cpu, sel, false, d))
        task_fault(cpu, EXC_TS, sel, ext);
    return desc_attrib(d->lo);
}

/* A descriptor that passed its type and privilege checks: not present is
 * #NP (#SS for SS); else it is marked accessed and loaded. */
static void load_present(struct cpu *cpu, int seg, uint16_t sel,
                         const struct desc *d, unsigned ext)
{
    if (!(desc_attrib(d->lo) & SEG_ATTR_P))
        task_fault(cpu, seg == SEG_SS ? EXC_SS : EXC_NP, sel, ext);
    desc_set_type_bit(cpu, d, DESC_ACCESSED);
    desc_unpack(d, sel, &cpu->seg[seg]);
    cpu->seg[seg].attrib |= DESC_ACCESSED;
}

/* A data segment register of the new task: null is legal (unusable). */
static void load_data_seg(struct cpu *cpu, int seg, uint16_t sel, unsigned ext)
{
    struct desc d;
    if (sel_null(sel) && !(sel & 4))
        return;   /* already unusable with its selector */
    uint16_t a = fetch_required(cpu, sel, ext, &d);
    unsigned dpl = SEG_ATTR_DPL(a);
    bool code = a & DESC_CODE;
    if (!(a & SEG_ATTR_S) || (code && !(a & DESC_READABLE)))
        task_fault(cpu, EXC_TS, sel, ext);
    if (!(code && (a & DESC_CONFORMING)) && (dpl < cpu->cpl || dpl < (sel & 3u)))
        task_fault(cpu, EXC_TS, sel, ext);
    load_present(cpu, seg, sel, &d, ext);
}

/* CS: a code segment whose DPL is its RPL (conforming: at most its RPL). */
static void load_cs(struct cpu *cpu, uint16_t sel, unsigned ext)
{
    struct desc d;
    uint16_t a = fetch_required(cpu, sel, ext, &d);
    unsigned dpl = SEG_ATTR_DPL(a), rpl = sel & 3u;
    if (!(a & SEG_ATTR_S) || !(a & DESC_CODE))
        task_fault(cpu, EXC_TS, sel, ext);
    if ((a & DESC_CONFORMING) ? dpl > rpl : dpl != rpl)
        task_fault(cpu, EXC_TS, sel, ext);
    load_present(cpu, SEG_CS, sel, &d, ext);
}

/* SS: a writable data segment with RPL = DPL = CPL. */
static void load_ss(struct cpu *cpu, uint16_t sel, unsigned ext)
{
    struct desc d;
    uint16_t a = fetch_required(cpu, sel, ext, &d);
    if (!(a & SEG_ATTR_S) || (a & DESC_CODE) || !(a & DESC_WRITABLE) ||
        (sel & 3u) != cpu->cpl || SEG_ATTR_DPL(a) != cpu->cpl)
        task_fault(cpu, EXC_TS, sel, ext);
    load_present(cpu, SEG_SS, sel, &d, ext);
}

/* LDTR: null, or an LDT descriptor in the GDT; every failure is #TS. */
static void load_ldt(struct cpu *cpu, uint16_t sel, unsigned ext)
{
    struct desc d;
    if (sel_null(sel) && !(sel & 4))
        return;
    if ((sel & 4) || !desc_fetch(cpu, sel, false, &d))
        task_fault(cpu, EXC_TS, sel, ext);
    uint16_t a = desc_attrib(d.lo);
    if ((a & SEG_ATTR_S) || SEG_ATTR_TYPE(a) != DESC_LDT || !(a & SEG_ATTR_P))
        task_fault(cpu, EXC_TS, sel, ext);
    desc_unpack(&d, sel, &cpu->ldtr);
}

/* Registers from the image; every selector first without its descriptor
 * (unusable), so that a fault below sees the new task's selectors. */
static void load_registers(struct cpu *cpu, const struct task_image *im,
                           bool is32)
{
    cpu->rip = cpu->next_rip = im->eip;
    if (is32) {
        x86_set_rflags(cpu, im->eflags);
        for (unsigned i = 0; i < 8; i++)
            cpu->gpr[i] = im->gpr[i];
    } else {
        x86_set_rflags(cpu, (x86_get_rflags(cpu) & ~0xffffull) | im->eflags);
        for (unsigned i = 0; i < 8; i++)
            cpu->gpr[i] = (cpu->gpr[i] & ~0xffffull) | im->gpr[i];
    }
    for (unsigned i = 0; i < 6; i++)
        cpu->seg[i] = (struct x86_seg){ .sel = im->seg[i] };
    cpu->ldtr = (struct x86_seg){ .sel = im->ldt };
    x86_update_mode(cpu);   /* CPL = the new CS's RPL */
}

/* After the commit point: the new task's state, with the checks of the
 * segment loads (faults belong to the new task). */
static void load_new(struct cpu *cpu, const struct task_switch *ts,
                     const struct task_image *im)
{
    bool is32 = tss_is32(ts->tss.attrib);
    load_registers(cpu, im, is32);
    if (is32 && (cpu->cr0 & CR0_PG))
        x86_write_cr3(cpu, im->cr3);
    load_ldt(cpu, im->ldt, ts->ext);
    load_cs(cpu, im->seg[SEG_CS], ts->ext);
    load_ss(cpu, im->seg[SEG_SS], ts->ext);
    static const uint8_t data[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
    for (unsigned i = 0; i < sizeof data; i++)
        load_data_seg(cpu, data[i], im->seg[data[i]], ts->ext);
    x86_update_mode(cpu);
    cpu->dr7 &= ~DR7_LOCAL_ENABLES;   /* local breakpoints belong to a task */
    if (im->eip > cpu->seg[SEG_CS].limit)
        x86_gp(cpu, 0);
}

static uint64_t intercept_info2(struct cpu *cpu, const struct task_switch *ts)
{
    uint64_t info2 = ts->has_err ? TS_INFO2_HAS_ERR | ts->err : 0;
    if (ts->src == TASK_IRET)
        info2 |= TS_INFO2_IRET;
    if (ts->src == TASK_JMP)
        info2 |= TS_INFO2_JMP;
    if (cpu->rflags & FLAG_RF)
        info2 |= TS_INFO2_RF;
    return info2;
}

/* The switch to an available TSS (busy for IRET) whose descriptor has
 * passed the checks of its source: limit, intercept, commit, load. */
static void task_switch(struct cpu *cpu, struct task_switch *ts)
{
    struct task_image im;
    struct desc old;
    bool is32 = tss_is32(desc_attrib(ts->d.lo));
    desc_unpack(&ts->d, ts->sel, &ts->tss);
    if (ts->tss.limit < (is32 ? TSS32_LIMIT_MIN : TSS16_LIMIT_MIN))
        task_fault(cpu, EXC_TS, ts->sel, ts->ext);
    svm_check(cpu, SVM_EXIT_TASK_SWITCH, ts->sel, intercept_info2(cpu, ts));

    read_image(cpu, &ts->tss, &im);
    if (is32 && (im.eflags & FLAG_VM))
        task_fault(cpu, EXC_TS, ts->sel, ts->ext);   /* virtual-8086 task: not implemented */
    bool clear_old = ts->src == TASK_JMP || ts->src == TASK_IRET;
    bool have_old = clear_old && !sel_null(cpu->tr.sel) &&
                    desc_fetch(cpu, cpu->tr.sel, false, &old);
    probe_switch(cpu, ts, have_old ? &old : NULL);

    /* the commit point: nothing below returns to the old task */
    if (have_old)
        write_type(cpu, &old, false);
    uint32_t eflags = (uint32_t)x86_get_rflags(cpu);
    if (ts->src == TASK_IRET)
        eflags &= ~FLAG_NT;
    save_old(cpu, ts, eflags);
    if (ts->src == TASK_CALL || ts->src == TASK_INT) {
        tss_wr(cpu, &ts->tss, 0, 2, cpu->tr.sel);   /* the back link */
        im.eflags |= FLAG_NT;
    }
    if (ts->src != TASK_IRET)
        write_type(cpu, &ts->d, true);
    cpu->cr0 |= CR0_TS;
    cpu->tr = ts->tss;
    cpu->tr.attrib |= DESC_TSS_BUSY_BIT;
    load_new(cpu, ts, &im);
    if (im.trap) {
        cpu->dr6 |= DR6_BT;
        cpu->pending_exc = EXC_DB;   /* before the new task's first instruction */
        cpu->pending_err = 0;
        cpu->pending_has_err = false;
    }
    cpu->stop_block = true;
}

/* The TSS a task gate or a far pointer names: in the GDT, an available
 * TSS, present; #GP(sel) / #NP(sel) otherwise. */
static void fetch_available_tss(struct cpu *cpu, uint16_t sel, unsigned ext,
                                struct desc *d)
{
    if ((sel & 4) || !desc_fetch(cpu, sel, false, d))
        task_fault(cpu, EXC_GP, sel, ext);
    uint16_t a = desc_attrib(d->lo);
    unsigned type = SEG_ATTR_TYPE(a);
    if ((a & SEG_ATTR_S) || (type != DESC_TSS_AVL && type != DESC_TSS16_AVL))
        task_fault(cpu, EXC_GP, sel, ext);
    if (!(a & SEG_ATTR_P))
        task_fault(cpu, EXC_NP, sel, ext);
}

/* JMP/CALL far: the TSS named directly or through a task gate, whose own
 * type, DPL and presence checks gate.c has made. */
void x86_task_far(struct cpu *cpu, uint16_t tss_sel, bool call)
{
    struct task_switch ts = { .src = call ? TASK_CALL : TASK_JMP,
                              .sel = tss_sel, .ret_eip = cpu->next_rip };
    fetch_available_tss(cpu, tss_sel, 0, &ts.d);
    task_switch(cpu, &ts);
}

void x86_task_gate_event(struct cpu *cpu, uint16_t tss_sel, unsigned ext,
                         uint32_t err, bool has_err, uint64_t ret_rip)
{
    struct task_switch ts = { .src = TASK_INT, .sel = tss_sel, .ext = ext,
                              .err = err, .has_err = has_err,
                              .ret_eip = ret_rip };
    fetch_available_tss(cpu, tss_sel, ext, &ts.d);
    task_switch(cpu, &ts);
    if (has_err) {
        /* the error code goes on the new task's stack, as wide as its TSS */
        unsigned w = tss_is32(ts.tss.attrib) ? 4 : 2, ss = stack_size(cpu);
        uint64_t sp = (cpu->gpr[RSP] - w) & size_mask(ss);
        mem_write_lin(cpu, stack_linear(cpu, sp), w, err, ACC_WRITE);
        stack_set_sp(cpu, ss, sp);
    }
}

/* IRET with NT = 1: back to the task named by the current TSS's link
 * field, which must be a busy TSS in the GDT (#TS(sel) otherwise). */
void x86_task_return(struct cpu *cpu)
{
    struct task_switch ts = { .src = TASK_IRET, .ret_eip = cpu->next_rip };
    ts.sel = (uint16_t)tss_rd(cpu, &cpu->tr, 0, 2);
    if ((ts.sel & 4) || !desc_fetch(cpu, ts.sel, false, &ts.d))
        task_fault(cpu, EXC_TS, ts.sel, 0);
    uint16_t a = desc_attrib(ts.d.lo);
    unsigned type = SEG_ATTR_TYPE(a);
    if ((a & SEG_ATTR_S) || (type != DESC_TSS_BUSY && type != DESC_TSS16_BUSY))
        task_fault(cpu, EXC_TS, ts.sel, 0);
    if (!(a & SEG_ATTR_P))
        task_fault(cpu, EXC_NP, ts.sel, 0);
    task_switch(cpu, &ts);
}
