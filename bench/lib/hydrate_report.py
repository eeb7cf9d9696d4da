"""bench/hydrate.sh's raw runs (DIR/runs.tsv, rss.tsv, meta.env) as bench/hydrate-results.md.

CPU per request is the worker's schedstat time over a run divided by the requests wrk completed;
its ratio to `plain` is taken within each repetition, then the median over repetitions.
"""

import statistics
import sys
from pathlib import Path

CASES = ["plain", "state-cached", "state-php", "php"]
WHAT = {
    "plain": "HIT, no cart (the page as cached)",
    "state-cached": "HIT hydrated, state from its own micro-cache",
    "state-php": "HIT hydrated, state from PHP",
    "php": "PHP render for the visitor (no hydration: bypass)",
}
TARGET = 3.0


def main(out: Path) -> None:
    meta = dict(line.split("=", 1) for line in (out / "meta.env").read_text().splitlines() if "=" in line)
    rows = (out / "runs.tsv").read_text().splitlines()
    head = rows[0].split("\t")
    runs = [dict(zip(head, r.split("\t"))) for r in rows[1:]]
    by = {}
    for r in runs:
        n = int(r["requests"])
        by.setdefault(r["case"], []).append({
            "rep": r["rep"],
            "rps": n / (int(r["wall_us"]) / 1e6),
            "cpu_us": int(r["cpu_ns"]) / 1e3 / n,
            "p50": int(r["p50_us"]) / 1e3,
            "p99": int(r["p99_us"]) / 1e3,
            "errors": int(r["errors"]) + int(r["non2xx"]),
            "renders": int(r["renders"]) / n * 1000,
        })
    plain = {r["rep"]: r for r in by["plain"]}
    print(f"Measured on {meta['date']} (commit {meta['commit']}) on {meta['cpu_model']}, {meta['nginx']}, "
          f"one worker on core 0, wrk -t1 -c{meta['connections']} and PHP-FPM on core 1. "
          f"Page {int(meta['page_bytes']):,} bytes. Medians over {meta['reps']} repetitions of "
          f"{meta['duration']} s runs (case order rotated); ratios to `plain` within each repetition. "
          f"Load average (1 min) at each repetition: {meta['loads']} (2 cores, shared).")
    print()
    print("| case | what | req/s | req/s vs plain | p50 ms | p99 ms | CPU µs/req | CPU vs plain | PHP runs /1000 req | errors |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    ratios = {}
    for c in CASES:
        rs = by.get(c, [])
        if not rs:
            continue
        cpu = [r["cpu_us"] / plain[r["rep"]]["cpu_us"] for r in rs if r["rep"] in plain]
        rps = [r["rps"] / plain[r["rep"]]["rps"] for r in rs if r["rep"] in plain]
        ratios[c] = cpu
        med = lambda k: statistics.median(r[k] for r in rs)
        print(f"| {c} | {WHAT[c]} | {med('rps'):,.0f} | {statistics.median(rps):.3f} | {med('p50'):.2f} | "
              f"{med('p99'):.2f} | {med('cpu_us'):.1f} | {statistics.median(cpu):.2f} | {med('renders'):.1f} | "
              f"{sum(r['errors'] for r in rs)} |")
    print()
    hyd = ratios.get("state-cached", [])
    if hyd:
        met = "yes" if statistics.median(hyd) <= TARGET else "**no**"
        print(f"Target: a hydrated HIT (state from its micro-cache) costs at most {TARGET:g}× the server CPU of "
              f"a plain HIT: {statistics.median(hyd):.2f}× (repetitions {min(hyd):.2f}–{max(hyd):.2f}): {met}.")
        print()
    print(f"Memory: {meta['clients']} clients at once, each reading the {int(meta['big_bytes']):,} byte page at "
          f"2 MB/s or the {int(meta['small_bytes']):,} byte page at 20 KB/s (about 5 s each), each case on a new "
          "worker (a reload) after one request; the worker's peak RSS (VmHWM) above its RSS before, per request. A rewrite that held the page would add about the "
          "page's size per request.")
    print()
    print("| case | clients | RSS before KiB | peak KiB | peak above before, KiB per request | bytes each client got |")
    print("|---|--:|--:|--:|--:|---|")
    per = {}
    for line in (out / "rss.tsv").read_text().splitlines():
        name, base, peak, clients, sizes = line.split("\t")
        per[name] = (int(peak) - int(base)) / int(clients)
        print(f"| {name} | {clients} | {int(base):,} | {int(peak):,} | {per[name]:,.0f} | {sizes.strip()} |")
    big, small, plain_big = (per.get(k) for k in ("hydrated, ~10 MB", "hydrated, ~100 KB", "plain, ~10 MB"))
    if big is not None and small is not None and plain_big is not None:
        page_kib = int(meta["big_bytes"]) / 1024
        print()
        print(f"Hydrated, per request: {big:,.0f} KiB on the ~10 MB page ({plain_big:,.0f} KiB without hydration), "
              f"{small:,.0f} KiB on the ~100 KB page (a page {int(meta['big_bytes']) / int(meta['small_bytes']):.0f}× "
              f"smaller); the ~10 MB page itself is {page_kib:,.0f} KiB: "
              f"{'bounded, not proportional to the page' if big < page_kib / 10 else '**grows with the page**'}. "
              "The ~100 KB page fits in the sockets' buffers, so its requests end before their clients have read "
              "it and seldom overlap: its figure is a floor.")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
