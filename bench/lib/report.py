#!/usr/bin/env python3
"""bench/lib/report.py RAW_DIR: the markdown report of a bench/run.sh run, on stdout.

RAW_DIR holds meta.env, runs.tsv (one line per measured wrk run), and optionally
cargo-bench.txt, stampede.env, purge.env. Figures per variant x workload are medians over
the repetitions; ratios to `limit` are computed within each repetition, then the median.
"""

import csv
import os
import statistics
import sys

VARIANTS = ["limit", "seed", "microcache"]
WORKLOADS = ["clean", "utm", "bypass"]


def read_env(path):
    env = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line:
                    k, v = line.split("=", 1)
                    env[k] = v
    return env


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec, none="n/a"):
    return none if x is None else format(x, spec)


def main(raw):
    meta = read_env(os.path.join(raw, "meta.env"))
    tck = int(meta.get("clk_tck", "100"))
    runs = {}
    with open(os.path.join(raw, "runs.tsv"), encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            r = {k: (v if k in ("workload", "variant") else int(v)) for k, v in row.items()}
            req = max(r["requests"], 1)
            wall = r["wall_us"] / 1e6
            cached = r["HIT"] + r["STALE"] + r["UPDATING"] + r["REVALIDATED"]
            has_cache = r["logged"] > 0 and r["none"] < r["logged"]
            runs[(r["rep"], r["workload"], r["variant"])] = {
                "rps": r["requests"] / wall,
                "p50": r["p50_us"] / 1000,
                "p99": r["p99_us"] / 1000,
                "hit": 100.0 * r["HIT"] / r["logged"] if has_cache else None,
                "cached": 100.0 * cached / r["logged"] if has_cache else None,
                "origin": 1000.0 * r["renders"] / req,
                "cpu_us": r["cpu_ticks"] / tck * 1e6 / req,
                "cpu_ns_us": r.get("cpu_ns", 0) / 1000 / req,
                "busy": 100.0 * r["cpu_ticks"] / tck / wall,
                "lost": r["errors"] + r["non2xx"],
            }
    reps = sorted({k[0] for k in runs})
    workloads = [w for w in WORKLOADS if any(k[1] == w for k in runs)]

    agg = {}
    for w in workloads:
        for v in VARIANTS:
            rows = [runs[(rep, w, v)] for rep in reps if (rep, w, v) in runs]
            if not rows:
                continue
            a = {k: median([row[k] for row in rows]) for k in rows[0]}
            a["lost"] = sum(row["lost"] for row in rows)
            cpu_ratios, rps_ratios, vs_seed, ns_ratios = [], [], [], []
            for rep in reps:
                if (rep, w, v) in runs and (rep, w, "limit") in runs:
                    cpu_ratios.append(runs[(rep, w, v)]["cpu_us"] / runs[(rep, w, "limit")]["cpu_us"])
                    rps_ratios.append(runs[(rep, w, v)]["rps"] / runs[(rep, w, "limit")]["rps"])
                    if runs[(rep, w, "limit")]["cpu_ns_us"] > 0:
                        ns_ratios.append(runs[(rep, w, v)]["cpu_ns_us"] / runs[(rep, w, "limit")]["cpu_ns_us"])
                if (rep, w, v) in runs and (rep, w, "seed") in runs:
                    vs_seed.append(runs[(rep, w, v)]["cpu_us"] / runs[(rep, w, "seed")]["cpu_us"])
            a["cpu_ratio"] = median(cpu_ratios)
            a["cpu_ns_ratio"] = median(ns_ratios)
            a["rps_ratio"] = median(rps_ratios)
            a["cpu_vs_seed"] = median(vs_seed)
            a["cpu_ratio_range"] = (min(cpu_ratios), max(cpu_ratios)) if cpu_ratios else None
            # Noise on this VM only ever slows a run down: the fastest repetitions are the
            # least disturbed, so the ratio of the minima is a robust cross-check.
            lim = [runs[(rep, w, "limit")]["cpu_us"] for rep in reps if (rep, w, "limit") in runs]
            a["cpu_min"] = min(row["cpu_us"] for row in rows)
            a["cpu_min_ratio"] = a["cpu_min"] / min(lim) if lim else None
            agg[(w, v)] = a

    out = []
    p = out.append
    p("# microcache benchmark results")
    p("")
    p("Written by `bench/run.sh` (`make bench`); do not edit by hand. Figures are medians over "
      f"{len(reps)} repetitions of {meta.get('duration', '?')} s wrk runs, each after a "
      f"{meta.get('warmup', '?')} s warm-up.")
    p("")
    p("## Machine")
    p("")
    p("| | |")
    p("|---|---|")
    for key, label in [("cpu_model", "CPU"), ("cpus", "cores"), ("mem", "memory"), ("os", "OS"),
                       ("kernel", "kernel"), ("nginx", "nginx"), ("module", "module"),
                       ("openssl", "TLS library"), ("php", "origin"), ("wrk", "load generator"),
                       ("commit", "commit"), ("date", "date"), ("elapsed_s", "benchmark run time (s)")]:
        if key in meta:
            p(f"| {label} | {meta[key]} |")
    p("")
    p("Setup: one nginx worker per variant pinned to core 0 (`worker_cpu_affinity`); wrk "
      f"(1 thread, {meta.get('connections', '?')} keep-alive HTTPS connections, TLS 1.3, HTTP/1.1) "
      f"and the PHP-FPM static pool ({meta.get('php_children', '?')} children) pinned to core 1. "
      f"The page is {meta.get('page_bytes', '?')} bytes, rendered by PHP in a few ms "
      "(`bench/www/index.php`), uncompressed (wrk sends no Accept-Encoding). "
      f"Shipped vhost: `microcache_sort_args {meta.get('sort_args') or 'off (default)'}`.")
    p("")
    p("- `limit`: the page as a static file on tmpfs (open file cache), same nginx.conf and "
      "server blocks, no module.")
    p("- `seed`: the common stock micro-cache config: key `\"$scheme$request_method$host$request_uri\"`, "
      "`set $skip_cache` + `if` regexes on `$request_method`, `$request_uri`, `$http_cookie`; no module.")
    p("- `microcache`: the shipped `conf/` (nginx.conf, sites-available/example.com, snippets) "
      "with the module; only ports, paths, certificate, socket, server name and "
      "`worker_processes 1` substituted.")
    p("")
    p("Workloads: `clean` one URL (`/shop/?p=2&s=shoes&color=red`); `utm` the same page with the "
      "three real parameters shuffled and 2-3 `utm_*`/`gclid`/`fbclid` parameters with fresh "
      "random values at random positions on every request; `bypass` the clean URL with a "
      "`wordpress_logged_in_*` cookie.")
    p("")
    p("CPU/req is the nginx worker's utime+stime (/proc/PID/stat) over the run divided by the "
      "requests wrk completed; `CPU vs limit` and `req/s vs limit` are ratios to `limit` within "
      "the same repetition (median of the per-repetition ratios). `busy` is the worker's CPU "
      "time over wall time (100 % = core 0 saturated). `origin /1000` counts PHP executions. "
      "HIT % is `$upstream_cache_status` = HIT in the access log (STALE/UPDATING responses, "
      "also served from the cache, are in `cached %`).")
    p("")
    p("## Results")
    p("")
    p("| workload | variant | req/s | req/s vs limit | p50 ms | p99 ms | HIT % | cached % "
      "| origin /1000 req | CPU µs/req | CPU vs limit | worker busy % | errors |")
    p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for w in workloads:
        for v in VARIANTS:
            a = agg.get((w, v))
            if not a:
                continue
            p(f"| {w} | {v} | {a['rps']:,.0f} | {fmt(a['rps_ratio'], '.3f')} | {a['p50']:.2f} "
              f"| {a['p99']:.2f} | {fmt(a['hit'], '.2f', '-')} | {fmt(a['cached'], '.2f', '-')} "
              f"| {a['origin']:.2f} | {a['cpu_us']:.1f} | {fmt(a['cpu_ratio'], '.3f')} "
              f"| {a['busy']:.0f} | {a['lost']} |")
    p("")

    # --- Targets ---
    p("## Targets")
    p("")
    p("| target | measured | met |")
    p("|---|---|---|")

    def row(name, value, ok):
        p(f"| {name} | {value} | {'yes' if ok else '**no**'} |")

    u = agg.get(("utm", "microcache"))
    if u:
        rng = u["cpu_ratio_range"]
        row("utm: module CPU/request ≤ 1.05 × limit",
            f"{u['cpu_ratio']:.3f} × (repetitions {rng[0]:.3f}–{rng[1]:.3f}; schedstat ns: "
            f"{fmt(u['cpu_ns_ratio'], '.3f')} ×; ratio of the fastest runs: {fmt(u['cpu_min_ratio'], '.3f')} ×)",
            u["cpu_ratio"] <= 1.05)
        row("utm: req/s ≥ 0.93 × limit", f"{u['rps_ratio']:.3f} ×", u["rps_ratio"] >= 0.93)
        row("utm: HIT ≥ 99 %", f"{u['hit']:.2f} % (served from the cache, STALE/UPDATING included: "
            f"{u['cached']:.2f} %)", u["hit"] is not None and u["hit"] >= 99)
        row("utm: origin executions per 1000 requests ≈ 0 after warm-up", f"{u['origin']:.3f}",
            u["origin"] < 1)
    c = agg.get(("clean", "microcache"))
    cs = agg.get(("clean", "seed"))
    if c and cs:
        row("clean: module CPU/request ≤ seed's",
            f"{c['cpu_us']:.1f} vs {cs['cpu_us']:.1f} µs ({c['cpu_vs_seed']:.3f} × seed; fastest runs "
            f"{c['cpu_min']:.1f} vs {cs['cpu_min']:.1f} µs)", c["cpu_vs_seed"] <= 1.0)
    st = read_env(os.path.join(raw, "stampede.env"))
    if st:
        row(f"stampede: {st.get('stampede_requests', '?')} concurrent first requests → exactly 1 origin execution",
            f"{st.get('stampede_executions', '?')} execution(s); {st.get('stampede_statuses', '')}; "
            f"responses in {st.get('stampede_min_s', '?')}–{st.get('stampede_max_s', '?')} s",
            st.get("stampede_pass") == "1")
    bench_txt = os.path.join(raw, "cargo-bench.txt")
    cargo_rows = []
    if os.path.exists(bench_txt):
        with open(bench_txt, encoding="utf-8") as f:
            cargo_rows = [line.rstrip("\n") for line in f if line.startswith("|")]
    for line in cargo_rows:
        cells = [x.strip() for x in line.strip("|").split("|")]
        if not cells or not cells[0].startswith("6 params, 3 tracking"):
            continue
        try:
            ns, allocs = float(cells[2]), int(cells[4])
        except (ValueError, IndexError):
            continue
        what = "sorted, as the shipped vhost does" if "sorted" in cells[0] else "default rules"
        row(f"normaliser: ≤ 100 ns for 6 params / 3 tracking ({what}), no allocation",
            f"{ns:.1f} ns, {allocs} allocations", ns <= 100 and allocs == 0)
    p("")

    # --- Normaliser ---
    if cargo_rows:
        p("## Normaliser micro-benchmark (`cargo bench -p microcache-core`)")
        p("")
        for line in cargo_rows:
            p(line)
        p("")

    # --- Stampede, purge ---
    if st:
        p("## Stampede (`bench/stampede.sh`)")
        p("")
        p(f"{st.get('stampede_requests')} concurrent HTTP/1.1 connections request one uncached URL "
          "(`/slow/?id=<fresh>`, rendered in 300 ms) at once through the shipped configuration: "
          f"**{st.get('stampede_executions')} origin execution(s)**, "
          f"{st.get('stampede_ok')} × 200, cache statuses {st.get('stampede_statuses')}, "
          f"response times {st.get('stampede_min_s')}–{st.get('stampede_max_s')} s "
          "(waiters are woken by `fastcgi_cache_lock`'s 500 ms poll).")
        p("")
    pu = read_env(os.path.join(raw, "purge.env"))
    if pu:
        p("## Purge under load (`bench/purge-under-load.sh`)")
        p("")
        p(f"The microcache variant's cache is filled with {pu.get('purge_entries')} entries, then "
          f"`PURGE /purgeall` is sent while wrk ({meta.get('connections', '?')} connections) "
          "requests a URL.")
        p("")
        p("| wrk on | entries purged | purge took | wrk max latency (baseline without purge) | req/s during | lost requests |")
        p("|---|--:|--:|--:|--:|--:|")
        for key, label, base in [("purge_page", "the cached page", "purge_baseline_max_ms"),
                                 ("purge_static", "a static file (/style.css)", "purge_static_baseline_max_ms")]:
            if f"{key}_status" in pu:
                p(f"| {label} | {pu.get(f'{key}_files_before')} → {pu.get(f'{key}_files_after')} files "
                  f"(HTTP {pu.get(f'{key}_status')}) | {float(pu.get(f'{key}_seconds', 0)) * 1000:.0f} ms "
                  f"| {pu.get(f'{key}_max_ms')} ms ({pu.get(base)} ms) | {pu.get(f'{key}_rps')} "
                  f"| {pu.get(f'{key}_lost')} |")
        p("")
        p("The purge walk itself holds the worker only briefly (the static-file row). On the "
          "purged hot page, requests that arrive while the first MISS re-renders it wait on "
          "`fastcgi_cache_lock`, which nginx polls every 500 ms: that is the page row's max "
          "latency. No request is lost.")
        p("")
        row_ok = pu.get("purge_pass") == "1"
        p(f"Purge check: {'PASS' if row_ok else '**FAIL**'} ({pu.get('purge_lost', '?')} lost requests).")
        p("")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
