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
# SM clock, power and temperature every 200 ms (read-only queries), with the phases marked, to
# see how the card's clocks move with the load while the timings are taken.
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv,noheader -lms 200 > "$OUT/clocks.csv" 2>/dev/null &
clocks=$!
phase() { echo "$(date -u +%Y/%m/%d\ %H:%M:%S.%3N) $*" >> "$OUT/phases.log"; }
phase tune
bash scripts/device_report.sh default 2>&1 | tee "$OUT/device_report.log"
W=${WORKER:-build-dev/tuner/bench/autotune-bench}
if [ -x "$W" ]; then
  echo "== worker, SDPA kernels, default set twice (run to run), then the fidelity probe"
  SITE=$(python3 -c 'import site; print(site.getsitepackages()[0])')
  for run in 1 2; do
    phase "worker run $run"
    python3 scripts/bench_job.py --python-path "$SITE" --set default --max-seconds 1.0 \
      --backends sdpa_comfy,sdpa_cudnn,sdpa_flash,sdpa_efficient > "$OUT/sdpa.job"
    "$W" < "$OUT/sdpa.job" > "$OUT/sdpa-run$run.jsonl" 2>> "$OUT/worker.log"
    echo "run $run: rc=$? $(grep -c '"result"' "$OUT/sdpa-run$run.jsonl") results"
  done
  phase probe
  python3 scripts/fidelity_probe.py "$OUT/sdpa-run1.jsonl" "$OUT/fidelity.csv" 2>&1 | tail -40
fi
if [ -f "$OUT/decision.json" ]; then
  echo "== node step bench"
  phase "node step bench"
  python3 scripts/node_step_bench.py --decision "$OUT/decision.json" --workloads workloads \
    --out "$OUT/node" 2>&1 | tee "$OUT/node_step_bench.log" | tail -40
fi
phase end
kill "$clocks" 2>/dev/null
tar -C "$final" -czf "$final/e2e.tar.gz" e2e && rm -rf "$final/e2e"
ls -la "$final"
