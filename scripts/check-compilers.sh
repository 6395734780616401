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
    if ! "$cc" "${flags[@]}" "$f"; then echo "compilers: $cc failed on $f"; status=1; fi
    n=$((n + 1))
  done
  echo "compilers: $cc compiled $n files with -Werror"
done
exit $status
