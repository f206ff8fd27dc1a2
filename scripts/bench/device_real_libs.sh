#!/usr/bin/env bash
# Question: with the real FlashAttention-3 and SageAttention, what is picked, and what is gained?
#
# On the GPU machine (device `run`): the tool with the real FlashAttention-3 and SageAttention.
# Installs the wheels carried from ../shared/device-wheels into python3's environment, builds the
# worker and runs its tests (scripts/bench/device_bench.sh none), then tunes cold caches with the
# carried `autotune`: the default set twice and the full set once, each with Triton's kernel
# cache emptied first (a pod's first boot has none), and keeps each tune's report in every format
# and its worker log; then checks the first tune's pairs against triton's do_bench through the
# node's adapters (scripts/bench/report_dobench.py), and the full-set tune's routes. After the first tune, one sampling step of real
# ComfyUI model code under ComfyUI's default, --use-sage-attention, the static table's decision
# (`autotune --no-tune`) and the tune's (scripts/bench/model_step_bench.py), where the ComfyUI and
# einops tarballs of ../shared/comfyui are carried. Everything comes back as
# $OUT/real-libs.tar.gz.
#
#   mkdir -p .carry/wheels && cp ../shared/device-wheels/*.whl .carry/wheels/
#   cp ../shared/comfyui/*.tar.gz .carry/
#   AUTOTUNE=.carry/autotune bash scripts/bench/device_real_libs.sh        (carry [".carry"])
#
# SETS="default default full" picks the tunes; DOBENCH=0 leaves the do_bench check out,
# MODEL_BENCH=0 the model step bench.
set -u
OUT=${OUT:-/tmp/out}
final=$OUT
export OUT=$final/real-libs PYTHONUNBUFFERED=1
mkdir -p "$OUT"
autotune=${AUTOTUNE:-.carry/autotune}
[ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
phase() { echo "$(date -u +%Y/%m/%d\ %H:%M:%S.%3N) $*" | tee -a "$OUT/phases.log"; }

phase "install wheels"
bash scripts/bench/install_wheels.sh "$OUT/libs.txt"

phase "build and worker tests"
bash scripts/bench/device_bench.sh none 2>&1 | tail -25
W=build-dev/worker/autotune-bench
venv=$(python3 -c 'import sys; print(sys.prefix)')

model_bench() {  # $1: the decision file of a tune
  phase "model step bench"
  local src=/tmp/comfyui-src table=/tmp/table-tune
  mkdir -p "$src" "$table"
  tar xzf .carry/ComfyUI-*.tar.gz -C "$src" && tar xzf .carry/einops-*.tar.gz -C "$src" || return
  "$autotune" --venv "$venv" --local-dir "$table/local" --cache-dir "$table/shared" --no-tune \
    --env-settings "$table/env_settings" --decision-file "$OUT/table-decision.json" > "$OUT/table-boot.log" 2>&1
  PYTHONPATH=$(echo "$src"/einops-*) timeout "${MODEL_BENCH_TIMEOUT:-300}" python3 scripts/bench/model_step_bench.py \
    --comfyui "$src/ComfyUI" --comfyui-commit a125cd84 --decision "$1" --table-decision "$OUT/table-decision.json" \
    --repeats "${MODEL_REPEATS:-7}" --out "$OUT/model_step" 2>&1 | tail -60
}

n=0
for set_name in ${SETS:-default default full}; do
  n=$((n + 1))
  dir=$OUT/tune$n-$set_name
  mkdir -p "$dir"
  bash scripts/clear_triton_cache.sh > /dev/null
  phase "tune $n: $set_name, cold cache, Triton cache empty"
  start=$(date +%s%N)
  "$autotune" --venv "$venv" --local-dir "$dir/local" --cache-dir "$dir/shared" --set "$set_name" \
    --env-settings "$dir/env_settings" --decision-file "$dir/decision.json" --worker "$W" --json \
    > "$dir/boot.json" 2> "$dir/boot.log"
  echo "tune $n ($set_name): rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$OUT/summary.txt"
  grep -E "Selected Mechanism|Decided by|Reason" "$dir/boot.log" | tee -a "$OUT/summary.txt"
  for f in html:html text:txt markdown:md json:json csv:csv; do
    "$autotune" --venv "$venv" --local-dir "$dir/local" --cache-dir "$dir/shared" --set "$set_name" --report \
      --format "${f%%:*}" > "$dir/report.${f#*:}" 2>> "$dir/report.err" || echo "--format ${f%%:*} failed"
  done
  grep -E "s; inputs and reference|imported after|done after|hello after|warmed up|warm-up" "$dir/local/worker.log" 2>/dev/null \
    | sed 's/^/  /' | head -60
  if [ "$n" = 1 ] && [ "${MODEL_BENCH:-1}" != 0 ] && compgen -G ".carry/ComfyUI-*.tar.gz" > /dev/null; then
    model_bench "$dir/decision.json"
  fi
done

if [ "${DOBENCH:-1}" != 0 ] && [ -f "$OUT/tune1-default/report.json" ]; then
  phase "do_bench of the first tune's pairs"
  python3 scripts/bench/report_dobench.py "$OUT/tune1-default/report.json" "$OUT/dobench.csv" 2>&1 | tail -60
  for full in "$OUT"/tune*-full/report.json; do
    [ -f "$full" ] || continue
    phase "do_bench of the full-set tune's routes"
    python3 scripts/bench/report_dobench.py "$full" "$OUT/dobench-full-routes.csv" --routes-only 2>&1 | tail -40
  done
fi
if [ -f "$OUT/tune2-default/report.json" ]; then
  echo "== the two default tunes, report against report"
  python3 scripts/bench/run_to_run.py "$OUT/tune1-default/report.json" "$OUT/tune2-default/report.json" 2>&1 | tail -25
fi
phase end
{ echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'; } > "$OUT/env.txt"
tar -C "$final" -czf "$final/real-libs.tar.gz" real-libs && rm -rf "$final/real-libs"
ls -la "$final"
