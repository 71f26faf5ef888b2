/*
 * vmcb.h - the Virtual Machine Control Block and the SVM constants around it.
 *
 * One header, two users: the emulator (hosted C11) and the freestanding guest
 * library (gcc -ffreestanding).  It therefore includes only <stdint.h> and
 * <stddef.h> and defines nothing but types, constants and static inline
 * helpers.
 *
 * Source of truth: AMD64 Architecture Programmer's Manual, volume 2, chapter
 * 15 ("Secure Virtual Machine") and appendix B ("Layout of VMCB").  Section
 * numbers in comments refer to that volume.  Every field offset is checked
 * below with _Static_assert against appendix B.
 */
#ifndef NSVM_SVM_VMCB_H
#define NSVM_SVM_VMCB_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Control area (appendix B, table B-1)                                     */
/* ------------------------------------------------------------------------ */

/*
 * Intercept vectors, six 32-bit words at offset 0x000.  A single bit is named
 * by its index 32*word + bit (INTERCEPT_* below); for every exit code below
 * 0xC0 the intercept bit index equals the exit code (appendix C), which is
 * what makes "did this VMCB ask for the exit?" a single bit test.
 */
#define VMCB_INTERCEPT_WORDS 6

struct vmcb_control {
	uint32_t intercepts[VMCB_INTERCEPT_WORDS]; /* 0x000 */
	uint8_t reserved_018[0x03c - 0x018];
	uint16_t pause_filter_thresh;       /* 0x03c */
	uint16_t pause_filter_count;        /* 0x03e */
	uint64_t iopm_base_pa;              /* 0x040, bits 11:0 ignored */
	uint64_t msrpm_base_pa;             /* 0x048, bits 11:0 ignored */
	uint64_t tsc_offset;                /* 0x050 */
	uint32_t asid;                      /* 0x058, guest ASID, 0 is illegal */
	uint8_t tlb_ctl;                    /* 0x05c, TLB_CONTROL_* */
	uint8_t erap_ctl;                   /* 0x05d */
	uint8_t reserved_05e[2];
	uint32_t int_ctl;                   /* 0x060, V_TPR ... AVIC (INT_CTL_*) */
	uint32_t int_vector;                /* 0x064, V_INTR_VECTOR [7:0] */
	uint32_t int_state;                 /* 0x068, INT_STATE_* */
	uint8_t reserved_06c[4];
	uint64_t exit_code;                 /* 0x070, EXITCODE (64-bit) */
	uint64_t exit_info_1;               /* 0x078, EXITINFO1 */
	uint64_t exit_info_2;               /* 0x080, EXITINFO2 */
	uint32_t exit_int_info;             /* 0x088, EXITINTINFO, EVENTINJ format */
	uint32_t exit_int_info_err;         /* 0x08c */
	uint64_t misc_ctl;                  /* 0x090, NP_ENABLE, SEV, SEV-ES ... */
	uint64_t avic_vapic_bar;            /* 0x098 */
	uint64_t ghcb_gpa;                  /* 0x0a0 */
	uint32_t event_inj;                 /* 0x0a8, EVENTINJ */
	uint32_t event_inj_err;             /* 0x0ac */
	uint64_t nested_cr3;                /* 0x0b0, N_CR3 */
	uint64_t misc_ctl2;                 /* 0x0b8, LBR virt, virtual VMLOAD/VMSAVE */
	uint32_t clean;                     /* 0x0c0, VMCB clean bits */
	uint32_t reserved_0c4;
	uint64_t next_rip;                  /* 0x0c8, nRIP (15.7.1) */
	uint8_t insn_len;                   /* 0x0d0, bytes fetched (decode assist) */
	uint8_t insn_bytes[15];             /* 0x0d1 */
	uint64_t avic_backing_page;         /* 0x0e0 */
	uint8_t reserved_0e8[8];
	uint64_t avic_logical_id;           /* 0x0f0 */
	uint64_t avic_physical_id;          /* 0x0f8 */
	uint8_t reserved_100[8];
	uint64_t vmsa_pa;                   /* 0x108, SEV-ES */
	uint64_t vmgexit_rax;               /* 0x110 */
	uint8_t vmgexit_cpl;                /* 0x118 */
	uint8_t reserved_119[7];
	uint16_t bus_lock_counter;          /* 0x120 */
	uint8_t reserved_122[0x138 - 0x122];
	uint64_t allowed_sev_features;      /* 0x138 */
	uint64_t guest_sev_features;        /* 0x140 */
	uint8_t reserved_148[0x3e0 - 0x148];
	uint8_t reserved_sw[32];            /* 0x3e0, for the hypervisor's use */
};

