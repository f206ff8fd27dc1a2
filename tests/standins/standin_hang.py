"""Never returns: the parent's deadline must kill the worker."""
import time

__version__ = "1.0"


def attn(q, k, v):
    while True:
        time.sleep(3600)
