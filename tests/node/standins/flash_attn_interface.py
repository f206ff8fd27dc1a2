"""Stand-in for FlashAttention-3's flash_attn_interface (real signature; (B, L, H, D) in and out).

CALLS records each call's q shape; FAIL, when set to an exception, is raised; RETURN_LSE makes it
return (out, softmax_lse) as some FA3 builds do."""
import torch

from standin_reference import attention_bhld, check_4d

CALLS = []
FAIL = None
RETURN_LSE = False


def flash_attn_func(q, k, v, softmax_scale=None, causal=False, qv=None, q_descale=None, k_descale=None,
                    v_descale=None, window_size=(-1, -1), attention_chunk=0, softcap=0.0,
                    num_splits=1, pack_gqa=None, deterministic=False, sm_margin=0):
    CALLS.append(tuple(q.shape))
    if FAIL is not None:
        raise FAIL
    check_4d("flash3", q, k, v)
    if causal:
        raise NotImplementedError("stand-in: causal")
    out = attention_bhld(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), softmax_scale).transpose(1, 2)
    if RETURN_LSE:
        return out, torch.zeros(q.shape[0], q.shape[2], q.shape[1])
    return out
