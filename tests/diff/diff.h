/* Differential test of the integer instructions against the host CPU.
 *
 * A form is one encoding of one instruction (or a short sequence of them)
 * with the places its inputs come from (slots).  For every form the
 * harness builds cases (edge values crossed, then random values from a
 * fixed seed), runs each case natively on the host (native.c) and on an
 * emulated struct cpu (emu.c), and compares every general-purpose
 * register, the memory buffer and the arithmetic flags the APM defines
 * for that instruction.
 *
 * Memory operands are [rsi]: natively RSI points into a host buffer, in
 * the emulator into the same bytes at BUF_GPA of guest RAM. */
#ifndef NSVM_TESTS_DIFF_H
#define NSVM_TESTS_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86/cpu.h"   /* RAX.., FLAG_* */

#define BUF_SIZE 4096u
#define MEM_OFF  2048u          /* the memory operand's offset in the buffer */

/* CPU state a case reads and writes: the 16 GPRs and RFLAGS.  RSP is
 * neither loaded nor compared on the host (it is the harness's stack). */
struct regs {
    uint64_t gpr[16];
    uint64_t rflags;
};

/* ---- forms ---- */

/* Where a slot's value lives. */
enum {
    LOC_HIGH8 = 16,   /* + 0..3: AH, CH, DH, BH */
    LOC_MEM = 20,     /* the memory operand */
    LOC_MEM_HI,       /* the memory operand + slot size (CMPXCHG8B/16B) */
    LOC_IMM,          /* the immediate in the instruction bytes */
};

/* What kind of values a slot gets. */
enum {
    V_INT,      /* integer edges of the slot's size, random values */
    V_COUNT,    /* shift/rotate counts */
    V_BITOFF,   /* BT bit offsets into memory: within +-1 KiB of the operand */
    V_CTL,      /* BEXTR control: start[7:0], length[15:8] */
};

/* Adjustments that make interesting cases likely. */
enum {
    FIX_NONE,
    FIX_DIV,    /* slot 0 divisor, RAX/RDX dividend: quotient mostly fits */
    FIX_IDIV,
    FIX_EQUAL,  /* slot 1 = slot 0 half the time (CMPXCHG success path) */
    FIX_EQUAL2, /* slots 2,3 = slots 0,1 half the time (CMPXCHG8B/16B) */
};

struct slot {
    uint8_t loc;    /* GPR number, LOC_* */
    uint8_t cls;    /* V_* */
    uint8_t size;   /* bytes */
};

#define MAX_SLOTS 4
#define MAX_BYTES 32

struct form {
    char name[72];
    uint8_t bytes[MAX_BYTES];
    uint8_t len;
    uint8_t imm_off, imm_size;
    uint8_t mem_adj;      /* the operand is at buffer + MEM_OFF + mem_adj */
    bool mem;             /* RSI is the memory base */
    uint8_t mem_mode;     /* MEM_* addressing of the memory operand */
    uint8_t ninsn;        /* instructions encoded (0: raw bytes) */
    bool only64;          /* REX or VEX: 64-bit mode only */
    bool compat32;        /* run the emulator in compatibility mode (the
                             host runs the same bytes in 64-bit mode) */
    uint8_t nslots;
    uint8_t fix;
    struct slot slot[MAX_SLOTS];
    uint32_t undef;       /* arithmetic flags the APM leaves undefined */
    /* Shifts and rotates: flags undefined only for some counts (masked
     * with count_mask): undef_nonzero for counts != 0 (e.g. AF), and
     * undef_multi for counts > 1 (OF: "defined only for 1-bit shifts"). */
    uint8_t count_slot;   /* slot index + 1 of the count; 0: none */
    uint8_t count_mask;
    uint32_t undef_nonzero;
    uint32_t undef_multi;
};

struct form_list {
    struct form *v;
    unsigned n, cap;
};

