/* Zydis to struct insn, and the block cache (see decode.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <Zydis/Zydis.h>

#include "x86/decode.h"
#include "x86/decode_cache.h"

static const ZydisMachineMode zydis_mode[MODE_COUNT] = {
    [MODE_REAL]     = ZYDIS_MACHINE_MODE_REAL_16,
    [MODE_PROT16]   = ZYDIS_MACHINE_MODE_LEGACY_16,
    [MODE_PROT32]   = ZYDIS_MACHINE_MODE_LEGACY_32,
    [MODE_COMPAT16] = ZYDIS_MACHINE_MODE_LONG_COMPAT_16,
    [MODE_COMPAT32] = ZYDIS_MACHINE_MODE_LONG_COMPAT_32,
    [MODE_LONG64]   = ZYDIS_MACHINE_MODE_LONG_64,
};

static const ZydisStackWidth zydis_stack[MODE_COUNT] = {
    [MODE_REAL]     = ZYDIS_STACK_WIDTH_16,
    [MODE_PROT16]   = ZYDIS_STACK_WIDTH_16,
    [MODE_PROT32]   = ZYDIS_STACK_WIDTH_32,
    [MODE_COMPAT16] = ZYDIS_STACK_WIDTH_16,
    [MODE_COMPAT32] = ZYDIS_STACK_WIDTH_32,
    [MODE_LONG64]   = ZYDIS_STACK_WIDTH_64,
};

void x86_op_ud(struct cpu *cpu, const struct insn *in)
{
    (void)in;
    x86_ud(cpu);
}

static void decoder_init(ZydisDecoder *dec, unsigned mode)
{
    ZydisDecoderInit(dec, zydis_mode[mode], zydis_stack[mode]);
    /* AMD semantics: 66h on near branches in 64-bit mode is honoured */
    ZydisDecoderEnableMode(dec, ZYDIS_DECODER_MODE_AMD_BRANCHES, ZYAN_TRUE);
}

/* Zydis register -> (kind, number).  GPR8 ids run AL CL DL BL AH CH DH BH
 * SPL BPL SIL DIL R8B..R15B. */
static bool convert_reg(ZydisRegister r, struct operand *op)
{
    ZydisRegisterClass cls = ZydisRegisterGetClass(r);
    int id = ZydisRegisterGetId(r);
    switch (cls) {
    case ZYDIS_REGCLASS_GPR8:
        op->kind = OP_REG;
        op->reg = (uint8_t)(id >= 4 && id < 8 ? REG_HIGH8 + id - 4 : id < 4 ? id : id - 4);
        return true;
    case ZYDIS_REGCLASS_GPR16:
    case ZYDIS_REGCLASS_GPR32:
    case ZYDIS_REGCLASS_GPR64:
        op->kind = OP_REG;
        op->reg = (uint8_t)id;
        return true;
    case ZYDIS_REGCLASS_SEGMENT:
        op->kind = OP_SREG;
        op->reg = (uint8_t)id;
        return true;
    case ZYDIS_REGCLASS_CONTROL:
        op->kind = OP_CR;
        op->reg = (uint8_t)id;
        return true;
    case ZYDIS_REGCLASS_DEBUG:
        op->kind = OP_DR;
        op->reg = (uint8_t)id;
        return true;
    default:
        return false;
    }
}

static uint8_t convert_addr_reg(ZydisRegister r)
{
    if (r == ZYDIS_REGISTER_NONE)
        return REG_NONE;
    if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP || r == ZYDIS_REGISTER_IP)
        return REG_RIP;
    return (uint8_t)ZydisRegisterGetId(r);
}

static bool convert_operand(const ZydisDecodedOperand *zo, struct insn *in,
                            struct operand *op)
{
    memset(op, 0, sizeof(*op));
    op->size = (uint8_t)(zo->size / 8);
    op->base = op->index = REG_NONE;
    switch (zo->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        return convert_reg(zo->reg.value, op);
    case ZYDIS_OPERAND_TYPE_MEMORY:
        op->kind = OP_MEM;
        op->base = convert_addr_reg(zo->mem.base);
        op->index = convert_addr_reg(zo->mem.index);
        op->scale = zo->mem.scale ? zo->mem.scale : 1;
        op->disp = zo->mem.disp.has_displacement ? zo->mem.disp.value : 0;
        op->seg = zo->mem.segment == ZYDIS_REGISTER_NONE
                      ? SEG_DS
                      : (uint8_t)ZydisRegisterGetId(zo->mem.segment);
        return true;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        op->kind = OP_IMM;
        op->disp = zo->imm.is_signed ? zo->imm.value.s : (int64_t)zo->imm.value.u;
        if (zo->imm.is_relative)   /* branch displacement: keep 64 bits */
            op->size = 8;
        else if (op->size < in->osize && zo->imm.is_signed)
            op->size = in->osize;  /* sign-extended to the operand size */
        return true;
    case ZYDIS_OPERAND_TYPE_POINTER:   /* far ptr16:16/32 */
        op->kind = OP_IMM;
        op->disp = (int64_t)(((uint64_t)zo->ptr.segment << 32) | zo->ptr.offset);
        op->size = 8;
        return true;
    default:
        return false;
    }
}

/* Forms that share a mnemonic with an ordinary instruction but are system
 * operations go to the system handlers: MOV with a control, debug or
 * segment register, PUSH/POP of a segment register, far branches. */
