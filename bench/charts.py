#!/usr/bin/env python3
"""Charts of the benchmark results (docs/benchmarks.md, "Charts"), as SVG:

    charts.py OUTDIR RESULTS.json [RESULTS.json ...]

RESULTS.json are results.json files of scripts/bench.sh runs (bench/report.py
writes them); where two give the same measurement the later one wins. Three
charts, each drawn from what the files hold (a series without data is left
out, a chart without any is skipped with a note on stderr):

  throughput-by-record-size.svg  MB per CPU second against record size
                                 (workloads tputsize<N>), each cdtls provider
                                 beside OpenSSL and pion, one panel per suite
  handshakes-per-suite.svg       full handshakes per CPU second per suite
                                 (workload handshake), grouped bars
  handshake-under-loss.svg       median handshake completion time against the
                                 share of datagrams lost (workloads loss<P>),
                                 cdtls, OpenSSL, pion; the 90th percentile as
                                 a band

Every point is a measured value; nothing is interpolated or made up. Prints
the files written; exits 1 if none could be drawn."""
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# stable SVG output: no random ids, no date in the metadata
plt.rcParams["svg.hashsalt"] = "cdtls"
plt.rcParams["svg.fonttype"] = "none"
META = {"Date": None}

IMPLS = [("cdtls-bearssl", "cdtls + BearSSL"), ("cdtls-sodium", "cdtls + libsodium"),
         ("cdtls-openssl", "cdtls + libcrypto"), ("openssl", "OpenSSL (libssl)"), ("pion", "pion/dtls")]
STYLE = {"cdtls-bearssl": ("#1f77b4", "o", "-"), "cdtls-sodium": ("#2ca02c", "s", "-"),
         "cdtls-openssl": ("#9467bd", "^", "-"), "openssl": ("#d62728", "D", "--"), "pion": ("#ff7f0e", "v", "--")}


def impl_key(name):
    for key, _ in IMPLS:
        if name.startswith(key):
            return key
    return None


def load(paths):
    """{(workload, suite, metric, impl_key): value} over all files."""
    res = {}
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        for r in data.get("results", []):
            k = impl_key(r.get("impl", ""))
            if k and isinstance(r.get("value"), (int, float)):
                res[(r["workload"], r["suite"], r["metric"], k)] = r["value"]
    return res


def save(fig, out, name, written):
    path = os.path.join(out, name)
    fig.savefig(path, format="svg", bbox_inches="tight", metadata=META)
    plt.close(fig)
    written.append(path)


def throughput_by_size(res, out, written):
    pts = {}
    for (w, s, m, k), v in res.items():
        mm = re.fullmatch(r"tputsize(\d+)", w)
        if mm and m == "MB_per_cpu_s":
            pts.setdefault(s, {}).setdefault(k, []).append((int(mm.group(1)), v))
    if not pts:
        print("charts: no tputsize results: throughput-by-record-size skipped", file=sys.stderr)
        return
    suites = sorted(pts)
    fig, axes = plt.subplots(1, len(suites), figsize=(6 * len(suites), 4.2), squeeze=False)
    for ax, s in zip(axes[0], suites):
        for k, label in IMPLS:
            if k not in pts[s]:
                continue
            xs, ys = zip(*sorted(pts[s][k]))
            c, mk, ls = STYLE[k]
            ax.plot(xs, ys, color=c, marker=mk, linestyle=ls, label=label)
        ax.set_title(s, fontsize=10)
        ax.set_xlabel("record size (bytes of application data)")
        ax.set_ylabel("MB per CPU second")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Throughput against record size: one connection over loopback, sender and receiver on one core",
                 fontsize=10)
    save(fig, out, "throughput-by-record-size.svg", written)


def handshakes_per_suite(res, out, written):
    suites, data = [], {}
    for (w, s, m, k), v in res.items():
        if w == "handshake" and m == "hs_per_cpu_s":
            if s not in suites:
                suites.append(s)
            data[(s, k)] = v
    if not data:
        print("charts: no handshake results: handshakes-per-suite skipped", file=sys.stderr)
        return
    order = ["PSK-AES128-GCM-SHA256", "PSK-CHACHA20-POLY1305-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256/P-256",
             "ECDHE-ECDSA-CHACHA20-POLY1305/X25519/Ed25519"]
    suites.sort(key=lambda s: order.index(s) if s in order else len(order))
    impls = [(k, label) for k, label in IMPLS if any((s, k) in data for s in suites)]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(impls)
    for i, (k, label) in enumerate(impls):
        xs = [j + (i - (len(impls) - 1) / 2) * width for j, s in enumerate(suites) if (s, k) in data]
        ys = [data[(s, k)] for s in suites if (s, k) in data]
        bars = ax.bar(xs, ys, width, label=label, color=STYLE[k][0])
        ax.bar_label(bars, labels=[f"{y:,.0f}" for y in ys], fontsize=6, rotation=90, padding=2)
    ax.set_xticks(range(len(suites)))
    ax.set_xticklabels([s.replace("/", "\n") for s in suites], fontsize=8)
    ax.set_ylabel("full handshakes per CPU second")
    ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Full handshakes per second per core (client + server on one core, loopback, cookie exchange); "
                 "no bar: not supported there", fontsize=9)
    save(fig, out, "handshakes-per-suite.svg", written)


def handshake_under_loss(res, out, written):
    pts = {}
    for (w, s, m, k), v in res.items():
        mm = re.fullmatch(r"loss(\d+)", w)
        if mm:
            pts.setdefault(k, {}).setdefault(int(mm.group(1)), {})[m] = v
    pts = {k: d for k, d in pts.items() if any("hs_ms_median" in x for x in d.values())}
    if not pts:
        print("charts: no loss results: handshake-under-loss skipped", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, label in IMPLS:
        if k not in pts:
            continue
        rows = sorted((p, d) for p, d in pts[k].items() if "hs_ms_median" in d)
        xs = [p for p, _ in rows]
        med = [d["hs_ms_median"] for _, d in rows]
        p90 = [d.get("hs_ms_p90", d["hs_ms_median"]) for _, d in rows]
        failed = sum(d.get("hs_failed", 0) for _, d in pts[k].items())
        c, mk, ls = STYLE[k]
        lab = label + (f" ({failed:.0f} failed)" if failed else "")
        ax.plot(xs, med, color=c, marker=mk, linestyle=ls, label=lab)
        ax.fill_between(xs, med, p90, color=c, alpha=0.12)
    ax.set_xlabel("datagrams lost, each way (%)")
    ax.set_ylabel("handshake time, ms (median; band: to p90)")
    ax.set_yscale("symlog", linthresh=1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("PSK handshake under packet loss (loopback; first retransmission after 50 ms, doubling)",
                 fontsize=9)
    save(fig, out, "handshake-under-loss.svg", written)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    res = load(sys.argv[2:])
    written = []
    throughput_by_size(res, out, written)
    handshakes_per_suite(res, out, written)
    handshake_under_loss(res, out, written)
    for p in written:
        print(f"charts: wrote {p}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
