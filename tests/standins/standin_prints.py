"""Prints to stdout on every call, as chatty libraries do: the protocol lines must survive."""
from _attn import attention_blhd

__version__ = "1.0"
print("standin_prints: imported {not json")


def attn(q, k, v):
    print("standin_prints: called")
    return attention_blhd(q, k, v)
