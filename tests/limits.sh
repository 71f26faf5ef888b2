#!/usr/bin/env bash
# nsvm's limits: a guest that never ends by itself (guest/tests/limits_spin.c,
# in L1 and in L2, bare and nested), a bad payload, bad options and the RAM
# size must all end with their documented exit status and stderr line.
#
# usage: tests/limits.sh [--nsvm PATH]
#
# Prints `ok NAME` / `not ok NAME (reason)` per case, then
# `N passed, M failed`; exits 1 if any failed.  Logs: build/test-logs/limits/.
set -u
cd "$(dirname "$0")/.."

nsvm=${NSVM:-build/nsvm}
if [ "${1:-}" = --nsvm ]; then
	nsvm=${2:?}
fi
spin=build/guest/tests/limits_spin.elf
logdir=build/test-logs/limits
mkdir -p "$logdir"
# A case that takes longer than this has hung: nsvm's own limits failed.
guard_s=60

for f in "$nsvm" "$spin"; do
	if [ ! -e "$f" ]; then
		echo "limits.sh: $f not found (run make first)" >&2
		exit 2
	fi
done

passed=0
failed=0

# expect NAME STATUS REGEX NSVM-ARGS...: REGEX must match a line of stderr,
# or of stdout if it starts with "stdout:".
expect() {
	local name=$1 want=$2 regex=$3 st log stream=err
	shift 3
	if [ "${regex#stdout:}" != "$regex" ]; then
		regex=${regex#stdout:}
		stream=out
	fi
	log="$logdir/${name//[^A-Za-z0-9_.-]/_}"
	timeout "$guard_s" "$nsvm" "$@" > "$log.out" 2> "$log.err" < /dev/null
	st=$?
	if [ "$st" = 124 ]; then
		echo "not ok $name (hung: killed after ${guard_s}s)"
		failed=$((failed + 1))
	elif [ "$st" != "$want" ]; then
		echo "not ok $name (exit status $st, expected $want: $(head -c 200 "$log.err"))"
		failed=$((failed + 1))
	elif ! grep -Eq "$regex" "$log.$stream"; then
		echo "not ok $name (std$stream does not match '$regex': $(head -c 200 "$log.$stream"))"
		failed=$((failed + 1))
	else
		echo "ok $name"
		passed=$((passed + 1))
	fi
}

budget='^nsvm: instruction budget of 100000 exhausted at RIP 0x'
timeout_line='^nsvm: timeout of 1 s expired at RIP 0x'
halted='^nsvm: guest halted.*interrupts disabled'
mem_ok='stdout:^SUMMARY: 3 tests, 0 unexpected failures'

for mode in bare nested; do
	m=()
	[ "$mode" = bare ] && m=(--bare)
	# 1: L1 loop, 2: L2 loop, 3: L1 exception livelock, 4: L2 livelock,
	# 7: L1 REP MOVSB over open bus, 8: L2 REP LODSQ over open bus
	for s in 1 2 3 4 7 8; do
		expect "$mode spin=$s --max-insns" 128 "$budget" \
			run "${m[@]}" --max-insns 100000 --append "spin=$s" "$spin"
		expect "$mode spin=$s --timeout" 129 "$timeout_line" \
			run "${m[@]}" --timeout 1 --append "spin=$s" "$spin"
	done
	expect "$mode spin=2 --timeout with --max-insns" 129 "$timeout_line" \
		run "${m[@]}" --timeout 1 --max-insns 100000000000 \
		--append "spin=2" "$spin"
	expect "$mode HLT with interrupts off" 131 "$halted" \
		run "${m[@]}" --append "spin=5" "$spin"
	expect "$mode --mem 16M is the RAM the guest sees" 0 "$mem_ok" \
		run "${m[@]}" --mem 16M --append "spin=6 memkb=16384" "$spin"
	expect "$mode --mem 6M is the RAM the guest sees" 0 "$mem_ok" \
		run "${m[@]}" --mem 6M --append "spin=6 memkb=6144" "$spin"
done

# nsvm check runs both modes under the same limits (and they agree).
expect "check spin=2 --max-insns" 0 "$budget" \
	check --max-insns 100000 --append "spin=2" "$spin"

# RAM too small for the payload (linked at 4 MiB): refused before it runs.
expect "--mem 2M: payload outside RAM" 126 'lies outside guest RAM' \
	run --mem 2M "$spin"
expect "--mem below the minimum" 125 '^nsvm: .*--mem' run --mem 1M "$spin"
expect "--mem above the maximum" 125 '^nsvm: .*--mem' run --mem 65G "$spin"
expect "--mem not a multiple of 4K" 125 '^nsvm: .*--mem' run --mem 4097K "$spin"
expect "--max-insns not a number" 125 '^nsvm: .*--max-insns' \
	run --max-insns 12x "$spin"
expect "--timeout negative" 125 '^nsvm: .*--timeout' run --timeout -1 "$spin"

# Payloads that are not multiboot kernels.
head -c 4096 /dev/urandom > "$logdir/random.bin"
: > "$logdir/empty.bin"
expect "payload missing" 126 '^nsvm: ' run "$logdir/no-such-file"
expect "payload empty" 126 '^nsvm: ' run "$logdir/empty.bin"
expect "payload random bytes" 126 '^nsvm: ' run "$logdir/random.bin"
expect "payload a directory" 126 '^nsvm: ' run "$logdir"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
