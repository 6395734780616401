#!/usr/bin/env bash
# cdtls as a zig package (docs/building.md, "As a zig package"): the project
# in tests/zig-consumer/ depends on this tree through its build.zig.zon and
# takes b.dependency("cdtls", ...).artifact("cdtls"). Built with each way of
# getting the provider (BearSSL):
#   native               the system's libbearssl; the program runs a PSK
#                        handshake in memory and must exit 0 (data crossed)
#   aarch64-linux-musl   -Dprovider-src-dir: cdtls compiles third_party/bearssl;
#                        run under qemu-aarch64 when it is installed
#   x86_64-windows-gnu   -Dprovider-source=external: the consumer compiles
#                        BearSSL and hands it to useProvider(); run under
#                        wine64 when it is installed
#   fetched              the package as `zig fetch` copies it (only what
#                        build.zig.zon's .paths lists), consumer built and run
#                        natively: the package needs nothing else
# Prints "zig-consumer: N passed, N failed". The builds share the
# repository's .zig-cache, so objects `zig build cross` made are reused
# (aarch64 is built ReleaseSafe, as the matrix is).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
zig=("$root/scripts/zig")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0
ok() { echo "zig-consumer: ok   $1"; passed=$((passed + 1)); }
ko() { echo "zig-consumer: FAIL $1"; failed=$((failed + 1)); }
bearssl=$root/third_party/bearssl

# build NAME DIR ARGS...: zig build in DIR into $out/NAME
build() {
  local name=$1 dir=$2
  shift 2
  (cd "$dir" && nice "${zig[@]}" build --summary none --cache-dir "$root/.zig-cache" --prefix "$out/$name" "$@") \
    > "$out/$name.log" 2>&1 || { sed 's/^/  /' "$out/$name.log" | tail -20; return 1; }
}
# runs NAME CMD...: the program must exit 0 and say the handshake was done
runs() {
  local name=$1
  shift
  local o
  o=$(timeout 60 "$@" 2>&1)
  local rc=$?
  echo "  $o"
  [ $rc -eq 0 ] && grep -q 'handshake done' <<< "$o"
}

c=tests/zig-consumer
if build native $c && runs native "$out/native/bin/zig-consumer"; then ok "native (system libbearssl): built, handshake ran"; else ko "native (system libbearssl)"; fi

if [ ! -f "$bearssl/inc/bearssl.h" ]; then
  ko "aarch64-linux-musl and x86_64-windows-gnu: no BearSSL source in third_party/ (scripts/fetch-provider-src.sh)"
  failed=$((failed + 1))
else
  if build aarch64 $c -Dtarget=aarch64-linux-musl -Doptimize=ReleaseSafe -Dprovider=dir -Dbearssl-src="$bearssl"; then
    if ! command -v qemu-aarch64 > /dev/null; then
      ok "aarch64-linux-musl (-Dprovider-src-dir): built (not run: no qemu-aarch64)"
    elif runs aarch64 qemu-aarch64 "$out/aarch64/bin/zig-consumer"; then
      ok "aarch64-linux-musl (-Dprovider-src-dir): built, handshake ran under qemu-aarch64"
    else
      ko "aarch64-linux-musl: the program failed under qemu-aarch64"
    fi
  else
    ko "aarch64-linux-musl (-Dprovider-src-dir): build"
  fi
  if build windows $c -Dtarget=x86_64-windows-gnu -Dprovider=external -Dbearssl-src="$bearssl"; then
    if ! command -v wine64 > /dev/null; then
      ok "x86_64-windows-gnu (useProvider): built (not run: no wine64)"
    elif WINEDEBUG=-all WINEPREFIX="$root/.wine" runs windows wine64 "$out/windows/bin/zig-consumer.exe"; then
      ok "x86_64-windows-gnu (useProvider): built, handshake ran under wine64"
    else
      ko "x86_64-windows-gnu: the program failed under wine64"
    fi
  else
    ko "x86_64-windows-gnu (useProvider): build"
  fi
fi

# The package as a dependency fetched from elsewhere gets it: a copy of the
# committed tree, filtered by `zig fetch` through build.zig.zon's .paths,
# then the consumer pointed at that hash (found in zig's global cache, so the
# URL is never used).
mkdir -p "$out/tree" "$out/fetched"
git ls-files -z | xargs -0 tar -cf - 2> /dev/null | tar -xf - -C "$out/tree" 2> /dev/null
hash=$(cd "$out" && "${zig[@]}" fetch "$out/tree" 2> "$out/fetch.log")
if [ -z "$hash" ]; then
  sed 's/^/  /' "$out/fetch.log"
  ko "fetched: zig fetch of the tree"
else
  cp $c/build.zig $c/main.c "$out/fetched/"
  sed "s|\.cdtls = \.{ \.path = \"\.\./\.\.\" }|.cdtls = .{ .url = \"https://cdtls.invalid/cdtls.tar.gz\", .hash = \"$hash\" }|" \
    $c/build.zig.zon > "$out/fetched/build.zig.zon"
  if build fetched "$out/fetched" && runs fetched "$out/fetched/bin/zig-consumer"; then
    ok "fetched package ($hash): built from .paths alone, handshake ran"
  else
    ko "fetched package: build or run"
  fi
fi
echo "zig-consumer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
