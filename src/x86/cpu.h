/* The AMD64 CPU: architectural state and the interface of the x86 layer.
 *
 * One struct cpu per machine; no globals, so tests and fuzzers can build
 * several machines in one process.  The layer below (physical memory, port
 * and MMIO buses) is reached through struct x86_bus; the one layer above
 * that the CPU talks to is src/svm (guest mode, intercepts, #VMEXIT). */
#ifndef NSVM_X86_CPU_H
#define NSVM_X86_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "svm/svm_state.h"

/* General-purpose registers, in encoding order. */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
       R8, R9, R10, R11, R12, R13, R14, R15 };

/* Segment registers, in encoding order. */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_NONE = 7 };

/* RFLAGS bits. */
#define FLAG_CF   (1u << 0)
#define FLAG_PF   (1u << 2)
#define FLAG_AF   (1u << 4)
#define FLAG_ZF   (1u << 6)
#define FLAG_SF   (1u << 7)
#define FLAG_TF   (1u << 8)
#define FLAG_IF   (1u << 9)
#define FLAG_DF   (1u << 10)
#define FLAG_OF   (1u << 11)
#define FLAG_IOPL (3u << 12)
#define FLAG_NT   (1u << 14)
#define FLAG_RF   (1u << 16)
#define FLAG_VM   (1u << 17)
#define FLAG_AC   (1u << 18)
#define FLAG_VIF  (1u << 19)
#define FLAG_VIP  (1u << 20)
#define FLAG_ID   (1u << 21)
#define FLAGS_ARITH (FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)
#define FLAGS_FIXED1 (1u << 1)

/* Control register bits (APM vol. 2, 3.1). */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_VME        (1ull << 0)
#define CR4_PVI        (1ull << 1)
#define CR4_TSD        (1ull << 2)
#define CR4_DE         (1ull << 3)
#define CR4_PSE        (1ull << 4)
#define CR4_PAE        (1ull << 5)
#define CR4_MCE        (1ull << 6)
#define CR4_PGE        (1ull << 7)
#define CR4_PCE        (1ull << 8)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP       (1ull << 11)
#define CR4_FSGSBASE   (1ull << 16)
#define CR4_PCIDE      (1ull << 17)
#define CR4_OSXSAVE    (1ull << 18)
#define CR4_SMEP       (1ull << 20)
#define CR4_SMAP       (1ull << 21)
/* CR4 bits this CPU implements; the rest are reserved (MBZ). */
#define CR4_VALID (CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | \
                   CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR |               \
                   CR4_OSXMMEXCPT | CR4_FSGSBASE)

#define EFER_SCE   (1ull << 0)
#define EFER_LME   (1ull << 8)
#define EFER_LMA   (1ull << 10)
#define EFER_NXE   (1ull << 11)
#define EFER_SVME  (1ull << 12)
#define EFER_LMSLE (1ull << 13)
#define EFER_FFXSR (1ull << 14)
#define EFER_VALID (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME)

#define DR6_BS (1ull << 14)   /* single step */

/* Exception vectors. */
enum {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5,
    EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12,
    EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_MC = 18,
    EXC_XM = 19, EXC_SX = 30,
};

/* #PF error code bits. */
#define PFERR_P    (1u << 0)
#define PFERR_W    (1u << 1)
#define PFERR_U    (1u << 2)
#define PFERR_RSVD (1u << 3)
#define PFERR_I    (1u << 4)

#define PHYS_ADDR_BITS 48u   /* CPUID 0x80000008 EAX[7:0] */
#define LIN_ADDR_BITS  48u

/* A segment register with its hidden part.  attrib packs the descriptor
 * attribute bits the way the VMCB does (APM B.1): type[3:0], S 4, DPL[6:5],
 * P 7, AVL 8, L 9, D/B 10, G 11 — so a world switch copies it unchanged. */
