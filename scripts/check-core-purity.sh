#!/usr/bin/env bash
# The core (src/ except src/io/) must include no crypto-library or OS header:
# crypto comes through the provider vtable, I/O through the io module.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bad=$(grep -rnE '#\s*include\s*[<"](bearssl|sodium|openssl|gnutls|mbedtls|sys/|netinet/|arpa/|winsock|windows\.h|ws2|unistd\.h|fcntl\.h|pthread\.h|time\.h|stdio\.h)' \
        src --include='*.[ch]' | grep -v '^src/io/' || true)
if [ -n "$bad" ]; then
  echo "core purity: forbidden includes in the core:"
  echo "$bad"
  exit 1
fi
echo "core purity: ok (no crypto-library or OS headers under src/ outside src/io/)"
