#!/usr/bin/env bash
# make bench: guest instructions per second under nsvm, and the same
# payload's wall time under QEMU TCG (when installed), side by side.
#
# Each row is one call of `row NAME PAYLOAD [NSVM OPTION...]` (or of
# switch_row for world switches) at the bottom; add rows there.  nsvm's instruction count comes from --stats; times are wall
# clock (date +%s.%N) around the whole process, boot included.
#
# Environment: NSVM (default build/nsvm), QEMU (default
# qemu-system-x86_64), BENCH_APPEND (kernel command line of the compute
# row, e.g. iters=500 for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."

nsvm=${NSVM:-build/nsvm}
qemu=${QEMU:-qemu-system-x86_64}
logdir=build/bench
mkdir -p "$logdir"

if [ ! -x "$nsvm" ]; then
	echo "bench: $nsvm not found (run make first)" >&2
	exit 2
fi
have_qemu=0
if command -v "$qemu" > /dev/null 2>&1; then
	have_qemu=1
fi

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

printf '%-12s %14s %10s %12s %10s %14s\n' payload "guest insns" "nsvm s" \
	"nsvm Minsn/s" "qemu s" "qemu/nsvm time"

# row NAME PAYLOAD [NSVM OPTION...]
row() {
	local name=$1 payload=$2 append=${BENCH_APPEND:-}
	local out="$logdir/$name" t0 t1 st insns nsvm_s mips qemu_s=- ratio=- note=""
	shift 2

	t0=$(now)
	st=0
	"$nsvm" run "$@" --stats --append "$append" "$payload" \
		> "$out.nsvm.out" 2> "$out.nsvm.err" < /dev/null || st=$?
	t1=$(now)
	nsvm_s=$(elapsed "$t0" "$t1")
	insns=$(sed -n 's/^nsvm: stats: instructions retired: \([0-9][0-9]*\)$/\1/p' \
		"$out.nsvm.err" | head -n 1)
	insns=${insns:-0}
	mips=$(awk -v n="$insns" -v s="$nsvm_s" 'BEGIN { printf "%.1f", n / s / 1e6 }')
	[ "$st" = 0 ] || note="$note; nsvm exit status $st"

	if [ "$have_qemu" = 1 ]; then
		t0=$(now)
		st=0
		timeout 900 "$qemu" -accel tcg -cpu max -m 256 -nographic -nodefaults \
			-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
			-no-reboot -kernel "$payload" -append "$append" \
			> "$out.qemu.out" 2> "$out.qemu.err" < /dev/null || st=$?
		t1=$(now)
		qemu_s=$(elapsed "$t0" "$t1")
		ratio=$(awk -v q="$qemu_s" -v n="$nsvm_s" 'BEGIN { printf "%.2fx", q / n }')
		# QEMU exits (status << 1) | 1: 1 when the guest wrote 0.
		[ "$st" = 1 ] || note="$note; qemu exit status $st"
		# QEMU's firmware prints first: compare the tail of its output.
		tail -c "$(wc -c < "$out.nsvm.out")" "$out.qemu.out" |
			cmp -s - "$out.nsvm.out" ||
			note="$note; serial output differs from QEMU's"
	fi
	printf '%-12s %14s %10s %12s %10s %14s%s\n' "$name" "$insns" "$nsvm_s" \
		"$mips" "$qemu_s" "$ratio" "${note:+  (${note#; })}"
}

# The interpreter's speed: the payload directly on the CPU, as QEMU runs it.
row compute build/guest/bench/compute.elf --bare

# switch_row NAME PAYLOAD TRIPS [NSVM OPTION...]: world switches, as
# round trips per second (L2 VMMCALL -> #VMEXIT -> L1 -> VMRUN), boot
# included in the wall time.
switch_row() {
	local name=$1 payload=$2 trips=$3 out="$logdir/$1" t0 t1 st=0 nsvm_s
	local qemu_s=- qrate=- note=""
	shift 3
	t0=$(now)
	"$nsvm" run "$@" --append "iters=$trips" "$payload" \
		> "$out.nsvm.out" 2> "$out.nsvm.err" < /dev/null || st=$?
	t1=$(now)
	nsvm_s=$(elapsed "$t0" "$t1")
	[ "$st" = 0 ] || note="$note; nsvm exit status $st"
	if [ "$have_qemu" = 1 ] && [ "${name%-nested}" = "$name" ] &&
		[ "$name" != hypercall ]; then
		t0=$(now)
		st=0
		timeout 900 "$qemu" -accel tcg -cpu max,+svm -m 256 -nographic \
			-nodefaults -serial stdio \
			-device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot \
			-kernel "$payload" -append "iters=$trips" \
			> "$out.qemu.out" 2> "$out.qemu.err" < /dev/null || st=$?
		t1=$(now)
		qemu_s=$(elapsed "$t0" "$t1")
		qrate=$(awk -v n="$trips" -v s="$qemu_s" 'BEGIN { printf "%.2f", n / s / 1e6 }')
		[ "$st" = 1 ] || note="$note; qemu exit status $st"
	fi
	printf '%-18s %10s %10s %14s %10s %14s%s\n' "$name" "$trips" "$nsvm_s" \
		"$(awk -v n="$trips" -v s="$nsvm_s" 'BEGIN { printf "%.2f", n / s / 1e6 }')" \
		"$qemu_s" "$qrate" "${note:+  (${note#; })}"
}

printf '\n%-18s %10s %10s %14s %10s %14s\n' payload "trips" "nsvm s" \
	"nsvm Mtrips/s" "qemu s" "qemu Mtrips/s"
switch_row worldswitch build/guest/bench/worldswitch.elf 2000000 --bare
# reflected exits: L2 VMMCALL -> L0 -> #VMEXIT into vmcb12 -> L1 -> VMRUN
switch_row worldswitch-nested build/guest/bench/worldswitch.elf 1000000
# #UD round trips: L2 VMMCALL not intercepted, L1 intercepts #UD
switch_row udexit build/guest/bench/hv_udexit.elf 2000000 --bare
switch_row udexit-nested build/guest/bench/hv_udexit.elf 1000000
# hypercalls: L1 VMMCALL -> L0 -> L1 (nested only: elsewhere #UD)
switch_row hypercall build/guest/bench/hv_hypercall.elf 2000000

if [ "$have_qemu" = 0 ]; then
	echo "($qemu not installed: QEMU columns skipped; 'make deps' installs it)"
fi
echo "(qemu/nsvm time > 1 means nsvm is faster; logs in $logdir/)"
