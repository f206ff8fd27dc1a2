"""Raises like a library that cannot take the shape."""
__version__ = "1.0"


def attn(q, k, v):
    raise RuntimeError("standin_raises: head dimension not supported")
