"""Attention adapters with ComfyUI's attention-function signature, one per backend id.

Each adapter takes what ComfyUI's attention functions take:
    (q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kwargs)
q, k, v are (B, H, L, D) with skip_reshape, else (B, L, H*D); the output is (B, L, H*D), or
(B, H, L, D) with skip_output_reshape. Only unmasked calls reach them (the router keeps masked
calls on ComfyUI's own function: tuning measured unmasked attention).

Libraries are imported only for ids the decision uses: importing flash_attn or sageattention
takes time at ComfyUI start and may fail; a failed import makes that id unavailable, with the
reason, and its shapes go to the default.

This file is also what the benchmark worker times: autotune-bench embeds it at build time
(worker/CMakeLists.txt) and calls make_adapter's library adapters, and library_adapter for a
job's own functions, exactly as the router does, so what is timed is what runs in ComfyUI
(tests/worker/test_worker.py compares the embedded copy with this file). Keep it importable
without ComfyUI: the worker passes no attention module.
"""
import importlib

import torch

SDPA_KERNELS = {
    "sdpa_cudnn": "CUDNN_ATTENTION",
    "sdpa_flash": "FLASH_ATTENTION",
    "sdpa_efficient": "EFFICIENT_ATTENTION",
    "sdpa_math": "MATH",
}
# ComfyUI's own functions, by registry name (comfy/ldm/modules/attention.py registers these).
# sdpa_comfy uses ComfyUI's "pytorch" function only where torch lacks what _sdpa_comfy_adapter needs.
COMFY_REGISTERED = {"sdpa_comfy": "pytorch", "split": "split", "quad": "sub_quad"}
NO_KERNEL = "No available kernel"  # torch's RuntimeError when no enabled SDPA kernel takes the call


class Unavailable(Exception):
    """The backend cannot run in this process; the message says why."""


def _to_bhld(q, k, v, heads, skip_reshape):
    if skip_reshape:
        return q, k, v, q.shape[0], q.shape[-1]
    b, _, inner = q.shape
    d = inner // heads
    return _heads_first(q, b, heads, d), _heads_first(k, b, heads, d), _heads_first(v, b, heads, d), b, d


def _heads_first(t, b, heads, d):
    """(B, L, H*D) -> (B, H, L, D) as a view: what ComfyUI's view(b, -1, heads, d).transpose(1, 2)
    gives, in one tensor operation instead of two where the last dimension is dense (one op less
    per tensor: this runs three times on every routed SDPA call)."""
    if t.dim() != 3:  # SD3's split_qkv hands v over as (B, L, H, D) beside (B, L, H*D) q and k
        return t.view(b, -1, heads, d).transpose(1, 2)
    sb, sl, sc = t.stride()
    if sc != 1 or t.shape[0] != b:
        return t.view(b, -1, heads, d).transpose(1, 2)
    return t.as_strided((b, heads, t.shape[1], d), (sb, d, sl, 1))


def _to_blhd(q, k, v, heads, skip_reshape):
    if skip_reshape:
        # (B, H, L, D) -> (B, L, H, D) as a view, last dimension still contiguous (what ComfyUI's
        # own flash path hands flash_attn_func).
        return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), q.shape[0], q.shape[-1]
    b, _, inner = q.shape
    d = inner // heads
    return q.view(b, -1, heads, d), k.view(b, -1, heads, d), v.view(b, -1, heads, d), b, d


def _from_bhld(out, b, heads, d, skip_output_reshape):
    if skip_output_reshape:
        return out
    return out.transpose(1, 2).reshape(b, -1, heads * d)


def _from_blhd(out, b, heads, d, skip_output_reshape):
    if skip_output_reshape:
        return out.transpose(1, 2)
    return out.reshape(b, -1, heads * d)


def _sdpa_adapter(kernels):
    """SDPA with only `kernels` (SDPBackend member names) enabled: with one, torch raises instead
    of silently using another kernel, and the router falls back to ComfyUI's function."""
    F = torch.nn.functional
    if not hasattr(F, "scaled_dot_product_attention"):
        raise Unavailable("torch {} has no scaled_dot_product_attention (needs torch 2.0 or later)".format(
            torch.__version__))
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        raise Unavailable("torch {} has no torch.nn.attention.sdpa_kernel (needs torch 2.3 or later)".format(
            torch.__version__))
    only = [getattr(SDPBackend, k, None) for k in kernels]
    if None in only:
        raise Unavailable("torch {} has no SDPBackend.{}".format(torch.__version__, kernels[only.index(None)]))
    sdpa = F.scaled_dot_product_attention
    switch = _flag_switch(kernels)
    if switch is None:  # torch without the flag functions: the public context manager

        def attention(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                      skip_output_reshape=False, **kwargs):
            q, k, v, b, d = _to_bhld(q, k, v, heads, skip_reshape)
            with sdpa_kernel(only):
                out = sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False)
            return _from_bhld(out, b, heads, d, skip_output_reshape)

        return attention
    getters, setters, wanted = switch
    choice = getattr(torch, "_fused_sdp_choice", None) if len(only) == 1 else None
    return flag_switched(sdpa, getters, setters, wanted, choice, int(only[0]))


