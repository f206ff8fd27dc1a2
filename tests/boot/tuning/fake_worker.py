#!/usr/bin/env python3
"""A stand-in for autotune-bench that speaks its protocol, for testing the parent.

As the real one does, it starts every backend of a shape in turn (first call, warm-up), then
takes their samples in turns, each announced by a "sample" event, then gives their results.
FAKE_WORKER_MODE: "normal", "crash:BACKEND:SHAPE", "hang:BACKEND:SHAPE", "fatal:BACKEND:SHAPE" (result,
then a "fatal" event and exit 3, as after an illegal address), "crash-sampling:BACKEND:SHAPE" and
"hang-sampling:BACKEND:SHAPE" (during that backend's samples), "silent", "slow:SECONDS" (in each
backend's start), "slow-after-first:SECONDS" (the same from the second shape on), "refuse",
"pause:SECONDS" (after the first start, "paused" for that long and "resumed", as the real one
does while a ComfyUI prompt runs).
FAKE_WORKER_BROKEN: backends broken on every shape, as the stand-ins of tests/standins are, e.g.
"flash2=hang,sage=crash,xformers=nan,flash3=wrong_shape": hang (standin_hang) and crash
(standin_crash, an abort) in the backend's start; nan and wrong_shape give the worker's rejection.
FAKE_WORKER_JOBS: a file each job is appended to (one JSON line per worker start).
Medians come from FAKE_WORKER_MS, e.g. "sdpa_comfy=1.0,flash3=0.8" (default 1.0)."""
import json
import os
import signal
import sys
import time

