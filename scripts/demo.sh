#!/usr/bin/env bash
# Quick-start command 1: installs what is needed, builds, and for each crypto
# provider runs (1) its known-answer self-test and (2) a DTLS 1.2 session on
# loopback between cdtls-server and cdtls-client where the client marks every
# datagram DSCP EF (46) + ECN ECT(0) and both sides print the DSCP/ECN their
# kernel reports for each datagram they receive.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
psk=000102030405060708090a0b0c0d0e0f
log=$(mktemp)
trap 'rm -f "$log"; [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true' EXIT

for crypto in bearssl sodium openssl; do
  echo
  echo "=============== -Dcrypto=$crypto ==============="
  scripts/zig build -Dcrypto="$crypto" --summary none
  zig-out/bin/cdtls-selftest | sed -n '1,4p;$p'
  echo "--- DTLS session on 127.0.0.1, client marking DSCP 46 (EF) + ECN ECT(0)"
  : > "$log"
  zig-out/bin/cdtls-server --listen 127.0.0.1:0 --psk "$psk" --identity demo --echo --peers 1 --quiet > "$log" 2>&1 &
  srv=$!
  for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
  [ -n "$port" ] || { cat "$log"; echo "demo: server did not start"; exit 1; }
  zig-out/bin/cdtls-client --connect "127.0.0.1:$port" --psk "$psk" --identity demo \
      --dscp 46 --ecn ect0 --messages 3 --message "hello with $crypto"
  wait "$srv"; srv=
  sed 's/^/  /' "$log"
done
