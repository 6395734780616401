#!/usr/bin/env bash
# Builds and runs every benchmark (docs/benchmarks.md) in one go, on this
# machine, in this one run: cdtls with each provider (bearssl, sodium and
# openssl, the last being cdtls's engine on libcrypto), OpenSSL's DTLS
# (libssl) and pion/dtls (Go, pinned), workload by workload, the programs
# taking turns so that what is compared was measured minutes apart, not
# hours. Prints the table with ratios and writes results.json.
#
#   scripts/bench.sh [--quick] [--scale N] [--out DIR]
#
#   --quick    short runs (a minute), for trying things out; not for numbers
#   --scale N  established peers in the listener test, for cdtls, OpenSSL
#              and pion alike (default 10000; 1000 with --quick)
#   --out DIR  where raw.jsonl, results.json and results.md go
#              (default zig-out/bench); the charts go to DIR/img
#   --only W,W run only these workloads (engine memory handshake resume hs13
#              tput13 tput tputsize loss scale workers; default all); hs13
#              holds the 1.3 full and resumed handshakes
#              ("<suite> resumed" rows), tput13 the 1.3 throughput, each
#              for cdtls, pion/dtls v4 and wolfSSL (bench/wolfssl_bench.c)
#   --charts-check  only render the charts from the committed results
#              (bench/results.json, bench/results-charts.json) into a
#              temporary directory: what scripts/test.sh runs
#
# The charts (bench/charts.py, docs/benchmarks.md "Charts"): matplotlib,
# pinned, from PyPI into .venv/ (installed here when missing). They are
# drawn from this run's results.json; docs/img/ holds those of the committed
# results.
#
# Needs: scripts/setup.sh (zig, libssl-dev, the providers), Go (for pion),
# openssl (to make the certificates); for the wolfSSL rows, the peer built
# by scripts/build-peers.sh wolfssl, cc, autoconf/automake/libtool. The load average is recorded before
# each step: other builds on the machine slow every program alike within a
# step, and rates are per CPU second, which load disturbs little.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=()
scale=
out=zig-out/bench
only=
charts_check=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=(--quick) ;;
    --scale) scale=$2; shift ;;
    --out) out=$2; shift ;;
    --only) only=,$2,; shift ;;
    --charts-check) charts_check=1 ;;
    *) echo "usage: $0 [--quick] [--scale N] [--out DIR] [--only W,W...] [--charts-check]" >&2; exit 2 ;;
  esac
  shift
done
want() { [ -z "$only" ] || [[ $only == *",$1,"* ]]; }

MATPLOTLIB_VERSION=3.9.2
# matplotlib into the project's venv, once (pinned; PyPI wheels).
charts_ready() {
  "$root/.venv/bin/python" -c "import matplotlib, sys; sys.exit(matplotlib.__version__ != '$MATPLOTLIB_VERSION')" 2>/dev/null && return 0
  echo "bench: installing matplotlib $MATPLOTLIB_VERSION (PyPI) into .venv/" >&2
  "$root/.venv/bin/pip" install -q --disable-pip-version-check "matplotlib==$MATPLOTLIB_VERSION" >&2 || return 1
}
if [ -n "$charts_check" ]; then
  # The chart script still renders the committed results: three SVG files.
  if [ ! -x "$root/.venv/bin/python" ] || ! charts_ready; then
    echo "charts: skipped: matplotlib $MATPLOTLIB_VERSION cannot be installed into .venv/ (no PyPI?)"
    echo "charts: 0 passed, 0 failed"
    exit 0
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  n=0
  if "$root/.venv/bin/python" bench/charts.py "$tmp" bench/results.json bench/results-charts.json; then
    for f in throughput-by-record-size handshakes-per-suite handshake-under-loss; do
      if grep -q '<svg' "$tmp/$f.svg" 2>/dev/null; then n=$((n + 1)); else echo "charts: $f.svg not drawn"; fi
    done
  fi
  echo "charts: $((n == 3 ? 1 : 0)) passed, $((n == 3 ? 0 : 1)) failed"
  [ $n -eq 3 ]
  exit
