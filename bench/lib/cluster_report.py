#!/usr/bin/env python3
"""bench/lib/cluster_report.py RAW_DIR

bench/cluster-results.md from what bench/cluster.sh measured in RAW_DIR (runs.tsv, purges.tsv,
meta.env): medians over the repetitions, req/s as a ratio to `single` within each repetition,
origin renders per page, purge latencies, and the targets (met or not). Its Machine, Results
and Targets sections are what bench/lib/readme_table.py copies into the README.
"""

import csv
import statistics
import sys

VARIANTS = [
    ("single", 1, "the front in front of one cache node"),
    ("cluster", 3, "the front in front of three nodes, sharded by `$microcache_key` (as shipped)"),
    ("cluster-rr", 3, "the same three nodes, round robin (the upstream block without its hash)"),
]
PURGES = [
    ("local", "one node only: a signed purge, as a peer sends it (not sent on)"),
    ("node", "through a node: itself and two peers"),
    ("front", "through the front: three peers"),
]


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def meta(raw):
    out = {}
    with open(f"{raw}/meta.env", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            out[key] = value
    return out


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main(raw):
    m = meta(raw)
    runs = read_tsv(f"{raw}/runs.tsv")
    for r in runs:
        r["rps"] = int(r["requests"]) / (int(r["duration_us"]) / 1e6)
        r["per_page"] = int(r["renders"]) / max(1, int(r["pages_rendered"]))
    by = {v: [r for r in runs if r["variant"] == v] for v, _, _ in VARIANTS}
    single = {r["rep"]: r["rps"] for r in by["single"]}
    rows, summary = [], {}
    for v, nodes, _ in VARIANTS:
        rs = by[v]
        med = lambda key: statistics.median(float(r[key]) for r in rs)
        ratio = statistics.median(r["rps"] / single[r["rep"]] for r in rs)
        errors = sum(int(r["errors"]) + int(r["non2xx"]) for r in rs)
        summary[v] = {"per_page": med("per_page"), "errors": errors, "rps": med("rps")}
        rows.append(
            f"| {v} | {nodes} | {med('rps'):,.0f} | {ratio:.3f} | {med('p50_us') / 1000:.2f} | "
            f"{med('p99_us') / 1000:.2f} | {med('renders'):.0f} | {med('per_page'):.2f} | {errors} |"
        )
    purges = read_tsv(f"{raw}/purges.tsv")
    latency = {}
    for kind, _ in PURGES:
        ps = [p for p in purges if p["kind"] == kind]
        ms = [float(p["seconds"]) * 1000 for p in ps]
        statuses = sorted({p["status"] for p in ps})
        latency[kind] = (statistics.median(ms), quantile(ms, 0.9), statuses, len(ps))

    print("# microcache cluster benchmark results\n")
    print(
        "Written by `bench/cluster.sh`; do not edit by hand. "
        f"Figures are medians over {m['reps']} repetitions of {m['duration']} s wrk runs "
        f"(1 thread, {m['connections']} HTTPS connections), each from empty caches, of the utm "
        f"workload over {m['pages']} pages (fresh tracking ids on every request); the front, "
        "the nodes, PHP-FPM and wrk share the machine's cores, unpinned. req/s ratios are taken "
        "against `single` within each repetition. Purge latencies are curl's time per request "
        f"on a kept connection, {latency['front'][3]} purges of each kind, of pages cached on "
        "every node.\n"
    )
    print("## Machine\n")
    print("| | |\n|---|---|")
    machine = [
        ("CPU", m["cpu_model"]), ("cores", m["cpus"]), ("OS", m["os"]), ("kernel", m["kernel"]),
        ("nginx", m["nginx"]), ("TLS library", m["openssl"]), ("origin", m["php"]),
        ("load generator", m["wrk"]), ("load average at the end", m["load"]),
        ("commit", m["commit"]), ("date", m["date"]), ("run time (s)", m["elapsed_s"]),
    ]
    for key, value in machine:
        print(f"| {key} | {value} |")
    print("\n## Variants\n")
    for v, _, what in VARIANTS:
        print(f"- `{v}`: {what}.")
    print("\n## Results\n")
    print("| variant | nodes | req/s | req/s vs single | p50 ms | p99 ms | origin renders | "
          "renders per page | errors |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    print("\n".join(rows))
    print("\n## Purge latency\n")
    print("| purge | median ms | p90 ms | statuses |\n|---|--:|--:|---|")
    for kind, what in PURGES:
        med, p90, statuses, _ = latency[kind]
        print(f"| {what} | {med:.2f} | {p90:.2f} | {', '.join(statuses)} |")
    cl, rr, one = summary["cluster"], summary["cluster-rr"], summary["single"]
    front = latency["front"]
    targets = [
        ("sharded: PHP renders each page once for the whole cluster, as one node does",
         f"{cl['per_page']:.2f} renders per page (single node: {one['per_page']:.2f})",
         cl["per_page"] <= 1.0 and one["per_page"] <= 1.0),
        ("round robin renders each page once per node (what sharding saves)",
         f"{rr['per_page']:.2f} renders per page", rr["per_page"] >= 2.9),
        ("every request answered with a 2xx",
         ", ".join(f"{v}: {summary[v]['errors']} errors" for v, _, _ in VARIANTS),
         all(summary[v]["errors"] == 0 for v, _, _ in VARIANTS)),
        ("purge through the front with 3 peers: every answer 200",
         f"median {front[0]:.2f} ms, p90 {front[1]:.2f} ms (one node only: median "
         f"{latency['local'][0]:.2f} ms); statuses {', '.join(front[2])}",
         front[2] == ["200"]),
    ]
    print("\n## Targets\n")
    print("| target | measured | met |\n|---|---|---|")
    for target, measured, met in targets:
        print(f"| {target} | {measured} | {'yes' if met else '**no**'} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[0])
    main(sys.argv[1])
