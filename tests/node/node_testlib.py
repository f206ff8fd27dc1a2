"""Shared setup for the node tests: import paths and decision files."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for p in (REPO, os.path.join(HERE, "fake_comfy"), os.path.join(HERE, "standins")):
    if p not in sys.path:
        sys.path.insert(0, p)

import torch  # noqa: E402

GPU = "NVIDIA Test GPU 80GB"


def route(workload, batch, heads, head_dim, q_len, kv_len, backend, median_ms=1.0):
    return {"workload": workload, "batch": batch, "heads": heads, "head_dim": head_dim,
            "q_len": q_len, "kv_len": kv_len, "backend": backend, "median_ms": median_ms}


def decision_doc(routes, default_backend="sdpa_cudnn", gpu=GPU, torch_version=None):
    return {"schema": 1, "tool_version": "0.1.0", "decided_at": "2026-11-25T12:00:00Z",
            "mechanism": "flash3", "comfyui_args": ["--use-pytorch-cross-attention", "--disable-xformers"],
            "source": "tuning", "reason": "test",
            "gpu": {"index": 0, "name": gpu, "uuid": "GPU-0", "compute_capability": "9.0",
                    "memory_mib": 81559, "sm_count": 132, "driver": "580.159.04"},
            "environment": {"venv": "/workspace/venv", "python": "3.11", "torch": torch_version or torch.__version__,
                            "torch_cuda": "13.0", "packages": {}},
            "default_backend": default_backend, "routes": routes}


def write_json(directory, doc, name="decision.json"):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path