static insn_fn route(const struct decode_cache *dc, const struct insn *in,
                     const ZydisDecodedInstruction *zi)
{
    if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) {
        if (zi->mnemonic == ZYDIS_MNEMONIC_JMP)
            return x86_op_jmp_far;
        if (zi->mnemonic == ZYDIS_MNEMONIC_CALL)
            return x86_op_call_far;
        if (zi->mnemonic == ZYDIS_MNEMONIC_RET)
            return x86_op_ret_far;
    }
    if (in->mnemonic == ZYDIS_MNEMONIC_MOV) {
        for (unsigned i = 0; i < in->nops; i++) {
            if (in->op[i].kind == OP_CR)
                return x86_op_mov_cr;
            if (in->op[i].kind == OP_DR)
                return x86_op_mov_dr;
            if (in->op[i].kind == OP_SREG)
                return x86_op_mov_sreg;
        }
    }
    if ((in->mnemonic == ZYDIS_MNEMONIC_PUSH || in->mnemonic == ZYDIS_MNEMONIC_POP) &&
        in->op[0].kind == OP_SREG)
        return in->mnemonic == ZYDIS_MNEMONIC_PUSH ? x86_op_push_sreg : x86_op_pop_sreg;
    /* MOVSD and CMPSD also name SSE2 instructions, which nsvm does not
     * implement (no SSE in CPUID) */
    if ((zi->mnemonic == ZYDIS_MNEMONIC_MOVSD || zi->mnemonic == ZYDIS_MNEMONIC_CMPSD) &&
        zi->meta.category != ZYDIS_CATEGORY_STRINGOP)
        return x86_op_ud;
    insn_fn fn = dc->handlers[in->mnemonic];
    return fn ? fn : x86_op_ud;
}

static bool ends_block(const ZydisDecodedInstruction *zi)
{
    switch (zi->meta.category) {
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET:
    case ZYDIS_CATEGORY_SYSTEM:
    case ZYDIS_CATEGORY_IO:
    case ZYDIS_CATEGORY_IOSTRINGOP:
        return true;
    default:
        return false;
    }
}

bool x86_decode(const struct cpu *cpu, const uint8_t *bytes, size_t len,
                struct insn *in)
{
    ZydisDecoder dec;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];

    decoder_init(&dec, cpu->mode);
    memset(in, 0, sizeof(*in));
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, bytes, len, &zi, zo))) {
        in->exec = x86_op_ud;
        in->len = 1;
        in->flags = INSN_BRANCH;
        return false;
    }
    in->mnemonic = (uint16_t)zi.mnemonic;
    in->len = zi.length;
    in->osize = zi.operand_width / 8;
    in->asize = zi.address_width / 8;
    in->cond = zi.opcode & 0xf;
    if (zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
        in->flags |= INSN_REP;
    if (zi.attributes & ZYDIS_ATTRIB_HAS_REPNE)
        in->flags |= INSN_REPNE;
    if (zi.attributes & ZYDIS_ATTRIB_HAS_LOCK)
        in->flags |= INSN_LOCK;
    if (ends_block(&zi))
        in->flags |= INSN_BRANCH;

    for (unsigned i = 0; i < zi.operand_count && in->nops < 3; i++) {
        /* string instructions and XLAT keep their implicit memory operands:
         * they carry the effective segment (overrides) */
        if (zo[i].visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN &&
            !(zo[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
              (zi.meta.category == ZYDIS_CATEGORY_STRINGOP ||
               zi.meta.category == ZYDIS_CATEGORY_IOSTRINGOP ||
               zi.mnemonic == ZYDIS_MNEMONIC_XLAT)))
            continue;
        if (!convert_operand(&zo[i], in, &in->op[in->nops]))
            break;
        in->nops++;
    }
    in->exec = cpu->dc ? route(cpu->dc, in, &zi) : x86_op_ud;
    insn_fn fast = x86_fast_handler(cpu, in);
    if (fast)
        in->exec = fast;
    return true;
}

void x86_disasm(const struct cpu *cpu, const uint8_t *bytes, size_t len,
                uint64_t rip, char *buf, size_t bufsize)
{
    ZydisDecoder dec;
    ZydisFormatter fmt;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];

    decoder_init(&dec, cpu->mode);
    ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
    if (ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, bytes, len, &zi, zo)) ||
        ZYAN_FAILED(ZydisFormatterFormatInstruction(&fmt, &zi, zo,
                                                    zi.operand_count_visible,
                                                    buf, bufsize, rip, NULL)))
        snprintf(buf, bufsize, "(bad)");
}

struct decode_cache *decode_cache_new(void)
{
    struct decode_cache *dc = calloc(1, sizeof(*dc));
    if (!dc)
        return NULL;
    /* mapped, not malloc'd: pages are committed as blocks fill them, and
     * sanitizer builds do not poison 16 MiB of shadow per machine (the
     * fuzzers make one machine per input) */
    void *arena = mmap(NULL, DC_ARENA_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena == MAP_FAILED) {
        free(dc);
        return NULL;
    }
    dc->arena = arena;
    void (*const reg[])(insn_fn *) = {
        x86_ops_alu, x86_ops_shift, x86_ops_muldiv, x86_ops_bit,
        x86_ops_move, x86_ops_stack, x86_ops_branch, x86_ops_string,
        x86_ops_system, x86_ops_io, x86_ops_svm, x86_ops_x87,
    };
    for (size_t i = 0; i < sizeof(reg) / sizeof(reg[0]); i++)
        reg[i](dc->handlers);
    return dc;
}

void decode_cache_free(struct decode_cache *dc)
{
    if (dc) {
        munmap(dc->arena, DC_ARENA_SIZE);
        free(dc);
    }
}

void decode_cache_flush(struct decode_cache *dc)
{
    memset(dc->bucket, 0, sizeof(dc->bucket));
    dc->used = 0;
    dc->flushes++;
}
