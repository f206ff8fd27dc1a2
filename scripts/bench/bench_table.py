#!/usr/bin/env python3
"""Turns autotune-bench JSON lines into a backends x shapes table (CSV and Markdown).

  bench_table.py --out results/h100-backends --env env.txt run1.jsonl [run2.jsonl ...]

Later files win for a (backend, shape) pair measured twice. Only numbers from the files.
"""
import argparse, csv, json

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--env", help="a file of 'key: value' lines (date, driver) for the header")
ap.add_argument("--title", default="autotune-bench results")
ap.add_argument("runs", nargs="+")
a = ap.parse_args()

hello, shapes, rows, order = {}, {}, {}, []
for path in a.runs:
    for line in open(path):
        e = json.loads(line)
        if e["event"] == "hello":
            hello = e
        elif e["event"] == "result":
            key = (e["shape"], e["backend"])
            if key not in rows:
                order.append(key)
            rows[key] = e
env = {}
if a.env:
    for line in open(a.env):
        if ":" in line:
            k, v = line.split(":", 1)
            env[k.strip()] = v.strip()

cols = ["shape", "backend", "status", "median_ms", "spread", "host_ms", "samples", "rel_error",
        "peak_mem_mib", "backend_version", "reason"]
with open(a.out + ".csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    for key in order:
        e = rows[key]
        w.writerow([e["shape"], e["backend"], e["status"], f'{e["median_ms"]:.4f}', f'{e["spread"]:.4f}',
                    f'{e["host_ms"]:.4f}', e["samples"], f'{e["rel_error"]:.2e}',
                    f'{e["peak_mem_bytes"] / 2**20:.1f}', e["backend_version"], e["reason"].replace("\n", " ")])

backends = []
for _, b in order:
    if b not in backends:
        backends.append(b)
shape_ids = []
for s, _ in order:
    if s not in shape_ids:
        shape_ids.append(s)
with open(a.out + ".md", "w") as f:
    f.write(f"# {a.title}\n\n")
    for k in ("date", "gpu", "driver"):
        if k in env:
            f.write(f"- {k}: {env[k]}\n")
    for k in ("device", "compute_capability", "torch", "cuda", "cudnn", "python", "harness", "dtype"):
        if k in hello:
            f.write(f"- {k}: {hello[k]}\n")
    f.write("\nGPU median ms per call (calls back to back); `(s x%)` = spread IQR/median; "
            "`h` = host ms per call; status when not ok.\n\n")
    f.write("| shape | " + " | ".join(backends) + " |\n|---|" + "---|" * len(backends) + "\n")
    for s in shape_ids:
        cells = []
        ok = [rows[(s, b)]["median_ms"] for b in backends if (s, b) in rows and rows[(s, b)]["status"] == "ok"]
        best = min(ok) if ok else None
        for b in backends:
            e = rows.get((s, b))
            if not e:
                cells.append("")
            elif e["status"] != "ok":
                cells.append(e["status"])
            else:
                v = f'{e["median_ms"]:.4f}'
                if e["median_ms"] == best:
                    v = f"**{v}**"
                cells.append(f'{v} (s {e["spread"] * 100:.1f}%, h {e["host_ms"]:.3f})')
        f.write(f"| {s} | " + " | ".join(cells) + " |\n")
    f.write("\nReasons for statuses other than ok:\n\n")
    for key in order:
        e = rows[key]
        if e["status"] != "ok":
            f.write(f'- {e["shape"]} / {e["backend"]}: {e["status"]}: {e["reason"][:200]}\n')
