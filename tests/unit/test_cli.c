/* The nsvm command line: strict numbers, sizes, trace lists, and one clear
 * line plus a hint (status 125) for every kind of usage error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct parsed {
    struct cli cli;
    char *out, *err;
    size_t out_len, err_len;
};

static void parse(struct parsed *p, int argc, const char **argv)
{
    FILE *out = open_memstream(&p->out, &p->out_len);
    FILE *err = open_memstream(&p->err, &p->err_len);
    cli_parse(argc, (char **)argv, &p->cli, out, err);
    fclose(out);
    fclose(err);
}

static void done(struct parsed *p)
{
    free(p->out);
    free(p->err);
}

#define PARSE(p, ...)                                                   \
    do {                                                                \
        const char *argv_[] = { "nsvm", __VA_ARGS__ };                  \
        parse((p), (int)(sizeof(argv_) / sizeof(argv_[0])), argv_);     \
    } while (0)

/* A usage error: status 125, exactly two lines, the first "nsvm: ...". */
static void assert_usage_error(struct parsed *p, const char *needle)
{
    assert_int_equal(p->cli.command, CLI_DONE);
    assert_int_equal(p->cli.status, 125);
    assert_int_equal(strncmp(p->err, "nsvm: ", 6), 0);
    assert_non_null(strstr(p->err, needle));
    char *nl = strchr(p->err, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "Try 'nsvm --help'.\n");
    assert_int_equal(p->out_len, 0);
}

static void numbers_are_strict(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(cli_parse_u64("0", &v)); assert_int_equal(v, 0);
    assert_true(cli_parse_u64("1000000000", &v)); assert_int_equal(v, 1000000000);
    assert_true(cli_parse_u64("0x1F", &v)); assert_int_equal(v, 31);
    assert_true(cli_parse_u64("18446744073709551615", &v));
    assert_int_equal(v, UINT64_MAX);
    assert_true(cli_parse_u64("010", &v)); assert_int_equal(v, 10);  /* not octal */
    const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1x", "0x", "x1", "1.5",
                          "18446744073709551616", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cli_parse_u64(bad[i], &v));
}

static void sizes_with_suffixes(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(cli_parse_size("256", &v)); assert_int_equal(v, 256ull << 20);
    assert_true(cli_parse_size("256M", &v)); assert_int_equal(v, 256ull << 20);
    assert_true(cli_parse_size("2m", &v)); assert_int_equal(v, 2ull << 20);
    assert_true(cli_parse_size("4096K", &v)); assert_int_equal(v, 4ull << 20);
    assert_true(cli_parse_size("1G", &v)); assert_int_equal(v, 1ull << 30);
    assert_true(cli_parse_size("64g", &v)); assert_int_equal(v, 64ull << 30);
    assert_true(cli_parse_size("1T", &v)); assert_int_equal(v, 1ull << 40);
    const char *bad[] = { "", "M", "G1", "1MB", "1.5G", "-1G", "1X",
                          "17179869184G", "0x", "99999999999999999999K" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cli_parse_size(bad[i], &v));
}

static void trace_lists(void **state)
{
    (void)state;
    unsigned m = 0;
    assert_true(cli_parse_trace("insn", &m)); assert_int_equal(m, TRACE_INSN);
    m = 0;
    assert_true(cli_parse_trace("exc,insn,exit", &m));
    assert_int_equal(m, TRACE_INSN | TRACE_EXC | TRACE_EXIT);
    const char *bad[] = { "", "ins", "insn,", ",exc", "exc,,insn", "all", "INSN" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = 0;
        assert_false(cli_parse_trace(bad[i], &m));
    }
}

static void run_defaults(void **state)
{
    (void)state;
    struct parsed p;
    PARSE(&p, "run");
    assert_int_equal(p.cli.command, CLI_RUN);
    assert_null(p.cli.opt.payload);
    assert_null(p.cli.opt.append);
    assert_int_equal(p.cli.opt.mem_size, 256ull << 20);
    assert_int_equal(p.cli.opt.max_insns, 0);
    assert_int_equal(p.cli.opt.timeout_sec, 0);
    assert_int_equal(p.cli.opt.trace, 0);
    assert_false(p.cli.opt.stats);
    done(&p);
}

