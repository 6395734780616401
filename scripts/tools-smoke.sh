#!/usr/bin/env bash
# Smoke test of the command-line tools for one provider (built by zig build
# -Dcrypto=$1): a marked session on loopback must report the marking on both
# sides; bad flags and a failed handshake must fail clearly. Prints
# "N passed, N failed" like the other runners.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
crypto=${1:-bearssl}
scripts/zig build -Dcrypto="$crypto" --summary none || exit 1
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "tools-smoke FAIL: $1"; fi; }
psk=00112233445566778899aabbccddeeff
slog=$(mktemp); clog=$(mktemp)
trap 'rm -f "$slog" "$clog"' EXIT
zig-out/bin/cdtls-server --listen 127.0.0.1:0 --psk $psk --identity smoke --echo --count 1 --quiet > "$slog" 2>&1 &
srv=$!
for _ in $(seq 50); do grep -q "listening on" "$slog" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$slog")
zig-out/bin/cdtls-client --connect "127.0.0.1:$port" --psk $psk --identity smoke --dscp 34 --ecn ce --count 2 --quiet > "$clog" 2>&1
crc=$?
wait $srv; src=$?
check "client exit status" "[ $crc -eq 0 ]"
check "server exit status" "[ $src -eq 0 ]"
check "server sees the client's marking" "[ \$(grep -c 'dscp=34 (AF41) ecn=CE' '$slog') -eq 2 ]"
check "client sees the echo's marking" "[ \$(grep -c 'received .* dscp=34 (AF41) ecn=CE' '$clog') -eq 2 ]"
# resumption: three connections, the last two abbreviated on both sides
: > "$slog"
zig-out/bin/cdtls-server --listen 127.0.0.1:0 --psk $psk --identity smoke --echo --resume --count 3 --quiet > "$slog" 2>&1 &
srv=$!
for _ in $(seq 50); do grep -q "listening on" "$slog" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$slog")
zig-out/bin/cdtls-client --connect "127.0.0.1:$port" --psk $psk --identity smoke --resume --connections 3 --count 1 --quiet > "$clog" 2>&1
crc=$?
wait $srv; src=$?
check "resumption: both exit 0" "[ $crc -eq 0 ] && [ $src -eq 0 ]"
check "resumption: client resumed twice" "[ \$(grep -c 'resumed session' '$clog') -eq 2 ]"
check "resumption: server resumed twice" "[ \$(grep -c 'resumed session' '$slog') -eq 2 ]"
# a record of 2^14 bytes (the largest, RFC 6347 §4.1) both ways: the tools'
# read buffers hold one (before: the server's had 16,383 bytes and closed
# the connection, the client's 2,048)
: > "$slog"
zig-out/bin/cdtls-server --listen 127.0.0.1:0 --psk $psk --identity smoke --echo --count 1 --mtu 17000 > "$slog" 2>&1 &
srv=$!
for _ in $(seq 50); do grep -q "listening on" "$slog" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$slog")
big=$(head -c 16381 /dev/zero | tr '\0' 'b')
zig-out/bin/cdtls-client --connect "127.0.0.1:$port" --psk $psk --identity smoke --mtu 17000 --count 1 --message "$big" > "$clog" 2>&1
crc=$?
wait $srv; src=$?
check "2^14-byte record echoed" "[ $crc -eq 0 ] && [ $src -eq 0 ] && grep -q 'server: 16384 bytes from' '$slog' && grep -q 'client: received' '$clog'"
# an idle peer is dropped (--idle-timeout; default 5 min): the client sends
# one record and waits 10 s for an echo that does not come
: > "$slog"
zig-out/bin/cdtls-server --listen 127.0.0.1:0 --psk $psk --identity smoke --count 1 --idle-timeout 500 > "$slog" 2>&1 &
srv=$!
for _ in $(seq 50); do grep -q "listening on" "$slog" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$slog")
zig-out/bin/cdtls-client --connect "127.0.0.1:$port" --psk $psk --identity smoke --count 1 --timeout 10000 > "$clog" 2>&1 &
cli=$!
for _ in $(seq 50); do grep -q "was idle too long" "$slog" && break; sleep 0.1; done
check "idle peer dropped" "grep -q 'was idle too long' '$slog'"
wait $srv
kill $cli 2>/dev/null; wait $cli 2>/dev/null
zig-out/bin/cdtls-client --connect 127.0.0.1:9 --psk $psk --timeout 300 > "$clog" 2>&1
check "failed handshake exits 1 with a reason" "[ $? -eq 1 ] && grep -q 'handshake with 127.0.0.1:9 failed: timed out' '$clog'"
zig-out/bin/cdtls-client --connect 127.0.0.1:9 --psk zz > "$clog" 2>&1
check "bad flag exits 2 with a reason" "[ $? -eq 2 ] && grep -q 'bad --psk zz' '$clog'"
zig-out/bin/cdtls-server --listen 127.0.0.1:1 --psk $psk --dscp 99 > "$clog" 2>&1
check "out-of-range DSCP refused" "[ $? -eq 2 ] && grep -q 'bad value for --dscp' '$clog'"
zig-out/bin/cdtls-client --connect 127.0.0.1:9 --psk $psk --suite TLS_NOT_A_SUITE > "$clog" 2>&1
check "unknown suite refused" "[ $? -eq 2 ] && grep -q 'unknown cipher suite' '$clog'"
# certificates: ECDSA chain (bearssl, openssl) or Ed25519 (sodium), made by openssl now
cdir=$(mktemp -d)
tests/x509/make-certs.sh "$cdir" > /dev/null
cat "$cdir/leaf.pem" "$cdir/int.pem" > "$cdir/leafchain.pem"
if [ "$crypto" != sodium ]; then cert=$cdir/leafchain.pem key=$cdir/leaf.key ca=$cdir/root.pem name=server.example.com
else cert=$cdir/ed.pem key=$cdir/ed.key ca=$cdir/ed.pem name=ed.example.com; fi
for attempt in good wrongname; do
  : > "$slog"
  zig-out/bin/cdtls-server --listen 127.0.0.1:0 --cert "$cert" --key "$key" --echo --count 1 --quiet > "$slog" 2>&1 &
  srv=$!
  for _ in $(seq 50); do grep -q "listening on" "$slog" && break; sleep 0.1; done
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$slog")
  sn=$name; [ $attempt = wrongname ] && sn=wrong.example.com
  zig-out/bin/cdtls-client --connect "127.0.0.1:$port" --ca "$ca" --servername "$sn" --dscp 46 --count 1 --quiet --timeout 3000 > "$clog" 2>&1
  crc=$?
  if [ $attempt = good ]; then
    wait $srv
    check "certificate session ($crypto)" "[ $crc -eq 0 ] && grep -q 'server certificate chain' '$clog' && grep -q 'dscp=46' '$slog'"
  else
    kill $srv 2>/dev/null; wait $srv 2>/dev/null
    check "wrong server name refused" "[ $crc -eq 1 ] && grep -q 'does not match host name' '$clog'"
  fi
done
rm -rf "$cdir"
echo "tools-smoke ($crypto): $pass passed, $fail failed"
[ $fail -eq 0 ]
