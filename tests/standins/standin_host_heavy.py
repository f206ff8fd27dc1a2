"""A correct job-supplied backend bound by its host: 0.2 ms of host work (a busy wait, finer than
a sleep) before a small device call, as FA3's Python dispatch is on SD1.5's 64-token shape
(0.126 ms to issue, 0.008 ms on the H200)."""
import time

from _attn import attention_blhd

__version__ = "1.0"


def attn(q, k, v):
    end = time.perf_counter() + 0.0002
    while time.perf_counter() < end:
        pass
    return attention_blhd(q, k, v)
