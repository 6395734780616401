#!/usr/bin/env bash
# ThreadSanitizer run of the worker-group tests (tests/test_workers.c):
# what workers share (the context, the cookie verifier, the ticket key ring,
# the session store, the hand-off queues) used from two worker threads and
# four client threads at once. The library, the provider glue and the test
# are built by system clang with -fsanitize=thread, on the tests/shim runner:
# Criterion's runner cannot map its inheritable arena under TSan ("Could not
# initialize inheritable arena"), so `zig build test -Dsanitize=thread` does
# not run. Usage: scripts/tsan-workers.sh [bearssl|sodium]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
crypto=${1:-bearssl}
case "$crypto" in
  bearssl) lib=bearssl ;;
  sodium) lib=sodium ;;
  *) echo "usage: $0 [bearssl|sodium]" >&2; exit 2 ;;
esac
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
srcs=$(ls src/common/*.c src/keys/*.c src/record/*.c src/handshake/*.c src/x509/*.c src/engine/*.c src/io/*.c \
          "providers/$crypto"/*.c)
# shellcheck disable=SC2086
nice clang -std=c11 -Wall -Wextra -Werror -fsanitize=thread -fno-omit-frame-pointer -g -O1 \
  -Iinclude -Isrc -Itests/shim -Itests -DCDTLS_TEST_SHIM=1 "-DCDTLS_PROVIDER_NAME=\"$crypto\"" \
  "-DCDTLS_SOURCE_DIR=\"$root\"" $srcs tests/shim/runner.c tests/test_util.c tests/test_workers.c "-l$lib" -lpthread \
  -o "$out/workers-tsan"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" nice "$out/workers-tsan" --verbose --filter 'workers/*'
