"""A correct job-supplied backend that sleeps STANDIN_SLOW_MS (default 20) ms a call: slower than
any other by far. With STANDIN_CALLS=FILE, each call appends a line to FILE. With STANDIN_SPIN=1 it
waits by spinning on the clock, not by sleeping: on the GPU machine (gVisor) a 250 ms sleep strays
by more than 0.5%, so that a test of convergence there ran into its time cap three times in a row
(results/h200-2026-12-03-callH)."""
import os
import time

from _attn import attention_blhd

__version__ = "1.0"
_SLEEP_S = float(os.environ.get("STANDIN_SLOW_MS", "20")) / 1e3


def attn(q, k, v):
    if os.environ.get("STANDIN_CALLS"):
        with open(os.environ["STANDIN_CALLS"], "a") as f:
            f.write("call\n")
    if os.environ.get("STANDIN_SPIN"):
        end = time.perf_counter() + _SLEEP_S
        while time.perf_counter() < end:
            pass
    else:
        time.sleep(_SLEEP_S)
    return attention_blhd(q, k, v)