job = json.loads(sys.stdin.readline())
job["_seen_cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
if os.environ.get("FAKE_WORKER_JOBS"):
    with open(os.environ["FAKE_WORKER_JOBS"], "a") as f:
        f.write(json.dumps(job) + "\n")

mode = os.environ.get("FAKE_WORKER_MODE", "normal")
broken = dict(item.split("=") for item in filter(None, os.environ.get("FAKE_WORKER_BROKEN", "").split(",")))
# The worker's rejections, as harness.cpp words them (rel_error -1: NaN or Inf in the output).
REJECTED = {"nan": ("output has NaN or Inf", -1),
            "wrong_shape": ("returned shape [1, 4352, 1536], expected [1, 4352, 3072]", 0)}
ms = {}
for item in filter(None, os.environ.get("FAKE_WORKER_MS", "").split(",")):
    name, value = item.split("=")
    ms[name] = float(value)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


if mode == "silent":
    time.sleep(3600)
if mode == "refuse":
    emit({"event": "error", "message": "unknown backend 'bogus'"})
    sys.exit(2)

print("a library printing to stdout", flush=True)  # not protocol: must be tolerated
backends = job["backends"] or ["sdpa_comfy", "flash3"]
# FAKE_WORKER_IMPORTING: the backends that are Python's. As the real worker does, the hello names
# them as importing; with the job's "overlap_imports" they are imported beside the first shape's
# native measurements, otherwise each import is announced by an "import" event before the first
# shape; a "backends" event lists them once imported. One whose every shape is skipped is not
# imported. Modes: "crash-importing" (in the first native start, as an import that segfaults
# would), "slow-import:SECONDS", "hang-import" (with nothing else to do), "crash-import:BACKEND"
# and "hang-import:BACKEND" (in that backend's announced import); "hang-warm:BACKEND" and
# "crash-warm:BACKEND" in its announced warm-up call, after the first shape's native measurements.
skip = {(s["backend"], s["shape"]) for s in job["skip"]}


def installed(names):
    return [{"backend": b, "installed": True, "version": "9.9"} for b in names]


python = [b for b in os.environ.get("FAKE_WORKER_IMPORTING", "").split(",") if b in backends]
importing = [b for b in python if any((b, w["id"]) not in skip for w in job["workloads"])]
done_python = [b for b in python if b not in importing]
hello = {"event": "hello", "protocol": 1, "torch": "2.11.0", "backends":
         installed(b for b in backends if b not in importing and b not in done_python)
         + [{"backend": b, "installed": False, "reason": "not imported: every shape of it is measured"}
            for b in done_python]
         + [{"backend": "sage", "installed": False, "reason": "ModuleNotFoundError"}]}
if importing:
    hello["importing"] = importing
emit(hello)
backends = [b for b in backends if b not in done_python]
if importing and not job.get("overlap_imports"):
    for b in importing:
        emit({"event": "import", "backend": b})
        if mode == "crash-import:" + b:
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "hang-import:" + b:
            time.sleep(3600)
    emit({"event": "backends", "backends": installed(importing)})
    importing = []


def measure(w, todo):
    for b in todo:  # each backend's first call, check and warm-up, one after the other
        emit({"event": "start", "backend": b, "shape": w["id"]})
        if mode == "crash:%s:%s" % (b, w["id"]) or (mode == "crash-importing" and importing):
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "hang:%s:%s" % (b, w["id"]) or broken.get(b) == "hang":
            time.sleep(3600)
        if broken.get(b) == "crash":
            os.abort()
        if mode == "fatal:%s:%s" % (b, w["id"]):
            emit({"event": "result", "backend": b, "backend_version": "9.9", "shape": w["id"],
                  "status": "failed", "reason": "an illegal memory access was encountered"})
            emit({"event": "fatal", "message": "illegal address", "backend": b, "shape": w["id"]})
            sys.exit(3)
        if mode.startswith("pause:") and w is job["workloads"][0] and b == todo[0]:
            emit({"event": "paused", "why": "a ComfyUI prompt runs (pid 1, fake)"})
            time.sleep(float(mode[6:]))
            emit({"event": "resumed", "why": "the prompt ended"})
        if mode.startswith("slow:"):
            time.sleep(float(mode[5:]))
        if mode.startswith("slow-after-first:") and w is not job["workloads"][0]:
            time.sleep(float(mode[17:]))
    for b in [b for b in todo if broken.get(b) in REJECTED]:  # rejected after the first call
        reason, rel_error = REJECTED[broken[b]]
        emit({"event": "result", "backend": b, "backend_version": "9.9", "shape": w["id"], "status": "rejected",
              "reason": reason, "median_ms": 0, "spread": 0, "host_ms": 0, "samples": 0, "peak_mem_bytes": 0,
              "rel_error": rel_error})
    todo = [b for b in todo if broken.get(b) not in REJECTED]
    for _ in range(3):  # then their samples, in turns
        for b in todo:
            emit({"event": "sample", "backend": b, "shape": w["id"]})
            if mode == "crash-sampling:%s:%s" % (b, w["id"]):
                os.kill(os.getpid(), signal.SIGSEGV)
            if mode == "hang-sampling:%s:%s" % (b, w["id"]):
                time.sleep(3600)
    for b in todo:
        emit({"event": "result", "backend": b, "backend_version": "9.9", "shape": w["id"], "status": "ok",
              "median_ms": ms.get(b, 1.0), "spread": 0.01, "host_ms": 0.01, "samples": 10,
              "peak_mem_bytes": 1024, "rel_error": 0.002, "sm_clock_mhz": 1755})


def imported():
    """The overlapped imports end: their backends join, and the first shape's are measured last."""
    global importing, deferred
    if mode == "hang-import":
        time.sleep(3600)
    if mode.startswith("slow-import:"):
        time.sleep(float(mode[12:]))
    for b in importing:  # the real worker's warm-up calls on a GPU, each announced
        emit({"event": "warm", "backend": b})
        if mode == "hang-warm:" + b:
            time.sleep(3600)
        if mode == "crash-warm:" + b:
            os.kill(os.getpid(), signal.SIGSEGV)
        emit({"event": "warmed", "backend": b})
    emit({"event": "backends", "backends": installed(importing)})
    importing, deferred = [], [(job["workloads"][0], importing)]


deferred = []
for w in job["workloads"]:
    if importing and w is not job["workloads"][0]:
        imported()
    measure(w, [b for b in backends if (b, w["id"]) not in skip and b not in importing])
if importing:
    imported()
for w, late in deferred:
    measure(w, [b for b in late if (b, w["id"]) not in skip])
emit({"event": "done"})
