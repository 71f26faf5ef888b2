/* `nsvm check` (see check.h). */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct check_result {
    int status;      /* exit status of the run */
    char *output;    /* its serial output (malloc'd, NUL-terminated) */
    size_t len;
};

/* A file of its own for one run's serial output. */
static int temp_path(char *path, size_t n)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, n, "%s/nsvm-check-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* One run in the given mode; false when it could not be made (status
 * then says why). */
static bool run_mode(const struct machine_options *base, bool bare,
                     const uint8_t *demo, size_t demo_len,
                     struct check_result *r)
{
    struct machine_options opt = *base;
    char path[256];

    opt.bare = bare;
    opt.stats = false;
    if (temp_path(path, sizeof(path))) {
        fprintf(stderr, "nsvm: check: cannot create a temporary file\n");
        r->status = NSVM_EXIT_INTERNAL;
        return false;
    }
    opt.serial_file = path;
    struct machine *m = calloc(1, sizeof(*m));
    int st = m ? machine_init(m, &opt) : NSVM_EXIT_INTERNAL;
    if (st == 0)
        st = opt.payload ? machine_load_file(m, opt.payload)
                         : machine_load_image(m, "demo", demo, demo_len);
    bool ran = st == 0;
    if (ran)
        st = machine_run(m);
    if (m)
        machine_fini(m);
    free(m);
    r->status = st;
    r->output = ran ? read_all(path, &r->len) : NULL;
    unlink(path);
    if (ran && !r->output) {
        fprintf(stderr, "nsvm: check: cannot read back the serial output\n");
        r->status = NSVM_EXIT_INTERNAL;
        return false;
    }
    return ran;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Prints the first line where the outputs differ. */
static void show_first_difference(const char *a0, const char *b0, FILE *out)
{
    const char *a = a0, *b = b0;
    size_t line = 1;

    while (*a && *a == *b) {
        line += *a == '\n';
        a++;
        b++;
    }
    while (a > a0 && a[-1] != '\n') {   /* back to the line's start */
        a--;
        b--;
    }
    fprintf(out, "nsvm: check: output differs from line %zu:\n", line);
    fprintf(out, "  bare:   %.*s\n", (int)strcspn(a, "\n"), *a ? a : "(end of output)");
    fprintf(out, "  nested: %.*s\n", (int)strcspn(b, "\n"), *b ? b : "(end of output)");
}

int check_run(const struct machine_options *opt, const uint8_t *demo,
              size_t demo_len, FILE *out)
{
    struct check_result bare = { 0 }, nested = { 0 };
    int result;

    if (!run_mode(opt, true, demo, demo_len, &bare))
        return bare.status;
    if (!run_mode(opt, false, demo, demo_len, &nested)) {
        free(bare.output);
        return nested.status;
    }
    fprintf(out, "nsvm: check: bare:   exit status %d, %zu lines of output\n",
            bare.status, count_lines(bare.output));
    fprintf(out, "nsvm: check: nested: exit status %d, %zu lines of output\n",
            nested.status, count_lines(nested.output));
    bool same_out = bare.len == nested.len &&
                    memcmp(bare.output, nested.output, bare.len) == 0;
    if (!same_out)
        show_first_difference(bare.output, nested.output, out);
    if (bare.status != nested.status)
        fprintf(out, "nsvm: check: exit status differs: bare %d, nested %d\n",
                bare.status, nested.status);
    result = same_out && bare.status == nested.status ? 0 : CHECK_EXIT_DIFFER;
    fprintf(out, "nsvm: check: %s\n", result == 0
            ? "bare and nested agree" : "bare and nested DIFFER");
    free(bare.output);
    free(nested.output);
    return result;
}
