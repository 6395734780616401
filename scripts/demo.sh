#!/usr/bin/env bash
# Quick-start command 1: installs what is needed, builds, runs the demo for
# each crypto provider (for now: the provider self-test, which prints the
# linked provider and runs its known-answer checks).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
for crypto in bearssl sodium; do
  echo "=== demo, -Dcrypto=$crypto"
  scripts/zig build demo -Dcrypto="$crypto" --summary none
done
