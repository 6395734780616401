#!/usr/bin/env bash
# Installs what cdtls needs to build and test, idempotently:
#  - Debian packages (only those missing): compilers, BearSSL, libsodium,
#    Criterion, and the peers the interop tests talk to;
#  - zig, pinned, from PyPI into a project-local virtualenv (.venv/).
# Safe to run again and again; it does nothing when everything is present.
set -euo pipefail
ZIG_VERSION=0.15.2
root=$(cd "$(dirname "$0")/.." && pwd)

# qemu-user and wine64 run the cross-compiled tests; dpkg-dev (dpkg-source)
# unpacks the providers' Debian source packages (scripts/fetch-provider-src.sh);
# llvm gives llvm-size/llvm-nm for the firmware size report; libclang-rt-14-dev
# holds clang's libFuzzer and sanitizer runtimes (scripts/fuzz.sh); libssl-dev
# is what bench/openssl_bench.c links (scripts/bench.sh); libnss3-tools gives
# NSS's tstclnt, certutil and pk12util (tests/test_interop_nss.c); iproute2
# and nftables build the network namespaces, routes and ICMP-answering rules
# of tests/test_io_netns.c; clang-format-14 is the formatter
# scripts/check-format.sh pins; zip and unzip pack and unpack the seed
# corpora of the OSS-Fuzz build (oss-fuzz/check.sh); nginx and its stream
# module are the UDP load balancer of the cluster test (tests/test_workers.c,
# which starts its own nginx on loopback ports).
pkgs=(build-essential clang llvm libclang-rt-14-dev clang-format-14 pkg-config python3 python3-venv
      libbearssl-dev libsodium-dev libcriterion-dev libssl-dev
      openssl gnutls-bin libnss3-tools wine64 tshark qemu-user dpkg-dev iproute2 nftables zip unzip
      nginx libnginx-mod-stream)
# autoconf, automake and libtool: wolfSSL's autogen.sh, for the DTLS 1.3
# interop peers that scripts/build-peers.sh builds from Debian's sources.
pkgs+=(autoconf automake libtool)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark's package asks whether non-root users may capture: no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="$root/.venv"
if ! "$venv/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIG_VERSION"; then
  echo "setup: installing zig $ZIG_VERSION (PyPI ziglang) into .venv/"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "ziglang==$ZIG_VERSION"
fi
