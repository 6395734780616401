#!/usr/bin/env python3
"""Gathers the JSON result lines of one scripts/bench.sh run (cdtls-bench-*,
openssl-bench, pion-bench, pion4-bench and wolfssl-bench for DTLS 1.3, and
bench.sh's own meta lines) into one table with
ratios, printed as Markdown, and a machine-readable results.json.

    report.py RAW.jsonl OUT.json [OUT.md]

Ratios are ours / theirs: above 1 is better for rates, below 1 is better
for bytes and nanoseconds. A cell is empty where a program did not measure
the workload; "n/m" where it said why it could not (the why is listed under
the table). Nothing here makes up a number: every value is a measured one
or a quotient of two measured ones."""
import json
import sys

IMPLS = [("cdtls-bearssl", "bearssl"), ("cdtls-sodium", "sodium"), ("cdtls-openssl", "libcrypto"),
         ("openssl", "OpenSSL"), ("pion", "pion")]
OURS = [k for k, _ in IMPLS if k.startswith("cdtls")]
# the ratio columns: each cdtls provider against OpenSSL's DTLS, then against pion
RATIOS = [(o, t) for t in ("openssl", "pion") for o in OURS]
# The DTLS 1.3 tables (hs13, tput13): OpenSSL's DTLS has no 1.3; pion there
# is pion/dtls v4 (bench/pion4), and wolfSSL (bench/wolfssl_bench.c) joins:
# each cdtls provider against pion v4, then against wolfSSL.
IMPLS13 = [("cdtls-bearssl", "bearssl"), ("cdtls-sodium", "sodium"), ("cdtls-openssl", "libcrypto"),
           ("pion", "pion v4"), ("wolfssl", "wolfSSL")]
RATIOS13 = [(o, t) for t in ("pion", "wolfssl") for o in OURS]
ALL_IMPLS = IMPLS + [("wolfssl", "wolfSSL")]


