"""Reference attention shared by the library stand-ins: float32 softmax attention over (B, H, L, D)."""
import math

import torch


def attention_bhld(q, k, v, scale=None):
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = torch.matmul(q.float(), k.float().transpose(-2, -1)) * scale
    return torch.matmul(s.softmax(dim=-1), v.float()).to(q.dtype)


def check_4d(name, *tensors):
    for t in tensors:
        if t.dim() != 4:
            raise RuntimeError("{}: expected 4-D tensors, got shape {}".format(name, tuple(t.shape)))
        if t.stride(-1) != 1:
            raise RuntimeError("{}: last dimension must be contiguous".format(name))
