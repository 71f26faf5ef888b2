#!/usr/bin/env bash
# Bare and nested must agree: runs `nsvm check` (the payload with --bare,
# then as L1 under nsvm's L0) on every guest test payload and passes a
# payload when its serial output and exit status are the same both ways
# (DESIGN.md: nesting is architecturally invisible).
#
# usage: tests/agree.sh [--filter GLOB] [--nsvm PATH]
#
# Payloads that exist to see L0 itself (its hypercalls) differ by design;
# they are listed below with the reason and must NOT agree: if one ever
# does, L0 stopped offering what it tests, and that is a failure too.
# Prints `ok NAME` / `not ok NAME (reason)`, then `N passed, M failed`.
set -u
cd "$(dirname "$0")/.."

nsvm=${NSVM:-build/nsvm}
filter="*"
timeout_s=120

# NAME:reason — differ by design
by_design=(
	"nested_hypercall:hypercalls exist only under L0 (bare: VMMCALL is #UD, the tests skip)"
)

while [ $# -gt 0 ]; do
	case "$1" in
	--filter) filter=${2:?}; shift 2 ;;
	--nsvm) nsvm=${2:?}; shift 2 ;;
	*) echo "agree.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
if [ ! -x "$nsvm" ]; then
	echo "agree.sh: $nsvm not found (run make first)" >&2
	exit 2
fi

differs_by_design() {
	local e
	for e in "${by_design[@]}"; do
		[ "${e%%:*}" = "$1" ] && return 0
	done
	return 1
}

logdir=build/test-logs/agree
mkdir -p "$logdir"
passed=0
failed=0
for payload in build/guest/tests/*.elf; do
	[ -e "$payload" ] || continue
	name=$(basename "$payload" .elf)
	# shellcheck disable=SC2053  # glob match on purpose
	[[ $name == $filter ]] || continue
	log="$logdir/$name.log"
	append=()
	[ -f "tests/expect/$name.append" ] &&
		append=(--append "$(tr -d '\n' < "tests/expect/$name.append")")
	timeout "$timeout_s" "$nsvm" check "${append[@]}" "$payload" > "$log" 2>&1 < /dev/null
	st=$?
	if differs_by_design "$name"; then
		if [ "$st" = 1 ]; then
			echo "ok $name (differs by design)"
			passed=$((passed + 1))
		else
			echo "not ok $name (listed as differing by design, but check gave status $st)"
			failed=$((failed + 1))
		fi
	elif [ "$st" = 0 ]; then
		echo "ok $name"
		passed=$((passed + 1))
	else
		why=$(grep -m1 -A2 'differs' "$log" | tr '\n' ' ' | sed 's/  */ /g')
		echo "not ok $name (status $st: ${why:-see $log})"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