/* Append an empty form; name is printf-formatted. */
struct form *form_new(struct form_list *fl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void form_slot(struct form *f, unsigned loc, unsigned cls, unsigned size);
void form_byte(struct form *f, uint8_t b);

/* ModRM operands: a GPR number (LOC_HIGH8 + n for AH..BH) or RM_MEM. */
#define RM_MEM 0xff

/* Addressing of the memory operand (form.mem_mode, set before encoding):
 * RSI (and RDI) are chosen so that the operand lands at MEM_OFF. */
enum {
    MEM_RSI,          /* [rsi] */
    MEM_RSI_D8,       /* [rsi - 0x40] */
    MEM_RSI_D32,      /* [rsi + 0x12345] */
    MEM_SIB,          /* [rsi + rdi*8 + 0x10], rdi = 3 */
};
#define MEM_D8   (-0x40)
#define MEM_D32  0x12345
#define MEM_SIB_DISP  0x10
#define MEM_SIB_INDEX 3

/* Encode one legacy-map instruction and append it to f:
 * [F0] [66] [mandatory] [REX] opcode ModRM imm.  size selects 66 / REX.W;
 * reg is a GPR or a /digit; an 8-bit register 4..7 forces a REX prefix.
 * The immediate is left zero; its offset is recorded in f. */
void enc_insn(struct form *f, unsigned size, bool lock, uint8_t mandatory,
              const uint8_t *op, unsigned oplen, unsigned reg, unsigned rm,
              unsigned imm_size);
/* Without ModRM (e.g. 04 ib, 98, 0F C8+r): prefixes, opcode, immediate.
 * rex_b adds REX.B for the register in the opcode. */
void enc_plain(struct form *f, unsigned size, const uint8_t *op,
               unsigned oplen, bool rex_b, unsigned imm_size);
/* VEX3: C4 [RXB map] [W vvvv L=0 pp] opcode ModRM (imm8). */
void enc_vex(struct form *f, unsigned map, unsigned pp, bool w, unsigned vvvv,
             uint8_t op, unsigned reg, unsigned rm, unsigned imm_size);

/* The registers the forms use for ModRM.rm and ModRM.reg at each operand
 * size: high-byte and REX registers both appear; RSI is the memory base
 * and RAX/RDX are left to the implicit operands. */
static inline unsigned pick_rm(unsigned size)
{
    return size == 4 ? R10 : RBX;
}

static inline unsigned pick_reg(unsigned size)
{
    return size == 1 ? LOC_HIGH8 + RCX : size == 8 ? R9 : RCX;
}

/* One ModRM instruction named "<name> reg|mem|lock mem": the r/m operand
 * is pick_rm(size) or [rsi]. */
struct form *form_modrm(struct form_list *fl, const char *name, unsigned size,
                        bool lock, uint8_t mandatory, const uint8_t *op,
                        unsigned oplen, unsigned reg, bool mem,
                        unsigned imm_size);

/* Where the r/m operand of a form_modrm() form lives. */
static inline unsigned rm_loc(const struct form *f, unsigned size)
{
    return f->mem ? LOC_MEM : pick_rm(size);
}

/* form_modrm with a memory operand addressed as mode (MEM_*). */
struct form *form_modrm_addr(struct form_list *fl, const char *name,
                             unsigned size, const uint8_t *op, unsigned oplen,
                             unsigned reg, unsigned mode, unsigned imm_size);

void forms_alu(struct form_list *fl);
void forms_addr(struct form_list *fl);
void forms_cond(struct form_list *fl);
void forms_shift(struct form_list *fl);
void forms_muldiv(struct form_list *fl);
void forms_bit(struct form_list *fl);

/* ---- the two sides ---- */

/* Host execution.  Returns 0, or the signal the code raised (SIGFPE for
 * #DE, SIGSEGV for #GP). */
struct native;
struct native *native_new(void);
void native_free(struct native *nv);
int native_exec(struct native *nv, const uint8_t *code, size_t len,
                struct regs *io);

/* Emulated execution on a struct cpu, in 64-bit mode or (compat32) in a
 * 32-bit code segment of long mode: buf is copied to guest RAM and back.
 * With mem_rsi, io's RSI is an offset into buf on entry and exit (the
 * guest sees BUF_GPA + offset).  Returns -1, the vector of an exception,
 * or EMU_DECODE_FAIL. */
struct emu;
struct emu *emu_new(void);
void emu_free(struct emu *e);
int emu_exec(struct emu *e, const uint8_t *code, size_t len, bool mem_rsi,
             bool compat32, struct regs *io, uint8_t *buf);
#define EMU_DECODE_FAIL (-2)
#define EMU_BAD_RIP (-3)      /* RIP did not advance past the bytes */



#endif
