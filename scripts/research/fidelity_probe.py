#!/usr/bin/env python3
"""Why do the worker's median and triton's do_bench differ? Times the same SDPA call five ways in
one process, each changing one thing, and puts the worker's median beside them.

  fidelity_probe.py WORKER_RUN.jsonl OUT.csv [--min-ms 0.1] [--backends sdpa_cudnn,...]

  do_bench        triton.testing.do_bench, median: one call between two events, a 256 MB memset
                  (L2 flush) before each, the host launching as it goes
  do_bench_settled  the same with a warm-up of 300 ms (back-to-back calls, do_bench's own) and a
                  repetition time of max(20 ms, 10 calls): on a power-capped card the default 25 ms
                  warm-up ends inside the clock's lag (25-100 ms), and over a longer repetition the
                  memsets between calls lower the power and raise the clock after that lag
  call_flush      the same per-call events and memset, queued behind a spin kernel so that the
                  host cannot leave the GPU idle between calls
  call_rotate     per-call events behind a spin, no memset, inputs rotated over the worker's
                  input sets (>= 4x L2)
  call_same       per-call events behind a spin, no memset, one input set
  batch_rotate    the worker's method in Python: a batch of calls between two events behind a
                  spin, inputs rotated; the sample is the batch's mean
  do_bench_turns  do_bench again, the shape's backends in turns (one do_bench each per turn,
                  5 turns, the median), as harness-3 took the worker's samples

Each variant but the do_bench ones: median of the per-call (or per-batch) samples of 8 rounds. The call
is ComfyUI's attention_pytorch (views in, transpose+reshape out) with the kernel chosen outside
the timed function. Runs on the GPU machine, in the venv with torch and triton.
"""
import argparse
import csv
import glob
import json
import math
import os
import statistics

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from triton.testing import do_bench

KERNELS = {"sdpa_cudnn": SDPBackend.CUDNN_ATTENTION, "sdpa_flash": SDPBackend.FLASH_ATTENTION,
           "sdpa_efficient": SDPBackend.EFFICIENT_ATTENTION}
VARIANTS = ["do_bench", "do_bench_settled", "call_flush", "call_rotate", "call_same", "batch_rotate", "do_bench_turns"]
TURNS = 5


def spin(ms):
    torch.cuda._sleep(int(ms * 1.98e6))  # H100 SXM boost clock, cycles per ms


def load_workloads(directory):
    """{id: workload} of the catalogue files in `directory`."""
    ws = {}
    for f in glob.glob(os.path.join(directory, "*.json")):
        doc = json.load(open(f))
        for w in doc["workloads"] if isinstance(doc, dict) else doc:
            ws[w["id"]] = w
    return ws


def comfy_call(w):
    """(input sets, call): the worker's input sets for `w` (as many as worker/harness.cpp
    makes) and ComfyUI's attention_pytorch on one of them (views in, transpose+reshape out), the
    SDPA kernel left to the caller's context."""
    b, h, d = w["batch"], w["heads"], w["head_dim"]
    bhld = w["layout"] == "bhld"

    def shape(n):
        return (b, h, n, d) if bhld else (b, n, h * d)
    set_bytes = 2 * b * h * d * (2 * w["q_len"] + 2 * w["kv_len"])
    nsets = max(1, min(8, math.ceil(200e6 / set_bytes)))  # as worker/harness.cpp
    sets = [tuple(torch.randn(shape(n), dtype=torch.bfloat16, device="cuda")
                  for n in (w["q_len"], w["kv_len"], w["kv_len"])) for _ in range(nsets)]

    def call(qkv):
        q, k, v = qkv
        if not bhld:
            q, k, v = (t.view(b, -1, h, d).transpose(1, 2) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=False)
        return out.transpose(1, 2).reshape(b, -1, h * d)
    return sets, call


def per_call(fn, sets, calls, flush=None):
    """Per-call GPU times (ms) of `calls` calls queued behind a spin long enough for the host."""
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(calls)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(calls)]
    torch.cuda.synchronize()
    spin(0.2 * calls + 1)
    for i in range(calls):
        if flush is not None:
            flush.zero_()
        starts[i].record()
        fn(sets[i % len(sets)])
        ends[i].record()
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends)]


def batch(fn, sets, calls):
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    spin(0.2 * calls + 1)
    a.record()
    for i in range(calls):
        fn(sets[i % len(sets)])
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / calls


