"""Stand-in for flash_attn (FlashAttention-2) with its real signature and return type:
flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, ...), (B, L, H, D),
returns the output, or (out, softmax_lse, S_dmask) with return_attn_probs=True."""
import torch
from _attn import attention_blhd, record

__version__ = "2.8.3+standin"


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                    softcap=0.0, alibi_slopes=None, deterministic=False, return_attn_probs=False):
    record("flash_attn.flash_attn_func", q, k, v, dropout_p=dropout_p, softmax_scale=softmax_scale, causal=causal,
           window_size=window_size, return_attn_probs=return_attn_probs)
    assert not causal and dropout_p == 0.0
    if q.dtype not in (torch.float16, torch.bfloat16) and not q.device.type == "cpu":
        raise RuntimeError("FlashAttention only support fp16 and bf16 data type")
    if q.stride(-1) != 1:
        raise RuntimeError("Input tensor must have contiguous last dimension")
    out = attention_blhd(q, k, v, softmax_scale)
    if return_attn_probs:
        lse = torch.zeros(q.shape[0], q.shape[2], q.shape[1], dtype=torch.float32)
        return out, lse, None
    return out
