"""Kills the process without a Python exception the first time it runs after standin_turn_ok
has run since its own previous call, but never on its first call: it survives its first call and
warm-up (its calls only) and dies in its first timed turn after standin_turn_ok's."""
import os

import _turns
from _attn import attention_blhd

__version__ = "1.0"
calls = 0


def attn(q, k, v):
    global calls
    calls += 1
    if calls > 1 and _turns.last == "ok":
        os.abort()
    _turns.last = "bad"
    return attention_blhd(q, k, v)
