"""Runs its first call and warm-up, then kills the process without a Python exception: a crash
in the middle of the timed samples, when the worker takes several backends' samples in turns."""
import os

from _attn import attention_blhd

__version__ = "1.0"
calls = 0


def attn(q, k, v):
    global calls
    calls += 1
    if calls > 60:  # the first call and at most 50 warm-up calls pass
        os.abort()
    return attention_blhd(q, k, v)
