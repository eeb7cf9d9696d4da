#!/usr/bin/env python3
"""bench/lib/profile_report.py OUT_DIR TOP WORKLOAD...: summary of bench/profile.sh.

perf: the nginx worker's CPU per request (utime+stime / requests, measured while perf ran)
split in proportion to the samples, by DSO and by symbol, in µs per request.
callgrind (if present): instructions (Ir) per request, inclusive, for the functions of the
request path, and exclusive Ir per request by object file.
"""

import os
import re
import subprocess
import sys
from collections import defaultdict

VARIANTS = ["limit", "seed", "microcache"]
MODULE = "libngx_http_microcache_module.so"


def cpu_us_per_request(out, wl, v):
    path = os.path.join(out, f"{wl}-{v}.cpu")
    if not os.path.exists(path):
        return None
    ticks, requests = open(path, encoding="utf-8").read().split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(ticks) / tck * 1e6 / max(int(requests), 1)


def parse_perf(path, with_sym):
    rows = defaultdict(float)
    if not os.path.exists(path):
        return rows
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)(?:\s+\[[.k]\]\s+(.*\S))?", line)
        if not m:
            continue
        dso = m.group(2)
        if dso.startswith("[JIT]"):
            dso = "[JIT] (PCRE)"
        key = (dso, m.group(3) or "?") if with_sym else dso
        rows[key] += float(m.group(1))
    return rows


def short_dso(d):
    return {"[kernel.kallsyms]": "kernel", MODULE: "module (" + MODULE + ")"}.get(d, d)


def perf_section(out, wl, top, p):
    cpu = {v: cpu_us_per_request(out, wl, v) for v in VARIANTS}
    if not any(cpu.values()):
        return
    dso = {v: parse_perf(os.path.join(out, f"{wl}-{v}.dso.txt"), False) for v in VARIANTS}
    sym = {v: parse_perf(os.path.join(out, f"{wl}-{v}.sym.txt"), True) for v in VARIANTS}

    def us(v, pct):
        return (cpu[v] or 0) * pct / 100

    p(f"### `{wl}` workload: worker CPU µs per request by DSO (perf, cpu-clock)")
    p("")
    p("| DSO | " + " | ".join(VARIANTS) + " | microcache − limit | microcache − seed |")
    p("|---|" + "--:|" * (len(VARIANTS) + 2))
    keys = sorted(set().union(*[set(dso[v]) for v in VARIANTS]),
                  key=lambda k: -max(us(v, dso[v].get(k, 0)) for v in VARIANTS))
    for k in keys:
        vals = [us(v, dso[v].get(k, 0)) for v in VARIANTS]
        if max(vals) < 0.05:
            continue
        p(f"| {short_dso(k)} | " + " | ".join(f"{x:.2f}" for x in vals)
          + f" | {vals[2] - vals[0]:+.2f} | {vals[2] - vals[1]:+.2f} |")
    p("| **total (utime+stime / requests, under perf)** | "
      + " | ".join(f"**{(cpu[v] or 0):.2f}**" for v in VARIANTS)
      + f" | **{(cpu['microcache'] or 0) - (cpu['limit'] or 0):+.2f}** "
      + f"| **{(cpu['microcache'] or 0) - (cpu['seed'] or 0):+.2f}** |")
    p("")

    def table(title, keys):
        p(title)
        p("")
        p("| DSO | symbol | " + " | ".join(VARIANTS) + " | microcache − limit | microcache − seed |")
        p("|---|---|" + "--:|" * (len(VARIANTS) + 2))
        for k in keys:
            vals = [us(v, sym[v].get(k, 0)) for v in VARIANTS]
            p(f"| {short_dso(k[0])} | `{k[1]}` | " + " | ".join(f"{x:.3f}" for x in vals)
              + f" | {vals[2] - vals[0]:+.3f} | {vals[2] - vals[1]:+.3f} |")
        p("")

    allsym = set().union(*[set(sym[v]) for v in VARIANTS])
    by_diff = sorted(allsym, key=lambda k: -(us("microcache", sym["microcache"].get(k, 0))
                                             - us("limit", sym["limit"].get(k, 0))))
    table(f"Top {top} symbols by extra µs/request in `microcache` over `limit`:", by_diff[:top])
    by_seed = sorted(allsym, key=lambda k: -(us("microcache", sym["microcache"].get(k, 0))
                                             - us("seed", sym["seed"].get(k, 0))))
    table(f"Top {min(top, 20)} symbols by extra µs/request in `microcache` over `seed`:",
          by_seed[:min(top, 20)])
    mod = sorted([k for k in allsym if k[0] == MODULE], key=lambda k: -sym["microcache"].get(k, 0))
    if mod:
        table("The module's own symbols:", mod)


