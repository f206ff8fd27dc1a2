"""Stand-in for comfy/ops.py: only `scaled_dot_product_attention`, as ComfyUI defines it.

ComfyUI runs SDPA under sdpa_kernel([CUDNN, FLASH, EFFICIENT, MATH], set_priority=True) when
torch supports set_priority (DESIGN.md). Recent ComfyUI versions do so on Windows only; older
ones on every platform. `set_priority_context` picks either, for the step benchmark.
torch < 2.0 (Debian's torch 1.13 in CI) has no F.scaled_dot_product_attention: this stand-in
then computes the same thing in plain operations so the CPU tests can compare outputs.
"""
import inspect
import math

import torch


def _math_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = torch.matmul(q.float(), k.float().transpose(-2, -1)) * scale
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask
    return torch.matmul(s.softmax(dim=-1), v.float()).to(q.dtype)


_sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", _math_sdpa)


def _plain(q, k, v, *args, **kwargs):
    return _sdpa(q, k, v, *args, **kwargs)


_with_priority = None
try:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if "set_priority" in inspect.signature(sdpa_kernel).parameters:
        SDPA_BACKEND_PRIORITY = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
        SDPA_BACKEND_PRIORITY.insert(0, SDPBackend.CUDNN_ATTENTION)

        def _with_priority(q, k, v, *args, **kwargs):
            with sdpa_kernel(SDPA_BACKEND_PRIORITY, set_priority=True):
                return torch.nn.functional.scaled_dot_product_attention(q, k, v, *args, **kwargs)
except ImportError:
    pass

scaled_dot_product_attention = _plain


def set_priority_context(enabled):
    """True: ComfyUI's priority context (when torch has set_priority); False: plain SDPA.
    Returns whether the priority context is in use."""
    global scaled_dot_product_attention
    use = bool(enabled) and _with_priority is not None and torch.cuda.is_available()
    scaled_dot_product_attention = _with_priority if use else _plain
    return use


set_priority_context(True)
