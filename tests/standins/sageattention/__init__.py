"""Stand-in for SageAttention 2.2: sageattn and the per-kernel functions with their real
signatures (sageattention/core.py of the pinned wheel). Like the real ones they quantise
(_quant.py): Q and K to int8 after smoothing K, P and V to fp8 or fp16, so the tolerance path and
the activation-like check are exercised; smooth_k=False gives the failure the check must catch."""
from _attn import record

from ._quant import attention

__version__ = "2.2.0+standin"


def sageattn(q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, return_lse=False, **kwargs):
    record("sageattn", q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale,
           return_lse=return_lse, **kwargs)
    assert not is_causal
    # The real one picks a kernel by compute capability; on the CPU: sm90's.
    return attention(q, k, v, tensor_layout, sm_scale, "per_thread", "fp8", True)


def _check(qk_quant_gran, pv_accum_dtype, accums):
    if qk_quant_gran not in ("per_warp", "per_thread"):
        raise AssertionError("qk_quant_gran must be either 'per_warp' or 'per_thread'.")
    if pv_accum_dtype not in accums:
        raise ValueError(f"Unsupported pv_accum_dtype: {pv_accum_dtype}")


def sageattn_qk_int8_pv_fp8_cuda_sm90(q, k, v, tensor_layout="HND", is_causal=False, qk_quant_gran="per_thread",
                                      sm_scale=None, pv_accum_dtype="fp32+fp32", smooth_k=True, return_lse=False,
                                      **kwargs):
    record("sageattn_qk_int8_pv_fp8_cuda_sm90", q, k, v, tensor_layout=tensor_layout, is_causal=is_causal,
           qk_quant_gran=qk_quant_gran, sm_scale=sm_scale, pv_accum_dtype=pv_accum_dtype, smooth_k=smooth_k,
           return_lse=return_lse, **kwargs)
    _check(qk_quant_gran, pv_accum_dtype, ("fp32+fp32",))
    return attention(q, k, v, tensor_layout, sm_scale, qk_quant_gran, "fp8", smooth_k)


def sageattn_qk_int8_pv_fp8_cuda(q, k, v, tensor_layout="HND", is_causal=False, qk_quant_gran="per_thread",
                                 sm_scale=None, pv_accum_dtype="fp32+fp16", smooth_k=True, smooth_v=False,
                                 return_lse=False, **kwargs):
    record("sageattn_qk_int8_pv_fp8_cuda", q, k, v, tensor_layout=tensor_layout, is_causal=is_causal,
           qk_quant_gran=qk_quant_gran, sm_scale=sm_scale, pv_accum_dtype=pv_accum_dtype, smooth_k=smooth_k,
           smooth_v=smooth_v, return_lse=return_lse, **kwargs)
    _check(qk_quant_gran, pv_accum_dtype, ("fp32", "fp32+fp32", "fp32+fp16"))
    return attention(q, k, v, tensor_layout, sm_scale, qk_quant_gran, "fp8", smooth_k)


def sageattn_qk_int8_pv_fp16_cuda(q, k, v, tensor_layout="HND", is_causal=False, qk_quant_gran="per_thread",
                                  sm_scale=None, pv_accum_dtype="fp32", smooth_k=True, smooth_v=False,
                                  return_lse=False, **kwargs):
    record("sageattn_qk_int8_pv_fp16_cuda", q, k, v, tensor_layout=tensor_layout, is_causal=is_causal,
           qk_quant_gran=qk_quant_gran, sm_scale=sm_scale, pv_accum_dtype=pv_accum_dtype, smooth_k=smooth_k,
           smooth_v=smooth_v, return_lse=return_lse, **kwargs)
    _check(qk_quant_gran, pv_accum_dtype, ("fp16", "fp16+fp32", "fp32"))
    return attention(q, k, v, tensor_layout, sm_scale, qk_quant_gran, "fp16", smooth_k)


def sageattn_qk_int8_pv_fp16_triton(q, k, v, tensor_layout="HND", quantization_backend="triton", is_causal=False,
                                    attn_mask=None, sm_scale=None, smooth_k=True, return_lse=False, **kwargs):
    record("sageattn_qk_int8_pv_fp16_triton", q, k, v, tensor_layout=tensor_layout,
           quantization_backend=quantization_backend, is_causal=is_causal, attn_mask=attn_mask, sm_scale=sm_scale,
           smooth_k=smooth_k, return_lse=return_lse, **kwargs)
    return attention(q, k, v, tensor_layout, sm_scale, "per_block", "fp16", smooth_k)