/* ------------------------------------------------------------------------ */
/* State-save area (appendix B, table B-2; offsets relative to 0x400)       */
/* ------------------------------------------------------------------------ */

/*
 * Segment register as stored in the VMCB.  attrib packs the descriptor's
 * attribute bits: type[3:0], S 4, DPL[6:5], P 7, AVL 8, L 9, D/B 10, G 11,
 * i.e. descriptor bits 47:40 in attrib[7:0] and bits 55:52 in attrib[11:8].
 */
struct vmcb_seg {
	uint16_t selector;
	uint16_t attrib;
	uint32_t limit;
	uint64_t base;
};

#define SEG_ATTR_TYPE_MASK 0x000fu
#define SEG_ATTR_S         (1u << 4)
#define SEG_ATTR_DPL_SHIFT 5
#define SEG_ATTR_DPL_MASK  (3u << SEG_ATTR_DPL_SHIFT)
#define SEG_ATTR_P         (1u << 7)
#define SEG_ATTR_AVL       (1u << 8)
#define SEG_ATTR_L         (1u << 9)
#define SEG_ATTR_DB        (1u << 10)
#define SEG_ATTR_G         (1u << 11)

/* Descriptor (as in the GDT) -> VMCB attrib. */
static inline uint16_t vmcb_attrib_from_desc(uint64_t desc)
{
	return (uint16_t)(((desc >> 40) & 0xffu) | ((desc >> 44) & 0xf00u));
}

struct vmcb_save {
	struct vmcb_seg es;                 /* 0x000 */
	struct vmcb_seg cs;                 /* 0x010 */
	struct vmcb_seg ss;                 /* 0x020 */
	struct vmcb_seg ds;                 /* 0x030 */
	struct vmcb_seg fs;                 /* 0x040 */
	struct vmcb_seg gs;                 /* 0x050 */
	struct vmcb_seg gdtr;               /* 0x060, only limit and base used */
	struct vmcb_seg ldtr;               /* 0x070 */
	struct vmcb_seg idtr;               /* 0x080, only limit and base used */
	struct vmcb_seg tr;                 /* 0x090 */
	uint8_t reserved_0a0[0x0ca - 0x0a0];
	uint8_t vmpl;                       /* 0x0ca */
	uint8_t cpl;                        /* 0x0cb */
	uint8_t reserved_0cc[4];
	uint64_t efer;                      /* 0x0d0 */
	uint8_t reserved_0d8[0x148 - 0x0d8];
	uint64_t cr4;                       /* 0x148 */
	uint64_t cr3;                       /* 0x150 */
	uint64_t cr0;                       /* 0x158 */
	uint64_t dr7;                       /* 0x160 */
	uint64_t dr6;                       /* 0x168 */
	uint64_t rflags;                    /* 0x170 */
	uint64_t rip;                       /* 0x178 */
	uint8_t reserved_180[0x1d8 - 0x180];
	uint64_t rsp;                       /* 0x1d8 */
	uint64_t s_cet;                     /* 0x1e0 */
	uint64_t ssp;                       /* 0x1e8 */
	uint64_t isst_addr;                 /* 0x1f0 */
	uint64_t rax;                       /* 0x1f8 */
	uint64_t star;                      /* 0x200 */
	uint64_t lstar;                     /* 0x208 */
	uint64_t cstar;                     /* 0x210 */
	uint64_t sfmask;                    /* 0x218 */
	uint64_t kernel_gs_base;            /* 0x220 */
	uint64_t sysenter_cs;               /* 0x228 */
	uint64_t sysenter_esp;              /* 0x230 */
	uint64_t sysenter_eip;              /* 0x238 */
	uint64_t cr2;                       /* 0x240 */
	uint8_t reserved_248[0x268 - 0x248];
	uint64_t g_pat;                     /* 0x268 */
	uint64_t dbgctl;                    /* 0x270 */
	uint64_t br_from;                   /* 0x278 */
	uint64_t br_to;                     /* 0x280 */
	uint64_t last_excp_from;            /* 0x288 */
	uint64_t last_excp_to;              /* 0x290 */
	uint8_t reserved_298[0x2e0 - 0x298];
	uint64_t spec_ctrl;                 /* 0x2e0 */
	uint8_t reserved_2e8[0xc00 - 0x2e8]; /* rest of the 4 KiB page */
};