fi
[ -n "$scale" ] || scale=$([ ${#quick[@]} -gt 0 ] && echo 1000 || echo 10000)
bin=zig-out/bench
mkdir -p "$out"
raw=$out/raw.jsonl
: > "$raw"
meta() { printf '%s\n' "$1" >> "$raw"; }
load() { meta "{\"meta\":\"load\",\"step\":\"$1\",\"uptime\":\"$(uptime | sed 's/.*load/load/')\"}"; }

echo "bench: building (ReleaseFast)" >&2
scripts/zig build bench --summary none
(cd bench/pion && go build -o "$root/$bin/pion-bench" .)
# pion/dtls v4 (DTLS 1.3, X25519MLKEM768) for hs13: its own module, as
# tests/interop/pion4; a build that fails leaves hs13 without pion (a skip)
rm -f "$bin/pion4-bench"
(cd bench/pion4 && go build -o "$root/$bin/pion4-bench" .) || echo "bench: pion4-bench not built: hs13 runs without pion v4" >&2

# wolfSSL for the DTLS 1.3 workloads (issue 16, bench/wolfssl_bench.c):
# where scripts/build-peers.sh built the wolfSSL interop peer
# (.peers/wolfssl), the library is configured and compiled here from the
# same source tarball (.peers/dl; the peer keeps only its two example
# programs) into $bin/wolfssl, once per tarball and options, with the peer's
# DTLS 1.3 options and what a user tuning it for speed on x86-64 adds
# (tickets for the resumed rows, the MTU call for MTU 1500 as the other
# programs; AES-NI, the assembly and the single-precision P-256). A .peers/wolfssl with include/ and lib/ is used as it is.
# Anything missing leaves wolfssl_why: the rows are not_measured with it.
WOLFSSL_BENCH_OPTS=(--enable-dtls --enable-dtls13 --enable-dtlscid --enable-dtls-frag-ch
                    --enable-curve25519 --enable-mlkem --enable-pqc-hybrids --enable-ed25519
                    --enable-session-ticket --enable-dtls-mtu --enable-static --disable-shared --disable-crypttests
                    --disable-benchmark --disable-examples)
[ "$(uname -m)" = x86_64 ] && WOLFSSL_BENCH_OPTS+=(--enable-aesni --enable-intelasm --enable-sp --enable-sp-asm)
wolfssl_why=
build_wolfssl_bench() {
  rm -f "$bin/wolfssl-bench"
  local peer=.peers/wolfssl prefix tarball key dir="$bin/wolfssl"
  if [ ! -d "$peer" ]; then
    wolfssl_why="no .peers/wolfssl (scripts/build-peers.sh wolfssl builds it)$( [ -f .peers/wolfssl.skip ] && printf ': %s' "$(cat .peers/wolfssl.skip)")"
    return 1
  fi
  if [ -f "$peer/include/wolfssl/ssl.h" ] && [ -f "$peer/lib/libwolfssl.a" ]; then
    prefix=$peer
  else
    tarball=$(ls .peers/dl/wolfssl_*.orig.tar.gz 2> /dev/null | sort -V | tail -1)
    [ -n "$tarball" ] || { wolfssl_why="no wolfSSL source tarball in .peers/dl to build the library from"; return 1; }
    key="${tarball##*/} ${WOLFSSL_BENCH_OPTS[*]}"
    prefix=$dir/prefix
    if [ "$(cat "$dir/built" 2> /dev/null)" != "$key" ] || [ ! -f "$prefix/lib/libwolfssl.a" ]; then
      echo "bench: building wolfSSL from ${tarball##*/} (log $dir/build.log)" >&2
      rm -rf "$dir" && mkdir -p "$dir/src"
      if ! { tar -xzf "$tarball" -C "$dir/src" --strip-components=1 &&
             (cd "$dir/src" && nice ./autogen.sh && nice ./configure --prefix="$root/$prefix" "${WOLFSSL_BENCH_OPTS[@]}" &&
              nice make -j"$(nproc)" && make install); } > "$dir/build.log" 2>&1; then
        wolfssl_why="wolfSSL library build failed: $(grep -m1 -E '\*\*\*|error:' "$dir/build.log" || tail -1 "$dir/build.log")"
        return 1
      fi
      rm -rf "$dir/src"
      echo "$key" > "$dir/built"
    fi
  fi
  if ! cc -std=c11 -O2 -Wall -Wextra -Ibench -I"$prefix/include" bench/wolfssl_bench.c "$prefix/lib/libwolfssl.a" \
       -lm -lpthread -o "$bin/wolfssl-bench" 2> "$bin/wolfssl-bench.err"; then
    wolfssl_why="bench/wolfssl_bench.c did not compile against $prefix: $(grep -m1 error: "$bin/wolfssl-bench.err")"
    return 1
  fi
}
if want hs13 || want tput13; then
  build_wolfssl_bench || echo "bench: wolfssl-bench not built: $wolfssl_why" >&2
fi

# One CA and one server certificate per key type; every program trusts the
# CA and checks the name bench.example.
certs=$bin/certs
if [ ! -f "$certs/ed25519-leaf.pem" ]; then
  mkdir -p "$certs"
  (
    cd "$certs"
    ossl() { openssl "$@" 2>/dev/null; }
    printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:bench.example\n' > ext.cnf
    for kind in p256 ed25519; do
      if [ $kind = p256 ]; then ka=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); else ka=(-newkey ed25519); fi
      ossl req -x509 "${ka[@]}" -nodes -keyout $kind-root.key -out $kind-root.pem -days 3650 -subj /CN=bench-root \
        -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign
      ossl req "${ka[@]}" -nodes -keyout $kind-leaf.key -out $kind-leaf.csr -subj /CN=bench.example
      ossl x509 -req -in $kind-leaf.csr -CA $kind-root.pem -CAkey $kind-root.key -CAcreateserial -out $kind-leaf.pem \
        -days 3650 -extfile ext.cnf
    done
  )
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
meta "{\"meta\":\"machine\",\"cpu\":\"$cpu\",\"cores\":$(nproc),\"kernel\":\"$(uname -r)\",\"date\":\"$(date -u +%FT%TZ)\",\"openssl\":\"$(openssl version)\",\"go\":\"$(go version | cut -d' ' -f3)\",\"commit\":\"$(git rev-parse --short HEAD)\"}"

run() { # run NAME CMD... : JSON lines to raw.jsonl, the rest to stderr
  load "$1"
  echo "bench: $1" >&2
  shift
  "$@" | tee -a "$raw" | sed 's/^/  /' >&2 || echo "bench: $1 exited with $?" >&2
}
for w in engine memory handshake resume hs13 tput13 tput tputsize loss; do
  want $w || continue
  # DTLS 1.3 full handshakes, X25519 and X25519MLKEM768 (issues 16, 17),
  # and 1.3 streams of 1200-byte records (tput13): cdtls (a provider
  # without ML-KEM-768 says so) against pion/dtls v4; OpenSSL's DTLS has no
  # 1.3, pion v3 neither
  if [ $w = hs13 ] || [ $w = tput13 ]; then
    # sodium: on libsodium 1.0.22 from third_party/ (cdtls-bench-sodium-src,
    # build.zig addBench) when the system's lacks ML-KEM and that tree is there
    for p in bearssl sodium openssl; do
      exe=$bin/cdtls-bench-$p
      [ $p = sodium ] && [ -x "$bin/cdtls-bench-sodium-src" ] && exe=$bin/cdtls-bench-sodium-src
      run "$w ${exe##*/}" "$exe" "${quick[@]}" --certs "$certs" --only $w
    done
    # the 1.3 rows a program that could not be built did not measure:
    # each full row, and for hs13 its resumed one too
    rows13() {
      for s in TLS13-CHACHA20-POLY1305/X25519/Ed25519 TLS13-CHACHA20-POLY1305/X25519MLKEM768/Ed25519 TLS13-AES128-GCM/X25519/ECDSA-P256 TLS13-AES128-GCM/X25519MLKEM768/ECDSA-P256; do
        [ $w = tput13 ] && [[ $s == *MLKEM* ]] && continue
        echo "$s"
        if [ $w = hs13 ]; then echo "$s resumed"; fi
      done
      return 0 # (set -e, pipefail: the pipelines below must not stop the run)
    }
    if [ -x "$bin/pion4-bench" ]; then
      run "$w pion4" "$bin/pion4-bench" ${quick[@]:+-quick} -certs "$certs" -only $w
    else
      rows13 | while read -r s; do
        printf '{"impl":"pion-dtls-v4","workload":"'$w'","suite":"%s","metric":"not_measured","why":"bench/pion4 did not build (Go or the module proxy missing?)"}\n' "$s" | tee -a "$raw" >&2
      done
    fi
    if [ -x "$bin/wolfssl-bench" ]; then
      run "$w wolfssl" "$bin/wolfssl-bench" "${quick[@]}" --certs "$certs" --only $w
    else
      rows13 | while read -r s; do
        printf '{"impl":"wolfssl","workload":"%s","suite":"%s","metric":"not_measured","why":"%s"}\n' "$w" "$s" "${wolfssl_why//\"/\'}" | tee -a "$raw" >&2
      done
    fi
    continue
  fi
  # the loss sweep takes wall time (retransmission timers), not CPU: one
  # cdtls provider stands for the engine (the provider does not change it)
  for p in bearssl sodium openssl; do [ $w = loss ] && [ $p != bearssl ] && continue; run "$w cdtls-$p" "$bin/cdtls-bench-$p" "${quick[@]}" --certs "$certs" --only $w; done
  if [ $w != engine ]; then
    run "$w openssl" "$bin/openssl-bench" "${quick[@]}" --certs "$certs" --only $w
    run "$w pion" "$bin/pion-bench" ${quick[@]:+-quick} -certs "$certs" -only $w
  fi
done
# the listener holding $scale peers: cdtls_listener, OpenSSL's DTLSv1_listen
# server (openssl_bench.c), pion's dtls.Listen; each raises its own
# RLIMIT_NOFILE soft limit to what it needs (the hard limit must allow
# ~1.1 x scale + 1000 descriptors; below that the program says so)
if want scale; then
for p in bearssl sodium openssl; do run "scale cdtls-$p" "$bin/cdtls-bench-$p" "${quick[@]}" --certs "$certs" --only scale --scale "$scale"; done
run "scale openssl" "$bin/openssl-bench" "${quick[@]}" --certs "$certs" --only scale --scale "$scale"
run "scale pion" "$bin/pion-bench" ${quick[@]:+-quick} -certs "$certs" -only scale -scale "$scale"
fi
# many cores (issue 23): a cdtls worker group of 1 and 2 workers, pion with
# GOMAXPROCS 1 and 2, loaded from the same process (docs/deployment.md)
if want workers; then
for p in bearssl sodium; do run "workers cdtls-$p" "$bin/cdtls-bench-$p" "${quick[@]}" --certs "$certs" --only workers; done
run "workers pion" "$bin/pion-bench" ${quick[@]:+-quick} -certs "$certs" -only workers
fi
load end

# .text: the cdtls archive per provider (core, io, provider glue; the crypto
# library apart), the crypto libraries, and OpenSSL's for scale.
text() { size -A "$2" 2>/dev/null | awk '$1 ~ /^\.text/ {s += $2} END {print s + 0}'; }
lib=/usr/lib/$(gcc -dumpmachine)
for p in bearssl sodium openssl; do
  meta "{\"meta\":\"text_size\",\"what\":\"libcdtls (core + io + $p glue), ReleaseFast\",\"bytes\":$(text x $bin/libcdtls-bench-$p.a)}"
done
for f in libbearssl.so.0 libsodium.so.23 libssl.so.3 libcrypto.so.3; do
  [ -e "$lib/$f" ] && meta "{\"meta\":\"text_size\",\"what\":\"$f (Debian)\",\"bytes\":$(text x "$lib/$f")}"
done
meta "{\"meta\":\"text_size\",\"what\":\"pion-bench (whole Go binary, for scale)\",\"bytes\":$(text x $bin/pion-bench)}"

python3 bench/report.py "$raw" "$out/results.json" "$out/results.md"
echo "bench: wrote $out/results.json and $out/results.md" >&2
if charts_ready; then
  "$root/.venv/bin/python" bench/charts.py "$out/img" "$out/results.json" >&2 || echo "bench: no charts drawn" >&2
else
  echo "bench: charts skipped: matplotlib could not be installed" >&2
fi
