#!/usr/bin/env bash
# What OSS-Fuzz's build and check_build do, without Docker (docs/fuzzing.md):
# oss-fuzz/build.sh runs with the variables OSS-Fuzz sets for libFuzzer +
# AddressSanitizer and for libFuzzer + UndefinedBehaviorSanitizer, $SRC
# holding this tree (the providers from the system: no upstream trees here),
# $OUT a fresh directory; then every binary in $OUT must have its
# <name>_seed_corpus.zip, .dict and .options, and must run over its whole
# seed corpus and over an empty input without a crash. Prints
# "oss-fuzz-check: N passed, N failed" (N counts harnesses x sanitizers).
#
#   oss-fuzz/check.sh [address|undefined]...     (default: both)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
[ -n "${OSS_FUZZ_CHECK_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address undefined)

# the flags of OSS-Fuzz's base-builder image (infra/base-images), libFuzzer
base="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
ubsan_checks=array-bounds,bool,builtin,enum,float-divide-by-zero,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unsigned-integer-overflow,unreachable,vla-bound,vptr
ubsan_fatal=array-bounds,bool,builtin,enum,float-divide-by-zero,function,integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,signed-integer-overflow,unreachable,vla-bound,vptr
passed=0 failed=0
mkdir -p "$work/src"
ln -s "$root" "$work/src/cdtls"
for san in "${sanitizers[@]}"; do
  case $san in
    address) sflags="-fsanitize=address -fsanitize-address-use-after-scope" ;;
    undefined) sflags="-fsanitize=$ubsan_checks -fno-sanitize-recover=$ubsan_fatal" ;;
    *) echo "oss-fuzz-check: unknown sanitizer $san"; exit 2 ;;
  esac
  out="$work/out-$san"
  mkdir -p "$out"
  if ! env -i PATH="$PATH" HOME="${HOME:-/root}" CC=clang CXX=clang++ \
        CFLAGS="$base $sflags -fsanitize=fuzzer-no-link" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
        SRC="$work/src" OUT="$out" SANITIZER="$san" FUZZING_ENGINE=libfuzzer \
        nice -n 10 bash -eu "$work/src/cdtls/oss-fuzz/build.sh" > "$work/build-$san.log" 2>&1; then
    echo "oss-fuzz-check: $san: build.sh failed:"
    tail -30 "$work/build-$san.log"
    failed=$((failed + 1))
    continue
  fi
  # runtime options as OSS-Fuzz sets them: any report is fatal, unsigned
  # wrap-around is not reported (it is defined behaviour in C)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:silence_unsigned_overflow=1
  n=0
  for bin in "$out"/*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    n=$((n + 1))
    ok=1 why=
    for f in "${name}_seed_corpus.zip" "$name.dict" "$name.options"; do
      [ -s "$out/$f" ] || { ok=0; why="$why no $f;"; }
    done
    seeds="$work/seeds-$san-$name"
    mkdir -p "$seeds"
    [ $ok = 1 ] && unzip -q "$out/${name}_seed_corpus.zip" -d "$seeds"
        : > "$seeds/.empty-input"   # the empty input, as check_build runs it
    # OSS-Fuzz runs the binaries from $OUT on another machine: nothing
    # outside $OUT may be needed (no source tree, no environment)
    if [ $ok = 1 ] && ! (cd "$out" && env -u CDTLS_FUZZ_CERTS "$bin" -runs=0 -timeout=25 \
          -dict="$out/$name.dict" "$seeds" > "$work/$san-$name.log" 2>&1); then
      ok=0 why="$why replay failed;"
    fi
    if [ $ok = 1 ]; then
      passed=$((passed + 1))
      echo "oss-fuzz-check: $san $name ok ($(ls "$seeds" | wc -l) seeds)"
    else
      failed=$((failed + 1))
      echo "oss-fuzz-check: $san $name FAILED:$why"
      tail -5 "$work/$san-$name.log"; grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$work/$san-$name.log" 2>/dev/null | head -20
    fi
  done
  if [ $n -eq 0 ]; then
    echo "oss-fuzz-check: $san: build.sh wrote no harness to \$OUT"
    failed=$((failed + 1))
  fi
done
echo "oss-fuzz-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