struct x86_seg {
    uint16_t sel;
    uint16_t attrib;
    uint32_t limit;
    uint64_t base;
};
#define SEG_ATTR_TYPE(a) ((a) & 0xf)
#define SEG_ATTR_S   (1u << 4)
#define SEG_ATTR_DPL(a) (((a) >> 5) & 3)
#define SEG_ATTR_P   (1u << 7)
#define SEG_ATTR_L   (1u << 9)
#define SEG_ATTR_DB  (1u << 10)
#define SEG_ATTR_G   (1u << 11)

struct x86_dtable {
    uint64_t base;
    uint16_t limit;
};

/* Execution modes; decode and address size follow from them. */
enum x86_mode {
    MODE_REAL,     /* CR0.PE = 0 */
    MODE_PROT16,   /* protected, CS.D = 0 */
    MODE_PROT32,   /* protected, CS.D = 1 */
    MODE_COMPAT16, /* long mode, CS.L = 0, CS.D = 0 */
    MODE_COMPAT32, /* long mode, CS.L = 0, CS.D = 1 */
    MODE_LONG64,   /* long mode, CS.L = 1 */
    MODE_COUNT
};

/* Buses below the CPU: physical RAM, port I/O, MMIO.  Provided by the
 * machine; the CPU never touches host memory other than through ram. */
struct x86_bus {
    void *opaque;
    uint32_t (*pio_read)(void *opaque, uint16_t port, unsigned size);
    void (*pio_write)(void *opaque, uint16_t port, unsigned size, uint32_t val);
    /* MMIO: called for physical addresses outside RAM.  Return false when
     * nothing decodes the address (open bus: reads all-ones, writes lost). */
    bool (*mmio_read)(void *opaque, uint64_t pa, unsigned size, uint64_t *val);
    bool (*mmio_write)(void *opaque, uint64_t pa, unsigned size, uint64_t val);
};

/* The platform's interrupt controller, beside the buses: set by the
 * machine after x86_cpu_init() (which leaves it empty: no controller).
 * intr.c asks it only while cpu->events has EVENT_INTR set.
 * intr_pending: the vector it would deliver now, or -1 (priority and
 * masking applied); intr_ack: the CPU takes it (INTA): the vector to
 * deliver, or -1 if it went away.  timer: called once cpu->icount reaches
 * the APIC timer's deadline (DEADLINE_APIC).  perf_interrupt: a counter
 * with PerfEvtSel.Int overflowed (the APIC's LVT performance-counter
 * entry says what that delivers).  host_gif: the GIF of a host emulated
 * above the CPU (src/hv's view of L1), NULL = always set.  apic_msr: MSRs 0x1B, 0x6E0
 * and 0x800-0x8FF (false = #GP); NULL: no APIC (CPUID says so too).
 * init: the CPU takes an INIT (x86_take_init). */
struct x86_intc {
    void *opaque;
    int (*intr_pending)(void *opaque);
    int (*intr_ack)(void *opaque);
    void (*timer)(void *opaque);
    void (*perf_interrupt)(void *opaque);
    bool (*host_gif)(void *opaque);
    bool (*apic_msr)(void *opaque, uint32_t msr, bool write, uint64_t *val);
    void (*init)(void *opaque);   /* the INIT signal resets the controller */
};

/* Software TLB: linear page -> host pointer, with one tag per kind of
 * access.  A tag holds the page's linear address when that access is
 * allowed without a walk, else TLB_INVALID.  Two sets: supervisor and user. */
#define TLB_BITS 8
#define TLB_SIZE (1u << TLB_BITS)
#define TLB_INVALID 1ull   /* never a page-aligned address */
struct tlb_entry {
    uint64_t tag_read, tag_write, tag_fetch;
    uintptr_t addend;  /* host pointer = linear address + addend */
    uint64_t ppage;    /* physical page of the translation */
};

/* TLB contexts.  Hardware tags translations with an ASID, so a world
 * switch need not empty the TLB; nsvm keeps a few sets of entries instead:
 * context 0 for the host, the others for guests, each tagged with the
 * ASID and the translation state its entries were filled under. */
