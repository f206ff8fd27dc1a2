#!/usr/bin/env python3
"""Does a tune read what triton's do_bench reads?
Fidelity of a tune: times each measured (shape, backend) of a report with triton.testing.do_bench,
through the node's own adapters, and compares with the worker's median.

  report_dobench.py REPORT.json OUT.csv [--min-ms 0.1] [--routes-only]

REPORT.json is `autotune --report --format json`. Each ok measurement of --min-ms and more is
rebuilt as ComfyUI calls attention (q, k, v of the workload's layout, heads, skip_reshape) and
run through comfyui_node/backends.py's adapter for its backend: the code the node runs and, for
the Python libraries, the code the worker timed. sdpa_comfy, split and quad are left out (their
adapters are ComfyUI's own functions). Each call runs for 1 s before do_bench times it, as the
worker's turns leave the card (results/h200-2026-12-01-card-state: do_bench right after other
work read the power-capped card in another clock state); the first for 5 s, since the process
starts on a card that was idle (the first do_bench of a process read FA3 on Flux 6% below the
next seven, results/h200-2026-12-03-callG). do_bench runs settled, as fidelity_probe.py's
do_bench_settled (21-22 of 22 pairs within 3%, results/h200-2026-12-01-card-state): a 300 ms
warm-up of calls back to back, then a repetition of max(20 ms, 10 calls), which ends before the
clock rises over do_bench's L2 flushes between calls (calls with a 0.1 ms gap after each read
FA3 and cuDNN on Flux 8% faster than back to back, results/h200-2026-12-03-callG).
--routes-only times only each shape's route (the full set's video shapes take seconds a pair).
Prints, per row, worker / do_bench - 1
and whether it is the shape's route; exits 1 when a route is off by more than --tolerance.
"""
import argparse
import csv
import os
import sys
import time

import torch
from triton.testing import do_bench

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
from comfyui_node import backends  # noqa: E402


def inputs(w, dtype):
    b, h, d = w["batch"], w["heads"], w["head_dim"]

    def make(n):
        shape = (b, h, n, d) if w["layout"] == "bhld" else (b, n, h * d)
        return torch.randn(shape, device="cuda", dtype=dtype)

    return make(w["q_len"]), make(w["kv_len"]), make(w["kv_len"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("out")
    ap.add_argument("--min-ms", type=float, default=0.1)
    ap.add_argument("--tolerance", type=float, default=0.03)
    ap.add_argument("--routes-only", action="store_true")
    a = ap.parse_args()
    import json
    with open(a.report) as f:
        report = json.load(f)
    rows, bad_routes = [], 0
    warm_s = 5.0
    for s in report["shapes"]:
        w = s["workload"]
        for m in s["measurements"]:
            if m["status"] != "ok" or m["median_ms"] < a.min_ms or m["backend"] in backends.COMFY_REGISTERED:
                continue
            if a.routes_only and m["backend"] != s.get("winner"):
                continue
            try:
                fn = backends.make_adapter(m["backend"], None)
            except (backends.Unavailable, KeyError) as e:
                print("skip", w["id"], m["backend"], e)
                continue
            q, k, v = inputs(w, torch.bfloat16)
            skip = w["layout"] == "bhld"
            call = lambda: fn(q, k, v, w["heads"], skip_reshape=skip)  # noqa: E731
            t_end = time.time() + warm_s
            warm_s = 1.0
            while time.time() < t_end:
                for _ in range(10):
                    call()
                torch.cuda.synchronize()
            ms = do_bench(call, warmup=300, rep=max(20, 10 * m["median_ms"]), return_mode="median")
            diff = m["median_ms"] / ms - 1
            route = m["backend"] == s.get("winner")
            if route and abs(diff) > a.tolerance:
                bad_routes += 1
            rows.append([w["id"], m["backend"], "%.4f" % m["median_ms"], "%.4f" % ms, "%+.2f%%" % (100 * diff),
                         "route" if route else ""])
            print(*rows[-1], flush=True)
            del q, k, v
    with open(a.out, "w", newline="") as f:
        csv.writer(f).writerows([["shape", "backend", "worker_ms", "do_bench_ms", "diff", "route"]] + rows)
    within = sum(1 for r in rows if abs(float(r[4].rstrip("%"))) <= 100 * a.tolerance)
    routes = [r for r in rows if r[5]]
    print("within {:.0%}: {} of {} pairs; routes {} of {}".format(
        a.tolerance, within, len(rows), len(routes) - bad_routes, len(routes)))
    return 1 if bad_routes else 0


if __name__ == "__main__":
    sys.exit(main())
