/* The differential test: every form, edge and random cases, host CPU
 * against nsvm.  See diff.h for what is compared.
 *
 *   diff [-v] [--filter=TEXT] [--all-flags] [--seed=N] [--random=N]
 *        [--max-print=N]
 *
 * The flags the APM leaves undefined are masked (each forms_*.c quotes the
 * APM), but still counted when they differ from the host: nsvm sets them
 * as the host AMD EPYC does, and --all-flags turns them into failures.
 * Prints one line per failing case (up to --max-print per form), then
 * "cases: ..." and "N passed, M failed" (forms); exits 1 when a form
 * failed. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases.h"

#define N_RANDOM_DEFAULT 200
#define MAX_COMBOS 512

struct opts {
    const char *filter;
    bool verbose, all_flags;
    uint64_t seed;
    unsigned n_random, max_print;
};

struct harness {
    struct opts o;
    struct native *nv;
    struct emu *emu;
    uint8_t tmpl[BUF_SIZE];
    uint8_t *host_buf;      /* BUF_SIZE, the native side's memory */
    uint8_t emu_buf[BUF_SIZE];
    struct kase k;
    unsigned long cases, case_fails;
    unsigned long undef_diffs;   /* cases whose masked flags differ */
};

static const char *const reg_name[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* The vector the host's signal stands for. */
static int signal_vector(int sig)
{
    switch (sig) {
    case SIGFPE: return EXC_DE;
    case SIGSEGV: return EXC_GP;
    case SIGILL: return EXC_UD;
    case SIGBUS: return EXC_AC;
    default: return -100 - sig;
    }
}

static uint32_t undef_mask(const struct harness *h, const struct form *f,
                           const struct kase *k)
{
    if (h->o.all_flags)
        return 0;
    uint32_t m = f->undef;
    if (f->count_slot) {
        uint64_t c = slot_get(k, f, &f->slot[f->count_slot - 1]) &
                     f->count_mask;
        if (c != 0)
            m |= f->undef_nonzero;
        if (c > 1)
            m |= f->undef_multi;
    }
    return m;
}

static void print_case(const struct form *f, const struct kase *k,
                       const char *why)
{
    printf("FAIL %s [", f->name);
    for (unsigned i = 0; i < f->len; i++)
        printf("%s%02x", i ? " " : "", k->code[i]);
    printf("] in:");
    for (unsigned i = 0; i < f->nslots; i++)
        printf(" s%u=%#" PRIx64, i, slot_get(k, f, &f->slot[i]));
    printf(" fl=%#" PRIx64 " | %s\n", k->r.rflags & FLAGS_ARITH, why);
}

/* Differences between expected (host) and got (nsvm), appended to out. */
static bool compare(const struct regs *exp, const struct regs *got,
                    const uint8_t *ebuf, const uint8_t *gbuf, uint32_t undef,
                    char *out, size_t size)
{
    size_t n = 0;
    bool ok = true;
    for (unsigned i = 0; i < 16; i++) {
        if (i == RSP || exp->gpr[i] == got->gpr[i])
            continue;
        ok = false;
        n += (size_t)snprintf(out + n, size - n, "%s exp %#" PRIx64 " got %#"
                              PRIx64 "; ", reg_name[i], exp->gpr[i],
                              got->gpr[i]);
        if (n >= size)
            return ok;
    }
    uint64_t fm = FLAGS_ARITH & ~(uint64_t)undef;
    if ((exp->rflags ^ got->rflags) & fm) {
        ok = false;
        n += (size_t)snprintf(out + n, size - n, "flags exp %#" PRIx64
                              " got %#" PRIx64 " (compared %#" PRIx64 "); ",
                              exp->rflags & FLAGS_ARITH,
                              got->rflags & FLAGS_ARITH, fm);
        if (n >= size)
            return ok;
    }
    for (unsigned i = 0; i < BUF_SIZE; i++) {
        if (ebuf[i] != gbuf[i]) {
            ok = false;
            snprintf(out + n, size - n, "mem[%+d] exp %02x got %02x",
                     (int)i - (int)MEM_OFF, ebuf[i], gbuf[i]);
            break;
        }
    }
    return ok;
}

/* Run one case on both sides; returns true when they agree. */
static bool run_case(struct harness *h, const struct form *f,
                     const struct kase *k, bool print)
{
    struct regs nat = k->r, em = k->r;
    uint8_t *ebuf = h->emu_buf;
    char why[512] = "";
    bool ok;

    memcpy(h->host_buf, k->buf, BUF_SIZE);
    if (f->mem)
        nat.gpr[RSI] += (uintptr_t)h->host_buf;
    int sig = native_exec(h->nv, k->code, f->len, &nat);
    if (f->mem)
        nat.gpr[RSI] -= (uintptr_t)h->host_buf;

    memcpy(ebuf, k->buf, BUF_SIZE);
    int vec = emu_exec(h->emu, k->code, f->len, f->mem, f->compat32, &em,
                       ebuf);

    /* an encoding x86_decode rejects is #UD for the run loop */
    if (vec == EMU_DECODE_FAIL && sig == SIGILL)
        vec = EXC_UD;
    if (vec == EMU_DECODE_FAIL || vec == EMU_BAD_RIP) {
        ok = false;
        snprintf(why, sizeof(why), "%s", vec == EMU_DECODE_FAIL
                 ? "x86_decode failed" : "RIP not after the instruction");
    } else if (sig || vec >= 0) {
        int exp = sig ? signal_vector(sig) : -1;
        ok = exp == vec;
        if (!ok)
            snprintf(why, sizeof(why), "exception exp %d got %d", exp, vec);
        /* a fault changes nothing: compare with the inputs */
        else if (!compare(&k->r, &em, k->buf, ebuf, 0, why, sizeof(why)))
            ok = false;
    } else {
        uint32_t undef = undef_mask(h, f, k);
        ok = compare(&nat, &em, h->host_buf, ebuf, undef, why, sizeof(why));
        if (ok && ((nat.rflags ^ em.rflags) & undef & FLAGS_ARITH))
            h->undef_diffs++;
    }
    if (!ok && print)
        print_case(f, k, why);
    return ok;
}

/* All cases of one form; returns the number that failed. */
static unsigned run_form(struct harness *h, const struct form *f,
                         struct rng *r)
{
    uint64_t e0[MAX_EDGES], e1[MAX_EDGES];
    unsigned n0 = 0, n1 = 1, fails = 0, ncases = 0;
    struct kase *k = &h->k;

    if (f->nslots > 0)
        n0 = case_edges(f->slot[0].cls, f->slot[0].size, e0);
    if (f->nslots > 1)
        n1 = case_edges(f->slot[1].cls, f->slot[1].size, e1);
    for (unsigned i = 0; i < n0 && i * n1 < MAX_COMBOS; i++) {
        for (unsigned j = 0; j < n1; j++) {
            uint64_t edge[2] = { e0[i], f->nslots > 1 ? e1[j] : 0 };
            for (int cf = 0; cf < 2; cf++) {
                case_build(k, f, h->tmpl, r, edge, cf);
                fails += !run_case(h, f, k, fails < h->o.max_print);
                ncases++;
            }
        }
    }
    for (unsigned i = 0; i < h->o.n_random; i++) {
        case_build(k, f, h->tmpl, r, NULL, -1);
        fails += !run_case(h, f, k, fails < h->o.max_print);
        ncases++;
    }
    if (fails > h->o.max_print)
        printf("FAIL %s: %u more failing cases\n", f->name,
               fails - h->o.max_print);
    if (h->o.verbose)
        printf("%s %s: %u cases\n", fails ? "FAIL" : "ok  ", f->name, ncases);
    h->cases += ncases;
    h->case_fails += fails;
    return fails;
}

/* Every single instruction without REX or VEX means the same in a 32-bit
 * code segment: run those once more with the emulator in compatibility
 * mode (32-bit default operand and address size) against the same host
 * results. */
static void add_compat32(struct form_list *fl)
{
    unsigned n = fl->n;
    for (unsigned i = 0; i < n; i++) {
        if (fl->v[i].only64 || fl->v[i].ninsn != 1)
            continue;
        struct form *f = form_new(fl, "%s", "");
        *f = fl->v[i];
        snprintf(f->name, sizeof(f->name), "%.60s compat32", fl->v[i].name);
        f->compat32 = true;
    }
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){ NULL, false, false, 0x6e73766d64696666ull,
                        N_RANDOM_DEFAULT, 4 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-v"))
            o->verbose = true;
        else if (!strcmp(a, "--all-flags"))
            o->all_flags = true;
        else if (!strncmp(a, "--filter=", 9))
            o->filter = a + 9;
        else if (!strncmp(a, "--seed=", 7))
            o->seed = strtoull(a + 7, NULL, 0);
        else if (!strncmp(a, "--random=", 9))
            o->n_random = (unsigned)strtoul(a + 9, NULL, 0);
        else if (!strncmp(a, "--max-print=", 12))
            o->max_print = (unsigned)strtoul(a + 12, NULL, 0);
        else {
            fprintf(stderr, "diff: unknown option %s\n", a);
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    static struct harness h;   /* large: kept off the stack */
    struct form_list fl = { NULL, 0, 0 };
    struct timespec t0, t1;

    parse_opts(argc, argv, &h.o);
    h.nv = native_new();
    h.emu = emu_new();
    h.host_buf = aligned_alloc(64, BUF_SIZE);
    if (!h.nv || !h.emu || !h.host_buf) {
        fprintf(stderr, "diff: setup failed\n");
        return 2;
    }
    struct rng r = { h.o.seed };
    for (unsigned i = 0; i < BUF_SIZE; i += 8) {
        uint64_t v = rng_next(&r);
        memcpy(&h.tmpl[i], &v, 8);
    }
    forms_alu(&fl);
    forms_addr(&fl);
    forms_cond(&fl);
    forms_shift(&fl);
    forms_muldiv(&fl);
    forms_bit(&fl);
    add_compat32(&fl);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned passed = 0, failed = 0;
    for (unsigned i = 0; i < fl.n; i++) {
        const struct form *f = &fl.v[i];
        if (h.o.filter && !strstr(f->name, h.o.filter))
            continue;
        if (run_form(&h, f, &r))
            failed++;
        else
            passed++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("cases: %lu run, %lu failed, %.1f s; undefined flags differ from "
           "the host in %lu (masked)\n", h.cases, h.case_fails, secs,
           h.undef_diffs);
    printf("%u passed, %u failed\n", passed, failed);

    native_free(h.nv);
    emu_free(h.emu);
    free(h.host_buf);
    free(fl.v);
    return failed ? 1 : 0;
}
