#!/usr/bin/env bash
# The PSK-only core (CDTLS_PSK_ONLY, the configuration of the freestanding
# firmware image) on the host: compiled without src/x509 and linked against
# the system BearSSL, then tests/psk_only/psk_only_check.c runs a PSK-CCM_8
# session and checks that certificates are refused. A missing X.509 symbol
# fails the link, which is the check that the build really has no X.509.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
srcs=()
for d in src/common src/keys src/record src/handshake src/engine providers/bearssl; do
  for f in "$d"/*.c; do srcs+=("$f"); done
done
if ! gcc -std=c11 -Wall -Wextra -Werror -Wpedantic -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
     -DCDTLS_PSK_ONLY=1 -Iinclude -Isrc -Itests "${srcs[@]}" tests/sim_link.c tests/psk_only/psk_only_check.c \
     -lbearssl -o "$out/psk_only_check"; then
  echo "psk-only: 0 passed, 1 failed (build or link)"
  exit 1
fi
"$out/psk_only_check"