def callgrind_section(out, wl, p):
    files = {v: os.path.join(out, f"callgrind.{wl}-{v}.out") for v in VARIANTS}
    if not any(os.path.exists(f) for f in files.values()):
        return
    incl, excl_obj, totals = {}, {}, {}
    for v, f in files.items():
        if not os.path.exists(f):
            continue
        n = int(open(os.path.join(out, f"callgrind.{wl}-{v}.requests")).read().strip() or 1)
        res = {}
        for inclusive in (True, False):
            txt = subprocess.run(
                ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100",
                 "--show-percs=no", f] if False else
                ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100", f],
                capture_output=True, text=True).stdout
            rows = {}
            for line in txt.splitlines():
                m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?):(\S+)(?:\s+\[(.*)\])?\s*$", line)
                if not m:
                    continue
                ir = int(m.group(1).replace(",", ""))
                fn = m.group(3)
                obj = os.path.basename(m.group(4) or "?")
                rows[(obj, fn)] = rows.get((obj, fn), 0) + ir / n
                if "PROGRAM TOTALS" in line:
                    pass
            tot = re.search(r"([\d,]+)\s+(?:\([^)]*\)\s+)?PROGRAM TOTALS", txt)
            if tot:
                totals[v] = int(tot.group(1).replace(",", "")) / n
            res[inclusive] = rows
        incl[v] = res[True]
        byobj = defaultdict(float)
        for (obj, _fn), ir in res[False].items():
            byobj[obj] += ir
        excl_obj[v] = byobj
    p(f"### `{wl}` workload: callgrind, instructions per request (single-process nginx)")
    p("")
    p("| | " + " | ".join(VARIANTS) + " |")
    p("|---|" + "--:|" * len(VARIANTS))
    p("| total Ir / request | " + " | ".join(f"{totals.get(v, 0):,.0f}" for v in VARIANTS) + " |")
    objs = sorted(set().union(*[set(x) for x in excl_obj.values()]),
                  key=lambda o: -max(excl_obj[v].get(o, 0) for v in excl_obj))
    for o in objs[:8]:
        p(f"| exclusive in {o} | " + " | ".join(f"{excl_obj.get(v, {}).get(o, 0):,.0f}" for v in VARIANTS) + " |")
    p("")
    interesting = ["ngx_http_file_cache_open", "ngx_http_file_cache_create_key", "ngx_http_upstream_cache",
                   "ngx_http_upstream_cache_send", "ngx_http_fastcgi_process_header",
                   "ngx_http_cache_send", "ngx_http_static_handler", "ngx_http_index_handler",
                   "ngx_http_try_files_handler", "ngx_http_core_find_location",
                   "ngx_http_rewrite_handler", "ngx_http_log_handler", "ngx_open_cached_file",
                   "ngx_http_write_filter", "ngx_ssl_send_chain", "ngx_http_process_request_headers",
                   "ngx_http_internal_redirect", "ngx_http_regex_exec", "ngx_http_complex_value",
                   "ngx_md5_update", "ngx_shmtx_lock", "ngx_http_file_cache_free",
                   "ngx_http_upstream_finalize_request"]
    fns = defaultdict(dict)
    for v, rows in incl.items():
        for (obj, fn), ir in rows.items():
            if fn in interesting or obj == MODULE:
                fns[(obj, fn)][v] = fns[(obj, fn)].get(v, 0) + ir
    p("Inclusive Ir per request of the request path's main functions (and every module function):")
    p("")
    p("| object | function | " + " | ".join(VARIANTS) + " |")
    p("|---|---|" + "--:|" * len(VARIANTS))
    for (obj, fn), vals in sorted(fns.items(), key=lambda kv: -max(kv[1].values())):
        if max(vals.values()) < 50:
            continue
        p(f"| {obj} | `{fn}` | " + " | ".join(f"{vals.get(v, 0):,.0f}" for v in VARIANTS) + " |")
    p("")


def main():
    out, top, workloads = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    lines = []
    p = lines.append
    p("## Profile (bench/profile.sh)")
    p("")
    for wl in workloads:
        perf_section(out, wl, top, p)
        callgrind_section(out, wl, p)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
