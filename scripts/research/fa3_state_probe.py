#!/usr/bin/env python3
"""Why does the worker read FlashAttention-3 on Flux and Qwen-Image 5% above triton's do_bench,
when cuDNN on the same shapes agrees within 1%? And why do the worker's FA3 medians on Qwen-Image
move 1.75-1.94 ms from one cold tune to the next, while do_bench reads 1.771-1.772?

    fa3_state_probe.py OUT.csv [--rounds 4]

On the GPU machine with the FlashAttention-3 wheel. Per shape (flux-1024, qwen-image-1328) and
backend (flash3, sdpa_cudnn), through the node's adapters (comfyui_node/backends.py), in rounds,
each reading followed by the SM clock (a spin kernel's cycles over its event time):
  idle_worker   after 1 s with the GPU idle: the worker's turn in Python (a 100 ms settle, then
                30 samples of about 1 ms of calls back to back between events, 3 queued ahead,
                inputs rotated over the worker's sets); median per call
  self_worker   the same after 1 s of the call itself back to back
  do_bench      report_dobench.py's reading: 1 s of the call, then do_bench (median, its L2 flush)
  do_bench_rot  the same with the inputs rotated over the worker's sets
  gapped        calls with a 0.1 ms spin after each (the GPU busy at a spin's power), events
                around each call, after 0.5 s of that pattern; median
If the worker's readings times their clocks match do_bench's times its clock, the gap is the
card's clock under its power cap, not the method's timing.

    fa3_state_probe.py OUT.csv --allocations N

The second question: does a reading depend on where the inputs lie? Per shape and backend, N
input sets allocated one after the other (all kept, so each lies elsewhere), and for each, after
1 s of the call on it, do_bench's median on it; then the spread over the allocations.
"""
import argparse
import csv
import os
import statistics
import sys
import time

import torch
from triton.testing import do_bench

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "scripts", "research"))
from comfyui_node import backends  # noqa: E402
from fidelity_probe import comfy_call, load_workloads  # noqa: E402

SHAPES = ["flux-1024", "qwen-image-1328"]
BACKENDS = ["flash3", "sdpa_cudnn"]
SPIN_CYCLES = 200000


def clock_mhz():
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    torch.cuda._sleep(SPIN_CYCLES)
    b.record()
    torch.cuda.synchronize()
    return SPIN_CYCLES / (a.elapsed_time(b) * 1e3)


def input_sets(w):
    """The worker's input sets for `w` (as many as worker/harness.cpp makes)."""
    return comfy_call(w)[0]


def for_seconds(fn, seconds):
    end = time.time() + seconds
    while time.time() < end:
        for _ in range(10):
            fn()
        torch.cuda.synchronize()


def worker_turn(call, sets, est_ms):
    batch = max(1, round(1.0 / est_ms))
    i = 0
    for _ in range(max(1, int(100 / est_ms))):  # settle
        call(sets[i % len(sets)])
        i += 1
    torch.cuda._sleep(int(0.2 * 2e6))
    events = []
    for _ in range(30):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(batch):
            call(sets[i % len(sets)])
            i += 1
        b.record()
        events.append((a, b))
        if len(events) > 3:
            events[-4][1].synchronize()
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) / batch for a, b in events)


def gapped(call, sets, est_ms):
    gap = int(0.1 * 2e6)
    end = time.time() + 0.5
    while time.time() < end:
        call(sets[0])
        torch.cuda._sleep(gap)
        torch.cuda.synchronize()
    events = []
    for _ in range(max(10, int(200 / (est_ms + 0.1)))):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        call(sets[0])
        b.record()
        torch.cuda._sleep(gap)
        events.append((a, b))
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) for a, b in events)


