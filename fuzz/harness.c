/* The fuzz targets' machine (see harness.h). */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "hv/hv.h"

static const uint64_t gdt[] = {
    0,
    0x00af9b000000ffffull,   /* 0x08 kernel code, 64-bit */
    0x00cf93000000ffffull,   /* 0x10 kernel data */
    0x00cffb000000ffffull,   /* 0x18 user code, 32-bit */
    0x00cff3000000ffffull,   /* 0x20 user data */
    0x00affb000000ffffull,   /* 0x28 user code, 64-bit */
    0x0000890000000067ull | ((uint64_t)FM_TSS << 16),   /* 0x30 TSS */
    0,                       /*      (its upper half) */
    0x00cf9b000000ffffull,   /* 0x40 kernel code, 32-bit */
};

#define ATTR_CODE64(dpl) (0x9bu | ((dpl) << 5) | SEG_ATTR_L | SEG_ATTR_G)
#define ATTR_CODE32(dpl) (0x9bu | ((dpl) << 5) | SEG_ATTR_DB | SEG_ATTR_G)
#define ATTR_DATA(dpl)   (0x93u | ((dpl) << 5) | SEG_ATTR_DB | SEG_ATTR_G)

static void put64(struct machine *m, uint64_t pa, uint64_t v)
{
    memcpy(fm_ram(m, pa), &v, sizeof(v));
}

/* A 64-bit interrupt gate, DPL 3 (INT n works from user code too). */
static void set_gate(struct machine *m, unsigned vec, uint64_t target,
                     unsigned ist)
{
    uint64_t lo = (target & 0xffff) | ((uint64_t)FM_KCODE64 << 16) |
                  ((uint64_t)ist << 32) | (0xeeull << 40) |
                  (((target >> 16) & 0xffff) << 48);
    put64(m, FM_IDT + vec * 16, lo);
    put64(m, FM_IDT + vec * 16 + 8, target >> 32);
}

/* Identity map of the first GiB with 2 MiB pages: PML4, PDPT, PD at base.
 * flags: the bits of every entry (ACCESSED_DIRTY: nothing left for the
 * page walk to write into the tables). */
#define ACCESSED_DIRTY 0x60u
static void build_identity(struct machine *m, uint64_t base, uint64_t flags)
{
    put64(m, base, (base + 0x1000) | flags);
    put64(m, base + 0x1000, (base + 0x2000) | flags);
    for (uint64_t i = 0; i < 512; i++)
        put64(m, base + 0x2000 + i * 8, (i << 21) | flags | 0x80);
}

void fm_build_npt(struct machine *m)
{
    build_identity(m, FM_NPT, 7 | ACCESSED_DIRTY);
}

void fm_npt_hide_host(struct machine *m)
{
    const uint64_t pt = FM_NPT + 0x3000;

    put64(m, FM_NPT + 0x2000, pt | 7 | ACCESSED_DIRTY);
    for (uint64_t pa = 0; pa < (2u << 20); pa += 4096) {
        bool hidden = pa == FM_HSAVE || (pa >= FM_NPT && pa <= pt) ||
                      (pa >= FM_PT && pa < FM_PT + 0x3000);
        put64(m, pt + (pa >> 12) * 8, hidden ? 0 : pa | 7 | ACCESSED_DIRTY);
    }
}

static void build_tables(struct machine *m, unsigned flags, size_t len)
{
    uint8_t *stubs = fm_ram(m, FM_STUBS);

    memcpy(fm_ram(m, FM_GDT), gdt, sizeof(gdt));
    for (unsigned v = 0; v < 256; v++) {
        const uint8_t stub[8] = { 0xb0, (uint8_t)v, 0xe6, 0xf4, 0xf4 };
        memcpy(stubs + v * 8, stub, sizeof(stub));
        uint64_t target = FM_STUBS + v * 8;
        if ((flags & FM_GATES_IN_CODE) && len)
            target = FM_CODE + (v * 37u) % len;
        set_gate(m, v, target, v == EXC_DF ? 1 : 0);
    }
    put64(m, FM_TSS + 0x04, FM_RSP0);
    put64(m, FM_TSS + 0x24, FM_IST1);
    build_identity(m, FM_PT, 7);
    build_identity(m, FM_PT2, 7 | ACCESSED_DIRTY);
}

