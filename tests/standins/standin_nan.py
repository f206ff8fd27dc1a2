"""Returns NaN: the worker must reject it (status rejected)."""
import torch

__version__ = "1.0"


def attn(q, k, v):
    return torch.full_like(q, float("nan"))
