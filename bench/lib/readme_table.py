#!/usr/bin/env python3
"""bench/lib/readme_table.py RESULTS_MD README_MD [--check]

The README's benchmark figures come from bench/results.md (which bench/run.sh writes) and
bench/cluster-results.md (bench/cluster.sh), never from a hand copy: this rewrites the region
of README_MD between the two marker lines that name RESULTS_MD (see `markers`) with the
machine, the results table and the targets table of RESULTS_MD. The benchmarks call it after
each run; with --check (`make lint`) it only fails, saying so, when the README's region is not
what RESULTS_MD gives.
"""

import os
import sys

MAIN_RESULTS = "bench/results.md"


def markers(name):
    """The region's first and last lines, for the results file `name` (relative to the README)."""
    return (f"<!-- begin: generated from {name} by bench/lib/readme_table.py -->",
            f"<!-- end: generated from {name} -->")


def sections(markdown):
    """{heading: [lines]} for the '## ' sections, and the lines before the first one."""
    out, name = {"": []}, ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            name = line[3:].strip()
            out[name] = []
        else:
            out[name].append(line)
    return out


def table(lines):
    return [line for line in lines if line.startswith("|")]


def region(results, name):
    s = sections(results)
    machine = {}
    for line in table(s.get("Machine", []))[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2:
            machine[cells[0]] = cells[1]
    results_table, targets = table(s.get("Results", [])), table(s.get("Targets", []))
    if not machine or not results_table or not targets:
        sys.exit("readme_table: the results file has no Machine, Results or Targets table")
    intro = " ".join(line for line in s[""] if line and not line.startswith("#"))
    method = intro.split("do not edit by hand.", 1)[-1].strip()
    m = machine.get
    if name == MAIN_RESULTS:
        tail = ("CPU and req/s ratios are taken against `limit` within each repetition. All "
                "figures, with the normaliser, stampede and purge checks: "
                f"[{name}]({name}).")
    else:
        tail = f"All figures: [{name}]({name})."
    begin, end = markers(name)
    lines = [
        begin,
        f"Measured on {m('date', '?')} (commit {m('commit', '?')}) on a {m('cores', '?')}-core "
        f"{m('CPU', '?')} VM: {m('OS', '?')}, {m('kernel', '?')}, {m('nginx', '?')}, "
        f"{m('TLS library', '?')}, {m('origin', '?')}, {m('load generator', '?')}. {method} "
        f"{tail}",
        "",
        *results_table,
        "",
        *targets,
        end,
    ]
    return lines


def main(argv):
    if len(argv) not in (3, 4) or (len(argv) == 4 and argv[3] != "--check"):
        sys.exit(__doc__.strip().splitlines()[0])
    name = os.path.relpath(argv[1], os.path.dirname(os.path.abspath(argv[2])))
    with open(argv[1], encoding="utf-8") as f:
        generated = region(f.read(), name)
    with open(argv[2], encoding="utf-8") as f:
        readme = f.read().splitlines()
    begin, end_line = markers(name)
    if readme.count(begin) != 1 or readme.count(end_line) != 1 or readme.index(begin) > readme.index(end_line):
        sys.exit(f"readme_table: {argv[2]} needs one '{begin}' line and, after it, one '{end_line}' line")
    start, end = readme.index(begin), readme.index(end_line)
    if readme[start:end + 1] == generated:
        return
    if len(argv) == 4:
        sys.exit(f"readme_table: the benchmark figures in {argv[2]} differ from {argv[1]}: "
                 f"run bench/lib/readme_table.py {argv[1]} {argv[2]}")
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(readme[:start] + generated + readme[end + 1:]) + "\n")


if __name__ == "__main__":
    main(sys.argv)
