#!/usr/bin/env bash
# Installs the Debian packages nsvm needs to build and test, and only those
# that are missing: a machine that has them all is left untouched (no
# apt-get call at all).
#
#   gcc, make, binutils   build nsvm and the guest payloads
#   libzydis-dev          the x86 decoder and formatter nsvm is built on
#   libcmocka-dev         unit tests
#   qemu-system-x86       the external oracle (make check-qemu, make bench)
#   clang                 fuzzing builds (libFuzzer)
#   libclang-rt-dev       libFuzzer and the sanitizer runtimes for clang
#                         (only recommended by clang, so named here)
set -euo pipefail

packages=(gcc make binutils libc6-dev libzydis-dev libcmocka-dev
          qemu-system-x86 clang libclang-rt-dev)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "deps: missing packages (${missing[*]}); run as root:" \
		     "apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
