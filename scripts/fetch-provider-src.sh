#!/usr/bin/env bash
# Fetches the upstream sources of the crypto providers (BearSSL, libsodium)
# from Debian's source packages, for cross-compiled builds
# (`zig build -Dtarget=... -Dprovider-source=source`, docs/portability.md).
#
#   third_party/bearssl/    BearSSL   (Debian source package "bearssl")
#   third_party/libsodium/  libsodium (Debian source package "libsodium", from
#                           Debian unstable: 1.0.22, the first release with
#                           ML-KEM-768, crypto_kem_mlkem768_*; docs/pq.md)
#
# The sources are never committed (third_party/ is in .gitignore). apt runs
# with a private state directory under third_party/apt/, so the machine's
# apt configuration is left alone and no root is needed; only `apt-get
# source` (with dpkg-source, package dpkg-dev) and network access to the
# Debian archive are. Debian's patches (security fixes) are applied by
# dpkg-source. Idempotent: does nothing when both trees are present (a
# libsodium tree without ML-KEM, the 1.0.18 of earlier runs, is fetched again).
#
# BearSSL comes from the machine's own release; libsodium from unstable (sid),
# whatever the machine runs: bookworm's 1.0.18 lacks ML-KEM, and the sodium
# build compiles this tree natively too when the system libsodium is older
# (build.zig, sodiumFromSource).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tp="$root/third_party"
have_bearssl=0 have_sodium=0
[ -f "$tp/bearssl/.cdtls-source" ] && have_bearssl=1
[ -f "$tp/libsodium/.cdtls-source" ] && [ -f "$tp/libsodium/src/libsodium/include/sodium/crypto_kem_mlkem768.h" ] && have_sodium=1
if [ $have_bearssl = 1 ] && [ $have_sodium = 1 ]; then
  exit 0
fi
command -v dpkg-source >/dev/null || { echo "fetch-provider-src: dpkg-source missing (apt-get install dpkg-dev)"; exit 1; }

# The Debian release this machine runs (bookworm, trixie, ...).
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
apt="$tp/apt"
mkdir -p "$apt/etc/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/work"
{
  echo "deb-src http://deb.debian.org/debian $codename main"
  [ "$codename" = sid ] || echo "deb-src http://deb.debian.org/debian sid main"
} > "$apt/etc/sources.list"
aptopts=(-q -o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=$apt/etc/sources.list.d"
         -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
# name/suite: apt-get source takes the package from that suite only.
want=()
[ $have_bearssl = 1 ] || want+=("bearssl/$codename")
[ $have_sodium = 1 ] || want+=("libsodium/sid")
echo "fetch-provider-src: fetching ${want[*]} from Debian"
apt-get "${aptopts[@]}" update >/dev/null
rm -rf "$apt/work" && mkdir -p "$apt/work"
(cd "$apt/work" && apt-get "${aptopts[@]}" source "${want[@]}" >/dev/null)

place() { # place NAME: move the unpacked tree $apt/work/NAME-VERSION to third_party/NAME
  local name=$1 dir dsc
  dir=$(find "$apt/work" -maxdepth 1 -type d -name "$name-*" | head -n 1)
  dsc=$(find "$apt/work" -maxdepth 1 -name "${name}_*.dsc" | head -n 1)
  [ -n "$dir" ] || { echo "fetch-provider-src: no $name source tree unpacked"; exit 1; }
  rm -rf "${tp:?}/$name"
  mv "$dir" "$tp/$name"
  basename "$dsc" .dsc > "$tp/$name/.cdtls-source"
}
[ $have_bearssl = 1 ] || place bearssl
if [ $have_sodium = 0 ]; then
  place libsodium
  # libsodium's version.h is made by ./configure; the one prepared for MSVC
  # builds has the same content for this version and needs no configure run.
  cp "$tp/libsodium/builds/msvc/version.h" "$tp/libsodium/src/libsodium/include/sodium/version.h"
  [ -f "$tp/libsodium/src/libsodium/include/sodium/crypto_kem_mlkem768.h" ] ||
    { echo "fetch-provider-src: $(cat "$tp/libsodium/.cdtls-source") has no ML-KEM-768 (need 1.0.22+)"; exit 1; }
fi
rm -rf "$apt/work"
echo "fetch-provider-src: $(cat "$tp/bearssl/.cdtls-source"), $(cat "$tp/libsodium/.cdtls-source") in third_party/"
