"""Stand-in for FlashAttention-3's flash_attn_interface: flash_attn_func(q, k, v,
softmax_scale=None, causal=False, ...), (B, L, H, D). Recent FA3 returns the output tensor;
older builds return (out, softmax_lse): STANDIN_FA3_RETURNS_LSE=1 picks the old form."""
import os
import torch
from _attn import attention_blhd, record


def flash_attn_func(q, k, v, softmax_scale=None, causal=False, qv=None, q_descale=None,
                    k_descale=None, v_descale=None, window_size=(-1, -1), attention_chunk=0,
                    softcap=0.0, num_splits=1, pack_gqa=None, deterministic=False, sm_margin=0,
                    return_attn_probs=False):
    record("flash_attn_interface.flash_attn_func", q, k, v, softmax_scale=softmax_scale, causal=causal,
           window_size=window_size, num_splits=num_splits, return_attn_probs=return_attn_probs)
    assert not causal
    out = attention_blhd(q, k, v, softmax_scale)
    if return_attn_probs or os.environ.get("STANDIN_FA3_RETURNS_LSE") == "1":
        return out, torch.zeros(q.shape[0], q.shape[2], q.shape[1], dtype=torch.float32)
    return out
