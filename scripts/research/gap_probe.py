#!/usr/bin/env python3
"""Why does FA3 on Flux read 8% slower in the worker than in triton's do_bench?

    gap_probe.py OUT.csv

Hypothesis: do_bench clears the L2 cache before every call (a 256 MB fill), so the calls it
times follow a memory-bound pause; a power-capped card (H200 at 700 W) then runs a compute-bound
kernel at a higher clock than back to back, as the worker and a sampling step run it. FA3 is the
most compute-dense kernel measured; cuDNN is the control (worker and do_bench agreed within 1%).
For each backend, after 1 s of the same call, three readings, twice in turn:
  back_to_back   200 calls between two CUDA events, per call (the worker's way, without its queue)
  after_fill     one call between two events, each after a 256 MB fill like do_bench's; median
  do_bench       triton.testing.do_bench, median
If after_fill reads as do_bench and back_to_back as the worker, the gap is the pause, not the
worker. Through the node's adapters (comfyui_node/backends.py), on Flux's shape.
"""
import csv
import os
import statistics
import sys
import time

import torch
from triton.testing import do_bench

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from comfyui_node import backends  # noqa: E402

B, H, L, D = 1, 24, 4352, 128


def settle(call, seconds=1.0):
    end = time.time() + seconds
    while time.time() < end:
        for _ in range(10):
            call()
        torch.cuda.synchronize()


def back_to_back(call, n=200):
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(n):
        call()
    b.record()
    b.synchronize()
    return a.elapsed_time(b) / n


def after_fill(call, n=100):
    fill = torch.empty(256 * 2 ** 20 // 4, dtype=torch.int32, device="cuda")
    times = []
    for _ in range(n):
        fill.zero_()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        call()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def main():
    out = sys.argv[1]
    q, k, v = (torch.randn(B, L, H * D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    rows = []
    for backend in ("flash3", "sdpa_cudnn"):
        try:
            fn = backends.make_adapter(backend, None)
        except backends.Unavailable as e:
            print("skip", backend, e)
            continue
        call = lambda: fn(q, k, v, H)  # noqa: E731
        for rnd in range(2):
            for mode, f in (("back_to_back", back_to_back), ("after_fill", after_fill),
                            ("do_bench", lambda c: do_bench(c, warmup=25, rep=200, return_mode="median"))):
                settle(call)
                ms = f(call)
                rows.append([backend, rnd, mode, "%.4f" % ms])
                print(*rows[-1], flush=True)
    with open(out, "w", newline="") as f:
        csv.writer(f).writerows([["backend", "round", "mode", "ms"]] + rows)


if __name__ == "__main__":
    main()
