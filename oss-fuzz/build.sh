#!/bin/bash -eu
# The OSS-Fuzz / ClusterFuzzLite build of cdtls's libFuzzer harnesses
# (docs/fuzzing.md, "OSS-Fuzz and ClusterFuzzLite"). It reads only what
# OSS-Fuzz sets:
#
#   $CC $CFLAGS          the compiler and the sanitizer + coverage flags of
#                        the build (CFLAGS carries -fsanitize=fuzzer-no-link)
#   $LIB_FUZZING_ENGINE  what a harness links for its main (-fsanitize=fuzzer)
#   $SRC                 the sources: $SRC/cdtls (this repository), and the
#                        crypto providers' upstream trees $SRC/bearssl and
#                        $SRC/libsodium when the image cloned them (else the
#                        system's libbearssl / libsodium are linked)
#   $OUT                 where each harness goes, with <name>_seed_corpus.zip,
#                        <name>.dict and <name>.options
#
# and writes its intermediate files to a temporary directory of its own.
# oss-fuzz/check.sh runs it here the way OSS-Fuzz does (ASan and UBSan) and
# replays every seed corpus through its harness.
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. fuzz/harnesses.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
# C11 as the core is written; warnings shown, never fatal (OSS-Fuzz's clang
# is newer than ours and may warn about more)
cflags=($CFLAGS -std=c11 -Wall -Wextra -Iinclude -Isrc -Ifuzz -Iproviders/fuzz -I"$work" -DFUZZ_EMBEDDED_CERTS
        -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)

# compile FILE...: objects into $work/obj (in parallel), printed one a line
compile() {
  local out=$1; shift
  mkdir -p "$out"
  printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh -c \
    'o="$0/$(echo "{}" | tr / _).o"; cc=$1; shift; exec "$cc" "$@" -c "{}" -o "$o"' "$out" "$CC" "${cflags[@]}" "${extra[@]}"
}

# ---------------------------------------------------------- the providers
# BearSSL: compiled from its upstream tree with the build's flags, so its
# code is instrumented like the core's; else the system library.
extra=()
if [ -d "$SRC/bearssl/src" ]; then
  extra=(-I"$SRC/bearssl/inc" -I"$SRC/bearssl/src")
  mapfile -t files < <(find "$SRC/bearssl/src" -name '*.c' | sort)
  compile "$work/bearssl" "${files[@]}"
  ar rcs "$work/libbearssl.a" "$work/bearssl"/*.o
  bearssl_lib=("$work/libbearssl.a")
  bearssl_inc=(-I"$SRC/bearssl/inc")
else
  bearssl_lib=(-lbearssl)
  bearssl_inc=()
fi
# libsodium: its own configure with the build's compiler and flags, no
# assembly (the sanitizers must see every access)
sodium_lib=() sodium_inc=()
if [ -d "$SRC/libsodium" ]; then
  if ! (cd "$SRC/libsodium" && { [ -x configure ] || ./autogen.sh -s; } &&
         ./configure -q --disable-shared --enable-static --disable-asm --disable-ssp \
           --prefix="$work/sodium" CC="$CC" CFLAGS="$CFLAGS" &&
         make -s -j"$jobs" install) > "$work/sodium.log" 2>&1; then
    tail -40 "$work/sodium.log"
    echo "build.sh: libsodium from $SRC/libsodium failed to build"
    exit 1
  fi
  sodium_lib=("$work/sodium/lib/libsodium.a")
  sodium_inc=(-I"$work/sodium/include")
elif printf '#include <sodium.h>\nint main(void){return sodium_init();}\n' |
     $CC -x c - -lsodium -o "$work/has-sodium" 2>/dev/null; then
  sodium_lib=(-lsodium)
fi

# ------------------------------------------------------------- the core
./oss-fuzz/embed-certs.sh fuzz/certs > "$work/fuzz_certs_embedded.h"
mapfile -t core < <(ls src/common/*.c src/keys/*.c src/record/*.c src/handshake/*.c \
                       src/x509/*.c src/engine/*.c)
# src/io (not Windows) for the io harnesses
mapfile -t io < <(ls src/io/*.c | grep -v win32.c)
# build_variant NAME PROVIDER_DIR: libcore-NAME.a, the core + one provider
build_variant() {
  local name=$1 prov=$2
  extra=(-DCDTLS_PROVIDER_NAME=\"$name\")
  [ "$name" = bearssl ] && extra+=("${bearssl_inc[@]}")
  [ "$name" = sodium ] && extra+=("${sodium_inc[@]}")
  compile "$work/core-$name" "${core[@]}" "${io[@]}" "$prov"/*.c providers/fuzz/*.c
  ar rcs "$work/libcore-$name.a" "$work/core-$name"/*.o
}

# link NAME SOURCE VARIANT PROVIDER_LIB...: one binary into $OUT
link() {
  local name=$1 src=$2 variant=$3; shift 3
  $CC "${cflags[@]}" "$src" "$work/libcore-$variant.a" "$@" $LIB_FUZZING_ENGINE -o "$OUT/$name"
}

# seeds NAME HARNESS DIR: NAME_seed_corpus.zip from DIR/HARNESS, the
# dictionary and the options
package() {
  local name=$1 h=$2 seeds=$3
  rm -f "$OUT/${name}_seed_corpus.zip"
  if [ -d "$seeds/$h" ]; then
    (cd "$seeds/$h" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
  fi
  cp "$(fuzz_dict_of "$h")" "$OUT/$name.dict"
  printf '[libfuzzer]\nmax_len = %s\n' "$(fuzz_max_len_of "$h")" > "$OUT/$name.options"
}

# the seed generator: an ordinary program with the build's flags (no
# libFuzzer main), run here; its seeds are whole recorded handshakes
gen_seeds() {
  local variant=$1 dir=$2; shift 2
  $CC "${cflags[@]}" fuzz/gen_corpus.c "$work/libcore-$variant.a" "$@" -o "$work/gen_corpus-$variant"
  "$work/gen_corpus-$variant" "$dir" > "$work/gen_corpus-$variant.log"
}

build_variant bearssl providers/bearssl
gen_seeds bearssl "$work/seeds-bearssl" "${bearssl_lib[@]}"
for h in "${fuzz_harnesses[@]}"; do
  link "$h" "fuzz/$h.c" bearssl "${bearssl_lib[@]}"
  package "$h" "$h" "$work/seeds-bearssl"
done

# the engine harnesses again with libsodium (other suites, Ed25519)
if [ ${#sodium_lib[@]} -gt 0 ]; then
  build_variant sodium providers/sodium
  gen_seeds sodium "$work/seeds-sodium" "${sodium_lib[@]}"
  for h in fuzz_engine_client fuzz_engine_server; do
    link "${h}_sodium" "fuzz/$h.c" sodium "${sodium_lib[@]}"
    package "${h}_sodium" "$h" "$work/seeds-sodium"
  done
fi
