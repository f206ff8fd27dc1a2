#!/usr/bin/env python3
"""Writes an autotune-bench job (JSON, one line) for a workload set of workloads/*.json.

  bench_job.py --set default [--backends a,b] [--skip-heavy FLOPS] [--max-seconds S] [--python-path P ...]
               [--overlap-imports] [--every-kernel] [--settle-ms MS] [--queue-depth N]

--skip-heavy adds skip pairs for sdpa_math, split and quad on shapes above FLOPS floating-point
operations per call: those run seconds per call there (or fail for memory) and would eat a
device run's time.
"""
import argparse, glob, json, os

ap = argparse.ArgumentParser()
ap.add_argument("--workloads", default=os.path.join(os.path.dirname(__file__), "..", "..", "workloads"))
ap.add_argument("--set", default="default")
ap.add_argument("--only-set", help="drop workloads that are also in this set")
ap.add_argument("--backends", default="")
ap.add_argument("--skip-heavy", type=float, default=0)
ap.add_argument("--max-seconds", type=float, default=2.0)
ap.add_argument("--settle-ms", type=float, help="untimed calls before each turn (worker default: 100)")
ap.add_argument("--queue-depth", type=int, help="samples queued ahead (worker default: 3)")
ap.add_argument("--python-path", action="append", default=[])
ap.add_argument("--dtype", default="bf16")
ap.add_argument("--cpu", action="store_true")
ap.add_argument("--every-kernel", action="store_true",
                help="every kernel of a library in full, also sageattn's own and those that cannot win (job every_kernel)")
ap.add_argument("--overlap-imports", action="store_true",
                help="import the Python backends while the native ones are measured, as autotune asks")
a = ap.parse_args()

ws = []
for f in sorted(glob.glob(os.path.join(a.workloads, "*.json"))):
    doc = json.load(open(f))
    ws += doc["workloads"] if isinstance(doc, dict) else doc
ws = [w for w in ws if a.set in w["sets"] and not (a.only_set and a.only_set in w["sets"])]
skip = []
for w in ws:
    flops = 4.0 * w["batch"] * w["heads"] * w["q_len"] * w["kv_len"] * w["head_dim"]
    if a.skip_heavy and flops > a.skip_heavy:
        skip += [{"backend": b, "shape": w["id"]} for b in ("sdpa_math", "split", "quad")]
job = {"protocol": 1, "device": 0, "dtype": a.dtype, "python_paths": a.python_path, "workloads": ws,
       "backends": [b for b in a.backends.split(",") if b], "skip": skip,
       "max_seconds_per_measurement": a.max_seconds, "cpu": a.cpu}
if a.settle_ms is not None:
    job["settle_ms"] = a.settle_ms
if a.overlap_imports:
    job["overlap_imports"] = True
if a.every_kernel:
    job["every_kernel"] = True
if a.queue_depth is not None:
    job["queue_depth"] = a.queue_depth
print(json.dumps(job))
