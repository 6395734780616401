#!/usr/bin/env python3
"""Generates src/common/selftest_vectors.h for cdtls_provider_selftest().

Published vectors (RFC 7748 §6.1, RFC 8032 §7.1 TEST 1, RFC 8439 §2.8.2,
the GCM spec test case 2, RFC 4231 case 2, RFC 2202 case 2, FIPS 180 "abc")
are written in as published and checked here against Python's hashlib/hmac
and the `cryptography` package (OpenSSL); where no published vector fits a
DTLS parameter set (AES-CCM/CCM_8 with a 12-byte nonce, ECDH/ECDSA with fixed
scalars, RSA signatures) the values are computed here with `cryptography` and
frozen. Published and fixed-scalar values reproduce byte for byte on a
re-run; the ECDSA and RSA signatures and the RSA key are fresh on every run
(ECDSA and PSS are randomized, and `cryptography` cannot seed RSA key
generation), so those are verify-only known answers.

Usage: python3 scripts/gen_selftest_vectors.py > src/common/selftest_vectors.h
"""
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

H = bytes.fromhex
out = []


def c_array(name, data):
    body = ", ".join("0x%02x" % b for b in data)
    out.append("static const uint8_t %s[%d] = {%s};" % (name, max(len(data), 1), body if data else "0"))


def check(cond, what):
    if not cond:
        raise SystemExit("vector check failed: " + what)


# Hashes: FIPS 180-4 examples over "abc".
digests = {
    "sha1": "a9993e364706816aba3e25717850c26c9cd0d89d",
    "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "sha384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    "sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
}
for name, hexd in digests.items():
    check(hashlib.new(name, b"abc").hexdigest() == hexd, name)
    c_array("st_%s_abc" % name, H(hexd))

# HMAC: RFC 4231 test case 2 ("Jefe"), RFC 2202 test case 2 for SHA-1.
hmacs = {
    "sha1": "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
    "sha256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    "sha384": "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
    "sha512": "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
}
for name, hexd in hmacs.items():
    check(hmac.new(b"Jefe", b"what do ya want for nothing?", name).hexdigest() == hexd, "hmac " + name)
    c_array("st_hmac_%s_jefe" % name, H(hexd))

# AEAD. GCM spec test case 2 (AES-128, zero key/IV, one zero block).
k, iv, pt = bytes(16), bytes(12), bytes(16)
ct = AESGCM(k).encrypt(iv, pt, None)
check(ct.hex() == "0388dace60b6a392f328c2b971b2fe78" + "ab6e47d42cec13bdf53a67b21257bddf", "gcm tc2")
c_array("st_gcm128_ct", ct)
# GCM spec test case 14 (AES-256, zero key/IV, one zero block).
ct = AESGCM(bytes(32)).encrypt(iv, pt, None)
check(ct.hex() == "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919", "gcm tc14")
c_array("st_gcm256_ct", ct)

