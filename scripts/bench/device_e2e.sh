#!/usr/bin/env bash
# Question: does the whole tool work end to end on the GPU, its runs agreeing with each other?
#
# The end-to-end acceptance run on the GPU machine, in one device call: build the worker, tune on
# a cold cache with the carried `autotune`, boot again from the cache, render the report in every
# format, run the worker twice on the SDPA kernels and compare the runs (scripts/bench/run_to_run.py),
# and once more with samples one at a time (queue_depth 1) against the first, tune a second cold
# cache and compare its report with the first's (the same pick?), probe the worker's medians
# against do_bench (and do_bench against the card's state: scripts/research/card_state_probe.py), then
# time the custom node's routed step against ComfyUI's paths with the first run's decision.
# Results come back as $OUT/e2e.tar.gz (the device returns at most 8 files) plus the console log.
#   AUTOTUNE=.carry/autotune bash scripts/bench/device_e2e.sh        (carry [".carry"])
# On the H200 (2026-12-01): about 4.6 minutes without the node step bench (the card state probe
# takes 2.7 of them), which takes 4.4 minutes with 9 rounds; 5.6-6 minutes for
# `device_bench.sh none` and this with NODE_BENCH=0 in one call on a fresh machine.
# The GPU-labelled worker tests come from a first call on the same machine (its build-dev/ stays
# while the machine is warm), or from the same call:
#   bash scripts/bench/device_bench.sh none                      (builds the worker, runs its tests)
#   WORKER=build-dev/worker/autotune-bench AUTOTUNE=.carry/autotune bash scripts/bench/device_e2e.sh
# NODE_BENCH=0 leaves the node step bench out, so that one call stays well under the device's
# 10-minute limit; run the bench in the next call with the decision carried:
#   python3 scripts/bench/node_step_bench.py --decision DECISION --workloads workloads --out "$OUT/node"
set -u
OUT=${OUT:-/tmp/out}
final=$OUT
mkdir -p "$final/e2e"
export OUT=$final/e2e PYTHONUNBUFFERED=1
[ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# SM clock, power and temperature every 200 ms (read-only queries), with the phases marked, to
# see how the card's clocks move with the load while the timings are taken.
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active \
  --format=csv,noheader -lms 200 > "$OUT/clocks.csv" 2>/dev/null &
clocks=$!
phase() { echo "$(date -u +%Y/%m/%d\ %H:%M:%S.%3N) $*" >> "$OUT/phases.log"; }
phase tune
bash scripts/bench/device_report.sh default 2>&1 | tee "$OUT/device_report.log"
W=${WORKER:-build-dev/worker/autotune-bench}
if [ -x "$W" ]; then
  echo "== worker, SDPA kernels, default set twice (run to run), then the fidelity probe"
  SITE=$(python3 -c 'import site; print(site.getsitepackages()[0])')
  for run in 1 2; do
    phase "worker run $run"
    python3 scripts/bench/bench_job.py --python-path "$SITE" --set default --max-seconds 1.0 \
      --backends sdpa_comfy,sdpa_cudnn,sdpa_flash,sdpa_efficient > "$OUT/sdpa.job"
    "$W" < "$OUT/sdpa.job" > "$OUT/sdpa-run$run.jsonl" 2>> "$OUT/worker.log"
    echo "run $run: rc=$? $(grep -c '"result"' "$OUT/sdpa-run$run.jsonl") results"
  done
  echo "== run to run (target: within 2%, same fastest backend per shape)"
  python3 scripts/bench/run_to_run.py "$OUT/sdpa-run1.jsonl" "$OUT/sdpa-run2.jsonl"
  phase "worker run 3, one sample at a time"
  python3 scripts/bench/bench_job.py --python-path "$SITE" --set default --max-seconds 1.0 --queue-depth 1 \
    --backends sdpa_comfy,sdpa_cudnn,sdpa_flash,sdpa_efficient > "$OUT/sdpa-depth1.job"
  "$W" < "$OUT/sdpa-depth1.job" > "$OUT/sdpa-depth1.jsonl" 2>> "$OUT/worker.log"
  echo "== run 1 against run 3, samples one at a time behind a spin (queue_depth 1, as harness-4)"
  python3 scripts/bench/run_to_run.py "$OUT/sdpa-run1.jsonl" "$OUT/sdpa-depth1.jsonl"
  phase "second cold boot"
  echo "== a second cold boot, fresh cache (target: the same pick)"
  cold2=$(mktemp -d)
  start=$(date +%s%N)
  "${AUTOTUNE:-.carry/autotune}" --venv "$(python3 -c 'import sys; print(sys.prefix)')" --local-dir "$cold2/local" \
    --cache-dir "$cold2/shared" --set default --env-settings "$cold2/env_settings" --decision-file "$cold2/decision.json" \
    --worker "$W" --budget 600 > "$OUT/cold-boot-2.log" 2>&1
  echo "rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
  grep -E "Selected Mechanism|Decided by" "$OUT/cold-boot-2.log"
  cp "$cold2/decision.json" "$OUT/decision-2.json" 2>/dev/null
  "${AUTOTUNE:-.carry/autotune}" --venv "$(python3 -c 'import sys; print(sys.prefix)')" --local-dir "$cold2/local" \
    --cache-dir "$cold2/shared" --set default --report --format json > "$OUT/report-2.json"
  echo "== the two cold tunes, report against report (target: within 2%, the same pick)"
  python3 scripts/bench/run_to_run.py "$OUT/report.json" "$OUT/report-2.json"
  rm -rf "$cold2"
  phase probe
  python3 scripts/research/fidelity_probe.py "$OUT/sdpa-run1.jsonl" "$OUT/fidelity.csv" 2>&1 | tail -40
  phase "card state probe"
  python3 scripts/research/card_state_probe.py "$OUT/sdpa-run1.jsonl" "$OUT/card_state.csv" 2>&1 | tail -40
fi
if [ "${NODE_BENCH:-1}" != 0 ] && [ -f "$OUT/decision.json" ]; then
  echo "== node step bench"
  phase "node step bench"
  python3 scripts/bench/node_step_bench.py --decision "$OUT/decision.json" --workloads workloads \
    --out "$OUT/node" 2>&1 | tee "$OUT/node_step_bench.log" | tail -40
fi
phase end
kill "$clocks" 2>/dev/null
tar -C "$final" -czf "$final/e2e.tar.gz" e2e && rm -rf "$final/e2e"
ls -la "$final"
