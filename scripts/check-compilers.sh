#!/usr/bin/env bash
# The library (core + both providers + examples) must compile warning-free
# with gcc and clang as well as zig cc (which `zig build` uses): C11, no
# extensions, -Wall -Wextra -Werror -Wpedantic and friends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
flags=(-std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
       -Wcast-qual -Wvla -O2 -Iinclude -Isrc -c -o /dev/null)
status=0
for cc in gcc clang; do
  command -v "$cc" >/dev/null || { echo "compilers: $cc missing"; status=1; continue; }
  n=0
  for f in src/*/*.c providers/*/*.c examples/*.c; do
    [ -e "$f" ] || continue
    # providers/fuzz compiles only in fuzzing builds (its #error says so)
    extra=()
    [[ $f == providers/fuzz/* ]] && extra=(-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
    if ! "$cc" "${flags[@]}" "${extra[@]}" "$f"; then echo "compilers: $cc failed on $f"; status=1; fi
    n=$((n + 1))
  done
  echo "compilers: $cc compiled $n files with -Werror"
done
# zig cc cross targets: the core and the io module (no provider libraries
# needed) for a Windows, a macOS, a 32-bit ARM and a big-endian target.
# (-o a real temp file: zig cc writes NAME.obj into the working directory for
# Windows targets when asked for /dev/null.)
tmpobj=$(mktemp -d)
trap 'rm -rf "$tmpobj"' EXIT
xflags=("${flags[@]:0:${#flags[@]}-2}" -o "$tmpobj/out.o")
for target in x86_64-windows-gnu aarch64-macos arm-linux-musleabihf s390x-linux-musl; do
  n=0
  for f in src/*/*.c; do
    if ! scripts/zig cc -target "$target" "${xflags[@]}" "$f"; then echo "compilers: zig cc -target $target failed on $f"; status=1; fi
    n=$((n + 1))
  done
  echo "compilers: zig cc -target $target compiled $n files with -Werror"
done
exit $status
