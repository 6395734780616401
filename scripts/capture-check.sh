#!/usr/bin/env bash
# Capture check: tshark on the loopback interface must see the DSCP/ECN bits
# that cdtls-client asked for on the encrypted DTLS packets themselves
# (handshake flights via handshake_oob and application data records), and
# the server's echoes marked the same way. Prints "capture-check: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
crypto=${1:-bearssl}
command -v tshark >/dev/null || { echo "capture-check: tshark missing (scripts/setup.sh installs it)"; exit 1; }
scripts/zig build -Dcrypto="$crypto" --summary none || exit 1
dir=$(mktemp -d)
trap 'kill $cap 2>/dev/null; rm -rf "$dir"' EXIT
psk=00112233445566778899aabbccddeeff
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tshark -i lo -f "udp port $port" -w "$dir/cap.pcapng" -q > "$dir/tshark.log" 2>&1 &
cap=$!
for _ in $(seq 100); do grep -q "Capturing on" "$dir/tshark.log" && break; sleep 0.1; done
sleep 0.5
# DTLS 1.2 on purpose: the check finds the application data by the record's
# content type (23), which a DTLS 1.3 record does not show (RFC 9147 §4:
# the unified header has none, the type is inside the encryption); the tools
# offer 1.3 by default since 2026-12-03.
zig-out/bin/cdtls-server --listen 127.0.0.1:$port --psk $psk --echo --peers 1 --quiet --max-version 1.2 > "$dir/server.log" 2>&1 &
srv=$!
sleep 0.3
zig-out/bin/cdtls-client --connect 127.0.0.1:$port --psk $psk --dscp 46 --ecn ect0 --messages 5 --quiet --max-version 1.2 > "$dir/client.log" 2>&1
wait $srv
sleep 1
kill $cap; wait $cap 2>/dev/null
# one line per DTLS record: source port, DSCP, ECN, content type
tshark -r "$dir/cap.pcapng" -d udp.port==$port,dtls -T fields -E separator=' ' \
    -e udp.srcport -e ip.dsfield.dscp -e ip.dsfield.ecn -e dtls.record.content_type > "$dir/fields.txt" 2>/dev/null
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "capture-check FAIL: $1"; fi; }
from_client=$(awk -v p=$port '$1 != p' "$dir/fields.txt")
from_server=$(awk -v p=$port '$1 == p' "$dir/fields.txt")
check "packets captured both ways" "[ -n \"\$from_client\" ] && [ -n \"\$from_server\" ]"
check "every client packet is DSCP 46, ECN ECT(0)" "echo \"\$from_client\" | awk '\$2 != 46 || \$3 != 2 {bad=1} END {exit bad}'"
check "client application data (encrypted, type 23) among them" "echo \"\$from_client\" | grep -qw 23"
check "client handshake packets (type 22) marked too" "echo \"\$from_client\" | grep -qw 22"
check "server echoes (type 23) carry the marking they arrived with" "echo \"\$from_server\" | awk '\$4 ~ /23/ && (\$2 != 46 || \$3 != 2) {bad=1} \$4 ~ /23/ {n++} END {exit bad || n < 5}'"
if [ $fail -ne 0 ]; then echo "captured:"; sed 's/^/  /' "$dir/fields.txt" | head -40; fi
echo "capture-check ($crypto): $pass passed, $fail failed"
[ $fail -eq 0 ]