static void seg(struct cpu *cpu, int s, uint16_t sel, uint16_t attrib)
{
    cpu->seg[s] = (struct x86_seg){ sel, attrib, 0xffffffff, 0 };
}

static void enter_long_mode(struct cpu *cpu, unsigned flags)
{
    unsigned dpl = (flags & FM_USER) ? 3 : 0;
    uint16_t data = dpl ? FM_UDATA : FM_KDATA;

    cpu->gdtr = (struct x86_dtable){ FM_GDT, sizeof(gdt) - 1 };
    cpu->idtr = (struct x86_dtable){ FM_IDT, 256 * 16 - 1 };
    cpu->tr = (struct x86_seg){ FM_TSS_SEL, 0x8b, 0x67, FM_TSS };
    cpu->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    cpu->cr3 = FM_PT;
    cpu->efer = EFER_LME | EFER_LMA | EFER_NXE |
                ((flags & FM_NO_SVME) ? 0 : EFER_SVME);
    cpu->cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE | CR0_MP;
    cpu->svm.hsave_pa = FM_HSAVE;
    for (int s = 0; s < 6; s++)
        seg(cpu, s, data, ATTR_DATA(dpl));
    if (flags & FM_COMPAT)
        seg(cpu, SEG_CS, dpl ? FM_UCODE32 : FM_KCODE32, ATTR_CODE32(dpl));
    else
        seg(cpu, SEG_CS, dpl ? FM_UCODE64 : FM_KCODE64, ATTR_CODE64(dpl));
    x86_update_mode(cpu);
    x86_tlb_flush_all(cpu);
}

/* Registers start pointing at interesting places. */
static void init_gprs(struct cpu *cpu)
{
    static const uint64_t gpr[16] = {
        FM_VMCB12, 0x10, 0x3f8, FM_CODE, FM_STACK, FM_STACK, FM_SCRATCH,
        FM_SCRATCH + 0x800, 1, 0xc0000080, 0xffffffffffffffffull,
        0x8000000000000000ull, FM_IOPM, FM_MSRPM, 0x1000, 0,
    };
    memcpy(cpu->gpr, gpr, sizeof(gpr));
    cpu->rip = FM_CODE;
}

struct machine *fm_new(bool bare, unsigned flags, const uint8_t *code,
                       size_t len)
{
    struct machine_options opt = {
        .mem_size = FM_RAM_SIZE,
        .serial_file = "/dev/null",
        .bare = bare,
    };
    struct machine *m = calloc(1, sizeof(*m));

    if (!m || machine_init(m, &opt) != 0)
        abort();
    if (len > FM_CODE_MAX)
        len = FM_CODE_MAX;
    memcpy(fm_ram(m, FM_CODE), code, len);
    /* HLT after the code: running off its end stops soon, at any CPL */
    memset(fm_ram(m, FM_CODE + len), 0xf4, FM_CODE_MAX - len);
    build_tables(m, flags, len);
    enter_long_mode(&m->cpu, flags);
    init_gprs(&m->cpu);
    return m;
}

void fm_free(struct machine *m)
{
    machine_fini(m);
    free(m);
}

enum x86_stop fm_run(struct machine *m, uint64_t budget)
{
    struct cpu *cpu = &m->cpu;
    enum x86_stop why;

    cpu->icount_limit = cpu->icount + budget;
    if (m->opt.bare) {
        why = x86_run(cpu);
    } else {
        hv_init(&m->hv, cpu);
        why = hv_run(&m->hv);
    }
    switch (why) {
    case STOP_EXIT: case STOP_TRIPLE_FAULT: case STOP_BUDGET: case STOP_HALT:
        return why;
    default:
        /* an internal error (L0 printed it) or a stop nothing expects */
        abort();
    }
}

static void vmcb_seg(struct vmcb_seg *v, uint16_t sel, uint16_t attrib)
{
    *v = (struct vmcb_seg){ sel, attrib, 0xffffffff, 0 };
}