def flag_switched(sdpa, getters, setters, wanted, choice=None, backend=None):
    """SDPA called with torch's kernel flags set to `wanted` and restored after the call.

    Where torch's own pick for a shape (`choice(q, k, v)`, torch._fused_sdp_choice) is already
    `backend`, the one kernel wanted (cuDNN on Hopper with recent torch and cuDNN), the flags are
    left alone: asked once per shape, then SDPA is called as ComfyUI calls it, which saves the
    host time of eight flag calls per call. The answer is kept: code that later changes torch's
    SDPA flags or priority for the whole process would change what these shapes run."""
    plain = {}

    def attention(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                  skip_output_reshape=False, **kwargs):
        q, k, v, b, d = _to_bhld(q, k, v, heads, skip_reshape)
        key = (q.shape, k.shape, q.dtype)  # torch's pick depends on the dtype too
        use_plain = plain.get(key)
        if use_plain is None:
            try:
                use_plain = choice is not None and choice(q, k, v) == backend
            except Exception:  # a torch whose private chooser differs: switch the flags
                use_plain = False
            plain[key] = use_plain
        if use_plain:
            out = sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False)
            return _from_bhld(out, b, heads, d, skip_output_reshape)
        previous = [get() for get in getters]
        for set_flag, on in zip(setters, wanted):
            set_flag(on)
        try:
            out = sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False)
        finally:
            for set_flag, on in zip(setters, previous):
                set_flag(on)
        return _from_bhld(out, b, heads, d, skip_output_reshape)

    return attention


# torch's own switches behind torch.nn.attention.sdpa_kernel. Measured on an H200 (torch 2.11,
# node_step_bench.py, SDXL @1024): a routed call took 58-67 us of host time with the context
# manager and 37-42 us with the four flags set directly, and the host-bound SDXL step went from
# 9.4 ms to 7.8 ms. Where torch lacks these functions, the adapter uses sdpa_kernel.
_FLAG_FUNCTIONS = {
    "CUDNN_ATTENTION": ("_get_cudnn_sdp_enabled", "_set_sdp_use_cudnn"),
    "FLASH_ATTENTION": ("_get_flash_sdp_enabled", "_set_sdp_use_flash"),
    "EFFICIENT_ATTENTION": ("_get_mem_efficient_sdp_enabled", "_set_sdp_use_mem_efficient"),
    "MATH": ("_get_math_sdp_enabled", "_set_sdp_use_math"),
}


def _flag_switch(kernels):
    C = torch._C
    try:
        getters = [getattr(C, g) for g, _ in _FLAG_FUNCTIONS.values()]
        setters = [getattr(C, s) for _, s in _FLAG_FUNCTIONS.values()]
    except AttributeError:
        return None
    return getters, setters, [name in kernels for name in _FLAG_FUNCTIONS]


# What the pinned ComfyUI (a125cd84) runs on CUDA, and what a decision without "comfyui_sdpa"
# (an older autotune) was tuned with.
A125CD84_SDPA = (("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"), 0)


def priority_first(kernels, plain, min_elements=0):
    """ComfyUI's SDPA priority, as autotune's worker timed sdpa_comfy: `kernels` are SDPA
    adapters with one kernel enabled each, in the installed ComfyUI's order; a shape the first
    refuses (torch's "No available kernel") goes to the next, from then on without asking the
    refusing ones again. `plain` (SDPA in torch's own order) takes calls whose q has fewer than
    `min_elements` elements, as 2026 ComfyUI does below 1024 * 128, and every call when ComfyUI
    sets no priority (its Windows-only versions on Linux).

    Why not ComfyUI's own function: its sdpa_kernel context costs 45-110 us of host time per call
    (H100, node_step_bench.py, 2026-11-25), and torch keeps the priority a context set last for
    the whole process: after one context, torch's own pick for Flux was FlashAttention-2, 47.1 ms
    of attention per step against 24.1 with cuDNN."""
    chosen = {}

    def attention(q, k, v, heads, *args, **kwargs):
        if not kernels or q.nelement() < min_elements:
            return plain(q, k, v, heads, *args, **kwargs)
        key = (q.shape, k.shape, heads)
        first = chosen.get(key, 0)
        for i in range(first, len(kernels)):
            try:
                out = kernels[i](q, k, v, heads, *args, **kwargs)
            except RuntimeError as e:
                if NO_KERNEL not in str(e) or i == len(kernels) - 1:
                    raise
                continue
            if i != first:
                chosen[key] = i
            return out

    return attention