def impl_key(name):
    for key, _ in ALL_IMPLS:
        if name.startswith(key):
            return key
    return None


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main():
    raw, out_json = sys.argv[1], sys.argv[2]
    out_md = sys.argv[3] if len(sys.argv) > 3 else None
    results, meta, why = {}, [], []
    impl_names = {}
    for line in open(raw):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "meta" in r:
            meta.append(r)
            continue
        k = impl_key(r.get("impl", ""))
        if not k:
            continue
        impl_names[k] = r["impl"]
        impl_names[(k, r["workload"])] = r["impl"]
        key = (r["workload"], r["suite"], r["metric"] if r["metric"] != "not_measured" else None)
        if r["metric"] == "not_measured":
            why.append((k, r["workload"], r["suite"], r.get("why", "")))
            results.setdefault((r["workload"], r["suite"], "n/m"), {})[k] = "n/m"
        else:
            results.setdefault(key, {})[k] = r["value"]

    def get(w, s, m, k):
        return results.get((w, s, m), {}).get(k)

    def nm(w, s, k):
        # a program that could not make a suite's full 1.3 handshakes says
        # so once, for the suite: its resumed row is not measured for that
        if s.endswith(" resumed") and (w, s, "n/m") not in results:
            return results.get((w, s[: -len(" resumed")], "n/m"), {}).get(k)
        return results.get((w, s, "n/m"), {}).get(k)

    lines = []

    def table(title, rows, note="", impls=IMPLS, ratios=RATIOS):
        """rows: (label, workload, suite, metric[, peer workload]); with a
        peer workload the peers' cells and the ratios use that one (the
        peers' unbatched numbers beside our batched ones, marked *).
        impls: the columns (key, label); ratios: (ours, theirs) keys."""
        label_of = dict(impls)
        cols = [label for _, label in impls] + [f"{label_of[o]}/{label_of[t]}" for o, t in ratios]
        lines.append(f"### {title}")
        lines.append("")
        if note:
            lines.append(note)
            lines.append("")
        lines.append("| workload | suite | " + " | ".join(cols) + " |")
        lines.append("|" + "---|" * (len(cols) + 2))
        for row in rows:
            label, w, s, m = row[:4]
            pw = row[4] if len(row) > 4 else w
            vals = {k: get(w if k.startswith("cdtls") else pw, s, m, k) for k, _ in impls}
            cells = []
            for k, _ in impls:
                v = vals[k]
                mark = "*" if v is not None and pw != w and not k.startswith("cdtls") else ""
                cells.append(fmt(v) + mark if v is not None else (nm(w if k.startswith("cdtls") else pw, s, k) or ""))
            for ours, theirs in ratios:
                a, b = vals[ours], vals[theirs]
                num = (int, float)
                cells.append(f"{a / b:.2f}" if isinstance(a, num) and isinstance(b, num) and b else "")
            lines.append(f"| {k if k.startswith('cdtls') else label} | {s} | " + " | ".join(cells) + " |")
        lines.append("")

    suites_hs = ["PSK-AES128-GCM-SHA256", "PSK-CHACHA20-POLY1305-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256/P-256",
                 "ECDHE-ECDSA-CHACHA20-POLY1305/X25519/Ed25519"]
    suites_tp = suites_hs[:2]
    rows = []
    for s in suites_hs:
        rows.append(("full handshakes / CPU-s", "handshake", s, "hs_per_cpu_s"))
    for s in suites_hs:
        rows.append(("resumed handshakes / CPU-s", "resume", s, "hs_per_cpu_s"))
    for s in suites_hs:
        rows.append(("full handshakes / wall-s", "handshake", s, "hs_per_wall_s"))
    table("Handshakes per second per core (client + server on one core, loopback)", rows)

    suites_13 = ["TLS13-CHACHA20-POLY1305/X25519/Ed25519", "TLS13-CHACHA20-POLY1305/X25519MLKEM768/Ed25519",
                 "TLS13-AES128-GCM/X25519/ECDSA-P256", "TLS13-AES128-GCM/X25519MLKEM768/ECDSA-P256"]
    rows = []
    for s in suites_13:
        rows.append(("DTLS 1.3 full handshakes / CPU-s", "hs13", s, "hs_per_cpu_s"))
    for s in suites_13:
        rows.append(("DTLS 1.3 full handshakes / wall-s", "hs13", s, "hs_per_wall_s"))
    for s in suites_13:
        rows.append(("DTLS 1.3 handshake, median wall ms", "hs13", s, "median_ms"))
    for s in suites_13:
        rows.append(("DTLS 1.3 resumed handshakes / CPU-s", "hs13", s + " resumed", "hs_per_cpu_s"))
    for s in suites_13:
        rows.append(("DTLS 1.3 resumed handshakes / wall-s", "hs13", s + " resumed", "hs_per_wall_s"))
    if any(w == "hs13" for (w, _, _) in results):
        table("DTLS 1.3 full and resumed handshakes (client + server on one core, loopback)", rows,
              "DTLS 1.3 only on both sides, TLS_CHACHA20_POLY1305_SHA256 with an Ed25519 certificate (sodium has "
              "no P-256, bearssl no Ed25519) and TLS_AES_128_GCM_SHA256 with ECDSA P-256, checked by the client, cookie "
              "HelloRetryRequest on, one group offered and accepted. \"resumed\": each handshake resumes the "
              "previous one's session by its 1.3 ticket (psk_dhe_ke: the same group, no certificate), and waits "
              "until the client holds the new ticket. The pion column here is pion/dtls v4 "
              f"({impl_names.get(('pion', 'hs13'), 'not run')}), the wolfSSL one "
              f"{impl_names.get(('wolfssl', 'hs13'), 'wolfSSL (not run)')} (bench/wolfssl_bench.c, its own UDP "
              "I/O); OpenSSL's DTLS has no 1.3. Median ms: lower is "
              "better (its ratio below 1 favours cdtls). X25519MLKEM768 needs ML-KEM-768 in the provider "
              "(sodium with libsodium 1.0.22; libcrypto only with OpenSSL 3.5+): where the system's libsodium lacks it, the "
              "sodium column here is cdtls-bench-sodium-src, on libsodium 1.0.22 compiled from third_party/ (docs/portability.md: "
              "x86-64 SIMD and X25519 assembly), the other tables' on the system's.", IMPLS13, RATIOS13)

    rows = []
    for s in (suites_13[0], suites_13[2]):
        rows.append(("DTLS 1.3, 1200-B records, MB/CPU-s", "tput13", s, "MB_per_cpu_s"))
        rows.append(("DTLS 1.3, 1200-B records, MB/wall-s", "tput13", s, "MB_per_wall_s"))
        rows.append(("DTLS 1.3, 1200-B records lost", "tput13", s, "lost"))
    if any(w == "tput13" for (w, _, _) in results):
        table("DTLS 1.3 throughput, one connection over loopback (sender + receiver on one core)", rows,
              "X25519, 1200-byte records in windows of 32, one datagram per system call on both sides "
              "(cdtls: connected io sockets without receive reports). The pion column is pion/dtls v4; "
              "wolfSSL reads and writes its own unconnected UDP sockets.", IMPLS13, RATIOS13)

    rows = []
    for s in suites_tp:
        rows.append(("1200-B records, MB/CPU-s", "tput1200", s, "MB_per_cpu_s"))
        rows.append(("1200-B records, batched, MB/CPU-s", "tput1200_batch", s, "MB_per_cpu_s", "tput1200"))
        rows.append(("1200-B records, batched + GSO, MB/CPU-s", "tput1200_gso", s, "MB_per_cpu_s", "tput1200"))
        rows.append(("1200-B records, batched + GSO + GRO, MB/CPU-s", "tput1200_gro", s, "MB_per_cpu_s", "tput1200"))
        rows.append(("64-B records / CPU-s", "rec64", s, "rec_per_cpu_s"))
        rows.append(("64-B records, batched / CPU-s", "rec64_batch", s, "rec_per_cpu_s", "rec64"))
        rows.append(("64-B records, batched + GSO / CPU-s", "rec64_gso", s, "rec_per_cpu_s", "rec64"))
        rows.append(("64-B records, batched + GSO + GRO / CPU-s", "rec64_gro", s, "rec_per_cpu_s", "rec64"))
        rows.append(("1200-B records, socket layer, MB/CPU-s", "tput1200_sock", s, "MB_per_cpu_s", "tput1200"))
        rows.append(("64-B records, socket layer / CPU-s", "rec64_sock", s, "rec_per_cpu_s", "rec64"))
        rows.append(("1200-B records, MB/wall-s", "tput1200", s, "MB_per_wall_s"))
        rows.append(("1200-B records, socket layer, MB/wall-s", "tput1200_sock", s, "MB_per_wall_s", "tput1200"))
    table("Throughput, one connection over loopback (sender + receiver on one core)", rows,
          "Batched = cdtls_io_send_batch / cdtls_io_recv_batch (sendmmsg / recvmmsg); + GSO = the same "
          "with UDP GSO on the send side (runs of equal-size datagrams as one send); + GRO = and UDP GRO on "
          "the receiving socket (CDTLS_IO_GRO: coalesced reads cut back into datagrams). OpenSSL and pion "
          "send and receive one datagram per system call; in the batched rows their cells (marked *) "
          "repeat those numbers, so the ratios show what batching buys us against them. These rows "
          "drive the engine over io sockets connected to each other (cdtls_io_connect) that ask for no "
          "receive reports, as OpenSSL's sockets are. Socket layer = what a cdtls_sock user gets by default: a "
          "cdtls_sock_dial client writing 32 records with cdtls_sock_write_many, the cdtls_listener-accepted "
          "server socket reading them with cdtls_sock_read (timeout 0); its peer cells (marked *) are "
          "their per-datagram numbers too.")

    rows = []
    for s in suites_hs:
        rows.append(("bytes per established pair", "memory", s, "pair_established_B"))
        rows.append(("peak bytes during the handshake (pair)", "memory", s, "pair_peak_B"))
    table("Memory (client + server of one connection, lower is better)", rows,
          "cdtls and OpenSSL: through their allocator hooks (cdtls_allocator, CRYPTO_set_mem_functions), "
          "engine objects only, no sockets. pion: Go heap (runtime.MemStats.HeapAlloc after GC) per pair "
          "over 200 pairs held at once; its two read goroutines' stacks come on top (pion row below).")
    extra = []
    for s in suites_hs:
        for m, label in (("client_established_B", "cdtls client bytes, established"),
                         ("server_established_B", "cdtls server bytes, established"),
                         ("client_peak_B", "cdtls client peak"), ("server_peak_B", "cdtls server peak")):
            for k in OURS:
                v = get("memory", s, m, k)
                if v is not None:
                    extra.append(f"- {impl_names.get(k, k)}, {s}: {label} {fmt(v)} B")
        v = get("memory", s, "pair_goroutine_stack_B", "pion")
        if v is not None:
            extra.append(f"- pion, {s}: goroutine stacks per pair {fmt(v)} B (not in the table)")
    lines.extend(extra)
    lines.append("")

    # engine
    lines.append("### In-memory cost per record (seal + open, ns, best of 9)")
    lines.append("")
    lines.append("Engine = cdtls_conn_write, _next_datagram, _recv, _read (copying calls); borrowing = the same "
                 "with cdtls_conn_peek_datagram / _pop_datagram and cdtls_conn_peek_read / _pop_read.")
    lines.append("")
    lines.append("| provider | AEAD | size | raw AEAD ns | record layer ns | record / raw | engine ns | engine / raw "
                 "| borrowing ns | borrowing / raw |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for k in OURS:
        for a in ("AES-128-GCM", "CHACHA20-POLY1305"):
            for size in ("64", "1200"):
                w = "engine" + size
                raw_ns = get(w, a, "raw_aead_ns", k)
                if raw_ns is None:
                    continue
                lines.append(f"| {k[6:]} | {a} | {size} | {fmt(raw_ns)} | {fmt(get(w, a, 'record_ns', k))} | "
                             f"{fmt(get(w, a, 'record_over_raw', k))} | {fmt(get(w, a, 'engine_ns', k))} | "
                             f"{fmt(get(w, a, 'engine_over_raw', k))} | {fmt(get(w, a, 'engine_zero_copy_ns', k))} | "
                             f"{fmt(get(w, a, 'engine_zero_copy_over_raw', k))} |")
    lines.append("")

    rows = []
    for s in suites_hs:
        rows.append(("full handshakes / wall-s, 1 worker", "workers_hs", s, "hs_per_wall_s_w1"))
        rows.append(("full handshakes / wall-s, 2 workers", "workers_hs", s, "hs_per_wall_s_w2"))
        rows.append(("handshake scaling, 2 workers / 1", "workers_hs", s, "scaling"))
    for s in suites_tp:
        rows.append(("1200-B records, MB/wall-s, 1 worker", "workers_tput1200", s, "MB_per_wall_s_w1"))
        rows.append(("1200-B records, MB/wall-s, 2 workers", "workers_tput1200", s, "MB_per_wall_s_w2"))
        rows.append(("1200-B scaling, 2 workers / 1", "workers_tput1200", s, "scaling"))
    table("Many cores: 1 and 2 workers on one port (issue 23)", rows,
          "cdtls: a worker group (cdtls/workers.h) of 1, then 2 workers, a thread each, on one port "
          "(SO_REUSEPORT); the load comes from the same process: 2 threads each keeping 8 sans-IO clients "
          "handshaking from sockets of their own (closed once established), or 2 cdtls_sock_dial senders of "
          "1200-byte records, one per worker; each provider with its first PSK and certificate suite. pion: one dtls.Listen, a goroutine per connection, with "
          "GOMAXPROCS 1 and then 2, loaded by 16 client goroutines or 2 senders. The load shares the "
          "machine's cores with the server: rates per wall second of the whole program; scaling = 2 / 1. "
          "OpenSSL has no multi-core server of its own here (not measured).")

    # scale
    lines.append("### A listener holding established peers (PSK, server side)")
    lines.append("")
    lines.append("One server, 16 clients handshaking at once from their own sockets in the same process (their CPU "
                 "time counted too): 1,000 handshakes on an empty server, then up to the peers held, then 1,000 more "
                 "with those held (\"peers\" counts all of them at the end). cdtls: one cdtls_listener, bytes "
                 "through its counting allocator. OpenSSL: the multi-peer server it leaves to the application "
                 "(openssl_bench.c: one socket, DTLSv1_listen, an address hash table), bytes through "
                 "CRYPTO_set_mem_functions. pion: one dtls.Listen and a read goroutine per peer, Go heap "
                 "(HeapAlloc after GC) and goroutine stacks (StackInuse) apart; the ratios against pion use the "
                 "two together. Ratios are ours / theirs, same suite: below 1 is better for bytes, above 1 for "
                 "rates.")
    lines.append("")
    lines.append("| stack | suite | peers | server bytes / peer | + goroutine stacks / peer | hs/s empty (wall) | "
                 "hs/s loaded (wall) | hs/CPU-s empty | hs/CPU-s loaded | bytes vs OpenSSL | bytes vs pion | "
                 "loaded hs/CPU-s vs OpenSSL | loaded hs/CPU-s vs pion |")
    lines.append("|" + "---|" * 13)
    num = (int, float)

    def ratio(a, b):
        return f"{a / b:.2f}" if isinstance(a, num) and isinstance(b, num) and b else ""

    for k, label in IMPLS:
        for s in suites_hs[:2]:
            p = get("scale", s, "peers", k)
            if p is None:
                if nm("scale", s, k):
                    lines.append(f"| {k if k.startswith('cdtls') else label} | {s} | n/m |" + " |" * 10)
                continue
            b = get("scale", s, "server_B_per_peer", k)
            st = get("scale", s, "server_stack_B_per_peer", k)
            loaded = get("scale", s, "hs_per_cpu_s_loaded", k)
            cells = [fmt(p), fmt(b), fmt(st),
                     fmt(get("scale", s, "hs_per_wall_s_empty", k)), fmt(get("scale", s, "hs_per_wall_s_loaded", k)),
                     fmt(get("scale", s, "hs_per_cpu_s_empty", k)), fmt(loaded)]
            if k.startswith("cdtls"):
                ob = get("scale", s, "server_B_per_peer", "openssl")
                pb, ps = get("scale", s, "server_B_per_peer", "pion"), get("scale", s, "server_stack_B_per_peer", "pion")
                pall = pb + ps if isinstance(pb, num) and isinstance(ps, num) else None
                cells += [ratio(b, ob), ratio(b, pall), ratio(loaded, get("scale", s, "hs_per_cpu_s_loaded", "openssl")),
                          ratio(loaded, get("scale", s, "hs_per_cpu_s_loaded", "pion"))]
            else:
                cells += ["", "", "", ""]
            lines.append(f"| {k if k.startswith('cdtls') else label} | {s} | " + " | ".join(cells) + " |")
    notes = []
    for s in suites_hs[:2]:
        g = get("scale", s, "goroutines_per_peer", "pion")
        if g is not None:
            notes.append(f"- pion, {s}: {fmt(g)} goroutines per held peer (two per Conn: handshake and read loop; "
                         "the read's context watcher; the server's read loop)")
    if notes:
        lines.append("")
        lines.extend(notes)
    lines.append("")

    sizes = [m for m in meta if m["meta"] == "text_size"]
    if sizes:
        lines.append("### Code size (.text, bytes)")
        lines.append("")
        lines.append("| what | .text |")
        lines.append("|---|---|")
        for m in sizes:
            lines.append(f"| {m['what']} | {m['bytes']:,} |")
        lines.append("")

    if why:
        lines.append("### Not measured, and why")
        lines.append("")
        for k, w, s, y in why:
            lines.append(f"- {impl_names.get((k, w), k)}: {w} {s}: {y}")
        lines.append("")
    loads = [m for m in meta if m["meta"] == "load"]
    if loads:
        lines.append("### Machine load during the run (uptime before each step)")
        lines.append("")
        for m in loads:
            lines.append(f"- {m['step']}: {m['uptime']}")
        lines.append("")

    text = "\n".join(lines)
    print(text)
    if out_md:
        open(out_md, "w").write(text + "\n")
    out = {
        "meta": meta,
        "results": [
            {"workload": w, "suite": s, "metric": m, "impl": impl_names.get((k, w), k), "value": v}
            for (w, s, m), d in sorted(results.items()) if m != "n/m"
            for k, v in sorted(d.items())
        ],
        "not_measured": [{"impl": impl_names.get((k, w), k), "workload": w, "suite": s, "why": y} for k, w, s, y in why],
    }
    json.dump(out, open(out_json, "w"), indent=1)


if __name__ == "__main__":
    main()
