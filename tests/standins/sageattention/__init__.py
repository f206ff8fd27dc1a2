"""Stand-in for SageAttention 2.x: sageattn(q, k, v, tensor_layout="HND", is_causal=False,
sm_scale=None, return_lse=False, **kwargs). Like the real one it quantises: Q and K are rounded
to int8 per head (about 1e-2 relative error), so its tolerance path is exercised."""
import torch
from _attn import attention_blhd, record

__version__ = "2.2.0+standin"


def _int8(t):
    s = t.float().abs().amax(dim=(-1, -2), keepdim=True).clamp_min(1e-6) / 127.0
    return (t.float() / s).round().clamp(-127, 127) * s


def sageattn(q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, return_lse=False, **kwargs):
    record("sageattn", q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale,
           return_lse=return_lse, **kwargs)
    if tensor_layout not in ("HND", "NHD"):
        raise ValueError(f"tensor_layout must be HND or NHD, got {tensor_layout}")
    if q.shape[-1] > 128:
        raise ValueError(f"Unsupported head_dim: {q.shape[-1]}")
    assert not is_causal
    if tensor_layout == "HND":
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    out = attention_blhd(_int8(q).to(q.dtype), _int8(k).to(k.dtype), v, sm_scale)
    return out.transpose(1, 2) if tensor_layout == "HND" else out