#define VMCB_CONTROL_SIZE 0x400
#define VMCB_SIZE         0x1000

/* The control area fills 0x400 bytes exactly (reserved_sw ends it). */
struct vmcb {
	struct vmcb_control control;
	struct vmcb_save save;
};

/* Appendix B, table B-1. */
#define VMCB_CTL_AT(field, off) \
	_Static_assert(offsetof(struct vmcb_control, field) == (off), "vmcb_control." #field)
VMCB_CTL_AT(intercepts, 0x000);
VMCB_CTL_AT(pause_filter_thresh, 0x03c);
VMCB_CTL_AT(pause_filter_count, 0x03e);
VMCB_CTL_AT(iopm_base_pa, 0x040);
VMCB_CTL_AT(msrpm_base_pa, 0x048);
VMCB_CTL_AT(tsc_offset, 0x050);
VMCB_CTL_AT(asid, 0x058);
VMCB_CTL_AT(tlb_ctl, 0x05c);
VMCB_CTL_AT(erap_ctl, 0x05d);
VMCB_CTL_AT(int_ctl, 0x060);
VMCB_CTL_AT(int_vector, 0x064);
VMCB_CTL_AT(int_state, 0x068);
VMCB_CTL_AT(exit_code, 0x070);
VMCB_CTL_AT(exit_info_1, 0x078);
VMCB_CTL_AT(exit_info_2, 0x080);
VMCB_CTL_AT(exit_int_info, 0x088);
VMCB_CTL_AT(exit_int_info_err, 0x08c);
VMCB_CTL_AT(misc_ctl, 0x090);
VMCB_CTL_AT(avic_vapic_bar, 0x098);
VMCB_CTL_AT(ghcb_gpa, 0x0a0);
VMCB_CTL_AT(event_inj, 0x0a8);
VMCB_CTL_AT(event_inj_err, 0x0ac);
VMCB_CTL_AT(nested_cr3, 0x0b0);
VMCB_CTL_AT(misc_ctl2, 0x0b8);
VMCB_CTL_AT(clean, 0x0c0);
VMCB_CTL_AT(next_rip, 0x0c8);
VMCB_CTL_AT(insn_len, 0x0d0);
VMCB_CTL_AT(insn_bytes, 0x0d1);
VMCB_CTL_AT(avic_backing_page, 0x0e0);
VMCB_CTL_AT(avic_logical_id, 0x0f0);
VMCB_CTL_AT(avic_physical_id, 0x0f8);
VMCB_CTL_AT(vmsa_pa, 0x108);
VMCB_CTL_AT(vmgexit_rax, 0x110);
VMCB_CTL_AT(vmgexit_cpl, 0x118);
VMCB_CTL_AT(bus_lock_counter, 0x120);
VMCB_CTL_AT(allowed_sev_features, 0x138);
VMCB_CTL_AT(guest_sev_features, 0x140);
VMCB_CTL_AT(reserved_sw, 0x3e0);
_Static_assert(sizeof(struct vmcb_control) == VMCB_CONTROL_SIZE, "control area is 0x400 bytes");
#undef VMCB_CTL_AT

/* Appendix B, table B-2 (offsets from the start of the save area, 0x400). */
#define VMCB_SAVE_AT(field, off) \
	_Static_assert(offsetof(struct vmcb_save, field) == (off), "vmcb_save." #field)
_Static_assert(sizeof(struct vmcb_seg) == 16, "vmcb_seg is 16 bytes");
_Static_assert(offsetof(struct vmcb_seg, attrib) == 2, "vmcb_seg.attrib");
_Static_assert(offsetof(struct vmcb_seg, limit) == 4, "vmcb_seg.limit");
_Static_assert(offsetof(struct vmcb_seg, base) == 8, "vmcb_seg.base");
VMCB_SAVE_AT(es, 0x000);
VMCB_SAVE_AT(cs, 0x010);
VMCB_SAVE_AT(ss, 0x020);
VMCB_SAVE_AT(ds, 0x030);
VMCB_SAVE_AT(fs, 0x040);
VMCB_SAVE_AT(gs, 0x050);
VMCB_SAVE_AT(gdtr, 0x060);
VMCB_SAVE_AT(ldtr, 0x070);
VMCB_SAVE_AT(idtr, 0x080);
VMCB_SAVE_AT(tr, 0x090);
VMCB_SAVE_AT(vmpl, 0x0ca);
VMCB_SAVE_AT(cpl, 0x0cb);
VMCB_SAVE_AT(efer, 0x0d0);
VMCB_SAVE_AT(cr4, 0x148);
VMCB_SAVE_AT(cr3, 0x150);
VMCB_SAVE_AT(cr0, 0x158);
VMCB_SAVE_AT(dr7, 0x160);
VMCB_SAVE_AT(dr6, 0x168);
VMCB_SAVE_AT(rflags, 0x170);
VMCB_SAVE_AT(rip, 0x178);
VMCB_SAVE_AT(rsp, 0x1d8);
VMCB_SAVE_AT(s_cet, 0x1e0);
VMCB_SAVE_AT(ssp, 0x1e8);
VMCB_SAVE_AT(isst_addr, 0x1f0);
VMCB_SAVE_AT(rax, 0x1f8);
VMCB_SAVE_AT(star, 0x200);
VMCB_SAVE_AT(lstar, 0x208);
VMCB_SAVE_AT(cstar, 0x210);
VMCB_SAVE_AT(sfmask, 0x218);
VMCB_SAVE_AT(kernel_gs_base, 0x220);
VMCB_SAVE_AT(sysenter_cs, 0x228);
VMCB_SAVE_AT(sysenter_esp, 0x230);
VMCB_SAVE_AT(sysenter_eip, 0x238);
VMCB_SAVE_AT(cr2, 0x240);
VMCB_SAVE_AT(g_pat, 0x268);
VMCB_SAVE_AT(dbgctl, 0x270);
VMCB_SAVE_AT(br_from, 0x278);
VMCB_SAVE_AT(br_to, 0x280);
VMCB_SAVE_AT(last_excp_from, 0x288);
VMCB_SAVE_AT(last_excp_to, 0x290);
VMCB_SAVE_AT(spec_ctrl, 0x2e0);
_Static_assert(offsetof(struct vmcb, save) == VMCB_CONTROL_SIZE, "save area at 0x400");
_Static_assert(sizeof(struct vmcb) == VMCB_SIZE, "VMCB is one 4 KiB page");
#undef VMCB_SAVE_AT

/* ------------------------------------------------------------------------ */
/* Intercept bit indices (bit = 32*word + bit; appendix B, table B-1)       */
/* ------------------------------------------------------------------------ */

#define INTERCEPT_CR_READ(n)   (0u + (n))    /* word 0 [15:0] */
#define INTERCEPT_CR_WRITE(n)  (16u + (n))   /* word 0 [31:16] */
#define INTERCEPT_DR_READ(n)   (32u + (n))   /* word 1 [15:0] */
#define INTERCEPT_DR_WRITE(n)  (48u + (n))   /* word 1 [31:16] */
#define INTERCEPT_EXCEPTION(v) (64u + (v))   /* word 2, vectors 0-31 */

enum {
	/* word 3 */
	INTERCEPT_INTR = 96,
	INTERCEPT_NMI,
	INTERCEPT_SMI,
	INTERCEPT_INIT,
	INTERCEPT_VINTR,
	INTERCEPT_CR0_SEL_WRITE,   /* CR0 writes changing bits other than TS, MP */
	INTERCEPT_IDTR_READ,
	INTERCEPT_GDTR_READ,
	INTERCEPT_LDTR_READ,
	INTERCEPT_TR_READ,
	INTERCEPT_IDTR_WRITE,
	INTERCEPT_GDTR_WRITE,
	INTERCEPT_LDTR_WRITE,
	INTERCEPT_TR_WRITE,
	INTERCEPT_RDTSC,
	INTERCEPT_RDPMC,
	INTERCEPT_PUSHF,
	INTERCEPT_POPF,
	INTERCEPT_CPUID,
	INTERCEPT_RSM,
	INTERCEPT_IRET,
	INTERCEPT_INTN,
	INTERCEPT_INVD,
	INTERCEPT_PAUSE,
	INTERCEPT_HLT,
	INTERCEPT_INVLPG,
	INTERCEPT_INVLPGA,
	INTERCEPT_IOIO_PROT,       /* consult the IOPM (15.10) */
	INTERCEPT_MSR_PROT,        /* consult the MSRPM (15.11) */
	INTERCEPT_TASK_SWITCH,
	INTERCEPT_FERR_FREEZE,
	INTERCEPT_SHUTDOWN,
	/* word 4 */
	INTERCEPT_VMRUN = 128,     /* must be set, or VMRUN fails (15.5.1) */
	INTERCEPT_VMMCALL,
	INTERCEPT_VMLOAD,
	INTERCEPT_VMSAVE,
	INTERCEPT_STGI,
	INTERCEPT_CLGI,
	INTERCEPT_SKINIT,
	INTERCEPT_RDTSCP,
	INTERCEPT_ICEBP,
	INTERCEPT_WBINVD,
	INTERCEPT_MONITOR,
	INTERCEPT_MWAIT,
	INTERCEPT_MWAIT_COND,      /* MWAIT only when the monitor is armed */
	INTERCEPT_XSETBV,
	INTERCEPT_RDPRU,
	INTERCEPT_EFER_WRITE_TRAP,
	INTERCEPT_CR0_WRITE_TRAP = 144, /* CRn write trap = 144 + n */
	/* word 5 */
	INTERCEPT_INVLPGB = 160,
	INTERCEPT_INVLPGB_ILLEGAL,
	INTERCEPT_INVPCID,
	INTERCEPT_MCOMMIT,
	INTERCEPT_TLBSYNC,
	INTERCEPT_BUSLOCK,
	INTERCEPT_IDLE_HLT,
	INTERCEPT_MAX = 32 * VMCB_INTERCEPT_WORDS
};
#define INTERCEPT_CR_WRITE_TRAP(n) (INTERCEPT_CR0_WRITE_TRAP + (n))

/* ------------------------------------------------------------------------ */
/* Exit codes (appendix C)                                                  */
/* ------------------------------------------------------------------------ */

#define SVM_EXIT_CR_READ(n)   (0x000ull + (n))
#define SVM_EXIT_CR_WRITE(n)  (0x010ull + (n))
#define SVM_EXIT_DR_READ(n)   (0x020ull + (n))
#define SVM_EXIT_DR_WRITE(n)  (0x030ull + (n))
#define SVM_EXIT_EXCP(v)      (0x040ull + (v))
#define SVM_EXIT_CR_WRITE_TRAP(n) (0x090ull + (n))

#define SVM_EXIT_INTR          0x060ull
#define SVM_EXIT_NMI           0x061ull
#define SVM_EXIT_SMI           0x062ull
#define SVM_EXIT_INIT          0x063ull
#define SVM_EXIT_VINTR         0x064ull
#define SVM_EXIT_CR0_SEL_WRITE 0x065ull
#define SVM_EXIT_IDTR_READ     0x066ull
#define SVM_EXIT_GDTR_READ     0x067ull
#define SVM_EXIT_LDTR_READ     0x068ull
#define SVM_EXIT_TR_READ       0x069ull
#define SVM_EXIT_IDTR_WRITE    0x06aull
#define SVM_EXIT_GDTR_WRITE    0x06bull
#define SVM_EXIT_LDTR_WRITE    0x06cull
#define SVM_EXIT_TR_WRITE      0x06dull
#define SVM_EXIT_RDTSC         0x06eull
#define SVM_EXIT_RDPMC         0x06full
#define SVM_EXIT_PUSHF         0x070ull
#define SVM_EXIT_POPF          0x071ull
#define SVM_EXIT_CPUID         0x072ull
#define SVM_EXIT_RSM           0x073ull
#define SVM_EXIT_IRET          0x074ull
#define SVM_EXIT_SWINT         0x075ull
#define SVM_EXIT_INVD          0x076ull
#define SVM_EXIT_PAUSE         0x077ull
#define SVM_EXIT_HLT           0x078ull
#define SVM_EXIT_INVLPG        0x079ull
#define SVM_EXIT_INVLPGA       0x07aull
#define SVM_EXIT_IOIO          0x07bull
#define SVM_EXIT_MSR           0x07cull
#define SVM_EXIT_TASK_SWITCH   0x07dull
#define SVM_EXIT_FERR_FREEZE   0x07eull
#define SVM_EXIT_SHUTDOWN      0x07full
#define SVM_EXIT_VMRUN         0x080ull
#define SVM_EXIT_VMMCALL       0x081ull
#define SVM_EXIT_VMLOAD        0x082ull
#define SVM_EXIT_VMSAVE        0x083ull
#define SVM_EXIT_STGI          0x084ull
#define SVM_EXIT_CLGI          0x085ull
#define SVM_EXIT_SKINIT        0x086ull
#define SVM_EXIT_RDTSCP        0x087ull
#define SVM_EXIT_ICEBP         0x088ull
#define SVM_EXIT_WBINVD        0x089ull
#define SVM_EXIT_MONITOR       0x08aull
#define SVM_EXIT_MWAIT         0x08bull
#define SVM_EXIT_MWAIT_COND    0x08cull
#define SVM_EXIT_XSETBV        0x08dull
#define SVM_EXIT_RDPRU         0x08eull
#define SVM_EXIT_EFER_WRITE_TRAP 0x08full
#define SVM_EXIT_INVLPGB       0x0a0ull
#define SVM_EXIT_INVLPGB_ILLEGAL 0x0a1ull
#define SVM_EXIT_INVPCID       0x0a2ull
#define SVM_EXIT_MCOMMIT       0x0a3ull
#define SVM_EXIT_TLBSYNC       0x0a4ull
#define SVM_EXIT_BUSLOCK       0x0a5ull
#define SVM_EXIT_IDLE_HLT      0x0a6ull
#define SVM_EXIT_NPF           0x400ull
#define SVM_EXIT_AVIC_INCOMPLETE_IPI 0x401ull
#define SVM_EXIT_AVIC_NOACCEL  0x402ull
#define SVM_EXIT_VMGEXIT       0x403ull
/* Failed VMRUN consistency check (15.5.1): the full 64-bit value -1. */
#define SVM_EXIT_INVALID       ((uint64_t)-1)

/* Exit codes below this have an intercept bit with the same index. */
#define SVM_EXIT_INTERCEPT_LIMIT 0x0c0ull

/* ------------------------------------------------------------------------ */
/* Intercept helpers                                                        */
/* ------------------------------------------------------------------------ */

static inline int vmcb_is_intercept(const struct vmcb_control *c, unsigned bit)
{
	return bit < INTERCEPT_MAX && ((c->intercepts[bit / 32] >> (bit % 32)) & 1u);
}

static inline void vmcb_set_intercept(struct vmcb *v, unsigned bit)
{
	if (bit < INTERCEPT_MAX)
		v->control.intercepts[bit / 32] |= 1u << (bit % 32);
}

static inline void vmcb_clr_intercept(struct vmcb *v, unsigned bit)
{
	if (bit < INTERCEPT_MAX)
		v->control.intercepts[bit / 32] &= ~(1u << (bit % 32));
}

/* ------------------------------------------------------------------------ */
/* Control-area field contents                                              */
/* ------------------------------------------------------------------------ */

/* TLB_CONTROL (15.16.2). */
#define TLB_CONTROL_DO_NOTHING       0x00
#define TLB_CONTROL_FLUSH_ALL        0x01
#define TLB_CONTROL_FLUSH_ASID       0x03
#define TLB_CONTROL_FLUSH_ASID_LOCAL 0x07 /* this ASID's non-global entries */

/* int_ctl (15.21). */
#define INT_CTL_V_TPR_MASK        0x0000000fu
#define INT_CTL_V_IRQ             (1u << 8)
#define INT_CTL_V_GIF             (1u << 9)
#define INT_CTL_V_NMI_PENDING     (1u << 11)
#define INT_CTL_V_NMI_BLOCKING    (1u << 12)
#define INT_CTL_V_INTR_PRIO_SHIFT 16
#define INT_CTL_V_INTR_PRIO_MASK  (0xfu << INT_CTL_V_INTR_PRIO_SHIFT)
#define INT_CTL_V_IGN_TPR         (1u << 20)
#define INT_CTL_V_INTR_MASKING    (1u << 24)
#define INT_CTL_V_GIF_ENABLE      (1u << 25)
#define INT_CTL_V_NMI_ENABLE      (1u << 26)
#define INT_CTL_X2AVIC_ENABLE     (1u << 30)
#define INT_CTL_AVIC_ENABLE       (1u << 31)

/* int_state. */
#define INT_STATE_SHADOW          (1u << 0)
#define INT_STATE_GUEST_IF        (1u << 1) /* SEV-ES only */

/* misc_ctl (formerly "nested control"). */
#define MISC_CTL_NP_ENABLE        (1ull << 0)
#define MISC_CTL_SEV_ENABLE       (1ull << 1)
#define MISC_CTL_SEV_ES_ENABLE    (1ull << 2)

/* misc_ctl2. */
#define MISC_CTL2_LBR_VIRT        (1ull << 0)
#define MISC_CTL2_V_VMLOAD_VMSAVE (1ull << 1)

/*
 * EVENTINJ and EXITINTINFO (15.20): vector [7:0], type [10:8], EV (error code
 * valid) 11, V (valid) 31; the error code is in the following 32-bit field.
 * VMRUN fails with VMEXIT_INVALID for a reserved TYPE (1, 5, 6, 7) and for
 * TYPE = EXCEPTION with a vector that is not an exception (e.g. 2, NMI).
 */
#define EVENTINJ_VECTOR_MASK      0xffu
#define EVENTINJ_TYPE_SHIFT       8
#define EVENTINJ_TYPE_MASK        (7u << EVENTINJ_TYPE_SHIFT)
#define EVENTINJ_TYPE_INTR        (0u << EVENTINJ_TYPE_SHIFT)
#define EVENTINJ_TYPE_NMI         (2u << EVENTINJ_TYPE_SHIFT)
#define EVENTINJ_TYPE_EXCEPTION   (3u << EVENTINJ_TYPE_SHIFT)
#define EVENTINJ_TYPE_SOFT_INT    (4u << EVENTINJ_TYPE_SHIFT)
#define EVENTINJ_EV               (1u << 11)
#define EVENTINJ_V                (1u << 31)

/* IOIO EXITINFO1 (15.10.2). EXITINFO2 holds the next RIP. */
#define IOIO_TYPE_IN              (1u << 0)
#define IOIO_STR                  (1u << 2)
#define IOIO_REP                  (1u << 3)
#define IOIO_SZ8                  (1u << 4)
#define IOIO_SZ16                 (1u << 5)
#define IOIO_SZ32                 (1u << 6)
#define IOIO_SIZE_SHIFT           4
#define IOIO_SIZE_MASK            (7u << IOIO_SIZE_SHIFT)
#define IOIO_A16                  (1u << 7)
#define IOIO_A32                  (1u << 8)
#define IOIO_A64                  (1u << 9)
#define IOIO_ASIZE_MASK           (7u << 7)
#define IOIO_SEG_SHIFT            10  /* effective segment, [12:10] */
#define IOIO_SEG_MASK             (7u << IOIO_SEG_SHIFT)
#define IOIO_PORT_SHIFT           16

/* MSR EXITINFO1 (15.11). */
#define MSR_EXITINFO1_READ        0
#define MSR_EXITINFO1_WRITE       1

/*
 * NPF EXITINFO1 (15.25.6): a #PF-style error code in the low bits, plus
 * whether the fault hit the final guest-physical address or a guest page
 * table during the guest's own walk. EXITINFO2 is the faulting GPA.
 */
#define PF_ERR_P                  (1ull << 0)
#define PF_ERR_RW                 (1ull << 1)
#define PF_ERR_US                 (1ull << 2)
#define PF_ERR_RSVD               (1ull << 3)
#define PF_ERR_ID                 (1ull << 4)
#define PF_ERR_PK                 (1ull << 5)
#define PF_ERR_SS                 (1ull << 6)
#define NPF_INFO1_FINAL_GPA       (1ull << 32)
#define NPF_INFO1_GUEST_PT_WALK   (1ull << 33)

/* CR/DR access EXITINFO1 with decode assists (15.33.1). */
#define CRDR_INFO1_MOV            (1ull << 63)
#define CRDR_INFO1_GPR_MASK       0xfull

/* ------------------------------------------------------------------------ */
/* MSRs, CPUID and EFER                                                     */
/* ------------------------------------------------------------------------ */

#define MSR_EFER                  0xc0000080
#define MSR_STAR                  0xc0000081
#define MSR_LSTAR                 0xc0000082
#define MSR_CSTAR                 0xc0000083
#define MSR_SFMASK                0xc0000084
#define MSR_FS_BASE               0xc0000100
#define MSR_GS_BASE               0xc0000101
#define MSR_KERNEL_GS_BASE        0xc0000102
#define MSR_TSC_AUX               0xc0000103
#define MSR_TSC_RATIO             0xc0000104
#define MSR_SYSENTER_CS           0x00000174
#define MSR_SYSENTER_ESP          0x00000175
#define MSR_SYSENTER_EIP          0x00000176
#define MSR_VM_CR                 0xc0010114
#define MSR_VM_HSAVE_PA           0xc0010117

#define TSC_RATIO_DEFAULT         0x0100000000ull /* 1.0 in 8.32 fixed point */

/* VM_CR (15.30.1). */
#define VM_CR_DPD                 (1ull << 0)
#define VM_CR_R_INIT              (1ull << 1)
#define VM_CR_DIS_A20M            (1ull << 2)
#define VM_CR_LOCK                (1ull << 3)
#define VM_CR_SVMDIS              (1ull << 4)

#define EFER_SCE                  (1ull << 0)
#define EFER_LME                  (1ull << 8)
#define EFER_LMA                  (1ull << 10)
#define EFER_NXE                  (1ull << 11)
#define EFER_SVME                 (1ull << 12)
#define EFER_LMSLE                (1ull << 13)
#define EFER_FFXSR                (1ull << 14)
#define EFER_TCE                  (1ull << 15)

/* CPUID 0x80000001 ECX bit 2: SVM is available. */
#define CPUID_EXT1_ECX_SVM        (1u << 2)
#define CPUID_EXT1_ECX_SKINIT     (1u << 12)

/* CPUID 0x8000000A: EAX SVM revision, EBX number of ASIDs, EDX features. */
#define CPUID_SVM_LEAF            0x8000000au
#define SVM_FEATURE_NP            (1u << 0)
#define SVM_FEATURE_LBRV          (1u << 1)
#define SVM_FEATURE_SVML          (1u << 2)
#define SVM_FEATURE_NRIPS         (1u << 3)
#define SVM_FEATURE_TSC_RATE      (1u << 4)
#define SVM_FEATURE_VMCB_CLEAN    (1u << 5)
#define SVM_FEATURE_FLUSH_BY_ASID (1u << 6)
#define SVM_FEATURE_DECODE_ASSISTS (1u << 7)
#define SVM_FEATURE_PAUSE_FILTER  (1u << 10)
#define SVM_FEATURE_PF_THRESHOLD  (1u << 12)
#define SVM_FEATURE_AVIC          (1u << 13)
#define SVM_FEATURE_V_VMSAVE_VMLOAD (1u << 15)
#define SVM_FEATURE_VGIF          (1u << 16)
#define SVM_FEATURE_GMET          (1u << 17)
#define SVM_FEATURE_X2AVIC        (1u << 18)
#define SVM_FEATURE_SSS_CHECK     (1u << 19)
#define SVM_FEATURE_SPEC_CTRL     (1u << 20)
#define SVM_FEATURE_VNMI          (1u << 25)

/* ------------------------------------------------------------------------ */
/* Permission maps (15.10, 15.11)                                           */
/* ------------------------------------------------------------------------ */

/*
 * IOPM: one bit per port, 64 Ki ports; it occupies 12 KiB because a
 * multi-byte access at port 0xFFFF also checks bits past the end.  An access
 * of size n at port p is intercepted if any of bits p .. p+n-1 is set.
 */
#define IOPM_SIZE                 0x3000u
/*
 * MSRPM: two bits per MSR (even: read, odd: write), in three 2 KiB ranges.
 * An MSR outside the three ranges is always intercepted when MSR_PROT is set.
 */
#define MSRPM_SIZE                0x2000u
#define MSRPM_RANGE_MSRS          0x2000u
#define MSRPM_RANGE0_BASE         0x00000000u /* MSRs 0000_0000 - 0000_1FFF */
#define MSRPM_RANGE0_OFFSET       0x000u
#define MSRPM_RANGE1_BASE         0xc0000000u /* MSRs C000_0000 - C000_1FFF */
#define MSRPM_RANGE1_OFFSET       0x800u
#define MSRPM_RANGE2_BASE         0xc0010000u /* MSRs C001_0000 - C001_1FFF */
#define MSRPM_RANGE2_OFFSET       0x1000u

/*
 * Bit index of an MSR's read-permission bit in the MSRPM (the write bit is
 * the next one), or -1 if the MSR lies outside every range.
 */
static inline long msrpm_read_bit(uint32_t msr)
{
	uint32_t base = msr & ~(MSRPM_RANGE_MSRS - 1u);
	uint32_t off;

	if (base == MSRPM_RANGE0_BASE)
		off = MSRPM_RANGE0_OFFSET;
	else if (base == MSRPM_RANGE1_BASE)
		off = MSRPM_RANGE1_OFFSET;
	else if (base == MSRPM_RANGE2_BASE)
		off = MSRPM_RANGE2_OFFSET;
	else
		return -1;
	return (long)off * 8 + (long)(msr - base) * 2;
}

#endif /* NSVM_SVM_VMCB_H */
