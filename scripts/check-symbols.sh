#!/usr/bin/env bash
# Only cdtls_ names may leave the library (docs/architecture.md, "Public API
# and symbols"). Builds the library for both providers and checks:
#  - zig-out/lib/libcdtls.so: every dynamic symbol it defines is cdtls_-prefixed;
#  - zig-out/lib/libcdtls.a: every global symbol it defines is cdtls_-prefixed
#    (build.zig links the archive into one object and localizes the hidden
#    internals, so a static link cannot collide with them either);
#  - every function declared in include/cdtls/*.h is exported by the .so
#    (a declaration without CDTLS_API is hidden, and its users fail to link);
#  - the ELF archives of the cross matrix in zig-out/cross/, if built, like
#    the native one (Mach-O and COFF archives keep their internal names
#    global: only their dylib/DLL exports are limited).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
status=0
hint="every public declaration in include/cdtls/*.h needs CDTLS_API (include/cdtls/export.h); every other function must stay out of include/cdtls and is hidden by -fvisibility=hidden"

# Functions declared in the public headers: gcc -fpreprocessed strips the
# comments; a name followed by '(' is a declaration unless it is a
# function-pointer member '(*name)('.
declared=$(for h in include/cdtls/*.h; do [ "$h" = include/cdtls/export.h ] || gcc -fpreprocessed -dD -E -P "$h"; done | grep -v '^#' |
           tr '\n' ' ' | perl -ne 'print "$1\n" while /(?<!\(\*)(?<![a-z0-9_])(cdtls_[a-z0-9_]+)\s*\(/g' |
           sort -u)

# check WHAT FILE SYMBOLS: fails on names in SYMBOLS (one a line) without the prefix.
check_names() {
  local what=$1 file=$2 names=$3 bad
  bad=$(grep -v '^cdtls_' <<<"$names" | grep -v '^$' || true)
  if [ -n "$bad" ]; then
    echo "symbols: $file exports $(wc -l <<<"$bad") $what without the cdtls_ prefix:"
    sed 's/^/  /' <<<"$bad" | head -50
    echo "symbols: $hint"
    status=1
    return 1
  fi
  echo "symbols: $file: $(grep -c . <<<"$names") $what, all cdtls_"
}

for crypto in bearssl sodium openssl; do
  scripts/zig build -Dcrypto="$crypto" --summary none
  so=zig-out/lib/libcdtls.so
  a=zig-out/lib/libcdtls.a
  dyn=$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u)
  check_names "dynamic symbols ($crypto)" "$so" "$dyn" || true
  # global defined symbols of the archive: nm -g prints "addr type name".
  sta=$(nm -g --defined-only "$a" | awk 'NF == 3 {print $3}' | sort -u)
  check_names "global symbols ($crypto)" "$a" "$sta" || true
  # Each build has one provider: the other's constructors are not in it.
  others=$(for p in bearssl sodium openssl; do [ "$p" = "$crypto" ] || printf '^cdtls_provider_%s\\|' "$p"; done)
  missing=$(comm -23 <(echo "$declared") <(echo "$dyn") | grep -v "${others%\\|}" || true)
  if [ -n "$missing" ]; then
    echo "symbols: declared in include/cdtls/ but not exported by $so ($crypto):"
    sed 's/^/  /' <<<"$missing"
    echo "symbols: $hint"
    status=1
  fi
done

# The cross matrix (zig build cross), when it has been built: its ELF archives.
shopt -s nullglob
for a in zig-out/cross/*/libcdtls.a; do
  dir=$(basename "$(dirname "$a")")
  case $dir in *windows* | *macos*) continue ;; esac
  sta=$(llvm-nm -g --defined-only "$a" | awk 'NF == 3 {print $3}' | sort -u)
  check_names "global symbols" "$a" "$sta" || true
done

if [ $status -ne 0 ]; then echo "symbols: FAILED"; exit 1; fi
echo "symbols: ok ($(grep -c . <<<"$declared") public functions declared, exported, nothing else)"
