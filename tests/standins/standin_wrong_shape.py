"""Returns half the queries: the worker must report the shape, not time it."""
__version__ = "1.0"


def attn(q, k, v):
    return q[:, : q.shape[1] // 2].clone()