def by_allocation(ws, n, out):
    rows = []
    for shape in SHAPES:
        w = ws[shape]
        skip = w["layout"] == "bhld"
        kept = [input_sets(w)[0] for _ in range(n)]
        for backend in BACKENDS:
            fn = backends.make_adapter(backend, None)
            for i, qkv in enumerate(kept):
                one = lambda: fn(*qkv, w["heads"], skip_reshape=skip)  # noqa: E731
                for_seconds(one, 1.0)
                ms = do_bench(one, warmup=25, rep=200, return_mode="median")
                rows.append({"shape": shape, "backend": backend, "allocation": i, "address": hex(qkv[0].data_ptr()),
                             "ms": round(ms, 4)})
                print(" ".join("{}={}".format(k, v) for k, v in rows[-1].items()), flush=True)
        del kept
        torch.cuda.empty_cache()
    with open(out, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    for shape in SHAPES:
        for backend in BACKENDS:
            ms = [x["ms"] for x in rows if (x["shape"], x["backend"]) == (shape, backend)]
            print("{:16s} {:11s} over {} allocations: median {:.4f} min {:.4f} max {:.4f} ({:+.1f}%)".format(
                shape, backend, len(ms), statistics.median(ms), min(ms), max(ms), (max(ms) / min(ms) - 1) * 100))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--allocations", type=int, default=0)
    a = ap.parse_args()
    ws = load_workloads(os.path.join(REPO, "workloads"))
    if a.allocations:
        return by_allocation(ws, a.allocations, a.out)
    rows = []
    for shape in SHAPES:
        w = ws[shape]
        sets = input_sets(w)
        skip = w["layout"] == "bhld"
        for r in range(a.rounds):
            for backend in BACKENDS:
                fn = backends.make_adapter(backend, None)
                call = lambda qkv: fn(*qkv, w["heads"], skip_reshape=skip)  # noqa: E731
                one = lambda: call(sets[0])  # noqa: E731
                est = do_bench(one, return_mode="median")
                k = [0]

                def rotated():
                    k[0] += 1
                    return call(sets[k[0] % len(sets)])
                readings = []
                torch.cuda.synchronize()
                time.sleep(1.0)
                readings.append(("idle_worker", worker_turn(call, sets, est)))
                readings[-1] += (clock_mhz(),)
                for_seconds(one, 1.0)
                readings.append(("self_worker", worker_turn(call, sets, est)))
                readings[-1] += (clock_mhz(),)
                for_seconds(one, 1.0)
                readings.append(("do_bench", do_bench(one, warmup=25, rep=200, return_mode="median")))
                readings[-1] += (clock_mhz(),)
                for_seconds(rotated, 1.0)
                readings.append(("do_bench_rot", do_bench(rotated, warmup=25, rep=200, return_mode="median")))
                readings[-1] += (clock_mhz(),)
                readings.append(("gapped", gapped(call, sets, est)))
                readings[-1] += (clock_mhz(),)
                for mode, ms, mhz in readings:
                    rows.append({"shape": shape, "backend": backend, "round": r, "mode": mode,
                                 "ms": round(ms, 4), "mhz": round(mhz), "kcycles": round(ms * mhz, 1)})
                    print(" ".join("{}={}".format(k, v) for k, v in rows[-1].items()), flush=True)
        del sets
        torch.cuda.empty_cache()
    with open(a.out, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    print("median over rounds: ms, MHz, ms x MHz (thousands of cycles)")
    for shape in SHAPES:
        for backend in BACKENDS:
            for mode in ("idle_worker", "self_worker", "do_bench", "do_bench_rot", "gapped"):
                sel = [x for x in rows if (x["shape"], x["backend"], x["mode"]) == (shape, backend, mode)]
                print("{:16s} {:11s} {:13s} {:.4f} ms (min {:.4f} max {:.4f})  {:5.0f} MHz  {:.1f}".format(
                    shape, backend, mode, statistics.median(x["ms"] for x in sel), min(x["ms"] for x in sel),
                    max(x["ms"] for x in sel), statistics.median(x["mhz"] for x in sel),
                    statistics.median(x["kcycles"] for x in sel)))


if __name__ == "__main__":
    main()
