"""A correct job-supplied backend that sleeps STANDIN_SLOW_MS (default 20) ms a call: slower than
any other by far. With STANDIN_CALLS=FILE, each call appends a line to FILE: the time it started
(time.perf_counter(), seconds). With STANDIN_SPIN=1 it waits by spinning on the clock, not by
sleeping."""
import os
import time

from _attn import attention_blhd

__version__ = "1.0"
_SLEEP_S = float(os.environ.get("STANDIN_SLOW_MS", "20")) / 1e3


def attn(q, k, v):
    if os.environ.get("STANDIN_CALLS"):
        with open(os.environ["STANDIN_CALLS"], "a") as f:
            f.write("%.6f\n" % time.perf_counter())
    if os.environ.get("STANDIN_SPIN"):
        end = time.perf_counter() + _SLEEP_S
        while time.perf_counter() < end:
            pass
    else:
        time.sleep(_SLEEP_S)
    return attention_blhd(q, k, v)
