#!/usr/bin/env bash
# Runs every test suite nsvm has and ends with exactly one line:
#   N passed, M failed
# summed over all suites.  Exits 1 if anything failed.
#
#   unit tests   build/tests/unit/test_*   (cmocka; one program per file)
#   diff         build/tests/diff          (instructions vs. the host CPU)
#   payloads     tests/payloads.sh         (guest payloads under nsvm --bare)
#   payloads-nested                        (the same, as L1 under nsvm's L0)
#   agree        tests/agree.sh            (bare and nested output the same)
#   check-qemu   tests/check-qemu.sh       (the same payloads under QEMU TCG)
#
# Run `make check`, which builds everything first.  Each suite's output is
# shown as it runs and kept under build/test-logs/.
set -u
cd "$(dirname "$0")/.."

logdir=build/test-logs
mkdir -p "$logdir"
suite_timeout=${CHECK_SUITE_TIMEOUT:-1800}
total_passed=0
total_failed=0
summary=()

# add NAME PASSED FAILED NOTE
add() {
	total_passed=$((total_passed + $2))
	total_failed=$((total_failed + $3))
	summary+=("$(printf '%-28s %5d passed, %3d failed%s' "$1" "$2" "$3" "$4")")
}

# run NAME LOG CMD...: runs CMD with its output shown and logged; status.
run() {
	local name=$1 log=$2
	shift 2
	echo "=== $name"
	timeout "$suite_timeout" "$@" < /dev/null 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# A cmocka program: sums its "[  PASSED  ] n test(s)." and
# "[  FAILED  ] n test(s)" lines; a crash or missing summary is a failure.
run_cmocka() {
	local name=$1 bin=$2 log st p f note=""
	log="$logdir/${name//\//-}.log"
	run "$name" "$log" "$bin"; st=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$st" != 0 ] && [ "$f" = 0 ]; then
		f=1; note=" (exit status $st)"
	fi
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then
		f=1; note=" (no test results)"
	fi
	add "$name" "$p" "$f" "$note"
}

# A program or script that ends with "N passed, M failed".
run_counted() {
	local name=$1 log st line p=0 f=0 note=""
	log="$logdir/${name//\//-}.log"
	shift
	run "$name" "$log" "$@"; st=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed*}
	elif [ "$st" = 0 ]; then
		note=" (skipped: $(tail -n 1 "$log"))"
	fi
	if [ "$st" != 0 ] && [ "$f" = 0 ]; then
		f=1; note=" (exit status $st)"
	fi
	add "$name" "$p" "$f" "$note"
}

for bin in build/tests/unit/test_*; do
	[ -x "$bin" ] || continue
	run_cmocka "unit/$(basename "$bin")" "$bin"
done
if [ -x build/tests/diff ]; then
	run_counted diff build/tests/diff
elif compgen -G 'tests/diff/*.c' > /dev/null; then
	add diff 0 1 " (build/tests/diff missing)"
fi
if [ -f tests/payloads.sh ]; then
	run_counted payloads bash tests/payloads.sh --mode bare
	run_counted payloads-nested bash tests/payloads.sh --mode nested
fi
# bare and nested give each payload the same output and status (nsvm check)
[ -f tests/agree.sh ] && run_counted agree bash tests/agree.sh
[ -f tests/check-qemu.sh ] && run_counted check-qemu bash tests/check-qemu.sh
# --max-insns, --timeout, --mem, bad payloads: exit statuses and messages
[ -f tests/limits.sh ] && run_counted limits bash tests/limits.sh
# fuzz targets (ASan + UBSan): kept regressions and corpus replayed, and a
# short fixed-seed run of each
[ -f fuzz/run.sh ] && run_counted fuzz bash fuzz/run.sh --check

# --- sanitizers: the unit tests, the differential test and the payloads
# again, against the SANITIZE=1 build (build/san, ASan + UBSan).  A report
# aborts the program that made it, so its test fails; every report found in
# the logs afterwards also counts as one failure of san/reports.
san_reports() {
	grep -l -E 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' \
		"$@" 2>/dev/null
}
san_check() {
	local bin files=()
	export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
	for bin in build/san/tests/unit/test_*; do
		[ -x "$bin" ] || continue
		run_cmocka "san/unit/$(basename "$bin")" "$bin"
	done
	[ -x build/san/tests/diff ] && run_counted san/diff build/san/tests/diff
	files+=($(san_reports "$logdir"/san-*.log))
	if [ -f tests/payloads.sh ]; then
		run_counted san/payloads bash tests/payloads.sh --mode bare \
			--nsvm build/san/nsvm
		files+=($(san_reports build/test-logs/payloads/bare/*.err))
		run_counted san/payloads-nested bash tests/payloads.sh \
			--mode nested --nsvm build/san/nsvm
		files+=($(san_reports build/test-logs/payloads/nested/*.err))
	fi
	if [ -f tests/limits.sh ]; then
		run_counted san/limits bash tests/limits.sh --nsvm build/san/nsvm
		files+=($(san_reports build/test-logs/limits/*.err))
	fi
	unset ASAN_OPTIONS UBSAN_OPTIONS
	if [ ${#files[@]} = 0 ]; then
		add san/reports 1 0 ""
	else
		echo "=== sanitizer reports"
		grep -h -A12 -E 'runtime error:|ERROR: [A-Za-z]+Sanitizer' "${files[@]}"
		add san/reports 0 ${#files[@]} " (in ${files[*]})"
	fi
}
if [ -x build/san/nsvm ]; then
	san_check
else
	add san 0 1 " (build/san missing: make check builds it with SANITIZE=1)"
fi

echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" = 0 ]
