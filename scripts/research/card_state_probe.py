#!/usr/bin/env python3
"""How far does triton's do_bench move with what the card did just before it, and where does a call
sit inside a model's step? The reference of the worker's fidelity target (its median within 3% of
do_bench), on a power-capped card.

  card_state_probe.py WORKER_RUN.jsonl OUT.csv [--min-ms 0.1] [--backends sdpa_cudnn,...]

For each (shape, backend) of the worker's run with a median of at least --min-ms, ComfyUI's call
(fidelity_probe.comfy_call) is timed six ways, in this order:
  do_bench_idle    triton.testing.do_bench(fn, return_mode="median"), its defaults (25 ms warm-up,
                   100 ms repetition), after 2 s with the GPU idle
  do_bench_loaded  the same, right after 1 s of 8192^3 bf16 matrix products back to back (the
                   card at its power cap, as in a sampling step's linear layers)
  do_bench_same    the same, right after 1 s of the call itself back to back
  in_model         the call between the shape's MLP (x @ W1 @ W2, C -> 4C -> C on the
                   attention's output), as in a transformer block: events around the attention
                   only, 0.3 s of warm-up and 0.6 s of samples, the median
  in_model_spin    the same with a spin kernel in the MLP's place, of the MLP's length at 1.98 GHz
                   (longer at a lower clock): the GPU as busy, at a spin's power, the L2 left to
                   the attention
  in_model_flush   the same with a 256 MB memset in the MLP's place (do_bench's L2 flush)
and the worker's median is put beside them.
"""
import statistics
import time

import torch
from torch.nn.attention import sdpa_kernel
from triton.testing import do_bench

from fidelity_probe import KERNELS, comfy_call, probe_command_line, spin, write_rows

STATES = ["do_bench_idle", "do_bench_loaded", "do_bench_same", "in_model", "in_model_spin", "in_model_flush"]


def back_to_back(fn, seconds, est_ms):
    for _ in range(max(1, int(seconds * 1e3 / est_ms))):
        fn()


def in_model(call, sets, between):
    """Median device time (ms) of the attention call with `between(out)` issued after each."""
    def step(i, ev=None):
        if ev:
            ev[0].record()
        out = call(sets[i % len(sets)])
        if ev:
            ev[1].record()
        between(out)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(3):
        step(i)
    torch.cuda.synchronize()
    step_ms = (time.perf_counter() - t) * 1e3 / 3
    n = max(6, min(4000, int(900 / step_ms)))
    warm = n // 3
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(n - warm)]
    for i in range(warm):
        step(i)
    for i, ev in enumerate(events):
        step(i, ev)
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) for a, b in events)


def mlp_for(w):
    """The shape's MLP (C -> 4C -> C) on an attention output."""
    c = w["heads"] * w["head_dim"]
    w1 = torch.randn(c, 4 * c, dtype=torch.bfloat16, device="cuda") / c ** 0.5
    w2 = torch.randn(4 * c, c, dtype=torch.bfloat16, device="cuda") / (4 * c) ** 0.5
    return lambda out: (out.view(-1, c) @ w1) @ w2


def main():
    a, ws, results = probe_command_line()
    x = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    gemm = lambda: x @ x  # noqa: E731
    gemm_ms = do_bench(gemm, return_mode="median")
    flush = torch.empty(int(256e6 // 4), dtype=torch.int32, device="cuda")
    rows = []
    for e in results:
        w, est = ws[e["shape"]], e["median_ms"]
        sets, call = comfy_call(w)
        fn = lambda: call(sets[0])  # noqa: E731
        g = {}
        with sdpa_kernel([KERNELS[e["backend"]]]):
            fn()
            torch.cuda.synchronize()
            time.sleep(2)
            g["do_bench_idle"] = do_bench(fn, return_mode="median")
            back_to_back(gemm, 1, gemm_ms)
            g["do_bench_loaded"] = do_bench(fn, return_mode="median")
            back_to_back(fn, 1, est)
            g["do_bench_same"] = do_bench(fn, return_mode="median")
            mlp = mlp_for(w)
            out = call(sets[0])
            mlp_ms = do_bench(lambda: mlp(out), return_mode="median")
            g["in_model"] = in_model(call, sets, mlp)
            g["in_model_spin"] = in_model(call, sets, lambda out: spin(mlp_ms))
            g["in_model_flush"] = in_model(call, sets, lambda out: flush.zero_())
        row = {"shape": e["shape"], "backend": e["backend"], "worker": round(est, 4)}
        row.update({s: round(g[s], 4) for s in STATES})
        row["mlp_ms"] = round(mlp_ms, 4)
        dbs = [g[s] for s in STATES[:3]]
        row["do_bench_spread_pct"] = round((max(dbs) / min(dbs) - 1) * 100, 2)
        for s in STATES:
            row["worker_vs_" + s + "_pct"] = round((est / g[s] - 1) * 100, 2)
        row["do_bench_idle_vs_in_model_pct"] = round((g["do_bench_idle"] / g["in_model"] - 1) * 100, 2)
        rows.append(row)
        print(" ".join("{}={}".format(k, v) for k, v in row.items()), flush=True)
        del sets
        torch.cuda.empty_cache()
    n = len(rows)
    print("do_bench, its three states, max/min over 3%: {} of {}".format(
        sum(r["do_bench_spread_pct"] > 3 for r in rows), n))
    for s in STATES:
        print("worker within 3% of {}: {} of {}".format(s, sum(abs(r["worker_vs_" + s + "_pct"]) <= 3 for r in rows), n))
    print("do_bench_idle within 3% of in_model: {} of {}".format(
        sum(abs(r["do_bench_idle_vs_in_model_pct"]) <= 3 for r in rows), n))
    by_shape = {}
    for r in rows:
        by_shape.setdefault(r["shape"], []).append(r)
    for shape_id, group in by_shape.items():  # does the step's state reorder the backends?
        order = {k: [r["backend"] for r in sorted(group, key=lambda r: r[k])] for k in ("worker", "in_model")}
        print("{}: worker order {}, in_model order {}{}".format(
            shape_id, ",".join(order["worker"]), ",".join(order["in_model"]),
            "" if order["worker"] == order["in_model"] else "  REORDERED"))
    write_rows(a.out, rows)


if __name__ == "__main__":
    main()
