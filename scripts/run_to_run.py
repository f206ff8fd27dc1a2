#!/usr/bin/env python3
"""Compares two autotune-bench runs of the same job (issue 3: two runs agree within 2% and pick
the same backend).

  run_to_run.py A.jsonl B.jsonl [--tolerance 0.02] [--min-ms 0.1]

Prints, for the (backend, shape) pairs that are ok in both: how many lie within the tolerance
(all, and those of at least --min-ms), the worst pairs, and each shape whose fastest backend
differs between the runs. Exit status 0 when every pair of at least --min-ms is within the
tolerance and every shape has the same fastest backend; 1 otherwise, or when no pair is ok in
both runs; 2 for unreadable input.
"""
import argparse
import json
import sys


def medians(lines, field="median_ms"):
    """{(backend, shape): field} of the ok results in a run's JSON lines (that have the field)."""
    out = {}
    for line in lines:
        e = json.loads(line)
        if e.get("event") == "result" and e.get("status") == "ok" and field in e:
            out[(e["backend"], e["shape"])] = e[field]
    return out


def winners(run):
    """{shape: fastest backend}; ties go to the backend id that sorts first."""
    best = {}
    for (backend, shape), ms in sorted(run.items()):
        if shape not in best or ms < run[(best[shape], shape)]:
            best[shape] = backend
    return best


def compare(a, b, tolerance=0.02, min_ms=0.1):
    """(rows, summary): rows of (backend, shape, a_ms, b_ms, relative difference b / a - 1),
    worst first; summary counts and the shapes whose winner changed."""
    rows = sorted(((bk, sh, a[(bk, sh)], b[(bk, sh)], b[(bk, sh)] / a[(bk, sh)] - 1)
                   for bk, sh in set(a) & set(b)), key=lambda r: -abs(r[4]))
    big = [r for r in rows if min(r[2], r[3]) >= min_ms]
    wa, wb = winners(a), winners(b)
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
    args = ap.parse_args(argv)
    try:
        runs, clocks = [], []
        for path in (args.a, args.b):
            with open(path) as f:
                lines = f.readlines()
            runs.append(medians(lines))
            clocks.append(medians(lines, "sm_clock_mhz"))
    except (OSError, ValueError, KeyError) as e:
        print("run_to_run: cannot read {}: {}".format(path, e), file=sys.stderr)
        return 2
    rows, s = compare(*runs, tolerance=args.tolerance, min_ms=args.min_ms)
    print("pairs ok in both runs within {:.0%}: {} of {}; of those >= {} ms: {} of {}; in one run only: {}".format(
        args.tolerance, s["within"], s["pairs"], args.min_ms, s["within_min_ms"], s["pairs_min_ms"],
        s["only_in_one"]))
    for backend, shape, ma, mb, d in rows[:5]:
        ca, cb = (c.get((backend, shape)) for c in clocks)
        print("  {} on {}: {:.4f} -> {:.4f} ms ({:+.2%}){}".format(
            backend, shape, ma, mb, d, ", SM clock {:.0f} -> {:.0f} MHz".format(ca, cb) if ca and cb else ""))
    print("fastest backend changed on: " + (", ".join(s["winner_changed"]) or "no shape"))
    if not s["pairs"]:
        print("no pair is ok in both runs: nothing to compare")
        return 1
    ok = s["within_min_ms"] == s["pairs_min_ms"] and not s["winner_changed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
