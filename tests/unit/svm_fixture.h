/* The machine the SVM unit tests run on (test_svm_*.c): sys_fixture.h's
 * 64-bit CPL-0 host with EFER.SVME set and a host-save area, a VMCB in RAM
 * whose guest starts as a copy of the host, and helpers that execute the
 * SVM instructions from real bytes.  Expected values come from the APM,
 * never from nsvm's output. */
#ifndef NSVM_TESTS_SVM_FIXTURE_H
#define NSVM_TESTS_SVM_FIXTURE_H

#include "sys_fixture.h"
#include "svm/svm.h"
#include "svm/vmcb.h"

#define VMCB_PA   0x20000u
#define HSAVE_PA  0x21000u
#define IOPM_PA   0x22000u   /* 3 pages */
#define MSRPM_PA  0x25000u   /* 2 pages */
#define GUEST_RIP 0x30000u
#define GUEST_RSP 0x38000u
#define NPT_BASE  0x40000u   /* PML4, PDPT, PD, PT of the nested table */
#define HOST_RSP  KSTACK

static inline struct vmcb *test_vmcb(struct fixture *f)
{
    return (struct vmcb *)(f->ram + VMCB_PA);
}

static inline void seg_to_vmcb(struct vmcb_seg *v, const struct x86_seg *s)
{
    v->selector = s->sel;
    v->attrib = s->attrib;
    v->limit = s->limit;
    v->base = s->base;
}

/* A VMCB that passes every consistency check: the guest is a copy of the
 * host at GUEST_RIP, with the VMRUN intercept, ASID 1 and the maps. */
static inline void vmcb_valid(struct fixture *f)
{
    struct cpu *cpu = &f->cpu;
    struct vmcb *v = test_vmcb(f);
    memset(v, 0, sizeof(*v));
    seg_to_vmcb(&v->save.es, &cpu->seg[SEG_ES]);
    seg_to_vmcb(&v->save.cs, &cpu->seg[SEG_CS]);
    seg_to_vmcb(&v->save.ss, &cpu->seg[SEG_SS]);
    seg_to_vmcb(&v->save.ds, &cpu->seg[SEG_DS]);
    v->save.gdtr.base = cpu->gdtr.base;
    v->save.gdtr.limit = cpu->gdtr.limit;
    v->save.idtr.base = cpu->idtr.base;
    v->save.idtr.limit = cpu->idtr.limit;
    v->save.efer = cpu->efer;
    v->save.cr0 = cpu->cr0;
    v->save.cr3 = cpu->cr3;
    v->save.cr4 = cpu->cr4;
    v->save.dr6 = 0xffff0ff0;
    v->save.dr7 = 0x400;
    v->save.rflags = 2;
    v->save.rip = GUEST_RIP;
    v->save.rsp = GUEST_RSP;
    v->save.g_pat = 0x0007040600070406ull;
    v->control.intercepts[4] = 1u << (INTERCEPT_VMRUN - 128);
    v->control.asid = 1;
    v->control.iopm_base_pa = IOPM_PA;
    v->control.msrpm_base_pa = MSRPM_PA;
}

static inline int svm_setup(void **state)
{
    if (setup(state))
        return -1;
    struct fixture *f = *state;
    struct cpu *cpu = &f->cpu;
    cpu->has_svm = true;
    cpu->svm_features = SVM_FEATURES_IMPLEMENTED;
    cpu->efer |= EFER_SVME;
    cpu->svm.hsave_pa = HSAVE_PA;
    cpu->svm.gif = true;
    vmcb_valid(f);
    return 0;
}

/* VMRUN rAX=VMCB_PA at CODE_RIP (0F 01 D8). */
static inline int vmrun(struct cpu *cpu)
{
    cpu->rip = CODE_RIP;
    cpu->gpr[RAX] = VMCB_PA;
    cpu->gpr[RSP] = HOST_RSP;
    return EXEC(cpu, 0x0f, 0x01, 0xd8);
}

/* The host continues after its VMRUN exactly as it was. */
static inline void assert_host_resumed(struct cpu *cpu)
{
    assert_false(cpu->svm.guest_mode);
    assert_int_equal(cpu->rip, CODE_RIP + 3);
    assert_int_equal(cpu->gpr[RAX], VMCB_PA);
    assert_int_equal(cpu->gpr[RSP], HOST_RSP);
    assert_int_equal(cpu->cpl, 0);
    assert_int_equal(cpu->mode, MODE_LONG64);
    assert_int_equal(cpu->seg[SEG_CS].sel, KCODE64);
    assert_int_equal(cpu->cr3, PT_BASE);
    assert_int_equal(cpu->efer, EFER_LME | EFER_LMA | EFER_SVME);
    assert_false(cpu->svm.gif);   /* #VMEXIT clears GIF */
}

/* Run one guest instruction at the guest's RIP. */
static inline int guest_exec(struct cpu *cpu, const uint8_t *code, size_t len)
{
    assert_true(cpu->svm.guest_mode);
    return exec_bytes(cpu, code, len);
}
#define GUEST(cpu, ...)                                                     \
    guest_exec((cpu), (const uint8_t[]){ __VA_ARGS__ },                     \
               sizeof((const uint8_t[]){ __VA_ARGS__ }))

static inline void set_intercept(struct vmcb *v, unsigned bit)
{
    v->control.intercepts[bit / 32] |= 1u << (bit % 32);
}

#endif
