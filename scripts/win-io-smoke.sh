#!/usr/bin/env bash
# Builds tests/win/io_smoke.c with the Windows io backend for
# x86_64-windows-gnu (zig cc) and runs it under wine64: WSASendMsg /
# WSARecvMsg with control messages, capabilities, refusals.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
wine=/usr/lib/wine/wine64
[ -x "$wine" ] || wine=$(command -v wine64 || true)
if [ -z "$wine" ]; then echo "win-io-smoke: wine64 missing (scripts/setup.sh installs it)"; exit 1; fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scripts/zig cc -target x86_64-windows-gnu -std=c11 -Wall -Wextra -Werror -Wpedantic -Iinclude -Isrc \
    tests/win/io_smoke.c src/io/win32.c src/io/probe.c src/io/addr.c src/io/event.c -lws2_32 -o "$out/io_smoke.exe" || exit 1
export WINEPREFIX="$root/.wine" WINEDEBUG=-all
result=$(timeout 300 "$wine" "$out/io_smoke.exe" 2>&1 | tr -d '\r' | grep -v '^wine: ')
status=$?
echo "$result"
line=$(echo "$result" | tail -1)
echo "win-io-smoke: $line"
[ $status -eq 0 ] && echo "$line" | grep -q ' 0 failed$'
