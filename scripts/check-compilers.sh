#!/usr/bin/env bash
# The library (core + both providers + examples) must compile warning-free
# with gcc and clang as well as zig cc (which `zig build` uses): C11, no
# extensions, -Wall -Wextra -Werror -Wpedantic and friends. The compiles are
# independent: two run at a time (CI has 2 cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmpobj=$(mktemp -d)
trap 'rm -rf "$tmpobj"' EXIT
status=0

# compile_one COMPILER FILE: prints nothing on success, why on failure.
compile_one() {
  local cc=$1 f=$2 flags extra=() out
  flags=(-std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
         -Wcast-qual -Wvla -O2 -Iinclude -Isrc -c)
  # providers/fuzz compiles only in fuzzing builds (its #error says so)
  [[ $f == providers/fuzz/* ]] && extra=(-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  out=$(mktemp "$tmpobj/XXXXXX.o")
  # "zig-<target>": zig cc for that target
  local cmd=("$cc")
  [[ $cc == zig-* ]] && cmd=(scripts/zig cc -target "${cc#zig-}")
  if ! "${cmd[@]}" "${flags[@]}" "${extra[@]}" "$f" -o "$out"; then
    echo "compilers: ${cmd[*]} failed on $f"
  fi
  rm -f "$out"
}
export -f compile_one
export tmpobj

jobs=()
for cc in gcc clang; do
  command -v "$cc" >/dev/null || { echo "compilers: $cc missing"; status=1; continue; }
  for f in src/*/*.c providers/*/*.c examples/*.c; do [ -e "$f" ] && jobs+=("$cc $f"); done
done
for target in x86_64-windows-gnu aarch64-macos arm-linux-musleabihf s390x-linux-musl; do
  for f in src/*/*.c; do jobs+=("zig-$target $f"); done
done
log="$tmpobj/log"
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 bash -c 'compile_one "$0" "$1"' > "$log" 2>&1 || true
cat "$log"
# every compile is silent when it succeeds: anything in the log is a failure
[ -s "$log" ] && status=1
for cc in gcc clang $(printf 'zig-%s ' x86_64-windows-gnu aarch64-macos arm-linux-musleabihf s390x-linux-musl); do
  n=$(printf '%s\n' "${jobs[@]}" | grep -c "^$cc ") || true
  [ "$n" -gt 0 ] || continue
  echo "compilers: $cc compiled $n files with -Werror"
done
exit $status
