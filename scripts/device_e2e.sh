#!/usr/bin/env bash
# The end-to-end acceptance run on the GPU machine, in one device call: build the worker, tune on
# a cold cache with the carried `autotune`, boot again from the cache, render the report in every
# format, then time the custom node's routed step against ComfyUI's paths with the decision that
# run made. Results come back as $OUT/e2e.tar.gz (the device returns at most 8 files) plus the
# console log.
#   AUTOTUNE=.carry/autotune bash scripts/device_e2e.sh        (carry [".carry"])
set -u
OUT=${OUT:-/tmp/out}
final=$OUT
mkdir -p "$final/e2e"
export OUT=$final/e2e PYTHONUNBUFFERED=1
bash scripts/device_report.sh default 2>&1 | tee "$OUT/device_report.log"
if [ -f "$OUT/decision.json" ]; then
  echo "== node step bench"
  python3 scripts/node_step_bench.py --decision "$OUT/decision.json" --workloads workloads \
    --out "$OUT/node" 2>&1 | tee "$OUT/node_step_bench.log" | tail -40
fi
tar -C "$final" -czf "$final/e2e.tar.gz" e2e && rm -rf "$final/e2e"
ls -la "$final"
