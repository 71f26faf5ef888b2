#!/usr/bin/env bash
# Runs the fuzz targets (build/fuzz/fuzz_*, built by `make fuzz-build`).
#
# usage: fuzz/run.sh --check [TARGET...]   what make check runs
#        fuzz/run.sh --fuzz [TARGET...]    what make fuzz runs
#
# --check  for each target: replays every input kept in fuzz/regressions/T/
#          (crashes found and fixed) and fuzz/corpus/T/, then fuzzes with a
#          fixed seed for FUZZ_RUNS executions (default 2000); prints
#          `ok`/`not ok` per step and `N passed, M failed`.
# --fuzz   for each target: fuzzes for FUZZ_SECONDS (default 60), starting
#          from fuzz/corpus/T/; the grown corpus goes to build/fuzz/corpus/T/
#          and anything found to build/fuzz/artifacts/T/.  Prints the
#          executions and what was found per target.
# TARGET is a name such as l1_code (all targets when none is given).
set -u
cd "$(dirname "$0")/.."

mode=${1:-}
shift || true
case "$mode" in
--check|--fuzz) ;;
*) sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
esac

targets=("$@")
if [ ${#targets[@]} = 0 ]; then
	for src in fuzz/fuzz_*.c; do
		t=$(basename "$src" .c)
		targets+=("${t#fuzz_}")
	done
fi

# Each input must finish in seconds: the instruction budget bounds it, so
# a slow one is a hang.  Leaks count as failures too.
common=(-timeout=20 -rss_limit_mb=4096 -detect_leaks=1 -print_final_stats=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
logdir=build/test-logs/fuzz
mkdir -p "$logdir"
passed=0
failed=0

result() {   # result OK NAME [REASON]
	if [ "$1" = 0 ]; then
		echo "ok $2"
		passed=$((passed + 1))
	else
		echo "not ok $2 (${3:-failed}; see $logdir)"
		failed=$((failed + 1))
	fi
}

# replay T DIR: every file in DIR once.
replay() {
	local bin=$1 t=$2 dir=$3 files st
	files=("$dir"/*)
	[ -e "${files[0]}" ] || return 0
	"$bin" "${common[@]}" "${files[@]}" > "$logdir/$t-$(basename "$dir").log" 2>&1
	st=$?
	result "$st" "$t: replay $dir (${#files[@]} inputs)" "exit status $st"
}

check_target() {
	local t=$1 bin=build/fuzz/fuzz_$1 scratch st
	replay "$bin" "$t" "fuzz/regressions/$t"
	replay "$bin" "$t" "fuzz/corpus/$t"
	scratch=$(mktemp -d)
	"$bin" "${common[@]}" -seed=1 -runs="${FUZZ_RUNS:-2000}" "$scratch" \
		$( [ -d "fuzz/corpus/$t" ] && echo "fuzz/corpus/$t" ) \
		> "$logdir/$t-seed1.log" 2>&1
	st=$?
	rm -rf "$scratch"
	result "$st" "$t: -seed=1 -runs=${FUZZ_RUNS:-2000}" "exit status $st"
}

fuzz_target() {
	local t=$1 bin=build/fuzz/fuzz_$1 corpus=build/fuzz/corpus/$1
	local art=build/fuzz/artifacts/$1/ log=$logdir/$1-fuzz.log st runs
	mkdir -p "$corpus" "$art"
	[ -d "fuzz/corpus/$t" ] && cp -n "fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null
	echo "=== $t: fuzzing for ${FUZZ_SECONDS:-60} s"
	"$bin" "${common[@]}" -max_total_time="${FUZZ_SECONDS:-60}" \
		-artifact_prefix="$art" "$corpus" > "$log" 2>&1
	st=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	echo "$t: ${runs:-?} executions in ${FUZZ_SECONDS:-60} s, corpus $(ls "$corpus" | wc -l) inputs"
	result "$st" "$t: nothing found" "found something in $art (exit status $st)"
}

for t in "${targets[@]}"; do
	if [ ! -x "build/fuzz/fuzz_$t" ]; then
		result 1 "$t" "build/fuzz/fuzz_$t missing: make fuzz-build"
		continue
	fi
	if [ "$mode" = --check ]; then
		check_target "$t"
	else
		fuzz_target "$t"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