#define TLB_CONTEXTS 4
struct tlb_tag {
    uint64_t cr3, ncr3, paging;  /* paging: the CR0/CR4/EFER bits that matter */
    uint32_t asid;
    bool valid;
};
/* Why x86_run() returned. */
enum x86_stop {
    STOP_NONE = 0,
    STOP_EXIT,         /* the guest wrote the debug-exit port */
    STOP_TRIPLE_FAULT, /* shutdown outside guest mode */
    STOP_BUDGET,       /* --max-insns exhausted */
    STOP_HALT,         /* HLT with nothing that could ever wake the CPU */
    STOP_VMEXIT,       /* #VMEXIT to a host outside the machine (src/hv) */
    STOP_TIMEOUT,      /* wall-clock limit */
};

/* Lazily computed arithmetic flags (DESIGN.md "Lazy flags"): the last
 * flag-setting operation is remembered and flags are derived on demand. */
enum lazy_op {
    LAZY_NONE,  /* rflags holds the flags */
    LAZY_ADD, LAZY_SUB, LAZY_LOGIC, LAZY_INC, LAZY_DEC,
};
struct lazy_flags {
    uint64_t res, src1, src2;
    uint8_t op;      /* enum lazy_op */
    uint8_t size;    /* operand size in bytes */
    uint8_t cf_in;   /* CF preserved across INC/DEC */
};

/* x87 FPU state (x87.c; APM vol. 1, 6.2).  st[] is indexed by physical
 * register R0..R7 (ST(i) is R((TOP + i) & 7)), 80 bits little-endian.  The
 * tag word is kept abridged, as FXSAVE stores it (bit i set: Ri not empty);
 * the full tag word is derived from the register contents.  fsw's ES and B
 * bits always equal "an unmasked exception flag is set" (x87_update_es). */
struct x87_state {
    uint8_t st[8][10];
    uint64_t fip, fdp;          /* last instruction and data pointers */
    uint16_t fcw, fsw, fop;     /* fop: 11 bits */
    uint16_t fcs, fds;
    uint8_t ftw;
};

struct decode_cache;

/* DebugCtl and the control-transfer records (APM vol. 2, 13.1.1). */
#define DEBUGCTL_LBR   (1ull << 0)
#define DEBUGCTL_BTF   (1ull << 1)
#define DEBUGCTL_VALID 0x3full      /* LBR, BTF, PB0-PB3 */
struct x86_lbr {
    uint64_t debugctl, br_from, br_to, ex_from, ex_to;
};

/* Performance counters (APM vol. 2, 13.2): PerfEvtSel/PerfCtr 0-5.  A
 * counter that counts in the current context (counting bit i) is
 * ctr[i] + (icount - since); the others are ctr[i].  x86_perf_sync()
 * brings ctr[] up to date when the context (CPL, guest mode) changes. */
#define PERF_COUNTERS 6
#define PERF_SEL_EN        (1ull << 22)
#define PERF_SEL_GUESTONLY (1ull << 40)
#define PERF_SEL_HOSTONLY  (1ull << 41)
struct x86_perf {
    uint64_t sel[PERF_COUNTERS];
    uint64_t ctr[PERF_COUNTERS];
    uint64_t wrap_at[PERF_COUNTERS];   /* counting: icount of the next wrap to 0 */
    uint64_t since;
    uint8_t counting;
    uint8_t enabled;        /* counters whose EN bit is set */
    bool filtered;          /* some counter depends on CPL or guest mode */
};

/* Deadlines in retired instructions (icount; UINT64_MAX: none): the APIC
 * timer's next interrupt and the performance counters' next overflow.
 * cpu->timer_at is the earlier one, the only one the run loop looks at
 * (once per block); x86_set_deadline() keeps it so. */
enum x86_deadline { DEADLINE_APIC, DEADLINE_PERF, DEADLINE_COUNT };

/* Trace selections (--trace=...). */
#define TRACE_INSN (1u << 0)
#define TRACE_EXC  (1u << 1)
#define TRACE_EXIT (1u << 2)

