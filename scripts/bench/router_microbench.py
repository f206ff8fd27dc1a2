#!/usr/bin/env python3
"""What does routing cost?
The host cost of the node's router alone, per attention call, on the CPU (no GPU, no ComfyUI).

    /usr/bin/python3 scripts/bench/router_microbench.py [--calls 20000] [--rounds 15]

The router runs on every attention call ComfyUI makes, so its own cost must stay a few
microseconds (router.py). This times `router(func, *args, **kwargs)` with no-op adapters and a
no-op `func`, in each call form ComfyUI's models use (keywords as ComfyUI's wrap_attn passes
them, `_inside_attn_wrapper` included), against calling the no-op directly with the same
arguments: the difference is what routing adds, in nanoseconds per call: the least over rounds
(the estimate least disturbed by other processes on a shared machine) and the median.
The GPU-side view of the same cost is scripts/bench/node_step_bench.py's router_us.
"""
import argparse
import functools
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import torch  # noqa: E402

from comfyui_node import routing  # noqa: E402
from comfyui_node.decision import Route  # noqa: E402
from comfyui_node.router import Router  # noqa: E402


def noop(*args, **kwargs):
    return None


def call_forms():
    """(name, args, kwargs) as ComfyUI's wrap_attn hands them to the override (a125cd84)."""
    options = {}
    flux = torch.empty(1, 24, 64, 128)  # (B, H, L, D): comfy/ldm/flux/math.py
    sdxl = torch.empty(2, 64, 640)      # (B, L, H*D): CrossAttention, heads positional
    wan = torch.empty(1, 64, 1536)      # (B, L, H*D): comfy/ldm/wan/model.py, heads=
    return [
        ("flux: heads positional, skip_reshape, mask=None", (flux, flux, flux, 24),
         dict(skip_reshape=True, mask=None, transformer_options=options, _inside_attn_wrapper=True)),
        ("sdxl: heads positional, attn_precision", (sdxl, sdxl, sdxl, 10),
         dict(attn_precision=None, transformer_options=options, _inside_attn_wrapper=True)),
        ("wan/sd3: heads=", (wan, wan, wan),
         dict(heads=12, transformer_options=options, _inside_attn_wrapper=True)),
    ]


def per_call_ns(fn, args, kwargs, calls):
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn(*args, **kwargs)
    return (time.perf_counter_ns() - start) / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=15)
    a = parser.parse_args()
    routes = [Route("flux", 1, 24, 128, 64, 64, "flash3"), Route("sdxl", 2, 10, 64, 64, 64, "flash3"),
              Route("wan", 1, 12, 128, 64, 64, "flash3")]
    router = Router(routing.RouteTable(routes, "flash3"), {"flash3": noop}, {})

    routed = functools.partial(router, noop)  # C-level: no Python frame of its own

    print("| call form | direct ns | routed ns | router adds ns, least | median | counted as |")
    print("|---|---|---|---|---|---|")
    for name, args, kwargs in call_forms():
        getattr(router, "reset_stats", router.stats.clear)()  # older routers: a Counter
        routed(*args, **kwargs)
        counted = ", ".join(sorted(router.stats)) or "-"
        direct, through = [], []
        for _ in range(a.rounds):
            direct.append(per_call_ns(noop, args, kwargs, a.calls))
            through.append(per_call_ns(routed, args, kwargs, a.calls))
        d, t = min(direct), min(through)
        added = statistics.median(b - a for a, b in zip(direct, through))
        print("| {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {} |".format(name, d, t, t - d, added, counted))


if __name__ == "__main__":
    main()
