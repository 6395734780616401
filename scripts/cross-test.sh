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
# Builds go through `zig build cross-<target>` (zig-out/cross/); the emulated
# runs go two at a time (CDTLS_CROSS_JOBS), their output shown in order after.
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
mkdir -p "$out"
certs=$(mktemp -d /tmp/cdtls-xcerts-XXXXXX)
trap 'rm -rf "$certs"' EXIT
# Certificates made once here for every run (wine has no shell or openssl to
# make them; under qemu it saves an RSA key generation per test).
tests/x509/make-certs.sh "$certs" >/dev/null || exit 1
# Emulated runs at a time: each test binary runs its tests one after another
# on one core (the shim has no parallel runner), so CI's 2 cores take two.
jobs=${CDTLS_CROSS_JOBS:-2}
passed=0
failed=0
runs=()   # "target crypto emulator-name exe"
for t in "${targets[@]}"; do
  case "$t" in
    aarch64-linux*) name=qemu-aarch64 ;;
    s390x-linux*) name=qemu-s390x ;;
    arm-linux*) name=qemu-arm ;;
    riscv64-linux*) name=qemu-riscv64 ;;
    x86_64-linux*) name=native ;; # runs here; built like the others (musl/glibc from zig)
    x86_64-windows*) name=wine64 ;;
    *) echo "cross-test: no emulator known for $t"; failed=$((failed + 1)); continue ;;
  esac
  emu=$name
  if [ "$name" = wine64 ]; then
    emu=/usr/lib/wine/wine64
    [ -x "$emu" ] || emu=$(command -v wine64 || echo wine64)
  fi
  [ "$name" = native ] || command -v "$emu" >/dev/null ||
    { echo "cross-test: $emu missing (scripts/setup.sh installs qemu-user and wine64)"; failed=$((failed + 1)); continue; }
  echo "=== cross-test: $t (build: zig build cross-$t)"
  # ReleaseSafe (build.zig's matrix): optimised (emulation is slow) with every
  # safety check kept (zig cc builds C with UBSan traps in this mode). After
  # `zig build cross` (scripts/test.sh) the objects are in the cache.
  if ! scripts/zig build "cross-$t" --summary none > "$out/build-$t.log" 2>&1; then
    grep -E 'error' "$out/build-$t.log" | cut -c1-300 | head -n 20
    echo "cross-test: $t: build FAILED"
    failed=$((failed + 2))
    continue
  fi
  for crypto in bearssl sodium; do
    exe="$root/zig-out/cross/$t-$crypto/cdtls-tests-$crypto"
    [ -e "$exe.exe" ] && exe="$exe.exe"
    runs+=("$t $crypto $name $emu $exe")
  done
done

# One run: its whole output into $out/<target>-<crypto>.log, its exit status
# into .status.
run_one() {
  local t=$1 crypto=$2 name=$3 emu=$4 exe=$5
  local env=(CDTLS_TEST_CERTS="$certs")
  [ "$name" = native ] || env+=(CDTLS_TEST_EMULATOR="$name")
  [ "$name" = wine64 ] && env+=(WINEPREFIX="$root/.wine" WINEDEBUG=-all)
  local launcher=()
  [ "$name" = native ] || launcher=("$emu")
  env "${env[@]}" timeout 1200 "${launcher[@]}" "$exe" > "$out/$t-$crypto.log" 2>&1
  echo $? > "$out/$t-$crypto.status"
}

pids=()
for r in "${runs[@]}"; do
  read -r t crypto name emu exe <<< "$r"
  rm -f "$out/$t-$crypto.status"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  echo "=== cross-test: $t $crypto (tests under $name, started)"
  run_one "$t" "$crypto" "$name" "$emu" "$exe" &
  pids+=($!)
done
wait

# The results in a fixed order, whatever order the runs ended in.
for r in "${runs[@]}"; do
  read -r t crypto name emu exe <<< "$r"
  echo "=== cross-test: $t $crypto (tests under $name)"
  log="$out/$t-$crypto.log"
  tr -d '\r' < "$log" | grep -v '^wine: ' | grep -E '^\[(FAIL|CRASH|----)\]|Synthesis|Skipped:'
  status=$(cat "$out/$t-$crypto.status" 2>/dev/null || echo 255)
  if [ "$status" -eq 0 ] && tr -d '\r' < "$log" | grep -q 'Synthesis: .*Failing: 0 '; then
    passed=$((passed + 1))
  else
    echo "cross-test: $t $crypto: tests FAILED (status $status; whole output in $log)"
    failed=$((failed + 1))
  fi
done
echo "cross-test: $passed of $((passed + failed)) runs passed"
[ "$failed" -eq 0 ]