void fm_vmcb_template(struct machine *m, struct vmcb *v, uint64_t rip)
{
    (void)m;
    memset(v, 0, sizeof(*v));
    vmcb_seg(&v->save.es, FM_KDATA, ATTR_DATA(0));
    vmcb_seg(&v->save.cs, FM_KCODE64, ATTR_CODE64(0));
    vmcb_seg(&v->save.ss, FM_KDATA, ATTR_DATA(0));
    vmcb_seg(&v->save.ds, FM_KDATA, ATTR_DATA(0));
    v->save.gdtr = (struct vmcb_seg){ 0, 0, sizeof(gdt) - 1, FM_GDT };
    v->save.idtr = (struct vmcb_seg){ 0, 0, 256 * 16 - 1, FM_IDT };
    v->save.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME;
    v->save.cr0 = CR0_PE | CR0_PG | CR0_ET | CR0_NE | CR0_MP;
    v->save.cr3 = FM_PT2;
    v->save.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    v->save.dr6 = 0xffff0ff0;
    v->save.dr7 = 0x400;
    v->save.rflags = 2;
    v->save.rip = rip;
    v->save.rsp = FM_L2_STACK;
    v->save.g_pat = 0x0007040600070406ull;
    vmcb_set_intercept(v, INTERCEPT_VMRUN);
    vmcb_set_intercept(v, INTERCEPT_VMMCALL);
    vmcb_set_intercept(v, INTERCEPT_HLT);
    vmcb_set_intercept(v, INTERCEPT_SHUTDOWN);
    v->control.asid = 1;
    v->control.iopm_base_pa = FM_IOPM;
    v->control.msrpm_base_pa = FM_MSRPM;
}

/* Little emitter for the L1 stub. */
struct emit {
    uint8_t *p;
};

static void bytes(struct emit *e, const uint8_t *b, size_t n)
{
    memcpy(e->p, b, n);
    e->p += n;
}

static void imm32(struct emit *e, uint32_t v)
{
    memcpy(e->p, &v, 4);
    e->p += 4;
}

#define EMIT(e, ...) bytes((e), (const uint8_t[]){ __VA_ARGS__ }, \
                           sizeof((const uint8_t[]){ __VA_ARGS__ }))

void fm_l1_stub(struct machine *m, uint32_t exits)
{
    uint8_t *start = fm_ram(m, FM_L1_STUB);
    struct emit e = { start };

    memcpy(fm_ram(m, FM_SCRATCH), &exits, sizeof(exits));
    EMIT(&e, 0xb8); imm32(&e, FM_VMCB12);             /* mov eax, vmcb12 */
    EMIT(&e, 0x0f, 0x01, 0xd8);                       /* vmrun */
    EMIT(&e, 0xb8); imm32(&e, FM_VMCB12);             /* mov eax, vmcb12 */
    EMIT(&e, 0x48, 0x8b, 0x98);                       /* mov rbx, [rax+nrip] */
    imm32(&e, offsetof(struct vmcb, control.next_rip));
    EMIT(&e, 0x48, 0x85, 0xdb);                       /* test rbx, rbx */
    EMIT(&e, 0x74, 0x07);                             /* jz +7 */
    EMIT(&e, 0x48, 0x89, 0x98);                       /* mov [rax+rip], rbx */
    imm32(&e, offsetof(struct vmcb, save.rip));
    EMIT(&e, 0xff, 0x0c, 0x25); imm32(&e, FM_SCRATCH); /* dec dword [counter] */
    EMIT(&e, 0x0f, 0x85);                             /* jnz start */
    imm32(&e, (uint32_t)-(int32_t)(e.p + 4 - start));
    EMIT(&e, 0x31, 0xc0, 0xe6, 0xf4, 0xf4);           /* xor eax,eax; out; hlt */
    m->cpu.rip = FM_L1_STUB;
}

int64_t fm_ram_diff(const struct machine *a, const struct machine *b,
                    uint64_t skip)
{
    for (uint64_t pa = 0; pa < FM_RAM_SIZE; pa += 4096) {
        if (pa == (skip & ~0xfffull) ||
            !memcmp(a->ram + pa, b->ram + pa, 4096))
            continue;
        for (uint64_t i = 0; i < 4096; i++)
            if (a->ram[pa + i] != b->ram[pa + i])
                return (int64_t)(pa + i);
    }
    return -1;
}
