#!/usr/bin/env bash
# Quick-start command 2 (and what .ci/run calls): installs what is needed,
# then runs every test for the three crypto providers (bearssl, sodium,
# openssl), first built by zig cc and then by clang with ASan+UBSan. Prints one closing line
# "cdtls: N passed, N failed" summed over all runs; exits non-zero if any
# test failed or any step broke.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh || exit 1

log=$(mktemp)
# One set of test certificates for every run (tests/x509/make-certs.sh, the
# suites' setups use it rather than making their own per test: 1-2 s each,
# hundreds of times), and the Go interop peers built once (each test of
# their suites would run `go build`; tests/test_util.h).
certs=$(mktemp -d /tmp/cdtls-certs-XXXXXX)
trap 'rm -f "$log"; rm -rf "$certs"' EXIT
if tests/x509/make-certs.sh "$certs" > /dev/null; then
  export CDTLS_TEST_CERTS="$certs"
else
  echo "=== make-certs.sh failed: each suite makes its own certificates"
fi
mkdir -p "$root/zig-out"
if command -v go > /dev/null &&
   (cd tests/interop/pion && go build -o "$root/zig-out/pion-peer" .) &&
   (cd tests/interop/pion4 && go build -o "$root/zig-out/pion4-peer" .); then
  export CDTLS_TEST_GO_PEERS_BUILT=1
fi
status=0
timings=""
run() {
  echo "=== $*"
  local t0=$SECONDS
  if ! "$@" 2>&1 | tee -a "$log"; then
    echo "=== FAILED: $*"
    status=1
  fi
  # per-step wall time, printed at the end: CI has 2 cores and 90 minutes,
  # and the default run must stay under 40 minutes
  timings+="$(printf '%5ds  %s' $((SECONDS - t0)) "$*")"$'\n'
}

run scripts/check-core-purity.sh
run scripts/check-format.sh
run scripts/check-compilers.sh
run scripts/win-io-smoke.sh
run scripts/psk-only-check.sh
# The DTLS 1.3 interop peers from Debian's sources into .peers/ (issue 16,
# docs/interop.md "DTLS 1.3 peers"): wolfSSL ~1.5 min, NSS+NSPR ~3-5 min on
# 2 cores, nothing when cached; a peer that cannot be built is a skip of its
# tests (with the reason), not a failure of this step.
run scripts/build-peers.sh wolfssl
run scripts/build-peers.sh nss
# Cross-compilation (docs/portability.md): provider sources from Debian,
# the freestanding firmware image, the whole target matrix, and the unit
# tests of aarch64, s390x, 32-bit ARM (qemu-user) and Windows (wine64).
run scripts/fetch-provider-src.sh
run scripts/firmware-size.sh
run scripts/zig build cross --summary none
# Only cdtls_ names exported by libcdtls.so/.a (native and the cross ELF archives).
run scripts/check-symbols.sh
run scripts/cross-test.sh
# cdtls as a zig package: tests/zig-consumer built natively (runs a
# handshake), for aarch64-linux-musl and x86_64-windows-gnu, and from a
# fetched copy (docs/building.md, "As a zig package").
run scripts/zig-consumer-check.sh
# The benchmark charts still render from the committed results (seconds;
# skipped with the reason when matplotlib cannot be installed).
run scripts/bench.sh --charts-check
for crypto in bearssl sodium openssl; do
  run scripts/zig build test -Dcrypto="$crypto" --summary none
  run scripts/zig build test -Dcrypto="$crypto" -Dsanitize=address,undefined --summary none
  run scripts/tools-smoke.sh "$crypto"
  run scripts/capture-check.sh "$crypto"
done
run scripts/keylog-check.sh
# ThreadSanitizer over the worker-group tests (what worker threads share).
run scripts/tsan-workers.sh bearssl
# libFuzzer harnesses (docs/fuzzing.md): build, generate the seed corpora,
# replay them and the regression inputs, fuzz each harness 3 s.
run scripts/fuzz.sh smoke 3
# The OSS-Fuzz build (oss-fuzz/build.sh) as OSS-Fuzz runs it, libFuzzer with
# ASan and with UBSan, and every binary over its seed corpus (check_build).
run oss-fuzz/check.sh

# Criterion's closing line per run: "[====] Synthesis: Tested: T | Passing: P | Failing: F | Crashing: C",
# and the closing lines of our script checks (tools smoke test, tshark capture
# check, Windows io smoke test under wine64): "<name>[ (<provider>)]: N passed, N failed".
read -r passed failed < <( {
  sed -n 's/.*Synthesis: Tested: *\([0-9]*\) | Passing: *\([0-9]*\) | Failing: *\([0-9]*\) | Crashing: *\([0-9]*\).*/\2 \3 \4/p' "$log"
  # our own scripts: "<name>[ (<provider>)]: N passed, N failed"
  sed -n 's/^[a-z-]*\( ([a-z]*)\)\{0,1\}: \([0-9]*\) passed, \([0-9]*\) failed$/\2 \3 0/p' "$log"
} | awk '{p += $1; f += $2 + $3} END {print p + 0, f + 0}')
runs=$(grep -c 'Synthesis: Tested' "$log" || true)
# 3 providers x {plain, sanitized as two halves side by side} natively, and
# 2 providers x 4 emulated targets (openssl is native-only: build.zig's
# cross matrix has bearssl and sodium)
if [ "$runs" -lt 17 ]; then
  echo "expected 17 test-suite runs (3 providers x {native, 2 sanitized halves}, 2 providers x 4 emulated targets), saw $runs"
  status=1
fi
[ "$failed" -eq 0 ] || status=1
printf "=== wall time per step (total %ds)\n%s" "$SECONDS" "$timings"
echo "cdtls: $passed passed, $failed failed"
exit $status
