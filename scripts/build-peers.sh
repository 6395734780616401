#!/usr/bin/env bash
# Builds the DTLS 1.3 (RFC 9147) interop peers from Debian's sources into
# .peers/ (gitignored), idempotently: a peer already built with the same
# version and options is not built again. Issue 16, docs/interop.md
# ("DTLS 1.3 peers").
#
#   scripts/build-peers.sh [wolfssl] [nss]     (no argument: both)
#
#  - wolfSSL 5.9.2, the orig tarball of Debian's newest suite (sid: its .dsc
#    and Debian diff are not always served, the orig tarball is, and apt
#    checks it against the Sources index's SHA-256), configured for DTLS 1.3
#    with connection IDs, fragmented ClientHellos, X25519 and the ML-KEM
#    hybrids, giving .peers/wolfssl/bin/{client,server} (wolfSSL's
#    examples, run with `-u -v 4`; statically linked).
#  - NSS 3.110 (and NSPR 4.36, which it needs: bookworm's is 4.35) from
#    trixie's sources: bookworm's NSS 3.87 speaks DTLS 1.3 draft 43
#    (0x7f2b), which RFC 9147 peers refuse. Gives .peers/nss/bin/{tstclnt,
#    selfserv,certutil,pk12util} and .peers/nss/lib (run with
#    LD_LIBRARY_PATH=.peers/nss/lib).
#
# Sources come from Debian's mirror through apt (a private source list and
# index under .peers/apt: the system's apt configuration is not touched).
# A peer that cannot be fetched or built leaves .peers/<peer>.skip with the
# reason (the tests read it and skip, saying so) and this script exits 0 for
# it: the interop tests report that skip, the build does not fail the run.
# Wall time of each build goes to .peers/<peer>.time.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.peers"
mkdir -p "$cache/dl"

WOLFSSL_VERSION=5.9.2
WOLFSSL_SUITE=sid
# issue 16's options, and what our 1.2 interop tests use besides (PSK,
# AES-CCM, Ed25519 for the libsodium build's certificates); issue 17's RFC
# 7250 raw public keys (--enable-rpk) and 1.3 post-handshake client auth
# (--enable-postauth); issue 17's 1.3 resumption: without
# --enable-session-ticket (off by default) wolfSSL has no 1.3
# NewSessionTicket at all and its example client refuses -r with -v 4
# ("Can't do TLS 1.3 resumption; need session tickets!", client.c). The
# options are part of the cache key below, so a .peers/wolfssl built without
# them is rebuilt.
WOLFSSL_OPTS=(--enable-dtls --enable-dtls13 --enable-dtlscid --enable-dtls-frag-ch
              --enable-curve25519 --enable-mlkem --enable-pqc-hybrids
              --enable-psk --enable-aesccm --enable-ed25519
              --enable-rpk --enable-postauth --enable-session-ticket
              --enable-static --disable-shared --disable-crypttests --disable-benchmark)
NSS_VERSION=3.110
NSS_SUITE=trixie
NSPR_VERSION=4.36

jobs=$(nproc 2>/dev/null || echo 2)

log() { echo "build-peers: $*"; }

skip() { # peer reason...
  local peer=$1
  shift
  echo "$*" > "$cache/$peer.skip"
  log "$peer: SKIP: $*"
}

# A private apt configuration: deb-src lines for the suites we take sources
# from, lists and cache under .peers/apt. Debian's archive key is the
# system's own.
apt_conf() {
  local a="$cache/apt"
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
  local uri=http://deb.debian.org/debian
  # apt's configured Debian mirror, if it is another one
  local sys
  sys=$(grep -hoE '^URIs: *[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}')
  [ -n "$sys" ] && uri=${sys%/}
  local key=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb-src [signed-by=%s] %s %s main\n' "$key" "$uri" sid "$key" "$uri" trixie > "$a/sources.list"
  APTO=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" -o APT::Get::List-Cleanup=0
        -o APT::Sandbox::User=root)
}

apt_updated=0
apt_update() {
  [ $apt_updated -eq 1 ] && return 0
  apt_conf
  # a day-old index is good enough: the versions are pinned
  if [ -z "$(find "$cache/apt/lists" -name '*Sources' -mmin -1440 2>/dev/null | head -1)" ]; then
    apt-get "${APTO[@]}" update -qq > "$cache/apt/update.log" 2>&1 || return 1
  fi
  apt_updated=1
}

