#!/usr/bin/env bash
# Cross-compiled unit tests, run under emulators (docs/portability.md):
#   aarch64-linux-musl, s390x-linux-musl (big-endian), arm-linux-musleabihf
#   (32-bit) under qemu-user; x86_64-windows-gnu under wine64; each with
#   both providers, compiled from the Debian upstream sources in third_party/
#   (scripts/fetch-provider-src.sh). Tests use the Criterion shim
#   (tests/shim/), whose closing line scripts/test.sh counts.
#
#   scripts/cross-test.sh                  every target above
#   scripts/cross-test.sh s390x-linux-musl one target (also riscv64-linux-musl under
#                                          qemu-riscv64, x86_64-linux-musl/-gnu natively)
#
# Each run prints Criterion's closing line (scripts/test.sh sums those); the
# last line is "cross-test: N of M runs passed". Exits non-zero when any run
# fails or cannot be built.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/fetch-provider-src.sh || exit 1

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-linux-musl s390x-linux-musl arm-linux-musleabihf x86_64-windows-gnu)
out="$root/zig-out/cross-test"
certs=$(mktemp -d /tmp/cdtls-xcerts-XXXXXX)
trap 'rm -rf "$certs"' EXIT
passed=0
failed=0
for t in "${targets[@]}"; do
  case "$t" in
    aarch64-linux*) emu=(qemu-aarch64); name=qemu-aarch64 ;;
    s390x-linux*) emu=(qemu-s390x); name=qemu-s390x ;;
    arm-linux*) emu=(qemu-arm); name=qemu-arm ;;
    riscv64-linux*) emu=(qemu-riscv64); name=qemu-riscv64 ;;
    x86_64-linux*) emu=(env); name=native ;; # runs here; built like the others (musl/glibc from zig)
    x86_64-windows*)
      wine=/usr/lib/wine/wine64
      [ -x "$wine" ] || wine=$(command -v wine64 || echo wine64)
      emu=("$wine"); name=wine64 ;;
    *) echo "cross-test: no emulator known for $t"; failed=$((failed + 1)); continue ;;
  esac
  command -v "${emu[0]}" >/dev/null || { echo "cross-test: ${emu[0]} missing (scripts/setup.sh installs qemu-user and wine64)"; failed=$((failed + 1)); continue; }
  for crypto in bearssl sodium; do
    prefix="$out/$t-$crypto"
    mkdir -p "$out"
    echo "=== cross-test: $t $crypto (build)"
    # ReleaseSafe: optimised (emulation is slow) with every safety check kept
    # (zig cc builds C with UBSan traps in this mode).
    if ! scripts/zig build -Dtarget="$t" -Dcrypto="$crypto" -Doptimize=ReleaseSafe --prefix "$prefix" --summary none \
         > "$out/build.log" 2>&1; then
      grep -E 'error' "$out/build.log" | cut -c1-300 | head -n 20
      echo "cross-test: $t $crypto: build FAILED"
      failed=$((failed + 1))
      continue
    fi
    exe="$prefix/bin/cdtls-tests-$crypto"
    [ -e "$exe.exe" ] && exe="$exe.exe"
    echo "=== cross-test: $t $crypto (tests under $name)"
    # Certificates made once here for every run (wine has no shell or
    # openssl to make them; under qemu it saves an RSA key generation per
    # test).
    [ -e "$certs/leaf.der" ] || tests/x509/make-certs.sh "$certs" >/dev/null || exit 1
    env=(CDTLS_TEST_CERTS="$certs")
    [ "$name" = native ] || env+=(CDTLS_TEST_EMULATOR="$name")
    [ "$name" = wine64 ] && env+=(WINEPREFIX="$root/.wine" WINEDEBUG=-all)
    log=$(mktemp)
    env "${env[@]}" timeout 1200 "${emu[@]}" "$exe" 2>&1 | tr -d '\r' | grep -v '^wine: ' | tee "$log" |
      grep -E '^\[(FAIL|CRASH|----)\]|Synthesis|Skipped:'
    status=${PIPESTATUS[0]}
    if [ "$status" -eq 0 ] && grep -q 'Synthesis: .*Failing: 0 ' "$log"; then
      passed=$((passed + 1))
    else
      echo "cross-test: $t $crypto: tests FAILED (status $status)"
      failed=$((failed + 1))
    fi
    rm -f "$log"
  done
done
echo "cross-test: $passed of $((passed + failed)) runs passed"
[ "$failed" -eq 0 ]
