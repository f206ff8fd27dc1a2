"""Kills the process without a Python exception, as an FA3 build without head_dim 160 did
(DESIGN.md)."""
import os

__version__ = "1.0"


def attn(q, k, v):
    os.abort()
