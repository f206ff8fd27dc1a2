"""Reference attention in torch ops, shared by the stand-ins (tests only)."""
import math
import torch


def attention_blhd(q, k, v, scale=None):
    """(B, L, H, D) in and out, computed in float32 like an exact kernel."""
    qf, kf, vf = (t.transpose(1, 2).float() for t in (q, k, v))
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    p = torch.softmax(torch.matmul(qf, kf.transpose(-1, -2)) * scale, dim=-1)
    return torch.matmul(p, vf).to(q.dtype).transpose(1, 2).contiguous()


def attention_bhld(q, k, v, scale=None):
    return attention_blhd(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale).transpose(1, 2)
