#!/usr/bin/env bash
# Builds the freestanding Cortex-M4 firmware image (zig build firmware:
# cdtls core with CDTLS_PSK_ONLY, TLS_PSK_WITH_AES_128_CCM_8, BearSSL from
# third_party/) and prints its section sizes and who the .text belongs to:
# the cdtls core, BearSSL, or the image itself (examples/firmware/psk_ccm8.c:
# self-test, allocator, RNG, memory functions). docs/portability.md quotes it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/fetch-provider-src.sh
scripts/zig build firmware --summary none
fw=zig-out/firmware
size=$(command -v llvm-size || command -v llvm-size-14)
nm=$(command -v llvm-nm || command -v llvm-nm-14)
"$size" -A "$fw/psk_ccm8.elf" | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {printf "firmware: %-8s %7d bytes\n", $1, $2}'
# Function symbols of the linked image, by the archive that defines them.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nm" --defined-only "$fw/libcdtls-core.a" 2>/dev/null | awk 'NF == 3 && $2 ~ /[tT]/ {print $3}' | sort -u > "$tmp/core"
"$nm" --defined-only "$fw/libbearssl.a" 2>/dev/null | awk 'NF == 3 && $2 ~ /[tT]/ {print $3}' | sort -u > "$tmp/bearssl"
"$nm" --print-size --radix=d --defined-only "$fw/psk_ccm8.elf" | awk 'NF == 4 && $3 ~ /[tT]/ {print $4, $2 + 0}' |
  awk -v core="$tmp/core" -v bssl="$tmp/bearssl" '
    BEGIN { while ((getline s < core) > 0) c[s] = 1; while ((getline s < bssl) > 0) b[s] = 1 }
    { if ($1 in c) k = "cdtls-core"; else if ($1 in b) k = "bearssl"; else k = "image"; t[k] += $2; all += $2 }
    END { for (k in t) printf "firmware: .text %-10s %7d bytes\n", k, t[k]; printf "firmware: .text functions %7d bytes\n", all }' | sort
