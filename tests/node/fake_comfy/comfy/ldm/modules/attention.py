"""Stand-in for comfy/ldm/modules/attention.py (ComfyUI, September 2025 and later).

Same names, signatures and call conventions as ComfyUI's module, written for the tests and the
step benchmark. The node is also tested against the real, pinned ComfyUI source
(test_real_comfyui.py); this stand-in stays for what that source cannot show: 2026 ComfyUI's
AttentionTensorContainer and preferred_attention (see wrap_attn), a ComfyUI without the registry,
and the library stand-ins behind ComfyUI's own sage, flash and xformers paths. It has the
registry (register_attention_function / get_attention_function), wrap_attn with its
optimized_attention_override hook, and the attention functions the CLI flags select.
attention_pytorch behaves as ComfyUI's does (views, comfy.ops.scaled_dot_product_attention,
the output reshape); split and sub_quad compute the same result in a simpler way.
"""
import functools
import logging
import math

import torch

import comfy.ops
from comfy import model_management

try:
    from sageattention import sageattn
    SAGE_ATTENTION_IS_AVAILABLE = True
except ImportError:
    SAGE_ATTENTION_IS_AVAILABLE = False
try:
    from flash_attn import flash_attn_func
    FLASH_ATTENTION_IS_AVAILABLE = True
except ImportError:
    FLASH_ATTENTION_IS_AVAILABLE = False
try:
    import xformers.ops
    XFORMERS_IS_AVAILABLE = True
except ImportError:
    XFORMERS_IS_AVAILABLE = False

REGISTERED_ATTENTION_FUNCTIONS = {}


def register_attention_function(name, func):
    if name in REGISTERED_ATTENTION_FUNCTIONS:
        logging.warning("Attention function %s already registered, skipping registration.", name)
        return
    REGISTERED_ATTENTION_FUNCTIONS[name] = func


def get_attention_function(name, default=...):
    if name == "optimized":
        return optimized_attention
    if name in REGISTERED_ATTENTION_FUNCTIONS:
        return REGISTERED_ATTENTION_FUNCTIONS[name]
    if default is ...:
        raise KeyError("Attention function {} not found.".format(name))
    return default


