#!/usr/bin/env bash
# Compares every guest test payload under QEMU TCG with nsvm.
#
# usage: tests/check-qemu.sh [--mode bare|nested] [--nsvm-args "ARGS"]
#                            [--filter GLOB] [--nsvm PATH]
#
# For each build/guest/tests/NAME.elf the sets of PASS:/FAIL:/SKIP: lines
# and the exit status must be the same under both. A FAIL under QEMU of a
# test listed in tests/qemu-deviations.md as `- NAME: TESTNAME: why` is a
# known QEMU deviation: it is reported as `known deviation NAME: TESTNAME`
# and that test is left out of the comparison, as is a test QEMU or nsvm
# skipped (`skipped under qemu|nsvm NAME: N tests`). A payload listed as
# `- NAME: (whole payload): why` is not run under QEMU. Prints `ok NAME` /
# `not ok NAME (diff)` per payload, then `N passed, M failed`.
set -u

if ! command -v qemu-system-x86_64 > /dev/null 2>&1; then
	echo "check-qemu: qemu-system-x86_64 not installed, skipping the QEMU comparison"
	exit 0
fi

mode=bare
nsvm_args=""
filter="*"
nsvm=${NSVM:-build/nsvm}
deviations=${QEMU_DEVIATIONS:-tests/qemu-deviations.md}

while [ $# -gt 0 ]; do
	case "$1" in
	--mode) mode=${2:?}; shift 2 ;;
	--nsvm-args) nsvm_args=${2?}; shift 2 ;;
	--filter) filter=${2:?}; shift 2 ;;
	--nsvm) nsvm=${2:?}; shift 2 ;;
	*) echo "check-qemu: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case "$mode" in
bare) mode_args=(--bare) ;;
nested) mode_args=() ;;
*) echo "check-qemu: --mode must be bare or nested" >&2; exit 2 ;;
esac
if [ ! -x "$nsvm" ]; then
	echo "check-qemu: $nsvm not found (run make first)" >&2
	exit 2
fi

logdir=build/test-logs/qemu/$mode
mkdir -p "$logdir"

run_qemu() {
	timeout 120 qemu-system-x86_64 -accel tcg -cpu max,+svm -m 256 \
		-nographic -nodefaults -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot \
		-kernel "$1" "${qemu_append[@]}" < /dev/null > "$2" 2> "$2.err"
	local rc=$?
	# QEMU exits with status << 1 | 1 from port 0xf4, and with 0 when
	# -no-reboot turns a triple fault (reset) into an exit.
	case $rc in
	0) echo 127 ;;                  # nsvm's triple-fault status
	124) echo timeout ;;
	*) if [ $((rc & 1)) = 1 ]; then echo $(((rc - 1) / 2)); else echo "qemu-error-$rc"; fi ;;
	esac
}

run_nsvm() {
	# shellcheck disable=SC2086  # nsvm_args is split on purpose
	timeout 120 "$nsvm" run "${mode_args[@]}" $nsvm_args "${nsvm_append[@]}" "$1" \
		< /dev/null > "$2" 2> "$2.err"
	local rc=$?
	if [ $rc = 124 ]; then echo timeout; else echo $rc; fi
}

# The report lines of an output, one per line, sorted. QEMU's firmware
# prints without a final newline, so lines are not anchored.
report_lines() {
	tr -d '\r' < "$1" | grep -oE '(PASS|FAIL|SKIP): .*' | sort -u
}

