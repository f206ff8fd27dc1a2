"""Stand-in for SageAttention 2.2's sageattn (real signature; layout "HND" (B, H, L, D) or "NHD"
(B, L, H, D), output in the input's layout; head_dim above 128 raises, as the real one does)."""
from standin_reference import attention_bhld, check_4d

CALLS = []
FAIL = None


def sageattn(q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, return_lse=False, **kwargs):
    CALLS.append((tensor_layout, tuple(q.shape)))
    if FAIL is not None:
        raise FAIL
    check_4d("sage", q, k, v)
    if tensor_layout not in ("HND", "NHD"):
        raise ValueError("tensor_layout must be HND or NHD, got {!r}".format(tensor_layout))
    if q.shape[-1] > 128:
        raise ValueError("Unsupported head_dim: {}".format(q.shape[-1]))
    if kwargs.get("attn_mask") is not None:
        raise NotImplementedError("stand-in: attn_mask")
    if tensor_layout == "HND":
        return attention_bhld(q, k, v, sm_scale)
    return attention_bhld(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), sm_scale).transpose(1, 2)


def _kernel(name):
    """A per-kernel function of SageAttention 2.2 (its real keyword arguments), computing exact
    attention: the node's tests check which kernel and arguments a route calls, not its error."""
    def kernel(q, k, v, tensor_layout="HND", is_causal=False, sm_scale=None, return_lse=False, **kwargs):
        CALLS.append((name, tensor_layout, tuple(q.shape), tuple(sorted(kwargs.items()))))
        return sageattn(q, k, v, tensor_layout=tensor_layout, is_causal=is_causal, sm_scale=sm_scale)
    kernel.__name__ = name
    return kernel


sageattn_qk_int8_pv_fp8_cuda_sm90 = _kernel("sageattn_qk_int8_pv_fp8_cuda_sm90")
sageattn_qk_int8_pv_fp8_cuda = _kernel("sageattn_qk_int8_pv_fp8_cuda")
sageattn_qk_int8_pv_fp16_cuda = _kernel("sageattn_qk_int8_pv_fp16_cuda")
sageattn_qk_int8_pv_fp16_triton = _kernel("sageattn_qk_int8_pv_fp16_triton")
