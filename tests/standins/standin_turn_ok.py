"""A correct backend that notes each of its calls in _turns, for standin_crash_in_turn."""
import _turns
from _attn import attention_blhd

__version__ = "1.0"


def attn(q, k, v):
    _turns.last = "ok"
    return attention_blhd(q, k, v)