def _sdpa_comfy_adapter(attention_module, comfyui_sdpa):
    order, min_elements = comfyui_sdpa or A125CD84_SDPA
    try:
        return priority_first([_sdpa_adapter([k]) for k in order], _sdpa_adapter(list(_FLAG_FUNCTIONS)), min_elements)
    except Unavailable:
        return _comfy_adapter("sdpa_comfy", attention_module)


def _import(module, attr, backend_id):
    try:
        return getattr(importlib.import_module(module), attr)
    except Exception as e:  # ImportError, or a library that fails while loading its extension
        raise Unavailable("{} needs {}.{}: {}: {}".format(backend_id, module, attr, type(e).__name__, e))


def _blhd_adapter(fn, **fixed):
    """An adapter for a library function that takes and returns (B, L, H, D): fn(q, k, v, **fixed).
    Called directly, with no extra Python frame: this runs on every routed attention call."""
    def attention(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                  skip_output_reshape=False, **kwargs):
        q, k, v, b, d = _to_blhd(q, k, v, heads, skip_reshape)
        out = fn(q, k, v, **fixed)
        if isinstance(out, tuple):  # some FA3 builds return (out, softmax_lse)
            out = out[0]
        return _from_blhd(out, b, heads, d, skip_output_reshape)

    return attention


def _bhld_adapter(fn):
    """An adapter for a function that takes and returns (B, H, L, D): fn(q, k, v)."""
    def attention(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                  skip_output_reshape=False, **kwargs):
        q, k, v, b, d = _to_bhld(q, k, v, heads, skip_reshape)
        out = fn(q, k, v)
        if isinstance(out, tuple):
            out = out[0]
        return _from_bhld(out, b, heads, d, skip_output_reshape)

    return attention


def library_adapter(fn, kernel_layout):
    """The adapter for a library function fn(q, k, v) that takes `kernel_layout`, "blhd" or "bhld"
    (the worker's job-supplied backends: stand-ins in the tests)."""
    if kernel_layout == "blhd":
        return _blhd_adapter(fn)
    if kernel_layout == "bhld":
        return _bhld_adapter(fn)
    raise ValueError("unknown kernel layout {!r} (expected one of: blhd, bhld)".format(kernel_layout))


# The libraries' true signatures, as the pinned builds take them (../shared/device-wheels):
# - flash_attn.flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, ...),
#   (B, L, H, D) in and out; FA2 (ComfyUI --use-flash-attention).
# - flash_attn_interface.flash_attn_func(q, k, v, softmax_scale=None, causal=False, ...),
#   (B, L, H, D); FlashAttention-3 3.0.0 returns the output tensor (some builds (out, lse)); head
#   dims are rounded up to a built one (40 -> 64, 80 -> 96, 160 -> 192), at most 256.
# - sageattention.sageattn(q, k, v, tensor_layout="HND"|"NHD", is_causal=False, sm_scale=None,
#   return_lse=False, **kwargs): on sm90 it runs sageattn_qk_int8_pv_fp8_cuda_sm90 with K
#   smoothed (smooth_k=True, its default, as ComfyUI calls it); head_dim above 128 raises
#   ValueError("Unsupported head_dim"), which ComfyUI catches and falls back on per call.
#   Its quantisation runs Triton kernels compiled at first use of a shape class.
# - xformers.ops.memory_efficient_attention(q, k, v, attn_bias=None, p=0.0, scale=None),
#   (B, L, H, D).
def _flash2_adapter():
    return _blhd_adapter(_import("flash_attn", "flash_attn_func", "flash2"),
                         dropout_p=0.0, softmax_scale=None, causal=False)


def _flash3_adapter():
    return _blhd_adapter(_import("flash_attn_interface", "flash_attn_func", "flash3"), softmax_scale=None, causal=False)


def _sage_adapter():
    sageattn = _import("sageattention", "sageattn", "sage")

    def attention(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                  skip_output_reshape=False, **kwargs):
        if skip_reshape:  # (B, H, L, D) as it comes: no copy
            out = sageattn(q, k, v, tensor_layout="HND", is_causal=False)
            return _from_bhld(out, q.shape[0], heads, q.shape[-1], skip_output_reshape)
        q, k, v, b, d = _to_blhd(q, k, v, heads, False)
        out = sageattn(q, k, v, tensor_layout="NHD", is_causal=False)
        return _from_blhd(out, b, heads, d, skip_output_reshape)

    return attention


