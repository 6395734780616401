#!/usr/bin/env bash
# Key log check: a cdtls-client/cdtls-server session over loopback writes
# NSS key log lines (--keylog), and tshark, given only the capture and that
# file, decrypts the application data back to the plaintext we sent, in
# both directions. Suite TLS_PSK_WITH_AES_128_GCM_SHA256 (BearSSL build):
# Wireshark 4.0 (Debian 12) reports "auth tag mismatch" on every DTLS
# ChaCha20-Poly1305 record it tries (while OpenSSL and GnuTLS interoperate
# with ours on those suites), so the sodium build, which has only ChaCha20
# suites, cannot be checked this way (docs/interop.md).
# Prints "keylog-check: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v tshark >/dev/null || { echo "keylog-check: tshark missing (scripts/setup.sh installs it)"; exit 1; }
scripts/zig build -Dcrypto=bearssl --summary none || exit 1
dir=$(mktemp -d)
trap 'kill $cap 2>/dev/null; rm -rf "$dir"' EXIT
psk=00112233445566778899aabbccddeeff
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tshark -i lo -f "udp port $port" -w "$dir/cap.pcapng" -q > "$dir/tshark.log" 2>&1 &
cap=$!
for _ in $(seq 100); do grep -q "Capturing on" "$dir/tshark.log" && break; sleep 0.1; done
sleep 0.5
zig-out/bin/cdtls-server --listen 127.0.0.1:$port --psk $psk --echo --peers 1 --quiet \
    --keylog "$dir/server.keys" > "$dir/server.log" 2>&1 &
srv=$!
sleep 0.3
zig-out/bin/cdtls-client --connect 127.0.0.1:$port --psk $psk --suite TLS_PSK_WITH_AES_128_GCM_SHA256 \
    --message "keylog-plaintext" --messages 3 --keylog "$dir/client.keys" --quiet > "$dir/client.log" 2>&1
wait $srv
sleep 1
kill $cap; wait $cap 2>/dev/null
want=$(printf 'keylog-plaintext' | od -An -tx1 | tr -d ' \n')
fields() { tshark -r "$dir/cap.pcapng" -d udp.port==$port,dtls "$@" -T fields -e udp.srcport -e data.data 2>/dev/null | awk 'NF == 2'; }
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "keylog-check FAIL: $1"; fi; }
check "client and server logged the same single line" "[ \$(sort -u \"$dir/client.keys\" \"$dir/server.keys\" | wc -l) -eq 1 ]"
check "the line is CLIENT_RANDOM <64 hex> <96 hex>" "grep -Eq '^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}\$' \"$dir/client.keys\""
check "without the key log tshark sees no plaintext" "[ -z \"\$(fields)\" ]"
dec=$(fields -o tls.keylog_file:"$dir/client.keys")
check "with it, the client's 3 records decrypt to what was sent" "[ \$(echo \"\$dec\" | awk -v p=$port '\$1 != p' | grep -c \"$want\") -eq 3 ]"
check "and the server's 3 echoes too" "[ \$(echo \"\$dec\" | awk -v p=$port '\$1 == p' | grep -c \"$want\") -eq 3 ]"
[ $fail -eq 0 ] || { echo "decrypted:"; echo "$dec" | head; }
echo "keylog-check: $pass passed, $fail failed"
[ $fail -eq 0 ]
