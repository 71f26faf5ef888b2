/* A tiny x86-64 encoder for the test forms: legacy prefixes, REX, opcode,
 * ModRM with a register or [rsi], immediates, and VEX3 for BMI. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

#define RSI_NUM 6

struct form *form_new(struct form_list *fl, const char *fmt, ...)
{
    if (fl->n == fl->cap) {
        fl->cap = fl->cap ? fl->cap * 2 : 256;
        fl->v = realloc(fl->v, fl->cap * sizeof(*fl->v));
        if (!fl->v) {
            perror("realloc");
            exit(2);
        }
    }
    struct form *f = &fl->v[fl->n++];
    memset(f, 0, sizeof(*f));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->name, sizeof(f->name), fmt, ap);
    va_end(ap);
    return f;
}

void form_slot(struct form *f, unsigned loc, unsigned cls, unsigned size)
{
    if (f->nslots == MAX_SLOTS) {
        fprintf(stderr, "%s: too many slots\n", f->name);
        exit(2);
    }
    f->slot[f->nslots++] = (struct slot){ (uint8_t)loc, (uint8_t)cls,
                                          (uint8_t)size };
}

void form_byte(struct form *f, uint8_t b)
{
    if (f->len == MAX_BYTES) {
        fprintf(stderr, "%s: too long\n", f->name);
        exit(2);
    }
    f->bytes[f->len++] = b;
}

static void emit_imm(struct form *f, unsigned imm_size)
{
    if (!imm_size)
        return;
    f->imm_off = f->len;
    f->imm_size = (uint8_t)imm_size;
    for (unsigned i = 0; i < imm_size; i++)
        form_byte(f, 0);
}

static void emit_disp(struct form *f, int32_t d, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        form_byte(f, (uint8_t)((uint32_t)d >> (8 * i)));
}

/* ModRM (and SIB, displacement) of the memory operand, per f->mem_mode. */
static void emit_mem(struct form *f, unsigned reg3)
{
    f->mem = true;
    switch (f->mem_mode) {
    case MEM_RSI_D8:
        form_byte(f, (uint8_t)(0x40 | reg3 << 3 | RSI_NUM));
        emit_disp(f, MEM_D8, 1);
        break;
    case MEM_RSI_D32:
        form_byte(f, (uint8_t)(0x80 | reg3 << 3 | RSI_NUM));
        emit_disp(f, MEM_D32, 4);
        break;
    case MEM_SIB:   /* SIB: scale 8, index RDI (7), base RSI (6) */
        form_byte(f, (uint8_t)(0x40 | reg3 << 3 | 4));
        form_byte(f, (uint8_t)(3 << 6 | 7 << 3 | RSI_NUM));
        emit_disp(f, MEM_SIB_DISP, 1);
        break;
    default:
        form_byte(f, (uint8_t)(reg3 << 3 | RSI_NUM));
    }
}

/* An 8-bit register operand 4..7 means SPL..DIL only with a REX prefix;
 * LOC_HIGH8 + n (AH..BH) only without one. */
static bool needs_rex40(unsigned size, unsigned r)
{
    return size == 1 && r >= 4 && r < 8;
}

static unsigned low3(unsigned r)
{
    return r >= LOC_HIGH8 && r < LOC_HIGH8 + 4 ? r - LOC_HIGH8 + 4 : r & 7;
}

void enc_insn(struct form *f, unsigned size, bool lock, uint8_t mandatory,
              const uint8_t *op, unsigned oplen, unsigned reg, unsigned rm,
              unsigned imm_size)
{
    bool mem = rm == RM_MEM;
    unsigned rex = 0;
    if (lock)
        form_byte(f, 0xf0);
    if (size == 2)
        form_byte(f, 0x66);
    if (mandatory)
        form_byte(f, mandatory);
    if (size == 8)
        rex |= 0x48;
    if (reg < 16 && (reg & 8))
        rex |= 0x44;
    if (!mem && rm < 16 && (rm & 8))
        rex |= 0x41;
    if (needs_rex40(size, reg) || (!mem && needs_rex40(size, rm)))
        rex |= 0x40;
    if (rex) {
        form_byte(f, (uint8_t)rex);
        f->only64 = true;
    }
    f->ninsn++;
    for (unsigned i = 0; i < oplen; i++)
        form_byte(f, op[i]);
    if (mem)
        emit_mem(f, low3(reg));
    else
        form_byte(f, (uint8_t)(0xc0 | low3(reg) << 3 | low3(rm)));
    emit_imm(f, imm_size);
}

void enc_plain(struct form *f, unsigned size, const uint8_t *op,
               unsigned oplen, bool rex_b, unsigned imm_size)
{
    if (size == 2)
        form_byte(f, 0x66);
    if (size == 8 || rex_b) {
        form_byte(f, (uint8_t)(0x40 | (size == 8 ? 8 : 0) | (rex_b ? 1 : 0)));
        f->only64 = true;
    }
    f->ninsn++;
    for (unsigned i = 0; i < oplen; i++)
        form_byte(f, op[i]);
    emit_imm(f, imm_size);
}

void enc_vex(struct form *f, unsigned map, unsigned pp, bool w, unsigned vvvv,
             uint8_t op, unsigned reg, unsigned rm, unsigned imm_size)
{
    bool mem = rm == RM_MEM;
    unsigned r = (reg & 8) ? 0 : 0x80, b = (!mem && (rm & 8)) ? 0 : 0x20;
    form_byte(f, 0xc4);
    f->only64 = true;
    f->ninsn++;
    form_byte(f, (uint8_t)(r | 0x40 | b | map));
    form_byte(f, (uint8_t)((w ? 0x80 : 0) | (~vvvv & 15) << 3 | pp));
    form_byte(f, op);
    if (mem) {
        emit_mem(f, reg & 7);
    } else {
        form_byte(f, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
    }
    emit_imm(f, imm_size);
}

struct form *form_modrm(struct form_list *fl, const char *name, unsigned size,
                        bool lock, uint8_t mandatory, const uint8_t *op,
                        unsigned oplen, unsigned reg, bool mem,
                        unsigned imm_size)
{
    struct form *f = form_new(fl, "%s%s %s", lock ? "lock " : "", name,
                              mem ? "mem" : "reg");
    enc_insn(f, size, lock, mandatory, op, oplen, reg,
             mem ? RM_MEM : pick_rm(size), imm_size);
    return f;
}

struct form *form_modrm_addr(struct form_list *fl, const char *name,
                             unsigned size, const uint8_t *op, unsigned oplen,
                             unsigned reg, unsigned mode, unsigned imm_size)
{
    static const char *const mode_name[4] = {
        "[rsi]", "[rsi+d8]", "[rsi+d32]", "[rsi+rdi*8+d8]",
    };
    struct form *f = form_new(fl, "%s %s", name, mode_name[mode & 3]);
    f->mem_mode = (uint8_t)mode;
    enc_insn(f, size, false, 0, op, oplen, reg, RM_MEM, imm_size);
    return f;
}
