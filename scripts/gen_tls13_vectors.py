#!/usr/bin/env python3
"""Known answers for tests/test_tls13_schedule.c where RFC 8448 has none:
the SHA-384 chain (TLS_AES_256_GCM_SHA384) and the DTLS 1.3 label prefix
"dtls13" (RFC 9147 §5.9), from Python's hashlib/hmac and RFC 5869 / RFC 8446
§7 written out here, independently of cdtls. The inputs are fixed byte
patterns, so a re-run prints the same values.

Usage: python3 scripts/gen_tls13_vectors.py   (prints C string literals)
"""
import hashlib
import hmac


def extract(h, salt, ikm):
    n = h().digest_size
    return hmac.new(salt or bytes(n), ikm or bytes(n), h).digest()


def expand(h, prk, info, length):
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), h).digest()
        out += t
        i += 1
    return out[:length]


def expand_label(h, prefix, secret, label, context, length):
    full = prefix + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return expand(h, secret, info, length)


def derive(h, prefix, secret, label, transcript_hash):
    return expand_label(h, prefix, secret, label, transcript_hash, h().digest_size)


def chain(h, prefix, psk, shared, key_len):
    """Every value of the schedule for fixed transcript hashes."""
    n = h().digest_size
    empty = h(b"").digest()
    th = {k: h(k.encode()).digest() for k in ("CH", "CH..SH", "CH..SF", "CH..CF", "truncated CH")}
    v = {}
    early = extract(h, None, psk)
    v["early"] = early
    v["res_binder_key"] = derive(h, prefix, early, b"res binder", empty)
    v["ext_binder_key"] = derive(h, prefix, early, b"ext binder", empty)
    fk = expand_label(h, prefix, v["res_binder_key"], b"finished", b"", n)
    v["binder"] = hmac.new(fk, th["truncated CH"], h).digest()
    v["c_e_traffic"] = derive(h, prefix, early, b"c e traffic", th["CH"])
    v["e_exp_master"] = derive(h, prefix, early, b"e exp master", th["CH"])
    hs = extract(h, derive(h, prefix, early, b"derived", empty), shared)
    v["handshake"] = hs
    v["c_hs"] = derive(h, prefix, hs, b"c hs traffic", th["CH..SH"])
    v["s_hs"] = derive(h, prefix, hs, b"s hs traffic", th["CH..SH"])
    ms = extract(h, derive(h, prefix, hs, b"derived", empty), None)
    v["master"] = ms
    v["c_ap"] = derive(h, prefix, ms, b"c ap traffic", th["CH..SF"])
    v["s_ap"] = derive(h, prefix, ms, b"s ap traffic", th["CH..SF"])
    v["exp_master"] = derive(h, prefix, ms, b"exp master", th["CH..SF"])
    v["res_master"] = derive(h, prefix, ms, b"res master", th["CH..CF"])
    v["s_hs_key"] = expand_label(h, prefix, v["s_hs"], b"key", b"", key_len)
    v["s_hs_iv"] = expand_label(h, prefix, v["s_hs"], b"iv", b"", 12)
    v["s_hs_sn"] = expand_label(h, prefix, v["s_hs"], b"sn", b"", key_len)
    fk = expand_label(h, prefix, v["s_hs"], b"finished", b"", n)
    v["s_finished"] = hmac.new(fk, th["CH..SH"], h).digest()
    v["c_ap_1"] = expand_label(h, prefix, v["c_ap"], b"traffic upd", b"", n)
    v["psk_nonce_0001"] = expand_label(h, prefix, v["res_master"], b"resumption", b"\x00\x01", n)
    secret = derive(h, prefix, v["exp_master"], b"EXPORTER-cdtls-test", empty)
    v["export_ctx_42"] = expand_label(h, prefix, secret, b"exporter", h(b"ctx").digest(), 42)
    return v


def show(title, v):
    print(f"/* {title} */")
    for k, b in v.items():
        print(f'    {{"{k}", "{b.hex()}"}},')


# SHA-384: PSK 0x01..0x30, (EC)DHE 0x40..0x6f, AES-256 keys
show("SHA-384, tls13 prefix", chain(hashlib.sha384, b"tls13 ", bytes(range(1, 49)), bytes(range(0x40, 0x70)), 32))
# SHA-256 with the DTLS 1.3 prefix: the same inputs cut to 32 bytes, AES-128
show("SHA-256, dtls13 prefix", chain(hashlib.sha256, b"dtls13", bytes(range(1, 33)), bytes(range(0x40, 0x60)), 16))
