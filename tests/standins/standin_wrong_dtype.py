"""Returns the right values and shape in another dtype than its inputs': the worker must reject
it (ComfyUI would pass the tensor on to a layer that expects its own dtype)."""
import torch

from _attn import attention_blhd

__version__ = "1.0"


def attn(q, k, v):
    out = attention_blhd(q, k, v)
    return out.to(torch.float64 if out.dtype != torch.float64 else torch.float32)
