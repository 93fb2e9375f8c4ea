#!/usr/bin/env python3
"""Summarises bench/run.sh results (stdlib only).

  report.py RESULTS.tsv [--markdown]

RESULTS.tsv has one measurement a line: TARGET ROUND METRIC VALUE (tab-separated; ROUND is the
trial in `detection`). Prints, per metric, each target's median and [min-max] over the rounds (or
trials), the ratios of cplb's median to those of the other targets present, and then cplb
against the issue's targets whose metrics were measured. A VALUE that is not a number (the
sessions per server of `rollingrestart`) is shown as it is.
"""
import statistics
import sys

# cplb-cap: cplb with max_buffer_memory set (slowread)
TARGETS = ["direct", "haproxy", "nginx", "cplb", "cplb-cap"]

# key: (label, format; None for a text value)
METRICS = {
    "tp_gbps": ("throughput, Gbit/s", "{:.2f}"),
    "tp_cpu_s_per_gb": ("throughput: proxy CPU s/GB", "{:.3f}"),
    "tp_busiest_worker_share": ("throughput: busiest worker's share of the proxy threads' CPU (0.5 = even)", "{:.2f}"),
    "cr_rate": ("connrate: connections/s", "{:.0f}"),
    "cr_p50_ms": ("connrate: p50 ms", "{:.3f}"),
    "cr_p99_ms": ("connrate: p99 ms", "{:.3f}"),
    "cr_cpu_us_per_conn": ("connrate: proxy CPU us/conn", "{:.1f}"),
    "rr_rate": ("reqrate: requests/s", "{:.0f}"),
    "rr_p50_ms": ("reqrate: p50 ms", "{:.3f}"),
    "rr_p99_ms": ("reqrate: p99 ms", "{:.3f}"),
    "rr_cpu_us_per_req": ("reqrate: proxy CPU us/req", "{:.2f}"),
    "idle_kb_established": ("idle: KB/session, established", "{:.2f}"),
    "idle_kb_after_byte": ("idle: KB/session, 1 byte each way", "{:.2f}"),
    "other_cpu_pct": ("noise: other processes, % CPU", "{:.1f}"),
    "rs_final": ("rollingrestart: open sessions per server at the end", None),
    "rs_max_over_mean": ("rollingrestart: max/mean sessions per server", "{:.2f}"),
    "rs_closed": ("rollingrestart: sessions closed (re-opened)", "{:.0f}"),
    "rs_closed_by_backend": ("rollingrestart: closed by the restarts", "{:.0f}"),
    "rs_closed_by_proxy": ("rollingrestart: closed by the proxy", "{:.0f}"),
    "rs_rebalanced": ("rollingrestart: cplb_rebalance_closed_sessions_total", "{:.0f}"),
    "rs_drained": ("rollingrestart: cplb session ends, reason drained", "{:.0f}"),
    "rs_failed_opens": ("rollingrestart: failed opens", "{:.0f}"),
    "rs_other_cpu_pct": ("rollingrestart noise: other processes, % CPU", "{:.1f}"),
    "det_ms": ("detection: ms from /readyz 500 to the last new connection", "{:.0f}"),
    "det_failed_connections": ("detection: failed connections", "{:.0f}"),
    "det_other_cpu_pct": ("detection noise: other processes, % CPU", "{:.1f}"),
    "sr_rss_growth_mib": ("slowread: RSS growth at the peak, MiB", "{:.2f}"),
    "sr_kib_per_client": ("slowread: RSS growth per slow client, KiB", "{:.1f}"),
    "sr_growth_minus_cap_mib": ("slowread: RSS growth minus max_buffer_memory, MiB", "{:.2f}"),
    "sr_peak_buffer_mib": ("slowread: cplb_buffer_memory_bytes at the peak, MiB", "{:.2f}"),
    "sr_after_growth_mib": ("slowread: RSS growth after the streams ended, MiB", "{:.2f}"),
    "sr_read_kib_s": ("slowread: read rate per slow client, KiB/s", "{:.0f}"),
    "sr_backend_sending": ("slowread: streams the backend still sent at the end of the slow phase", "{:.0f}"),
    "sr_delivered_mib": ("slowread: MiB delivered", "{:.0f}"),
    "sr_bad_streams": ("slowread: streams with a lost, wrong or extra byte", "{:.0f}"),
    "sr_drain_s": ("slowread: s to read the rest at full speed", "{:.1f}"),
    "sr_fresh_median_ms": ("slowread: fresh GET during the load, median ms", "{:.1f}"),
    "sr_fresh_max_ms": ("slowread: fresh GET during the load, max ms", "{:.1f}"),
    "sr_other_cpu_pct": ("slowread noise: other processes, % CPU", "{:.1f}"),
    "up_stall_ms": ("upgrade: longest stream stall, ms", "{:.0f}"),
    "up_connect_p99_ms": ("upgrade: connect p99 in the hand-over, ms", "{:.1f}"),
    "up_connect_failed": ("upgrade: failed connects per window", "{:.0f}"),
    "up_idle_broken": ("upgrade: idle sessions broken", "{:.0f}"),
    "up_old_exit_s": ("upgrade: s to old process gone", "{:.2f}"),
    "up_old_alive_10s": ("upgrade: old processes alive 10 s after", "{:.0f}"),
    "up_rss_after_mib": ("upgrade: RSS of all proxy processes after, MiB", "{:.1f}"),
    "storm_last_ms": ("storm (paced, 1 s): ms to the last client served", "{:.0f}"),
    "storm_first_byte_p50_ms": ("storm (paced): first byte p50, ms", "{:.2f}"),
    "storm_first_byte_p99_ms": ("storm (paced): first byte p99, ms", "{:.2f}"),
    "storm_failed": ("storm (paced): failed clients", "{:.0f}"),
    "storm_proxy_cpu_s": ("storm (paced): proxy CPU, s", "{:.2f}"),
    "ustorm_last_ms": ("storm (unpaced): ms to the last client served", "{:.0f}"),
    "ustorm_first_byte_p50_ms": ("storm (unpaced): first byte p50, ms", "{:.1f}"),
    "ustorm_first_byte_p99_ms": ("storm (unpaced): first byte p99, ms", "{:.1f}"),
    "ustorm_failed": ("storm (unpaced): failed clients", "{:.0f}"),
    "ustorm_listen_overflows": ("storm (unpaced): listen queue overflows", "{:.0f}"),
}
NO_RATIO = {"other_cpu_pct", "rs_other_cpu_pct", "det_other_cpu_pct", "sr_other_cpu_pct",
            "sr_backend_sending", "sr_bad_streams", "storm_other_cpu_pct", "ustorm_other_cpu_pct",
            "storm_loadavg", "ustorm_loadavg"}