class AttentionTensorContainer:
    """2026 ComfyUI: a single-owner holder of q, k or v (CrossAttention passes its inputs in these
    so that a backend may free them early); `take()` hands the tensor over once."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor

    def take(self):
        if self.tensor is None:
            raise RuntimeError("attention tensor container has already been consumed")
        tensor, self.tensor = self.tensor, None
        return tensor


def wrap_attn(func):
    """The hook: the outermost wrapped call with transformer_options carrying
    "optimized_attention_override" goes to override(func, *args, **kwargs) instead.

    As 2026 ComfyUI's wrap_attn behaves (Comfy-Org/ComfyUI comfy/ldm/modules/attention.py; the
    pinned a125cd84 in ../shared/comfyui has neither of these): a `preferred_attention` keyword (a
    model's own choice, e.g. comfy_kitchen_int8 from its checkpoint) is removed from the call and
    used only when no override is set; AttentionTensorContainer inputs are handed to the override's
    `container_function` when it has one, else taken out and passed as plain tensors."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        preferred = kwargs.pop("preferred_attention", None)
        containers = len(args) >= 3 and isinstance(args[0], AttentionTensorContainer)
        if "_inside_attn_wrapper" in kwargs:
            return func(*args, **kwargs)
        kwargs["_inside_attn_wrapper"] = True
        try:
            options = kwargs.get("transformer_options", None)
            if options is not None and "optimized_attention_override" in options:
                override = options["optimized_attention_override"]
                if containers:
                    if hasattr(override, "container_function"):
                        return override.container_function(*args, **kwargs)
                    args = tuple(c.take() for c in args[:3]) + args[3:]
                return override(func, *args, **kwargs)
            if preferred is not None and preferred.function is not None:
                return preferred.function(*args, **kwargs)
            if containers:
                args = tuple(c.take() for c in args[:3]) + args[3:]
            return func(*args, **kwargs)
        finally:
            del kwargs["_inside_attn_wrapper"]
    return wrapper


def _split_heads(q, k, v, heads, skip_reshape):
    """(B, H, L, D) views of q, k, v, plus B and D."""
    if skip_reshape:
        return q, k, v, q.shape[0], q.shape[-1]
    b, _, inner = q.shape
    d = inner // heads
    return tuple(t.view(b, -1, heads, d).transpose(1, 2) for t in (q, k, v)) + (b, d)


def _merge_heads(out, b, heads, d, skip_output_reshape):
    if skip_output_reshape:
        return out
    return out.transpose(1, 2).reshape(b, -1, heads * d)


def _chunked_math(q, k, v, mask, chunk):
    """Softmax attention over (B, H, L, D) in query chunks, in float32 (split / sub-quadratic)."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    out = torch.empty(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype, device=q.device)
    for i in range(0, q.shape[2], chunk):
        s = torch.matmul(q[:, :, i:i + chunk].float(), k.float().transpose(-2, -1)) * scale
        if mask is not None:
            m = mask[..., i:i + chunk, :] if mask.shape[-2] > 1 else mask
            s = s.masked_fill(~m, float("-inf")) if m.dtype == torch.bool else s + m
        out[:, :, i:i + chunk] = torch.matmul(s.softmax(dim=-1), v.float()).to(q.dtype)
    return out


def _mask4(mask):
    if mask is not None:
        if mask.ndim == 2:
            mask = mask.unsqueeze(0)
        if mask.ndim == 3:
            mask = mask.unsqueeze(1)
    return mask


@wrap_attn
def attention_split(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
    q, k, v, b, d = _split_heads(q, k, v, heads, skip_reshape)
    return _merge_heads(_chunked_math(q, k, v, _mask4(mask), 1024), b, heads, d, skip_output_reshape)


@wrap_attn
def attention_sub_quad(query, key, value, heads, mask=None, attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
    q, k, v, b, d = _split_heads(query, key, value, heads, skip_reshape)
    return _merge_heads(_chunked_math(q, k, v, _mask4(mask), 512), b, heads, d, skip_output_reshape)


SDP_BATCH_LIMIT = 2 ** 15 if model_management.is_nvidia() else 2 ** 31


@wrap_attn
def attention_pytorch(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
    q, k, v, b, d = _split_heads(q, k, v, heads, skip_reshape)
    mask = _mask4(mask)
    if b <= SDP_BATCH_LIMIT:
        out = comfy.ops.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)
        return _merge_heads(out, b, heads, d, skip_output_reshape)
    out = torch.empty((b, q.shape[2], heads * d), dtype=q.dtype, device=q.device)
    for i in range(0, b, SDP_BATCH_LIMIT):
        m = mask[i:i + SDP_BATCH_LIMIT] if mask is not None and mask.shape[0] > 1 else mask
        part = comfy.ops.scaled_dot_product_attention(q[i:i + SDP_BATCH_LIMIT], k[i:i + SDP_BATCH_LIMIT],
                                                      v[i:i + SDP_BATCH_LIMIT], attn_mask=m, dropout_p=0.0,
                                                      is_causal=False)
        out[i:i + SDP_BATCH_LIMIT] = part.transpose(1, 2).reshape(-1, q.shape[2], heads * d)
    return out


@wrap_attn
def attention_xformers(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
    b, d = q.shape[0], q.shape[-1]
    if skip_reshape:
        q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))
    else:
        d //= heads
        q, k, v = (t.reshape(b, -1, heads, d) for t in (q, k, v))
    mask = _mask4(mask)
    if mask is not None:
        mask = mask.expand(b, heads, -1, -1)
    out = xformers.ops.memory_efficient_attention(q, k, v, attn_bias=mask)
    return out.permute(0, 2, 1, 3) if skip_output_reshape else out.reshape(b, -1, heads * d)


@wrap_attn
def attention_sage(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
    if kwargs.get("low_precision_attention", True) is False:
        return attention_pytorch(q, k, v, heads, mask=mask, skip_reshape=skip_reshape,
                                 skip_output_reshape=skip_output_reshape, **kwargs)
    if skip_reshape:
        b, _, _, d = q.shape
        layout, qs, ks, vs = "HND", q, k, v
    else:
        b, _, d = q.shape
        d //= heads
        layout = "NHD"
        qs, ks, vs = (t.view(b, -1, heads, d) for t in (q, k, v))
    try:
        out = sageattn(qs, ks, vs, attn_mask=_mask4(mask), is_causal=False, tensor_layout=layout)
    except Exception as e:
        logging.error("Error running sage attention: %s, using pytorch attention instead.", e)
        return attention_pytorch(q, k, v, heads, mask=mask, skip_reshape=skip_reshape,
                                 skip_output_reshape=skip_output_reshape, **kwargs)
    if layout == "HND":
        return _merge_heads(out, b, heads, d, skip_output_reshape)
    return out.transpose(1, 2) if skip_output_reshape else out.reshape(b, -1, heads * d)


try:
    @torch.library.custom_op("flash_attention::flash_attn", mutates_args=())
    def flash_attn_wrapper(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           dropout_p: float = 0.0, causal: bool = False) -> torch.Tensor:
        return flash_attn_func(q, k, v, dropout_p=dropout_p, causal=causal)

    @flash_attn_wrapper.register_fake
    def _flash_attn_fake(q, k, v, dropout_p=0.0, causal=False):
        return q.new_empty(q.shape)
except AttributeError:  # torch without torch.library.custom_op
    def flash_attn_wrapper(q, k, v, dropout_p=0.0, causal=False):
        return flash_attn_func(q, k, v, dropout_p=dropout_p, causal=causal)


@wrap_attn
def attention_flash(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
    q, k, v, b, d = _split_heads(q, k, v, heads, skip_reshape)
    mask = _mask4(mask)
    try:
        if mask is not None:
            raise RuntimeError("Mask must not be set for Flash attention")
        out = flash_attn_wrapper(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                 dropout_p=0.0, causal=False).transpose(1, 2)
    except Exception as e:
        logging.warning("Flash Attention failed, using default SDPA: %s", e)
        out = comfy.ops._sdpa(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)
    return _merge_heads(out, b, heads, d, skip_output_reshape)


# As with --use-pytorch-cross-attention, the flag autotune's decisions keep for unrouted calls.
optimized_attention = attention_pytorch
optimized_attention_masked = optimized_attention

if SAGE_ATTENTION_IS_AVAILABLE:
    register_attention_function("sage", attention_sage)
if FLASH_ATTENTION_IS_AVAILABLE:
    register_attention_function("flash", attention_flash)
if XFORMERS_IS_AVAILABLE:
    register_attention_function("xformers", attention_xformers)
register_attention_function("pytorch", attention_pytorch)
register_attention_function("sub_quad", attention_sub_quad)
register_attention_function("split", attention_split)
