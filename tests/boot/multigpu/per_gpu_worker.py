#!/usr/bin/env python3
"""tests/boot/tuning/fake_worker.py, run as the GPU it is pinned to: one worker per GPU model.

FAKE_WORKER_MS_BY_GPU: "GPU-aaa:sdpa_comfy=1.0,flash3=0.8;GPU-bbb:sdpa_comfy=0.5,flash3=0.9" gives
the worker whose CUDA_VISIBLE_DEVICES is GPU-aaa the timings after the colon (as FAKE_WORKER_MS), so
two GPU models decide differently. MULTIGPU_TIMES: a file that gets one JSON line per worker, with
its CUDA_VISIBLE_DEVICES and its start and end (time.time()), to check that workers overlap.
Every other FAKE_WORKER_* variable works as fake_worker.py's docstring says."""
import json
import os
import runpy
import time

pin = os.environ.get("CUDA_VISIBLE_DEVICES", "")
for item in filter(None, os.environ.get("FAKE_WORKER_MS_BY_GPU", "").split(";")):
    uuid, ms = item.split(":", 1)
    if uuid == pin:
        os.environ["FAKE_WORKER_MS"] = ms
start = time.time()
try:
    runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tuning", "fake_worker.py"),
                   run_name="__main__")
finally:
    if os.environ.get("MULTIGPU_TIMES"):
        with open(os.environ["MULTIGPU_TIMES"], "a") as f:
            f.write(json.dumps({"pin": pin, "start": start, "end": time.time()}) + "\n")
