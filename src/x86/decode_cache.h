/* The decoded-block cache (private to decode.c and exec.c). */
#ifndef NSVM_X86_DECODE_CACHE_H
#define NSVM_X86_DECODE_CACHE_H

#include <Zydis/Zydis.h>

#include "x86/insn.h"

#define DC_ARENA_SIZE   (16u << 20)   /* bound on decoded code, then flush */
#define DC_BUCKETS      (1u << 14)
#define BLOCK_MAX_INSNS 64

/* A successor found for a block, valid while the translation epoch it was
 * found in lasts and the successor's page is unchanged. */
struct block_link {
    struct block *to;
    uint64_t rip;
    uint64_t epoch;
};

struct block {
    struct block *next;   /* hash chain */
    struct block_link link[2];  /* successors: fall-through, other */
    uint64_t last_rip;    /* RIP of the last instruction when decoded */
    uint64_t pa;          /* physical address of the first instruction */
    uint32_t gen;         /* page generation when decoded */
    uint8_t mode;         /* enum x86_mode */
    uint16_t n;           /* instructions */
    struct insn insn[];
};

struct decode_cache {
    insn_fn handlers[ZYDIS_MNEMONIC_MAX_VALUE + 1];
    struct block *bucket[DC_BUCKETS];
    uint8_t *arena;
    size_t used;
    uint64_t flushes, blocks_decoded;
};

#endif