struct cpu {
    /* hot state first */
    uint64_t gpr[16];
    uint64_t rip;
    uint64_t next_rip;      /* RIP of the next instruction, set before exec */
    uint64_t rflags;        /* arithmetic flags valid only when lf.op == LAZY_NONE */
    struct lazy_flags lf;
    uint8_t mode;           /* enum x86_mode */
    uint8_t cpl;
    bool stop_block;        /* leave the current block after this insn */
    uint64_t icount;        /* instructions retired; the TSC derives from it */
    uint64_t icount_limit;  /* stop when reached (UINT64_MAX = no limit) */

    struct tlb_entry (*tlb)[TLB_SIZE];  /* the current context: [0] supervisor, [1] user */

    struct x86_seg seg[6];
    /* Base added to an effective address per segment (SEG_NONE: 0): the
     * descriptor base, or 0 for ES/CS/SS/DS in 64-bit mode.  lin_mask
     * truncates linear addresses to 32 bits outside 64-bit mode. */
    uint64_t seg_lin_base[8];
    uint64_t lin_mask;
    struct x86_seg ldtr, tr;
    struct x86_dtable gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer;
    uint64_t dr[4], dr6, dr7;

    /* MSRs */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t tsc_offset;    /* IA32_TSC writes adjust this */
    uint64_t tsc_aux, pat, apic_base, mtrr_def_type;
    /* DebugCtl and the branch records (lbr.c); lbr_host holds the host's
     * while a guest runs with LBR virtualization (lbr_virt) */
    struct x86_lbr lbr, lbr_host;
    bool lbr_virt;
    struct x86_perf perf;   /* performance counters (perfctr.c) */

    struct x87_state fpu;
    /* CR0.AM and RFLAGS.AC both set, as last seen by x86_update_ac(), and
     * the TLB that was current then: while armed, CPL-3 data accesses take
     * the slow path (alignment check) */
    bool ac_armed;
    const void *ac_tlb;

    /* interrupt shadow (STI, MOV SS): no interrupts until icount passes it */
    uint64_t shadow_until;
    bool halted;
    /* pending external events (EVENT_*): the run loop calls
     * x86_check_events() before a block only while this is non-zero */
    uint32_t events;
    bool nmi_blocked;       /* from NMI delivery to the next IRET */
    /* system-management mode (smm.c): SMIs are held while in_smm; the
     * NMI blocking of before SMM entry comes back at RSM */
    bool in_smm;
    bool smm_nmi_blocked;
    uint64_t smbase;        /* SMBASE (MSR SMM_BASE) */
    uint64_t smm_addr, smm_mask;  /* MSRs SMM_ADDR, SMM_MASK */
    uint64_t timer_at;      /* the earliest of deadline[] */
    uint64_t deadline[DEADLINE_COUNT];
    uint64_t idle_cycles;   /* time spent halted: clock = icount + idle_cycles */
    uint64_t insn_stop;     /* the run loop's stop for the current block */

    /* exceptions: raised by x86_raise(), which longjmps to the run loop */
    jmp_buf fault_jmp;
    bool fault_jmp_valid;
    int pending_exc;        /* -1: none */
    uint32_t pending_err;
    bool pending_has_err;
    uint64_t pending_cr2;
    /* the event being delivered (for #DF and SVM's EXITINTINFO) */
    int delivering;         /* vector, -1: none */
    int delivering_type;    /* EVT_* */
    uint32_t delivering_err;
    bool delivering_has_err;

    enum x86_stop stop;
    int exit_status;        /* value written to the debug-exit port */

    /* physical memory */
    uint8_t *ram;
    uint64_t ram_size;
    uint8_t *code_pages;    /* per 4K page of RAM: 1 if decoded code lives there */
    uint32_t *page_gen;     /* per 4K page: bumped when its code is invalidated */
    struct x86_bus bus;
    struct x86_intc intc;

