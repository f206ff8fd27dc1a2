"""A correct job-supplied backend that takes 20 ms a call: slower than any other by far."""
import time

from _attn import attention_blhd

__version__ = "1.0"


def attn(q, k, v):
    time.sleep(0.02)
    return attention_blhd(q, k, v)
