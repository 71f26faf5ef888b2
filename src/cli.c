/* The `nsvm` command line (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char main_help[] =
"Usage: nsvm run [options] [PAYLOAD]\n"
"       nsvm check [options] PAYLOAD\n"
"       nsvm --help | --version\n"
"\n"
"nsvm is a software AMD64 machine with AMD-V (SVM): it boots multiboot\n"
"kernels (ELF32 images, as QEMU's -kernel loads them) on an emulated CPU,\n"
"deterministically: the same payload always runs the same way.\n"
"\n"
"Commands:\n"
"  run        boot PAYLOAD (default: the built-in demo) and run it until it\n"
"             writes its exit status to the debug-exit port 0xf4; by\n"
"             default PAYLOAD runs as L1 under nsvm's L0 hypervisor\n"
"             (nested SVM), with --bare directly on the emulated CPU\n"
"  check      run PAYLOAD both ways (bare and nested) and compare its\n"
"             output and exit status: 0 when they agree, 1 when not\n"
"\n"
"Run 'nsvm run --help' for the options of 'run'.\n";

static const char run_help[] =
"Usage: nsvm run [options] [PAYLOAD]\n"
"\n"
"Boot the multiboot kernel PAYLOAD (an ELF32 image; without PAYLOAD, the\n"
"built-in demo) and run it.  The guest's serial port (COM1, 0x3f8) prints\n"
"to standard output; the run ends when the guest writes a value to the\n"
"debug-exit port 0xf4 (QEMU's isa-debug-exit), and nsvm exits with it.\n"
"\n"
"Options:\n"
"  --append STRING     kernel command line after the payload's path, as\n"
"                      QEMU's -append (the guest sees \"PAYLOAD STRING\")\n"
"  --mem SIZE          guest RAM (default 256M): a number of MiB, or with a\n"
"                      K, M, G suffix; 2M to 64G, a multiple of 4K\n"
"  --max-insns N       stop after N instructions (exit status 128)\n"
"  --timeout SECONDS   stop after SECONDS of wall-clock time (status 129)\n"
"  --trace LIST        comma-separated: insn (each instruction executed,\n"
"                      disassembled), exc (exceptions and interrupts\n"
"                      delivered), exit (VMRUN and #VMEXIT; in nested\n"
"                      mode also L0's exits, nested VMRUNs, reflected\n"
"                      #VMEXITs, injected exceptions and hypercalls)\n"
"  --trace-file FILE   write the trace to FILE instead of stderr\n"
"  --serial-file FILE  write the serial output to FILE instead of stdout\n"
"  --bare              run the guest directly on the emulated CPU, like\n"
"                      bare-metal AMD hardware (default: as L1 under\n"
"                      nsvm's L0 hypervisor, which offers it nested SVM)\n"
"  --stats             print instructions retired, speed and exceptions\n"
"                      by vector on stderr at the end; in nested mode\n"
"                      also L0's exits by reason and level, hypercalls\n"
"                      and instructions retired per level\n"
"  -h, --help          show this help\n"
"\n"
"Exit status:\n"
"  0-255  the value the guest wrote to port 0xf4, low 8 bits (a passing\n"
"         test kernel writes 0); unless it is one of:\n"
"  125    usage error (bad option or argument)\n"
"  126    payload missing, unreadable or not a valid multiboot image\n"
"  127    triple fault (the guest shut the machine down)\n"
"  128    instruction budget (--max-insns) exhausted\n"
"  129    timeout (--timeout) expired\n"
"  130    internal error in nsvm\n"
"  131    the guest halted (HLT) and nothing can wake it\n";

__attribute__((format(printf, 3, 4)))
static void usage_error(struct cli *cli, FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nsvm: ", err);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputs("\nTry 'nsvm --help'.\n", err);
    cli->command = CLI_DONE;
    cli->status = NSVM_EXIT_USAGE;
}

bool cli_parse_u64(const char *s, uint64_t *val)
{
    int base = 10;
    char *end;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* strtoull would accept leading blanks and signs: refuse them. */
    if (!(s[0] >= '0' && s[0] <= '9') &&
        !(base == 16 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'f')))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno == ERANGE || *end != '\0')
        return false;
    *val = v;
    return true;
}

bool cli_parse_size(const char *s, uint64_t *val)
{
    size_t n = strlen(s);
    unsigned shift = 20;   /* no suffix: MiB, as QEMU's -m */
    char buf[32];

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n + 1);
    switch (buf[n - 1]) {
    case 'k': case 'K': shift = 10; buf[--n] = '\0'; break;
    case 'm': case 'M': shift = 20; buf[--n] = '\0'; break;
    case 'g': case 'G': shift = 30; buf[--n] = '\0'; break;
    case 't': case 'T': shift = 40; buf[--n] = '\0'; break;
    }
    uint64_t v;
    if (n == 0 || !cli_parse_u64(buf, &v) || v > (UINT64_MAX >> shift))
        return false;
    *val = v << shift;
    return true;
}

bool cli_parse_trace(const char *s, unsigned *mask)
{
    unsigned m = 0;
    const char *p = s;

    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 4 && !strncmp(p, "insn", 4))
            m |= TRACE_INSN;
        else if (len == 3 && !strncmp(p, "exc", 3))
            m |= TRACE_EXC;
        else if (len == 4 && !strncmp(p, "exit", 4))
            m |= TRACE_EXIT;
        else
            return false;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *mask |= m;
    return true;
}

