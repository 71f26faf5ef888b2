/* Decoding (Zydis) and the cache of decoded blocks.
 *
 * A block is a run of instructions decoded from one physical page, ending
 * at a branch, at an instruction that changes the machine's mode, or at
 * the page's end.  Blocks are keyed by physical address, execution mode
 * and the page's generation; a store to a page holding decoded code bumps
 * the generation (mem.c), so self-modifying code is seen at once.  The
 * cache is bounded: when its arena fills up it is flushed whole. */
#ifndef NSVM_X86_DECODE_H
#define NSVM_X86_DECODE_H

#include <stddef.h>

#include "x86/insn.h"

struct decode_cache *decode_cache_new(void);
void decode_cache_free(struct decode_cache *dc);
void decode_cache_flush(struct decode_cache *dc);

/* Decode one instruction from bytes (at most 15 used) for the CPU's current
 * mode.  Returns false for an invalid encoding (the caller raises #UD);
 * in->exec is the handler, or the #UD handler for encodings nsvm does not
 * implement. */
bool x86_decode(const struct cpu *cpu, const uint8_t *bytes, size_t len,
                struct insn *in);

/* Format an instruction with Zydis (for --trace=insn). */
void x86_disasm(const struct cpu *cpu, const uint8_t *bytes, size_t len,
                uint64_t rip, char *buf, size_t bufsize);

/* Execute one decoded instruction outside the run loop (unit tests): sets
 * next_rip, runs the handler, commits RIP.  Returns -1, or the vector of
 * the exception it raised (the exception is left pending, not delivered). */
int x86_exec_insn(struct cpu *cpu, const struct insn *in);

/* A specialised handler for a hot instruction form (fast.c), or NULL. */
insn_fn x86_fast_handler(const struct cpu *cpu, const struct insn *in);

/* Handler for mnemonics nsvm does not implement: #UD. */
void x86_op_ud(struct cpu *cpu, const struct insn *in);

#endif
