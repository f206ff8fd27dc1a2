"""A correct backend whose import takes 1.5 s, as `import torch` and a library's CUDA modules
take seconds: with the job's overlap_imports the native backends are measured meanwhile."""
import time

from _attn import attention_blhd

time.sleep(1.5)
__version__ = "1.0"


def attn(q, k, v):
    return attention_blhd(q, k, v)
