/* Cases of a form: the inputs of one run (see cases.c). */
#ifndef NSVM_TESTS_DIFF_CASES_H
#define NSVM_TESTS_DIFF_CASES_H

#include "diff.h"

struct rng {
    uint64_t s;
};
uint64_t rng_next(struct rng *r);

struct kase {
    struct regs r;
    uint8_t buf[BUF_SIZE];
    uint8_t code[MAX_BYTES];
};

/* Edge values of a slot class at a size; returns how many (at most 64). */
#define MAX_EDGES 64
unsigned case_edges(unsigned cls, unsigned size, uint64_t *out);

/* Fill k for form f: random registers, flags and buffer (from tmpl),
 * then slots 0 and 1 from edge[] (when edge is not NULL) and the others
 * at random, then the form's fixup.  cf >= 0 forces CF. */
void case_build(struct kase *k, const struct form *f, const uint8_t *tmpl,
                struct rng *r, const uint64_t *edge, int cf);

void slot_put(struct kase *k, const struct form *f, const struct slot *s,
              uint64_t v);
uint64_t slot_get(const struct kase *k, const struct form *f,
                  const struct slot *s);

#endif
