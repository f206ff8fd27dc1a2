"""A correct job-supplied backend that sleeps STANDIN_SLOW_MS (default 20) ms a call: slower than
any other by far. With STANDIN_CALLS=FILE, each call appends a line to FILE."""
import os
import time

from _attn import attention_blhd

__version__ = "1.0"
_SLEEP_S = float(os.environ.get("STANDIN_SLOW_MS", "20")) / 1e3


def attn(q, k, v):
    if os.environ.get("STANDIN_CALLS"):
        with open(os.environ["STANDIN_CALLS"], "a") as f:
            f.write("call\n")
    time.sleep(_SLEEP_S)
    return attention_blhd(q, k, v)
