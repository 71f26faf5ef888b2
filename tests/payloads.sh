#!/usr/bin/env bash
# Runs every guest test payload (build/guest/tests/*.elf) under nsvm.
#
# usage: tests/payloads.sh [--mode bare|nested] [--nsvm-args "ARGS"]
#                          [--filter GLOB] [--nsvm PATH]
#
# A payload passes when
#   - its exit status is the expected one: 0, or the name written in
#     tests/expect/NAME.status mapped through nsvm's exit-status table,
#   - its output has a SUMMARY line and no FAIL line,
#     (it runs with --append TEXT when tests/expect/NAME.append holds TEXT),
#   - a second run gives exactly the same output and status (determinism).
# Prints `ok NAME` / `not ok NAME (reason)` per payload, then
# `N passed, M failed`; exits 1 if any failed. Outputs are kept under
# build/test-logs/payloads/MODE/.
set -u

mode=bare
nsvm_args=""
filter="*"
nsvm=${NSVM:-build/nsvm}
timeout_s=60

usage() {
	sed -n '4,5p' "$0" | sed 's/^# *//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--mode) mode=${2:?}; shift 2 ;;
	--nsvm-args) nsvm_args=${2?}; shift 2 ;;
	--filter) filter=${2:?}; shift 2 ;;
	--nsvm) nsvm=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	*) echo "payloads.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
case "$mode" in
bare) mode_args=(--bare) ;;
nested) mode_args=() ;;
*) echo "payloads.sh: --mode must be bare or nested" >&2; exit 2 ;;
esac

# nsvm's exit statuses for its own outcomes (see README).
status_of_name() {
	case "$1" in
	usage) echo 125 ;;
	payload) echo 126 ;;
	triple-fault) echo 127 ;;
	budget) echo 128 ;;
	timeout) echo 129 ;;
	internal) echo 130 ;;
	halt) echo 131 ;;
	[0-9]*) echo "$1" ;;
	*) echo "invalid:$1" ;;
	esac
}

expected_status() {
	local f="tests/expect/$1.status"
	if [ -f "$f" ]; then
		status_of_name "$(tr -d ' \t\r\n' < "$f")"
	else
		echo 0
	fi
}

logdir=build/test-logs/payloads/$mode
mkdir -p "$logdir"

# tests/expect/NAME.append: the kernel command line the payload expects
append_args() {
	local f="tests/expect/$1.append"
	[ -f "$f" ] && append=(--append "$(tr -d '\n' < "$f")") || append=()
}

# run_once NAME PAYLOAD OUT -> exit status
run_once() {
	local append
	append_args "$1"
	# shellcheck disable=SC2086  # nsvm_args is split on purpose
	timeout "$timeout_s" "$nsvm" run "${mode_args[@]}" $nsvm_args \
		"${append[@]}" "$2" \
		> "$3" 2> "$3.err" < /dev/null
}

# check NAME PAYLOAD: prints the reason for a failure, nothing if ok
check() {
	local name=$1 payload=$2 out1="$logdir/$1.out" out2="$logdir/$1.out2"
	local want st1 st2
	want=$(expected_status "$name")
	run_once "$name" "$payload" "$out1"; st1=$?
	if [ "$st1" = 124 ]; then
		echo "timed out after ${timeout_s}s"; return
	fi
	if [ "$st1" != "$want" ]; then
		echo "exit status $st1, expected $want"; return
	fi
	if grep -q 'FAIL:' "$out1"; then
		echo "$(grep -m1 'FAIL:' "$out1" | tr -d '\r')"; return
	fi
	if ! grep -q '^SUMMARY:' "$out1"; then
		echo "no SUMMARY line"; return
	fi
	run_once "$name" "$payload" "$out2"; st2=$?
	if [ "$st2" != "$st1" ]; then
		echo "not deterministic: exit status $st1 then $st2"; return
	fi
	if ! cmp -s "$out1" "$out2"; then
		echo "not deterministic: output differs between two runs"; return
	fi
}

if [ ! -x "$nsvm" ]; then
	echo "payloads.sh: $nsvm not found (run make first)" >&2
	exit 2
fi

passed=0
failed=0
found=0
for payload in build/guest/tests/*.elf; do
	[ -e "$payload" ] || continue
	name=$(basename "$payload" .elf)
	# shellcheck disable=SC2053  # glob match on purpose
	[[ $name == $filter ]] || continue
	found=1
	reason=$(check "$name" "$payload")
	if [ -z "$reason" ]; then
		echo "ok $name"
		passed=$((passed + 1))
	else
		echo "not ok $name ($reason)"
		failed=$((failed + 1))
	fi
done
if [ "$found" = 0 ]; then
	echo "payloads.sh: no payload in build/guest/tests matches '$filter'" >&2
	exit 2
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