# fetch_orig SRCPKG UPSTREAM_VERSION SUITE: the orig tarball into .peers/dl,
# checked against the SHA-256 of the suite's Sources index (apt-get source
# checks it too; we check again because we go on when the .dsc is missing).
fetch_orig() {
  local pkg=$1 ver=$2 suite=$3
  local f
  f=$(ls "$cache/dl/${pkg}_${ver}.orig.tar."* 2>/dev/null | grep -v '\.asc$' | head -1)
  if [ -n "$f" ] && [ -f "$f.ok" ]; then
    echo "$f"
    return 0
  fi
  apt_update || { echo "apt-get update (deb-src $suite) failed: $(tail -1 "$cache/apt/update.log")" >&2; return 1; }
  local full
  full=$(apt-cache "${APTO[@]}" showsrc "$pkg" 2>/dev/null |
         awk -v v="$ver" '/^Version:/ {split($2, a, ":"); u = a[length(a)]; sub(/-[^-]*$/, "", u); if (u == v) {print $2; exit}}')
  if [ -z "$full" ]; then
    echo "no $pkg $ver source in Debian $suite's index" >&2
    return 1
  fi
  # the .dsc and the Debian diff may 404 (sid's wolfSSL): the orig is all we use
  (cd "$cache/dl" && apt-get "${APTO[@]}" source --download-only -qq "$pkg=$full" > "$cache/dl/$pkg.fetch.log" 2>&1)
  f=$(ls "$cache/dl/${pkg}_${ver}.orig.tar."* 2>/dev/null | grep -v '\.asc$' | head -1)
  if [ -z "$f" ]; then
    echo "apt-get source $pkg=$full fetched no orig tarball: $(grep -m1 '^E:' "$cache/dl/$pkg.fetch.log")" >&2
    return 1
  fi
  local want got
  want=$(apt-cache "${APTO[@]}" showsrc "$pkg" 2>/dev/null |
         awk -v n="$(basename "$f")" '/^Checksums-Sha256:/ {s = 1; next} /^[^ ]/ {s = 0} s && $3 == n {print $1; exit}')
  got=$(sha256sum "$f" | cut -d' ' -f1)
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "$(basename "$f"): SHA-256 $got, Debian's index says ${want:-nothing}" >&2
    rm -f "$f"
    return 1
  fi
  touch "$f.ok"
  echo "$f"
}

build_wolfssl() {
  local dir="$cache/wolfssl" key="wolfssl $WOLFSSL_VERSION ${WOLFSSL_OPTS[*]}"
  if [ -x "$dir/bin/client" ] && [ -x "$dir/bin/server" ] && [ "$(cat "$dir/built" 2>/dev/null)" = "$key" ]; then
    log "wolfssl $WOLFSSL_VERSION: cached ($dir/bin)"
    rm -f "$cache/wolfssl.skip"
    return 0
  fi
  local t0=$SECONDS
  local tools
  for tools in autoreconf automake libtoolize make cc; do
    command -v $tools > /dev/null || { skip wolfssl "no $tools (scripts/setup.sh installs autoconf, automake, libtool)"; return 0; }
  done
  local tarball
  tarball=$(fetch_orig wolfssl "$WOLFSSL_VERSION" "$WOLFSSL_SUITE" 2> "$cache/wolfssl.err") ||
    { skip wolfssl "wolfSSL $WOLFSSL_VERSION source: $(cat "$cache/wolfssl.err")"; return 0; }
  rm -rf "$dir" && mkdir -p "$dir/bin"
  local src="$dir/src" blog="$dir/build.log"
  mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1 || { skip wolfssl "unpacking $tarball failed"; return 0; }
  log "wolfssl $WOLFSSL_VERSION: building (log $blog)"
  if ! (cd "$src" && nice ./autogen.sh && nice ./configure "${WOLFSSL_OPTS[@]}" &&
        nice make -j"$jobs" examples/client/client examples/server/server) > "$blog" 2>&1; then
    skip wolfssl "wolfSSL $WOLFSSL_VERSION build failed: $(grep -m1 -E '\*\*\*|error:' "$blog" || tail -1 "$blog")"
    return 0
  fi
  cp "$src/examples/client/client" "$src/examples/server/server" "$dir/bin/"
  # the examples' default certificates, for a quick hand check
  cp -r "$src/certs" "$dir/certs"
  # the sources are 200+ MB built: keep only what runs
  rm -rf "$src"
  echo "$key" > "$dir/built"
  echo $((SECONDS - t0)) > "$cache/wolfssl.time"
  rm -f "$cache/wolfssl.skip" "$cache/wolfssl.err"
  log "wolfssl $WOLFSSL_VERSION: built in $((SECONDS - t0)) s"
}