    struct tlb_entry tlb_store[TLB_CONTEXTS][2][TLB_SIZE];
    struct tlb_tag tlb_tags[TLB_CONTEXTS];
    unsigned tlb_ctx;       /* index of the current context */
    unsigned tlb_victim;    /* next guest context to reuse */

    struct decode_cache *dc;
    struct block *last_block;  /* the block just run, for chaining */
    uint64_t tlb_epoch;     /* bumped whenever a translation or CPL may change */

    /* features the machine offers (CPUID and the MSRs follow them) */
    bool has_svm;
    uint32_t svm_features;  /* CPUID 0x8000000A EDX */

    /* SVM: guest mode, intercept cache, GIF (src/svm) */
    struct svm_state svm;

    /* diagnostics */
    unsigned trace;         /* TRACE_* */
    FILE *trace_out;
    uint64_t stat_exceptions[32];
};

/* Life cycle. */
int x86_cpu_init(struct cpu *cpu, uint8_t *ram, uint64_t ram_size,
                 const struct x86_bus *bus);
void x86_cpu_fini(struct cpu *cpu);
void x86_reset(struct cpu *cpu);

/* Run until something stops the CPU (cpu->stop says what). */
enum x86_stop x86_run(struct cpu *cpu);

/* Raise an exception from inside an instruction; never returns. */
_Noreturn void x86_raise(struct cpu *cpu, int vector, uint32_t err);
_Noreturn void x86_raise_noerr(struct cpu *cpu, int vector);
_Noreturn void x86_page_fault(struct cpu *cpu, uint64_t lin, uint32_t err);
#define x86_gp(cpu, err) x86_raise((cpu), EXC_GP, (err))
#define x86_ud(cpu) x86_raise_noerr((cpu), EXC_UD)

/* Mode and privilege bookkeeping after CR0/CR4/EFER/CS changes. */
void x86_update_mode(struct cpu *cpu);
void x86_tlb_flush(struct cpu *cpu);          /* current context */
void x86_tlb_flush_page(struct cpu *cpu, uint64_t lin);
void x86_tlb_flush_all(struct cpu *cpu);      /* every context */
/* World switches (src/svm): enter the guest context for an ASID and the
 * guest state just loaded, emptying it when flush is set or when it is
 * new; return to the host context. */
void x86_tlb_enter_guest(struct cpu *cpu, uint32_t asid, uint64_t ncr3,
                         bool flush);
void x86_tlb_enter_host(struct cpu *cpu);
/* INVLPGA: the page in the contexts of one ASID (0 is the host's). */
void x86_tlb_flush_asid_page(struct cpu *cpu, uint32_t asid, uint64_t lin);

/* Control registers and MSRs with their architectural checks (#GP). */
void x86_write_cr0(struct cpu *cpu, uint64_t val);
void x86_write_cr3(struct cpu *cpu, uint64_t val);
void x86_write_cr4(struct cpu *cpu, uint64_t val);
bool x86_rdmsr(struct cpu *cpu, uint32_t msr, uint64_t *val);   /* false: #GP */
bool x86_wrmsr(struct cpu *cpu, uint32_t msr, uint64_t val);    /* false: #GP */
void x86_cpuid(struct cpu *cpu, uint32_t leaf, uint32_t subleaf,
               uint32_t out[4]);

/* Segment loading (protected-mode descriptor checks; raises on failure). */
void x86_load_seg(struct cpu *cpu, int seg, uint16_t sel);
/* Descriptor tables (segment.c in cpu.c): read the 8-byte descriptor for a
 * selector from the GDT or LDT, raising #GP(sel) when it lies beyond the
 * table limit; unpack a descriptor into the hidden part of a segment. */
uint64_t x86_read_desc(struct cpu *cpu, uint16_t sel);
void x86_desc_to_seg(uint64_t desc, uint16_t sel, struct x86_seg *seg);

/* Event delivery through the IDT (except.c).  Types are the VMCB EVENTINJ
 * types; EVT_SOFTEXC is INT3/INTO/INT1: an exception raised by an
 * instruction, returning to the next instruction. */
