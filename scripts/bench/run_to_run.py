#!/usr/bin/env python3
"""Do two runs agree? Compares two autotune-bench runs of the same job, or two cold tunes by their
reports (the target: two runs agree within 2% and pick the same backend).

  run_to_run.py A B [--tolerance 0.02] [--min-ms 0.1] [--tie 0.03]

A and B are each the worker's JSON lines or `autotune --report --format json` of a tuned cache.
Two reports are also compared by each mechanism's attention time per sampling step and by their
pick.

Prints, for the (backend, shape) pairs that are ok in both: how many lie within the tolerance
(all, and those of at least --min-ms), the worst pairs (with their SM clocks and turns where the
runs give them), and each shape whose fastest backend
differs between the runs, and within each run how far apart sdpa_comfy and sdpa_cudnn read (on
sm90 with torch 2.11 one cuDNN kernel by two paths: their gap is the harness's own error within a
tune). The fastest backend is chosen as the policy chooses a shape's route
(common/policy.cpp): among the backends within --tie of the fastest, the first in its tie order,
so that sdpa_comfy and sdpa_cudnn, one cuDNN kernel, do not count as a change. Exit status 0
when every pair of at least --min-ms is within the tolerance and every shape has the same
fastest backend (and two reports the same pick); 1 otherwise, or when no pair is ok in both
runs; 2 for unreadable input.
"""
import argparse
import json
import os
import re
import sys


def medians(results, field="median_ms"):
    """{(backend, shape): field} of the ok results (that have the field)."""
    return {(r["backend"], r["shape"]): r[field] for r in results if r.get("status") == "ok" and field in r}


def read_run(text):
    """(medians, clocks, turns, report): of a worker run's JSON lines, or of a report (one JSON
    object with "shapes"), whose measurements give the medians and which is returned as well."""
    try:
        report = json.loads(text)
    except ValueError:
        report = None  # JSON lines
    if isinstance(report, dict) and "shapes" in report:
        return medians(m for sh in report["shapes"] for m in sh["measurements"]), {}, {}, report
    results = [e for e in map(json.loads, text.splitlines()) if e.get("event") == "result"]
    return medians(results), medians(results, "sm_clock_mhz"), medians(results, "turns"), None


def step_costs(report):
    """{mechanism: step_ms} of a report's eligible mechanisms."""
    return {c["mechanism"]: c["step_ms"] for c in report.get("mechanism_costs", []) if c.get("eligible")}


def tie_ranks(header=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "adapters.h")):
    """The policy's per-shape tie order as common/adapters.h defines it: ({id: rank}, the rank of
    ids not listed)."""
    with open(header) as f:
        text = f.read()
    kernel = int(re.search(r"kKernelTieRank = (\d+);", text).group(1))
    ranks = {m.group(1): kernel if m.group(2) == "kKernelTieRank" else int(m.group(2))
             for m in re.finditer(r'\{"(\w+)", (?:true|false), (\w+)\}', text)}
    return ranks, kernel


TIE_RANKS, UNLISTED_RANK = tie_ranks()


def rank(backend):
    return (TIE_RANKS.get(backend, UNLISTED_RANK), backend)


def winners(run, tie=0.03):
    """{shape: winner}: of the backends within `tie` (relative) of the shape's fastest, the first
    in the policy's tie order."""
    fastest = {}
    for (backend, shape), ms in run.items():
        fastest[shape] = min(ms, fastest.get(shape, ms))
    best = {}
    for (backend, shape), ms in run.items():
        if ms <= fastest[shape] * (1 + tie) and (shape not in best or rank(backend) < rank(best[shape])):
            best[shape] = backend
    return best


def same_kernel(run, tolerance=0.02):
    """(within, pairs, worst): of the shapes with both sdpa_comfy and sdpa_cudnn, how many read
    within `tolerance` of each other, and the worst as (shape, comfy_ms, cudnn_ms, comfy / cudnn - 1)."""
    gaps = [(sh, ms, run[("sdpa_cudnn", sh)], ms / run[("sdpa_cudnn", sh)] - 1)
            for (bk, sh), ms in run.items() if bk == "sdpa_comfy" and ("sdpa_cudnn", sh) in run]
    worst = max(gaps, key=lambda g: abs(g[3]), default=None)
    return sum(abs(g[3]) <= tolerance for g in gaps), len(gaps), worst