# CCM with the DTLS parameters (12-byte nonce): no published vector, so
# computed here with OpenSSL through `cryptography`.
ccm_key = bytes(range(32))
ccm_nonce = bytes(range(0x10, 0x1c))
ccm_aad = b"cdtls ccm aad"
ccm_pt = b"cdtls self-test message!"
c_array("st_ccm_key", ccm_key)
c_array("st_ccm_nonce", ccm_nonce)
c_array("st_ccm_aad", ccm_aad)
c_array("st_ccm_pt", ccm_pt)
for bits in (128, 256):
    for tag in (16, 8):
        ct = AESCCM(ccm_key[: bits // 8], tag_length=tag).encrypt(ccm_nonce, ccm_pt, ccm_aad)
        c_array("st_ccm%d_%d_ct" % (bits, tag), ct)

# ChaCha20-Poly1305: RFC 8439 §2.8.2.
cc_key = H("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
cc_nonce = H("070000004041424344454647")
cc_aad = H("50515253c0c1c2c3c4c5c6c7")
cc_pt = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
         b"for the future, sunscreen would be it.")
ct = ChaCha20Poly1305(cc_key).encrypt(cc_nonce, cc_pt, cc_aad)
check(ct[-16:].hex() == "1ae10b594f09e26a7e902ecbd0600691", "rfc8439 tag")
check(ct[:4].hex() == "d31a8d34", "rfc8439 ct")
for n, v in (("key", cc_key), ("nonce", cc_nonce), ("aad", cc_aad), ("pt", cc_pt), ("ct", ct)):
    c_array("st_chacha_" + n, v)

# AES-CBC: NIST SP 800-38A F.2.1 / F.2.5, first block.
cbc_iv = H("000102030405060708090a0b0c0d0e0f")
cbc_pt = H("6bc1bee22e409f96e93d7e117393172a")
k128 = H("2b7e151628aed2a6abf7158809cf4f3c")
k256 = H("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
for bits, key, exp in ((128, k128, "7649abac8119b246cee98e9b12e9197d"),
                       (256, k256, "f58c4c04d6e5f1ba779eabfb5f7bfbd6")):
    e = Cipher(algorithms.AES(key), modes.CBC(cbc_iv)).encryptor()
    check((e.update(cbc_pt) + e.finalize()).hex() == exp, "cbc %d" % bits)
    c_array("st_cbc%d_key" % bits, key)
    c_array("st_cbc%d_ct" % bits, H(exp))
c_array("st_cbc_iv", cbc_iv)
c_array("st_cbc_pt", cbc_pt)

# X25519: RFC 7748 §6.1.
a_priv = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
b_pub = H("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
a_pub = H("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
shared = H("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
xa = x25519.X25519PrivateKey.from_private_bytes(a_priv)
check(xa.public_key().public_bytes_raw() == a_pub, "x25519 pub")
check(xa.exchange(x25519.X25519PublicKey.from_public_bytes(b_pub)) == shared, "x25519 shared")
for n, v in (("a_priv", a_priv), ("a_pub", a_pub), ("b_pub", b_pub), ("shared", shared)):
    c_array("st_x25519_" + n, v)

# ECDH P-256 / P-384 with fixed scalars (computed here).
for name, curve, size in (("p256", ec.SECP256R1(), 32), ("p384", ec.SECP384R1(), 48)):
    da = int.from_bytes(hashlib.sha512(b"cdtls selftest a " + name.encode()).digest()[:size], "big") % (2**(8*size-2))
    db = int.from_bytes(hashlib.sha512(b"cdtls selftest b " + name.encode()).digest()[:size], "big") % (2**(8*size-2))
    ka, kb = ec.derive_private_key(da, curve), ec.derive_private_key(db, curve)
    pub = lambda k: k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    c_array("st_%s_a_priv" % name, da.to_bytes(size, "big"))
    c_array("st_%s_a_pub" % name, pub(ka))
    c_array("st_%s_b_pub" % name, pub(kb))
    c_array("st_%s_shared" % name, ka.exchange(ec.ECDH(), kb.public_key()))

# Ed25519: RFC 8032 §7.1 TEST 1 (empty message).
ed_sk = H("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ed_pk = H("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
ed_sig = H("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
ek = ed25519.Ed25519PrivateKey.from_private_bytes(ed_sk)
check(ek.public_key().public_bytes_raw() == ed_pk and ek.sign(b"") == ed_sig, "ed25519")
for n, v in (("sk", ed_sk), ("pk", ed_pk), ("sig", ed_sig)):
    c_array("st_ed25519_" + n, v)

msg = b"cdtls provider self-test"
c_array("st_sig_msg", msg)

# ECDSA P-256/SHA-256 and P-384/SHA-384: a fixed key and one signature made
# here (verify-only known answer; signing is randomized or RFC 6979).
for name, curve, size, h in (("p256", ec.SECP256R1(), 32, hashes.SHA256()), ("p384", ec.SECP384R1(), 48, hashes.SHA384())):
    d = int.from_bytes(hashlib.sha512(b"cdtls ecdsa " + name.encode()).digest()[:size], "big") % (2**(8*size-2))
    k = ec.derive_private_key(d, curve)
    sig = k.sign(msg, ec.ECDSA(h))
    c_array("st_ecdsa_%s_priv" % name, d.to_bytes(size, "big"))
    c_array("st_ecdsa_%s_pub" % name, k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    c_array("st_ecdsa_%s_sig" % name, sig)

# RSA-2048 key with fixed primes from a seeded search is not possible with
# `cryptography`; the key is generated once and frozen in the output.
rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
nums = rk.private_numbers()
def b(i, n=None):
    n = n or (i.bit_length() + 7) // 8
    return i.to_bytes(n, "big")
c_array("st_rsa_n", b(nums.public_numbers.n, 256))
c_array("st_rsa_e", b(nums.public_numbers.e))
c_array("st_rsa_pkcs1_sha256_sig", rk.sign(msg, padding.PKCS1v15(), hashes.SHA256()))
c_array("st_rsa_pss_sha256_sig", rk.sign(msg, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()))

# DTLS 1.3 record number masks (RFC 9147 §4.2.3): AES-ECB of one block,
# FIPS-197 Appendix C.1 (AES-128) and C.3 (AES-256); the ChaCha20 block of
# RFC 8439 §2.4.2 (key 00..1f, counter 1, nonce 00 00 00 00 00 00 00 4a
# 00 00 00 00), whose first 16 bytes are that section's keystream. As a
# mask sample the counter comes first, little-endian.
sn_key = bytes(range(32))
sn_aes_pt = H("00112233445566778899aabbccddeeff")
sn_aes128 = H("69c4e0d86a7b0430d8cdb78070b4c55a")
sn_aes256 = H("8ea2b7ca516745bfeafc49904b496089")
sn_chacha_sample = H("01000000000000000000004a00000000")
sn_chacha = H("224f51f3401bd9e12fde276fb8631ded")
def ecb(key, block):
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()
check(ecb(sn_key[:16], sn_aes_pt) == sn_aes128, "aes-128 fips-197")
check(ecb(sn_key, sn_aes_pt) == sn_aes256, "aes-256 fips-197")
check(Cipher(algorithms.ChaCha20(sn_key, sn_chacha_sample), None).encryptor().update(bytes(16)) == sn_chacha,
      "chacha20 rfc 8439")
c_array("st_sn_key", sn_key)
c_array("st_sn_aes_pt", sn_aes_pt)
c_array("st_sn_aes128", sn_aes128)
c_array("st_sn_aes256", sn_aes256)
c_array("st_sn_chacha_sample", sn_chacha_sample)
c_array("st_sn_chacha", sn_chacha)

print("/* Generated by scripts/gen_selftest_vectors.py: do not edit by hand. */")
print("#ifndef CDTLS_SELFTEST_VECTORS_H\n#define CDTLS_SELFTEST_VECTORS_H\n#include <stdint.h>")
print("\n".join(out))
print("#endif")