enum { EVT_EXTINT = 0, EVT_NMI = 2, EVT_EXCEPTION = 3, EVT_SOFTINT = 4,
       EVT_SOFTEXC = 5 };
void x86_deliver_event(struct cpu *cpu, int vector, int type, uint32_t err,
                       bool has_err);
/* The mnemonic of exception vector 0-31 ("#GP"), for statistics. */
const char *x86_exception_name(int vector);
/* Delivers cpu->pending_exc (the exception intercept applies first). */
void x86_deliver_pending(struct cpu *cpu);

/* Alignment checking (APM vol. 2, 8.2.18; align.c): armed when CR0.AM
 * and RFLAGS.AC are set, active for data accesses at CPL 3.
 * x86_update_ac() must run after CR0 or RFLAGS.AC change and after the
 * current TLB changes; it empties the CPL-3 TLB set when checking arms. */
static inline bool x86_ac_armed(const struct cpu *cpu)
{
    return (cpu->cr0 & CR0_AM) && (cpu->rflags & FLAG_AC);
}
void x86_update_ac(struct cpu *cpu);
/* Raise #AC(0) if a misaligned access of this kind is alignment-checked. */
void x86_check_align(struct cpu *cpu, unsigned acc);

/* x87 power-on state (x87.c). */
void x87_reset(struct cpu *cpu);

/* RFLAGS with the arithmetic flags materialised, and its inverse. */
uint64_t x86_get_rflags(struct cpu *cpu);
void x86_set_rflags(struct cpu *cpu, uint64_t val);

/* Time: the clock advances by one per retired instruction and by one per
 * cycle spent halted (a halted CPU skips ahead to its next timer event);
 * the TSC is the clock plus the offset IA32_TSC writes set.  In guest
 * mode with a TSC ratio (APM vol. 2, 15.30.5) the guest reads
 * host TSC x TSC_RATIO + TSC_OFFSET, the product of the 64-bit TSC and
 * the 8.32 fixed-point ratio truncated to 64 bits. */
static inline uint64_t x86_clock(const struct cpu *cpu)
{
    return cpu->icount + cpu->idle_cycles;
}

static inline uint64_t x86_tsc_scale(uint64_t tsc, uint64_t ratio)
{
    return (uint64_t)(((unsigned __int128)tsc * ratio) >> 32);
}

static inline uint64_t x86_tsc(const struct cpu *cpu)
{
    uint64_t tsc = x86_clock(cpu) + cpu->tsc_offset;
    if (__builtin_expect(cpu->svm.tsc_scaled, 0))
        return x86_tsc_scale(tsc - cpu->svm.tsc_offset, cpu->svm.tsc_ratio) +
               cpu->svm.tsc_offset;
    return tsc;
}

/* External events (intr.c).  Devices set and clear EVENT_INTR as their
 * output to the CPU changes (an interrupt requested, whatever its
 * priority); EVENT_NMI, EVENT_SMI and EVENT_INIT are the CPU's latches of
 * those signals.  EVENT_VIRQ and EVENT_VNMI stand for SVM's virtual
 * interrupt and virtual NMI while a VMCB offers one (src/svm). */
#define EVENT_INTR (1u << 0)
#define EVENT_NMI  (1u << 1)
#define EVENT_SMI  (1u << 2)
#define EVENT_INIT (1u << 3)
#define EVENT_VIRQ (1u << 4)
#define EVENT_VNMI (1u << 5)
static inline void x86_set_event(struct cpu *cpu, uint32_t ev)
{
    cpu->events |= ev;
    cpu->stop_block = true;   /* look at it after this instruction */
}
static inline void x86_clear_event(struct cpu *cpu, uint32_t ev)
{
    cpu->events &= ~ev;
}
/* Deliver the highest-priority deliverable event, if any (the run loop
 * calls it between instructions while cpu->events is set).  Returns true
 * if only an interrupt shadow holds a deliverable event back. */
