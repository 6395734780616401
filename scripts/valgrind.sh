#!/usr/bin/env bash
# Runs the native unit and integration tests of each crypto provider under
# valgrind memcheck (docs/security.md): every memory error and every definite
# or indirect leak of a test process fails that test. Not part of
# scripts/test.sh: it takes far longer than the 5 minutes test.sh can spend
# on it (the numbers are in docs/security.md).
#
#   scripts/valgrind.sh [bearssl] [sodium] [openssl]   (default: all three)
#   VALGRIND_SUITES='hostile_peer engine_hostile' scripts/valgrind.sh bearssl
#
# Closing line per provider, counted by test.sh's summary format:
#   valgrind (<provider>): N passed, N failed
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

providers=("$@")
[ ${#providers[@]} -eq 0 ] && providers=(bearssl sodium openssl)

# Suites left out, and why (docs/security.md repeats this):
#  interop_*, pion: drive OpenSSL, GnuTLS and pion peers in other processes
#    with real-time deadlines; under valgrind's 20-50x slowdown our side
#    misses them, and those peers are not our code.
#  listener_scale: hundreds of handshakes over real sockets against a
#    wall-clock budget; the same engine paths run in the engine_* suites.
skip_re='^(interop_.*|pion|listener_scale)$'

vg_flags=(--tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
  --errors-for-leak-kinds=definite,indirect --error-exitcode=1
  # Criterion runs each test in a child that it execs: follow those, but not
  # the shells and openssl that make test certificates.
  --trace-children=yes --trace-children-skip='*/sh,*/bash,*/dash,*/openssl,*/certtool,*/gnutls-*,*/go'
  --num-callers=30)

status=0
for crypto in "${providers[@]}"; do
  prefix="zig-out/valgrind-$crypto"
  # -Dcpu=x86_64_v3: the default (native) build uses AVX-512 on this
  # machine, which valgrind 3.19 cannot decode (SIGILL). Being non-native,
  # the provider and Criterion must then be asked for explicitly.
  if ! scripts/zig build -Dcrypto="$crypto" -Dcpu=x86_64_v3 -Dprovider-source=system \
      -Dtest-runner=criterion --prefix "$prefix" --summary none; then
    echo "valgrind ($crypto): build failed"
    echo "valgrind ($crypto): 0 passed, 1 failed"
    status=1
    continue
  fi
  bin="$prefix/bin/cdtls-tests-$crypto"
  if [ -n "${VALGRIND_SUITES:-}" ]; then
    read -r -a suites <<<"$VALGRIND_SUITES"
  else
    mapfile -t suites < <("$bin" --list 2>/dev/null | sed -n 's/^\([a-z0-9_]*\): [0-9]* tests\{0,1\}$/\1/p')
  fi
  logs=$(mktemp -d)
  passed=0 failed=0 start=$(date +%s)
  for s in "${suites[@]}"; do
    if [[ $s =~ $skip_re ]]; then
      echo "=== valgrind ($crypto): $s skipped (see docs/security.md)"
      continue
    fi
    rm -f "$logs"/vg.*
    t0=$(date +%s)
    out=$(valgrind "${vg_flags[@]}" --log-file="$logs/vg.%p" "$bin" --jobs=1 --ascii \
      --filter "$s/*" 2>&1)
    syn=$(printf '%s\n' "$out" | sed -n 's/.*Synthesis: Tested: *\([0-9]*\) | Passing: *\([0-9]*\) | Failing: *\([0-9]*\) | Crashing: *\([0-9]*\).*/\1 \2 \3/p' | tail -1)
    if [ -z "$syn" ]; then
      echo "=== valgrind ($crypto): $s: no Criterion summary"
      printf '%s\n' "$out" | tail -20
      failed=$((failed + 1))
      continue
    fi
    read -r tested pass fail <<<"$syn"
    # Criterion reports a test before its process exits, so valgrind's
    # verdict (errors, leaks at exit) is read from each process's log.
    bad=0
    for f in "$logs"/vg.*; do
      [ -e "$f" ] || continue
      if grep -q 'ERROR SUMMARY: [1-9]' "$f"; then
        bad=$((bad + 1))
        echo "--- valgrind ($crypto): errors in $s ($(grep -o '[a-z0-9_]*_impl' "$f" | sort -u | tr '\n' ' '))"
        sed -n '/^==[0-9]*== [A-Z0-9]/,$p' "$f" | head -60
      fi
    done
    [ "$bad" -gt "$pass" ] && bad=$pass
    passed=$((passed + pass - bad))
    failed=$((failed + fail + bad))
    [ "$fail" -gt 0 ] && printf '%s\n' "$out" | grep -E '^\[(FAIL|----)\]' | head -20
    echo "=== valgrind ($crypto): $s: $tested tested, $((pass - bad)) clean, $((fail + bad)) failed ($(($(date +%s) - t0)) s)"
  done
  rm -rf "$logs"
  echo "valgrind ($crypto): $(($(date +%s) - start)) s"
  [ "$failed" -eq 0 ] || status=1
  echo "valgrind ($crypto): $passed passed, $failed failed"
done
exit $status