build_nss() {
  local dir="$cache/nss" key="nss $NSS_VERSION nspr $NSPR_VERSION sslkeylogfile"
  if [ -x "$dir/bin/tstclnt" ] && [ -x "$dir/bin/selfserv" ] && [ "$(cat "$dir/built" 2>/dev/null)" = "$key" ]; then
    log "nss $NSS_VERSION: cached ($dir/bin)"
    rm -f "$cache/nss.skip"
    return 0
  fi
  local t0=$SECONDS
  local tools
  for tools in make cc c++ python3 perl; do
    command -v $tools > /dev/null || { skip nss "no $tools"; return 0; }
  done
  local nss_tar nspr_tar
  nss_tar=$(fetch_orig nss "$NSS_VERSION" "$NSS_SUITE" 2> "$cache/nss.err") ||
    { skip nss "NSS $NSS_VERSION source: $(cat "$cache/nss.err")"; return 0; }
  nspr_tar=$(fetch_orig nspr "$NSPR_VERSION" "$NSS_SUITE" 2> "$cache/nss.err") ||
    { skip nss "NSPR $NSPR_VERSION source: $(cat "$cache/nss.err")"; return 0; }
  rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/lib"
  local src="$dir/src" blog="$dir/build.log"
  mkdir -p "$src"
  # NSS's make build wants nss/ and nspr/ side by side
  tar -xzf "$nss_tar" -C "$src" --strip-components=1 && tar -xzf "$nspr_tar" -C "$src" --strip-components=1 ||
    { skip nss "unpacking the NSS/NSPR sources failed"; return 0; }
  [ -d "$src/nss" ] && [ -d "$src/nspr" ] || { skip nss "unexpected source layout: $(ls "$src" | tr '\n' ' ')"; return 0; }
  log "nss $NSS_VERSION: building (log $blog)"
  # The legacy make build (what Debian's package uses): NSPR, then NSS's
  # libraries and command-line tools (nss_build_all; no gtests). USE_64
  # for x86_64; NSS_ENABLE_WERROR=0: a newer compiler's warnings are not
  # our business here; NSS_ALLOW_SSLKEYLOGFILE=1: an optimised build leaves
  # SSLKEYLOGFILE out by default (lib/ssl/Makefile), and the tests compare
  # NSS's key log with ours.
  # coreconf lists a library's sub-objects with $(shell $(MAKE) ... get_objs);
  # under -j that sub-make inherits a jobserver it cannot reach and its
  # warning lands in the object list ("multiple target patterns"): give it
  # an empty MAKEFLAGS.
  sed -i 's/\$(shell \$(MAKE) -C/$(shell MAKEFLAGS= $(MAKE) -C/' "$src/nss/coreconf/rules.mk"
  local mk=(USE_64=1 BUILD_OPT=1 NSS_ALLOW_SSLKEYLOGFILE=1 NSS_ENABLE_WERROR=0 NSS_DISABLE_GTESTS=1 NSDISTMODE=copy
            NSS_USE_SYSTEM_SQLITE=0 NSS_DISABLE_DBM=1 ZDEFS_FLAG=)
  if ! (cd "$src/nss" && nice make -j"$jobs" "${mk[@]}" nss_build_all) > "$blog" 2>&1; then
    skip nss "NSS $NSS_VERSION build failed: $(grep -m1 -E '\*\*\*|error:' "$blog" || tail -1 "$blog")"
    return 0
  fi
  local dist
  dist=$(ls -d "$src"/dist/Linux*_OPT.OBJ 2>/dev/null | head -1)
  [ -n "$dist" ] && [ -x "$dist/bin/tstclnt" ] || { skip nss "NSS $NSS_VERSION built no tstclnt"; return 0; }
  local p
  for p in tstclnt selfserv certutil pk12util; do
    [ -x "$dist/bin/$p" ] && cp "$dist/bin/$p" "$dir/bin/"
  done
  cp -a "$dist"/lib/*.so "$dist"/lib/*.chk "$dir/lib/" 2>/dev/null
  rm -rf "$src"
  echo "$key" > "$dir/built"
  echo $((SECONDS - t0)) > "$cache/nss.time"
  rm -f "$cache/nss.skip" "$cache/nss.err"
  log "nss $NSS_VERSION: built in $((SECONDS - t0)) s"
}

peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(wolfssl nss)
for p in "${peers[@]}"; do
  case $p in
    wolfssl) build_wolfssl ;;
    nss) build_nss ;;
    *) echo "build-peers: unknown peer $p (wolfssl, nss)" >&2; exit 2 ;;
  esac
done
exit 0