bool x86_check_events(struct cpu *cpu);
/* System-management mode (smm.c; APM vol. 2, chapter 10): SMM entry
 * (the SMI was accepted: state saved at SMBASE + 0xFE00, SMM environment
 * loaded), RSM in SMM, power-on state, and the MSRs SMM_BASE, SMM_ADDR and
 * SMM_MASK (false: not one of them, or a reserved bit written: #GP). */
#define MSR_SMM_BASE 0xc0010111u
#define MSR_SMM_ADDR 0xc0010112u
#define MSR_SMM_MASK 0xc0010113u
#define SMM_DEFAULT_SMBASE 0x30000u
void x86_smm_enter(struct cpu *cpu);
void x86_smm_rsm(struct cpu *cpu);
void x86_smm_reset(struct cpu *cpu);
bool x86_smm_msr(struct cpu *cpu, uint32_t msr, bool write, uint64_t *val);
/* The INIT signal, once GIF lets it through (init.c), and the state it
 * puts the processor in (also for a host that emulates INIT for a guest:
 * the CPU then holds the guest's state). */
void x86_take_init(struct cpu *cpu);
void x86_init_processor(struct cpu *cpu);
/* A halted CPU: whether an event could wake it with RFLAGS.IF = if_set;
 * if one would only come from the timer, time skips to it (counted in
 * idle_cycles, not in icount).  False: nothing can ever wake it. */
bool x86_halt_wait(struct cpu *cpu, bool if_set);
/* Set one deadline (exec.c); the run loop acts on it once icount reaches it. */
void x86_set_deadline(struct cpu *cpu, enum x86_deadline which, uint64_t at);

/* Performance counters (perfctr.c): the MSRs (false: not one of them;
 * *gp: the access faults), RDPMC's read (false: no such counter), and
 * the re-basing after a change of CPL or guest mode. */
bool x86_perf_msr(struct cpu *cpu, uint32_t msr, bool write, uint64_t *val,
                  bool *gp);
bool x86_perf_rdpmc(struct cpu *cpu, uint32_t idx, uint64_t *val);
void x86_perf_sync(struct cpu *cpu);
/* DEADLINE_PERF reached: the counters that wrapped, and their interrupt. */
void x86_perf_overflow(struct cpu *cpu);
/* For a host that virtualizes the selects (src/hv): which select an MSR
 * is (-1: none), and a select loaded as it is, with no WRMSR retiring. */
int x86_perf_select_index(uint32_t msr);
void x86_perf_load_select(struct cpu *cpu, unsigned i, uint64_t val);

/* Last-branch recording (lbr.c).  The MSRs as x86_perf_msr; an event's
 * delivery from RIP from (except.c); the instruction just executed on the
 * run loop's slow path (exec.c): records a taken branch, returns whether
 * it was a control transfer for BTF.  LBR virtualization (APM 15.23):
 * VMRUN with the guest's state-save area, #VMEXIT storing into it. */
bool x86_lbr_msr(struct cpu *cpu, uint32_t msr, bool write, uint64_t *val,
                 bool *gp);
void x86_lbr_event(struct cpu *cpu, int vector, int type, uint64_t from);
struct insn;
bool x86_lbr_step(struct cpu *cpu, const struct insn *in, uint64_t from);
struct vmcb_save;
void x86_lbr_vmrun(struct cpu *cpu, const struct vmcb_save *s, bool lbrv);
void x86_lbr_vmexit(struct cpu *cpu, struct vmcb_save *s);

static inline bool x86_long_mode(const struct cpu *cpu)
{
    return (cpu->efer & EFER_LMA) != 0;
}

static inline bool x86_canonical(uint64_t lin)
{
    /* shift unsigned: a signed left shift into the sign bit is undefined */
    return (uint64_t)((int64_t)(lin << (64 - LIN_ADDR_BITS)) >>
                      (64 - LIN_ADDR_BITS)) == lin;
}

#endif