static void run_all_options(void **state)
{
    (void)state;
    struct parsed p;
    PARSE(&p, "run", "--append", "iters=5 x", "--mem=1G", "--max-insns", "1000",
          "--timeout=30", "--trace=insn", "--trace", "exc", "--trace-file", "t.log",
          "--serial-file=s.log", "--bare", "--stats", "k.elf");
    assert_int_equal(p.cli.command, CLI_RUN);
    assert_string_equal(p.cli.opt.payload, "k.elf");
    assert_string_equal(p.cli.opt.append, "iters=5 x");
    assert_int_equal(p.cli.opt.mem_size, 1ull << 30);
    assert_int_equal(p.cli.opt.max_insns, 1000);
    assert_int_equal(p.cli.opt.timeout_sec, 30);
    assert_int_equal(p.cli.opt.trace, TRACE_INSN | TRACE_EXC);
    assert_string_equal(p.cli.opt.trace_file, "t.log");
    assert_string_equal(p.cli.opt.serial_file, "s.log");
    assert_true(p.cli.opt.bare);
    assert_true(p.cli.opt.stats);
    assert_int_equal(p.err_len, 0);
    done(&p);
}

static void payload_after_double_dash(void **state)
{
    (void)state;
    struct parsed p;
    PARSE(&p, "run", "--", "--stats");
    assert_int_equal(p.cli.command, CLI_RUN);
    assert_string_equal(p.cli.opt.payload, "--stats");
    assert_false(p.cli.opt.stats);
    done(&p);
    PARSE(&p, "run", "--append", "--stats", "-");   /* "-" is a file name */
    assert_string_equal(p.cli.opt.append, "--stats");
    assert_string_equal(p.cli.opt.payload, "-");
    done(&p);
}

static void usage_errors(void **state)
{
    (void)state;
    struct parsed p;
    PARSE(&p, "run", "--frobnicate");
    assert_usage_error(&p, "--frobnicate"); done(&p);
    PARSE(&p, "run", "--mem");
    assert_usage_error(&p, "needs an argument"); done(&p);
    PARSE(&p, "run", "--mem", "lots");
    assert_usage_error(&p, "lots"); done(&p);
    PARSE(&p, "run", "--mem", "1M");
    assert_usage_error(&p, "--mem"); done(&p);
    PARSE(&p, "run", "--mem", "65G");
    assert_usage_error(&p, "--mem"); done(&p);
    PARSE(&p, "run", "--mem", "2049K");
    assert_usage_error(&p, "4K"); done(&p);
    PARSE(&p, "run", "--max-insns", "-5");
    assert_usage_error(&p, "-5"); done(&p);
    PARSE(&p, "run", "--max-insns", "0");
    assert_usage_error(&p, "positive"); done(&p);
    PARSE(&p, "run", "--max-insns=12abc");
    assert_usage_error(&p, "12abc"); done(&p);
    PARSE(&p, "run", "--timeout", "1e3");
    assert_usage_error(&p, "1e3"); done(&p);
    PARSE(&p, "run", "--trace=everything");
    assert_usage_error(&p, "everything"); done(&p);
    PARSE(&p, "run", "a.elf", "b.elf");
    assert_usage_error(&p, "b.elf"); done(&p);
    PARSE(&p, "run", "--memory=1G");
    assert_usage_error(&p, "--memory"); done(&p);
    PARSE(&p, "frobnicate");
    assert_usage_error(&p, "frobnicate"); done(&p);
    PARSE(&p, "--frobnicate");
    assert_usage_error(&p, "--frobnicate"); done(&p);
    const char *argv[] = { "nsvm" };
    parse(&p, 1, argv);
    assert_usage_error(&p, "missing command"); done(&p);
}

static void help_and_version(void **state)
{
    (void)state;
    struct parsed p;
    PARSE(&p, "--help");
    assert_int_equal(p.cli.command, CLI_DONE);
    assert_int_equal(p.cli.status, 0);
    assert_non_null(strstr(p.out, "nsvm run"));
    assert_int_equal(p.err_len, 0);
    done(&p);
    PARSE(&p, "run", "--mem", "1G", "--help");
    assert_int_equal(p.cli.status, 0);
    assert_non_null(strstr(p.out, "--max-insns"));
    assert_non_null(strstr(p.out, "Exit status"));
    assert_non_null(strstr(p.out, "127"));
    done(&p);
    PARSE(&p, "--version");
    assert_int_equal(p.cli.status, 0);
    assert_string_equal(p.out, "nsvm " NSVM_VERSION "\n");
    done(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_are_strict),
        cmocka_unit_test(sizes_with_suffixes),
        cmocka_unit_test(trace_lists),
        cmocka_unit_test(run_defaults),
        cmocka_unit_test(run_all_options),
        cmocka_unit_test(payload_after_double_dash),
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(help_and_version),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