# (description, metric, other target or None for an absolute bound, comparison, bound[, the cplb
# target measured: "cplb" unless given])
GOALS = [
    ("throughput >= 1.4 x HAProxy", "tp_gbps", "haproxy", ">=", 1.4),
    ("CPU per GB <= nginx", "tp_cpu_s_per_gb", "nginx", "<=", 1.0),
    ("connection rate >= 1.2 x HAProxy", "cr_rate", "haproxy", ">=", 1.2),
    ("CPU per connection <= HAProxy", "cr_cpu_us_per_conn", "haproxy", "<=", 1.0),
    ("connrate p99 no worse than HAProxy", "cr_p99_ms", "haproxy", "<=", 1.0),
    ("storm (paced): first byte p50 <= HAProxy", "storm_first_byte_p50_ms", "haproxy", "<=", 1.0),
    ("storm (paced): first byte p99 <= HAProxy", "storm_first_byte_p99_ms", "haproxy", "<=", 1.0),
    ("storm (paced): every client served", "storm_failed", None, "<=", 0),
    ("storm (unpaced): every client served", "ustorm_failed", None, "<=", 0),
    ("keep-alive request rate >= HAProxy", "rr_rate", "haproxy", ">=", 1.0),
    ("memory per idle session (1 byte each way) <= 1.5 KB", "idle_kb_after_byte", None, "<=", 1.5),
    ("slowread, max_buffer_memory set: RSS growth <= it + 4 MiB", "sr_growth_minus_cap_mib", None, "<=", 4.0,
     "cplb-cap"),
    ("slowread, no cap: RSS growth per slow client <= 64 KiB", "sr_kib_per_client", None, "<=", 64.0),
    ("slowread, max_buffer_memory set: every byte in order", "sr_bad_streams", None, "<=", 0, "cplb-cap"),
    ("slowread, no cap: every byte in order", "sr_bad_streams", None, "<=", 0),
    ("slowread, max_buffer_memory set: fresh GET answered < 1 s", "sr_fresh_max_ms", None, "<", 1000.0,
     "cplb-cap"),
    ("slowread, no cap: fresh GET answered < 1 s", "sr_fresh_max_ms", None, "<", 1000.0),
]


def load(path):
    data = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            target, _, metric, value = parts
            try:
                value = float(value)
            except ValueError:
                pass  # a text value
            data.setdefault(metric, {}).setdefault(target, []).append(value)
    return data


def median(data, metric, target):
    values = data.get(metric, {}).get(target)
    if not values or METRICS.get(metric, ("", "{}"))[1] is None:
        return None
    return statistics.median(values)


def cell(values, fmt):
    if not values:
        return "n/a"
    if fmt is None:
        return ", ".join(str(v) for v in values)
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def ratio(data, metric, other):
    a, b = median(data, metric, "cplb"), median(data, metric, other)
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


def rows(data):
    targets = [t for t in TARGETS if any(t in per for per in data.values())]
    others = [o for o in ("haproxy", "nginx", "direct") if o in targets and "cplb" in targets]
    header = ["metric (median [min-max])"] + targets + [f"cplb/{o}" for o in others]
    body = []
    for metric, (label, fmt) in METRICS.items():
        if metric not in data:
            continue
        ratios = [ratio(data, metric, o) if metric not in NO_RATIO and fmt else "" for o in others]
        body.append([label] + [cell(data[metric].get(t), fmt) for t in targets] + ratios)
    return header, body


def goals(data):
    out = []
    for text, metric, other, op, bound, *mine_target in GOALS:
        if metric not in data:
            continue  # not measured in this run
        mine = median(data, metric, mine_target[0] if mine_target else "cplb")
        if other is None:
            value = mine
            shown = "n/a" if value is None else f"{value:.2f}"
        else:
            theirs = median(data, metric, other)
            value = None if mine is None or not theirs else mine / theirs
            shown = "n/a" if value is None else f"{value:.2f} x {other}"
        if value is None:
            verdict = "n/a"
        else:
            verdict = "PASS" if {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op] else "MISS"
        out.append((verdict, text, shown))
    return out


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    data = load(argv[0])
    header, body = rows(data)
    if "--markdown" in argv:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in body:
            print("| " + " | ".join(r) + " |")
        if goals(data):
            print()
            print("| goal | cplb | verdict |")
            print("|---|---|---|")
            for verdict, text, shown in goals(data):
                print(f"| {text} | {shown} | {verdict} |")
        return 0
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    for r in [header] + body:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    if goals(data):
        print()
        print("cplb against the issue's targets (ratios of medians):")
        for verdict, text, shown in goals(data):
            print(f"  {verdict:4}  {text}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
