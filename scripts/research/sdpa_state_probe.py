#!/usr/bin/env python3
"""Does calling one of the node's SDPA adapters change what plain SDPA runs afterwards?

Times plain F.scaled_dot_product_attention on Flux's shape (torch's own pick) in a fresh process,
then again after one call of each adapter, printing torch's SDPA flags and priority order at each
point. On the H100 cuDNN runs this shape in about 0.40 ms, FlashAttention-2 in about 0.78.
Runs on the GPU machine:  python3 scripts/research/sdpa_state_probe.py

Seen on the H100 (torch 2.11.0+cu130, cuDNN 9.19, 2026-11-25): the order read [1, 2, 0, 3, 4]
(flash, efficient, math, cuDNN) before the first SDPA call, and [3, 1, 2, 0, 4] (cuDNN first)
after it, and plain SDPA took 0.396 ms: torch's own pick there is cuDNN, and no adapter call
changed it. It is FlashAttention-2 only in a process whose first SDPA call ran inside a priority
context (node_step_bench.py before it made a plain first call: 47.1 ms per Flux step, not 24.1).
"""
import os
import statistics
import sys

import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path[:0] = [REPO, os.path.join(REPO, "tests", "node", "fake_comfy")]
from comfyui_node import backends  # noqa: E402
import comfy.ldm.modules.attention as attention  # noqa: E402
import comfy.ops  # noqa: E402

C = torch._C
q, k, v = (torch.randn(1, 24, 4352, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))


def state():
    flags = {n: getattr(C, g)() for n, g in (("cudnn", "_get_cudnn_sdp_enabled"), ("flash", "_get_flash_sdp_enabled"),
                                              ("efficient", "_get_mem_efficient_sdp_enabled"),
                                              ("math", "_get_math_sdp_enabled"))}
    order = C._get_sdp_priority_order() if hasattr(C, "_get_sdp_priority_order") else "n/a"
    return "flags {} order {}".format(flags, order)


def plain_ms():
    for _ in range(3):
        F.scaled_dot_product_attention(q, k, v)
    times = []
    for _ in range(20):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        F.scaled_dot_product_attention(q, k, v)
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


print("fresh:", state(), "plain {:.3f} ms".format(plain_ms()))
for name in ("sdpa_cudnn", "sdpa_flash", "sdpa_comfy"):
    fn = backends.make_adapter(name, attention)
    fn(q, k, v, 24, skip_reshape=True, skip_output_reshape=True)
    print("after one", name, "call:", state(), "plain {:.3f} ms".format(plain_ms()))
comfy.ops.set_priority_context(True)
attention.attention_pytorch(q, k, v, 24, skip_reshape=True, skip_output_reshape=True)
print("after ComfyUI's priority context:", state(), "plain {:.3f} ms".format(plain_ms()))
