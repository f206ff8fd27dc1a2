"""Stand-in for xformers.ops.memory_efficient_attention ((B, L, H, D) in and out)."""
from standin_reference import attention_bhld

CALLS = []
FAIL = None


def memory_efficient_attention(query, key, value, attn_bias=None, p=0.0, scale=None, op=None):
    CALLS.append(tuple(query.shape))
    if FAIL is not None:
        raise FAIL
    if attn_bias is not None:
        raise NotImplementedError("stand-in: attn_bias")
    return attention_bhld(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), scale).transpose(1, 2)