def compare(a, b, tolerance=0.02, min_ms=0.1, tie=0.03):
    """(rows, summary): rows of (backend, shape, a_ms, b_ms, relative difference b / a - 1),
    worst first; summary counts and the shapes whose winner changed."""
    rows = sorted(((bk, sh, a[(bk, sh)], b[(bk, sh)], b[(bk, sh)] / a[(bk, sh)] - 1)
                   for bk, sh in set(a) & set(b)), key=lambda r: -abs(r[4]))
    big = [r for r in rows if min(r[2], r[3]) >= min_ms]
    wa, wb = winners(a, tie), winners(b, tie)
    summary = {
        "pairs": len(rows), "within": sum(abs(r[4]) <= tolerance for r in rows),
        "pairs_min_ms": len(big), "within_min_ms": sum(abs(r[4]) <= tolerance for r in big),
        "only_in_one": len(set(a) ^ set(b)),
        "winner_changed": sorted(s for s in set(wa) & set(wb) if wa[s] != wb[s]),
    }
    return rows, summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1].strip())
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tolerance", type=float, default=0.02)
    ap.add_argument("--min-ms", type=float, default=0.1)
    ap.add_argument("--tie", type=float, default=0.03, help="the policy's tie tolerance [%(default)s]")
    args = ap.parse_args(argv)
    try:
        runs, clocks, turns, reports = [], [], [], []
        for path in (args.a, args.b):
            with open(path) as f:
                run, clock, turn, report = read_run(f.read())
            runs.append(run)
            clocks.append(clock)
            turns.append(turn)
            reports.append(report)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("run_to_run: cannot read {}: {}".format(path, e), file=sys.stderr)
        return 2
    rows, s = compare(*runs, tolerance=args.tolerance, min_ms=args.min_ms, tie=args.tie)
    print("pairs ok in both runs within {:.0%}: {} of {}; of those >= {} ms: {} of {}; in one run only: {}".format(
        args.tolerance, s["within"], s["pairs"], args.min_ms, s["within_min_ms"], s["pairs_min_ms"],
        s["only_in_one"]))
    for backend, shape, ma, mb, d in rows[:5]:
        ca, cb = (c.get((backend, shape)) for c in clocks)
        ta, tb = (t.get((backend, shape)) for t in turns)
        print("  {} on {}: {:.4f} -> {:.4f} ms ({:+.2%}){}{}".format(
            backend, shape, ma, mb, d, ", SM clock {:.0f} -> {:.0f} MHz".format(ca, cb) if ca and cb else "",
            ", turns {} -> {}".format(ta, tb) if ta and tb else ""))
    print("fastest backend (within {:.0%}, in the policy's tie order) changed on: {}".format(
        args.tie, ", ".join(s["winner_changed"]) or "no shape"))
    for name, run in zip(("a", "b"), runs):
        within, pairs, worst = same_kernel(run, args.tolerance)
        if pairs:
            print("run {}: sdpa_comfy and sdpa_cudnn within {:.0%} on {} of {} shapes; worst {}: {:.4f} vs {:.4f} ms "
                  "({:+.2%})".format(name, args.tolerance, within, pairs, *worst))
    pick_changed = False
    if all(reports):
        ca, cb = (step_costs(r) for r in reports)
        for mech in sorted(set(ca) & set(cb), key=lambda m: ca[m]):
            print("per sampling step, {}: {:.3f} -> {:.3f} ms ({:+.2%})".format(
                mech, ca[mech], cb[mech], cb[mech] / ca[mech] - 1))
        pa, pb = (r.get("pick") for r in reports)
        pick_changed = pa != pb
        print("pick: {} -> {}{}".format(pa, pb, " (changed)" if pick_changed else " (the same)"))
    if not s["pairs"]:
        print("no pair is ok in both runs: nothing to compare")
        return 1
    ok = s["within_min_ms"] == s["pairs_min_ms"] and not s["winner_changed"] and not pick_changed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
