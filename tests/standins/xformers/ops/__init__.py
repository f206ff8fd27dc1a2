"""Stand-in for xformers.ops.memory_efficient_attention(query, key, value, attn_bias=None,
p=0.0, scale=None, ...): (B, M, H, K) in, (B, M, H, Kv) out."""
from _attn import attention_blhd, record


def memory_efficient_attention(query, key, value, attn_bias=None, p=0.0, scale=None, *, op=None,
                               output_dtype=None):
    record("xformers.ops.memory_efficient_attention", query, key, value, attn_bias=attn_bias, p=p, scale=scale,
           op=op, output_dtype=output_dtype)
    assert attn_bias is None and p == 0.0
    return attention_blhd(query, key, value, scale)