# SageAttention 2.2's kernels as the worker's registry lists them (worker/backend_registry.cpp):
# id -> (function, the arguments that make the variant). Each takes q, k, v, tensor_layout=
# "HND"|"NHD", is_causal, sm_scale, smooth_k=True (left at its default: what makes 8-bit attention
# safe on K's channel-wise outliers), and qk_quant_gran "per_warp"|"per_thread" except the Triton
# one (per_block); pv_accum_dtype: the sm90 kernel takes only "fp32+fp32", the fp8 one defaults to
# "fp32+fp16", the fp16 one to "fp32". Values as sageattn passes them where it dispatches.
SAGE_KERNELS = {
    "sage_fp8_sm90": ("sageattn_qk_int8_pv_fp8_cuda_sm90", {"qk_quant_gran": "per_thread", "pv_accum_dtype": "fp32+fp32"}),
    "sage_fp8_sm90_warp": ("sageattn_qk_int8_pv_fp8_cuda_sm90", {"qk_quant_gran": "per_warp", "pv_accum_dtype": "fp32+fp32"}),
    "sage_fp8": ("sageattn_qk_int8_pv_fp8_cuda", {"qk_quant_gran": "per_thread", "pv_accum_dtype": "fp32+fp16"}),
    "sage_fp8_warp": ("sageattn_qk_int8_pv_fp8_cuda", {"qk_quant_gran": "per_warp", "pv_accum_dtype": "fp32+fp16"}),
    "sage_fp8_fp32acc": ("sageattn_qk_int8_pv_fp8_cuda", {"qk_quant_gran": "per_thread", "pv_accum_dtype": "fp32+fp32"}),
    "sage_fp16_cuda": ("sageattn_qk_int8_pv_fp16_cuda", {"qk_quant_gran": "per_thread", "pv_accum_dtype": "fp32"}),
    "sage_fp16_cuda_warp": ("sageattn_qk_int8_pv_fp16_cuda", {"qk_quant_gran": "per_warp", "pv_accum_dtype": "fp32"}),
    "sage_fp16_triton": ("sageattn_qk_int8_pv_fp16_triton", {}),
}


def _sage_kernel_adapter(backend_id):
    function, fixed = SAGE_KERNELS[backend_id]
    kernel = _import("sageattention", function, backend_id)

    def attention(q, k, v, heads, mask=None, attn_precision=None, skip_reshape=False,
                  skip_output_reshape=False, **kwargs):
        if skip_reshape:  # (B, H, L, D) as it comes: no copy
            out = kernel(q, k, v, tensor_layout="HND", is_causal=False, **fixed)
            return _from_bhld(out, q.shape[0], heads, q.shape[-1], skip_output_reshape)
        q, k, v, b, d = _to_blhd(q, k, v, heads, False)
        out = kernel(q, k, v, tensor_layout="NHD", is_causal=False, **fixed)
        return _from_blhd(out, b, heads, d, skip_output_reshape)

    return attention


def is_quantized(backend_id):
    """Whether `backend_id` computes with 8-bit Q and K (the registry's quantized=true)."""
    return backend_id == "sage" or backend_id in SAGE_KERNELS


def _xformers_adapter():
    return _blhd_adapter(_import("xformers.ops", "memory_efficient_attention", "xformers"), attn_bias=None)


def _comfy_adapter(backend_id, attention_module):
    name = COMFY_REGISTERED[backend_id]
    fn = attention_module.get_attention_function(name, None)
    if fn is None:
        raise Unavailable("ComfyUI has no attention function registered as {!r}".format(name))
    # Registered functions are wrapped by ComfyUI's wrap_attn; the router is already inside that
    # wrapper, so it calls the function itself and saves a Python frame per call.
    return getattr(fn, "__wrapped__", fn)


def make_adapter(backend_id, attention_module, comfyui_sdpa=None):
    """Returns the adapter for `backend_id`, or raises Unavailable / KeyError (unknown id).
    comfyui_sdpa: (order, min_elements) of the installed ComfyUI's SDPA priority, from the
    decision file; None: A125CD84_SDPA."""
    if backend_id in SDPA_KERNELS:
        return _sdpa_adapter([SDPA_KERNELS[backend_id]])
    if backend_id == "sdpa_comfy":
        return _sdpa_comfy_adapter(attention_module, comfyui_sdpa)
    if backend_id in COMFY_REGISTERED:
        return _comfy_adapter(backend_id, attention_module)
    if backend_id in SAGE_KERNELS:
        return _sage_kernel_adapter(backend_id)
    factories = {"flash2": _flash2_adapter, "flash3": _flash3_adapter, "sage": _sage_adapter,
                 "xformers": _xformers_adapter}
    return factories[backend_id]()
