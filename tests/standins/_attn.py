"""Reference attention in torch ops, shared by the stand-ins (tests only)."""
import json
import math
import os

import torch


def _strides(t):
    """The tensor's strides, with those of size-1 dimensions (which address nothing) as 0."""
    return [0 if n == 1 else s for n, s in zip(t.shape, t.stride())]


def record(fn, q, k, v, **args):
    """With STANDIN_RECORD=FILE, appends how the library function was called: its name, the
    tensors' shapes and strides, and every other argument (tests/worker/test_worker.py compares
    the worker's calls with the node's)."""
    path = os.environ.get("STANDIN_RECORD")
    if not path:
        return
    line = {"fn": fn, "shapes": [list(t.shape) for t in (q, k, v)], "strides": [_strides(t) for t in (q, k, v)],
            "dtype": str(q.dtype), "args": {name: repr(value) for name, value in sorted(args.items())}}
    with open(path, "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")


def attention_blhd(q, k, v, scale=None):
    """(B, L, H, D) in and out, computed in float32 like an exact kernel."""
    qf, kf, vf = (t.transpose(1, 2).float() for t in (q, k, v))
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    p = torch.softmax(torch.matmul(qf, kf.transpose(-1, -2)) * scale, dim=-1)
    return torch.matmul(p, vf).to(q.dtype).transpose(1, 2).contiguous()


def attention_bhld(q, k, v, scale=None):
    return attention_blhd(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale).transpose(1, 2)