# is_known_deviation NAME "FAIL: TESTNAME (details)" -> prints TESTNAME
is_known_deviation() {
	local name=$1 line=${2#FAIL: } entry test
	[ -f "$deviations" ] || return 1
	while IFS= read -r entry; do
		entry=${entry#- "$name": }
		test=${entry%%: *}
		# the listed test name may itself contain ": ", so try each prefix
		while :; do
			if [ "$line" = "$test" ] || [[ $line == "$test ("* ]]; then
				echo "$test"
				return 0
			fi
			[ "$test" = "$entry" ] && break
			local rest=${entry#"$test": }
			[ "$rest" = "$entry" ] && break
			test="$test: ${rest%%: *}"
		done
	done < <(grep -F -- "- $name: " "$deviations")
	return 1
}

# Removes every line about TESTNAME from a list file.
drop_test() {
	local t=$1 f=$2
	awk -v t="$t" '{ s = $0; sub(/^(PASS|FAIL|SKIP): /, "", s);
		if (s == t || index(s, t " (") == 1) next; print }' "$f" > "$f.tmp"
	mv "$f.tmp" "$f"
}

# drop_skipped FROM OTHER SIDE: removes the tests FROM skipped from both
# lists and says how many.
drop_skipped() {
	local from=$1 other=$2 side=$3 line t skipped=0
	while IFS= read -r line; do
		t=${line#SKIP: }
		t=${t% (*}
		drop_test "$t" "$from"
		drop_test "$t" "$other"
		skipped=$((skipped + 1))
	done < <(grep '^SKIP: ' "$from")
	[ "$skipped" = 0 ] || echo "skipped under $side $name: $skipped tests"
}

# drop_unmatched FROM OTHER: removes from FROM the tests OTHER does not have.
drop_unmatched() {
	local from=$1 other=$2
	sed -E 's/^(PASS|FAIL|SKIP): //; s/ \(.*//' "$other" | sort -u > "$other.names"
	awk 'NR == FNR { have[$0] = 1; next }
	     { s = $0; sub(/^(PASS|FAIL|SKIP): /, "", s); sub(/ \(.*/, "", s);
	       if (s in have) print }' "$other.names" "$from" > "$from.tmp"
	mv "$from.tmp" "$from"
}

passed=0
failed=0
for payload in build/guest/tests/*.elf; do
	[ -e "$payload" ] || continue
	name=$(basename "$payload" .elf)
	# shellcheck disable=SC2053
	[[ $name == $filter ]] || continue
	q="$logdir/$name.qemu" n="$logdir/$name.nsvm"
	# `- NAME: (whole payload): why` in the list: QEMU cannot run it
	if grep -q "^- $name: (whole payload): " tests/qemu-deviations.md; then
		echo "known deviation $name: (whole payload)"
		continue
	fi
	# tests/expect/NAME.append: the command line (-append / --append)
	qemu_append=() nsvm_append=()
	if [ -f "tests/expect/$name.append" ]; then
		a=$(tr -d '\n' < "tests/expect/$name.append")
		qemu_append=(-append "$a") nsvm_append=(--append "$a")
	fi
	qst=$(run_qemu "$payload" "$q")
	nst=$(run_nsvm "$payload" "$n")
	report_lines "$q" > "$q.lines"
	report_lines "$n" > "$n.lines"
	known=0
	while IFS= read -r line; do
		if t=$(is_known_deviation "$name" "$line"); then
			echo "known deviation $name: $t"
			drop_test "$t" "$q.lines"
			drop_test "$t" "$n.lines"
			known=$((known + 1))
		fi
	done < <(grep '^FAIL: ' "$q.lines")
	# A test skipped on one side (a feature QEMU or nsvm does not offer)
	# has nothing to be compared with: it is left out on both sides.
	drop_skipped "$q.lines" "$n.lines" qemu
	if grep -q '^SKIP: ' "$n.lines"; then
		# nsvm skipped a feature it does not offer yet: the tests that
		# ran only under QEMU are left out too
		drop_skipped "$n.lines" "$q.lines" nsvm
		drop_unmatched "$q.lines" "$n.lines"
	fi
	# The status of a payload that returns report_summary() counts the
	# known failures too (or is 1): without other failures it is a pass.
	if [ "$known" != 0 ] && ! grep -q '^FAIL' "$q.lines" &&
	   { [ "$qst" = "$known" ] || [ "$qst" = 1 ]; }; then
		qst=0
	fi
	diff=$(diff "$q.lines" "$n.lines" | grep '^[<>]' | sed 's/^</qemu:/; s/^>/nsvm:/' | head -5 | paste -sd ';' -)
	if [ -n "$diff" ]; then
		echo "not ok $name ($diff)"
		failed=$((failed + 1))
	elif [ "$qst" != "$nst" ]; then
		echo "not ok $name (exit status: qemu $qst, nsvm $nst)"
		failed=$((failed + 1))
	else
		echo "ok $name"
		passed=$((passed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