def probe_command_line(argv=None):
    """The probes' command line (RUN OUT [--min-ms] [--backends] [--workloads]): the arguments,
    the workloads by id, and the run's ok results of at least --min-ms for the backends asked."""
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--min-ms", type=float, default=0.1)
    ap.add_argument("--backends", default="sdpa_cudnn,sdpa_flash,sdpa_efficient")
    ap.add_argument("--workloads", default=os.path.join(os.path.dirname(__file__), "..", "..", "workloads"))
    a = ap.parse_args(argv)
    wanted = a.backends.split(",")
    results = [json.loads(line) for line in open(a.run)]
    results = [e for e in results if e.get("event") == "result" and e.get("status") == "ok"
               and e["backend"] in wanted and e["median_ms"] >= a.min_ms]
    return a, load_workloads(a.workloads), results


def write_rows(path, rows):
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["shape"])
        wr.writeheader()
        wr.writerows(rows)


def main():
    a, ws, results = probe_command_line()
    flush = torch.empty(int(256e6 // 4), dtype=torch.int32, device="cuda")
    by_shape = {}
    for e in results:
        by_shape.setdefault(e["shape"], []).append(e)
    rows = []
    for shape_id, group in by_shape.items():
        sets, call = comfy_call(ws[shape_id])
        got = {}
        for e in group:
            est = e["median_ms"]
            calls = max(4, min(200, int(20 / est)))
            g = got[e["backend"]] = {}
            with sdpa_kernel([KERNELS[e["backend"]]]):
                for _ in range(3):
                    call(sets[0])
                g["do_bench"] = do_bench(lambda: call(sets[0]), warmup=25, rep=200, return_mode="median")
                g["do_bench_settled"] = do_bench(lambda: call(sets[0]), warmup=300, rep=max(20, 10 * est),
                                                 return_mode="median")
                samples = {v: [] for v in ("call_flush", "call_rotate", "call_same", "batch_rotate")}
                for _ in range(8):  # rounds interleave the variants: clock and heat drift hit all alike
                    samples["call_flush"] += per_call(call, sets[:1], calls, flush)
                    samples["call_rotate"] += per_call(call, sets, calls)
                    samples["call_same"] += per_call(call, sets[:1], calls)
                    samples["batch_rotate"].append(batch(call, sets, calls))
                for v, x in samples.items():
                    g[v] = statistics.median(x)
        # do_bench as the worker now samples: the shape's backends in turns, so that all see the
        # same clock; the median of TURNS rounds.
        turns = {e["backend"]: [] for e in group}
        for _ in range(TURNS):
            for e in group:
                with sdpa_kernel([KERNELS[e["backend"]]]):
                    turns[e["backend"]].append(do_bench(lambda: call(sets[0]), warmup=25, rep=100,
                                                        return_mode="median"))
        for e in group:
            g, est = got[e["backend"]], e["median_ms"]
            g["do_bench_turns"] = statistics.median(turns[e["backend"]])
            row = {"shape": shape_id, "backend": e["backend"], "worker": round(est, 4)}
            for v in VARIANTS:
                row[v] = round(g[v], 4)
            row["worker_vs_do_bench_pct"] = round((est / g["do_bench"] - 1) * 100, 2)
            row["worker_vs_do_bench_settled_pct"] = round((est / g["do_bench_settled"] - 1) * 100, 2)
            row["worker_vs_do_bench_turns_pct"] = round((est / g["do_bench_turns"] - 1) * 100, 2)
            row["call_flush_vs_do_bench_pct"] = round((g["call_flush"] / g["do_bench"] - 1) * 100, 2)
            row["worker_vs_call_rotate_pct"] = round((est / g["call_rotate"] - 1) * 100, 2)
            rows.append(row)
            print(" ".join("{}={}".format(k, v) for k, v in row.items()), flush=True)
        del sets
        torch.cuda.empty_cache()
    for col in ("worker_vs_do_bench_pct", "worker_vs_do_bench_settled_pct", "worker_vs_do_bench_turns_pct"):
        print("{}: {} of {} within 3%".format(col, sum(abs(r[col]) <= 3 for r in rows), len(rows)), flush=True)
    write_rows(a.out, rows)


if __name__ == "__main__":
    main()