/* Options of `run` that take an argument. */
enum { OPT_APPEND, OPT_MEM, OPT_MAX_INSNS, OPT_TIMEOUT, OPT_TRACE,
       OPT_TRACE_FILE, OPT_SERIAL_FILE, OPT_NARG };
static const char *const opt_names[OPT_NARG] = {
    "--append", "--mem", "--max-insns", "--timeout", "--trace",
    "--trace-file", "--serial-file",
};

static bool apply_option(struct cli *cli, int opt, const char *arg, FILE *err)
{
    struct machine_options *o = &cli->opt;
    const char *name = opt_names[opt];
    uint64_t v = 0;

    switch (opt) {
    case OPT_APPEND: o->append = arg; return true;
    case OPT_TRACE_FILE: o->trace_file = arg; return true;
    case OPT_SERIAL_FILE: o->serial_file = arg; return true;
    case OPT_TRACE:
        if (cli_parse_trace(arg, &o->trace))
            return true;
        usage_error(cli, err, "%s: '%s' is not a list of insn, exc, exit", name, arg);
        return false;
    case OPT_MEM:
        if (!cli_parse_size(arg, &v) || v < MACHINE_MEM_MIN ||
            v > MACHINE_MEM_MAX || (v & 0xfff)) {
            usage_error(cli, err, "%s: invalid size '%s' (2M to 64G, a multiple of 4K)",
                        name, arg);
            return false;
        }
        o->mem_size = v;
        return true;
    default:
        if (!cli_parse_u64(arg, &v) || v == 0) {
            usage_error(cli, err, "%s: '%s' is not a positive integer", name, arg);
            return false;
        }
        if (opt == OPT_MAX_INSNS)
            o->max_insns = v;
        else
            o->timeout_sec = v;
        return true;
    }
}

/* Match "--name" or "--name=value"; *value is NULL for the first form. */
static int match_arg_option(const char *a, const char **value)
{
    for (int i = 0; i < OPT_NARG; i++) {
        size_t n = strlen(opt_names[i]);
        if (strncmp(a, opt_names[i], n))
            continue;
        if (a[n] == '\0' || a[n] == '=') {
            *value = a[n] == '=' ? a + n + 1 : NULL;
            return i;
        }
    }
    return -1;
}

/* One argument of `run` at argv[*i]; false when parsing must stop. */
static bool run_arg(struct cli *cli, int argc, char **argv, int *i,
                    bool *options_done, FILE *out, FILE *err)
{
    const char *a = argv[*i], *value;
    int opt;

    if (*options_done || a[0] != '-' || a[1] == '\0') {
        if (cli->opt.payload) {
            usage_error(cli, err, "unexpected argument '%s' (one payload only)", a);
            return false;
        }
        cli->opt.payload = a;
    } else if (!strcmp(a, "--")) {
        *options_done = true;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        fputs(run_help, out);
        cli->command = CLI_DONE;
        cli->status = 0;
        return false;
    } else if (!strcmp(a, "--bare")) {
        cli->opt.bare = true;
    } else if (!strcmp(a, "--stats")) {
        cli->opt.stats = true;
    } else if ((opt = match_arg_option(a, &value)) >= 0) {
        if (!value) {
            if (*i + 1 >= argc) {
                usage_error(cli, err, "option '%s' needs an argument", a);
                return false;
            }
            value = argv[++*i];
        }
        return apply_option(cli, opt, value, err);
    } else {
        usage_error(cli, err, "unknown option '%s' for 'run'", a);
        return false;
    }
    return true;
}

static void parse_run(int argc, char **argv, struct cli *cli, FILE *out,
                      FILE *err)
{
    bool options_done = false;
    for (int i = 2; i < argc; i++)
        if (!run_arg(cli, argc, argv, &i, &options_done, out, err))
            return;
    cli->command = CLI_RUN;
}

/* check: the options of run; the payload is required, the mode is both. */
static void parse_check(int argc, char **argv, struct cli *cli, FILE *out,
                        FILE *err)
{
    parse_run(argc, argv, cli, out, err);
    if (cli->command != CLI_RUN)
        return;
    if (!cli->opt.payload)
        usage_error(cli, err, "check needs a PAYLOAD");
    else if (cli->opt.bare)
        usage_error(cli, err, "check runs PAYLOAD both ways: --bare is not an option of check");
    else
        cli->command = CLI_CHECK;
}

void cli_parse(int argc, char **argv, struct cli *cli, FILE *out, FILE *err)
{
    memset(cli, 0, sizeof(*cli));
    cli->command = CLI_DONE;
    cli->opt.mem_size = MACHINE_MEM_DEFAULT;

    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (!cmd) {
        usage_error(cli, err, "missing command (did you mean 'nsvm run'?)");
    } else if (!strcmp(cmd, "run")) {
        parse_run(argc, argv, cli, out, err);
    } else if (!strcmp(cmd, "check")) {
        parse_check(argc, argv, cli, out, err);
    } else if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
               !strcmp(cmd, "help")) {
        fputs(main_help, out);
    } else if (!strcmp(cmd, "--version")) {
        fputs("nsvm " NSVM_VERSION "\n", out);
    } else if (cmd[0] == '-') {
        usage_error(cli, err, "unknown option '%s'", cmd);
    } else {
        usage_error(cli, err, "unknown command '%s'", cmd);
    }
}
