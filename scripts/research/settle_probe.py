#!/usr/bin/env python3
"""How does a power-capped GPU's clock couple one kernel's timing to the kernel that ran before it,
and how much untimed running of its own ("settle") does a sample need before it reads what
triton's do_bench reads for that kernel alone?

  settle_probe.py OUT.csv [--shapes flux-1024,...] [--settle-ms 0,5,20,50] [--turns 8]

For each shape and SDPA kernel (cuDNN, flash, memory-efficient):
  transient   per-call times of kernel X for 300 ms right after 300 ms of kernel Y (or of idle),
              binned by the time since the switch: how long the clock takes to settle
  turns       the worker's method (harness-3): the kernels in turns, each turn a sample of >= 1
              ms of calls queued behind a spin, preceded by SETTLE ms of untimed calls of the same
              kernel; the median over the turns, for each SETTLE
  do_bench    triton.testing.do_bench (median), the kernels in turns, 3 turns, the median
Runs on the GPU machine, in the venv with torch and triton.
"""
import argparse
import csv
import os
import statistics
import time

import torch
from torch.nn.attention import sdpa_kernel
from triton.testing import do_bench

from fidelity_probe import KERNELS, comfy_call, load_workloads, spin

BINS_MS = [5, 10, 25, 50, 100, 300]


def make_call(w):
    """(call(i), sets): ComfyUI's call on the worker's input set i (rotating)."""
    sets, call = comfy_call(w)
    return (lambda i: call(sets[i % len(sets)])), sets


def run_for(call, kernel, ms, est_ms):
    """Queues about `ms` of calls of `kernel` (no timing)."""
    with sdpa_kernel([KERNELS[kernel]]):
        for i in range(max(1, round(ms / est_ms))):
            call(i)


def timed_calls(call, kernel, ms, est_ms):
    """Per-call (start offset ms, duration ms) of about `ms` of calls, queued behind a spin."""
    n = max(2, round(ms / est_ms))
    ev = [torch.cuda.Event(enable_timing=True) for _ in range(n + 1)]
    with sdpa_kernel([KERNELS[kernel]]):
        spin(1)
        for i in range(n):
            ev[i].record()
            call(i)
        ev[n].record()
    torch.cuda.synchronize()
    return [(ev[0].elapsed_time(ev[i]), ev[i].elapsed_time(ev[i + 1])) for i in range(n)]


def sample(call, kernel, est_ms, settle_ms):
    """One harness-3 sample: settle calls, a spin, >= 1 ms of calls between two events."""
    batch = max(1, round(1.0 / est_ms))
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    with sdpa_kernel([KERNELS[kernel]]):
        if settle_ms > 0:
            for i in range(max(1, round(settle_ms / est_ms))):
                call(i)
        spin(0.2 + 0.1 * batch)
        a.record()
        for i in range(batch):
            call(i)
        b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shapes", default="wan13b-480p-self,qwen-image-1328,sd35l-1024,flux-1024")
    ap.add_argument("--settle-ms", default="0,5,20,50")
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--workloads", default=os.path.join(os.path.dirname(__file__), "..", "..", "workloads"))
    a = ap.parse_args()
    ws = load_workloads(a.workloads)
    settles = [float(s) for s in a.settle_ms.split(",")]
    rows = []
    for shape_id in a.shapes.split(","):
        call, sets = make_call(ws[shape_id])
        est = {}
        for k in KERNELS:
            with sdpa_kernel([KERNELS[k]]):
                call(0)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                for i in range(3):
                    call(i)
                torch.cuda.synchronize()
            est[k] = (time.perf_counter() - t0) * 1e3 / 3
        # transient: X after Y (Y = idle: the host sleeps)
        for x in KERNELS:
            for y in ["idle"] + [k for k in KERNELS if k != x]:
                if y == "idle":
                    torch.cuda.synchronize()
                    time.sleep(0.3)
                else:
                    run_for(call, y, 300, est[y])
                calls = timed_calls(call, x, 300, est[x])
                lo = 0
                for hi in BINS_MS:
                    ts = [d for t0, d in calls if lo <= t0 < hi]
                    if ts:
                        rows.append({"shape": shape_id, "kind": "transient", "kernel": x, "after": y,
                                     "from_ms": lo, "to_ms": hi, "ms": round(statistics.median(ts), 4),
                                     "n": len(ts)})
                    lo = hi
        # the worker's turns, for each settle
        for s in settles:
            got = {k: [] for k in KERNELS}
            for _ in range(a.turns):
                for k in KERNELS:
                    got[k].append(sample(call, k, est[k], s))
            for k in KERNELS:
                rows.append({"shape": shape_id, "kind": "turns", "kernel": k, "after": "settle %g" % s,
                             "ms": round(statistics.median(got[k]), 4), "n": a.turns})
        db = {k: [] for k in KERNELS}
        for _ in range(3):
            for k in KERNELS:
                with sdpa_kernel([KERNELS[k]]):
                    db[k].append(do_bench(lambda: call(0), warmup=25, rep=100, return_mode="median"))
        for k in KERNELS:
            rows.append({"shape": shape_id, "kind": "do_bench", "kernel": k, "after": "",
                         "ms": round(statistics.median(db[k]), 4), "n": 3})
        for r in rows:
            if r["shape"] == shape_id and r["kind"] != "transient":
                ref = next(x["ms"] for x in rows if x["shape"] == shape_id and x["kind"] == "do_bench"
                           and x["kernel"] == r["kernel"])
                r["vs_do_bench_pct"] = round((r["ms"] / ref - 1) * 100, 2)
        for r in rows:
            if r["shape"] == shape_id:
                print(" ".join("{}={}".format(k, v) for k, v in r.items()), flush=True)
        del sets, call
        torch.cuda.empty_cache()
    with open(a.out, "w", newline="") as f:
        fields = ["shape", "kind", "kernel", "after", "from_ms", "to_ms", "ms", "n", "vs_do_bench_pct"]
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        wr.writerows(rows)


if __name__ == "__main__":
    main()
