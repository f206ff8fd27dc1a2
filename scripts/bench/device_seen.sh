#!/usr/bin/env bash
# Question: does the pod get fast for a model outside the default set, and how long do cold tunes take?
#
# On the GPU machine (device `run`). Installs the wheels of ../shared/device-wheels and compiles the
# venv's bytecode (install_wheels.sh), builds the
# worker and runs its tests (scripts/device_bench.sh none), then:
# 1. a cold tune of the default set (Triton's cache emptied first): the pod's first boot;
# 2. scripts/bench/seen_step_bench.py on Wan 2.1 1.3B at 720p (75,600 tokens, outside the default set)
#    with that tune's decision: a step through the node, `autotune tune --seen` of what it
#    recorded, the node's reload, the next steps against ComfyUI's default; and ComfyUI's default
#    steps beside a second cold default-set tune (into scratch directories, with BESIDE=1): its
#    cost to a prompt, each step a prompt with the node's marker, which the tune waits for
#    (BESIDE_GAP_S [1.5] seconds apart; BESIDE_MARKER=0: steps back to back with no marker, the
#    tune beside them);
# 3. a cold tune of the full set (before it, scripts/research/gap_probe.py: FA3 on Flux back to back,
#    after a fill, and in do_bench);
# 4. where aiohttp imports, a real ComfyUI's start alone and through pod_start.sh
#    (scripts/bench/device_pod_start.sh).
# Everything comes back as $OUT/seen.tar.gz.
#
#   mkdir -p .carry/wheels && cp ../shared/device-wheels/*.whl .carry/wheels/
#   cp ../shared/comfyui/*.tar.gz .carry/
#   AUTOTUNE=.carry/autotune bash scripts/bench/device_seen.sh        (carry [".carry"])
#
# SETS="default full" picks step 1 and 3's tunes, a later one only before SETS_BEFORE_S seconds;
# SEEN=0 leaves step 2 out, BESIDE=1 adds its tune beside steps, GAP_PROBE=0, QUALITY=0 and
# POD_TIMING=0 the other parts.
set -u
OUT=${OUT:-/tmp/out}
final=$OUT
export OUT=$final/seen PYTHONUNBUFFERED=1
mkdir -p "$OUT"
autotune=$(realpath "${AUTOTUNE:-.carry/autotune}")
[ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
phase() { echo "$(date -u +%Y/%m/%d\ %H:%M:%S.%3N) $*" | tee -a "$OUT/phases.log"; }

phase "install wheels"
bash scripts/bench/install_wheels.sh "$OUT/libs.txt"
phase "build and worker tests"
bash scripts/bench/device_bench.sh none 2>&1 | tail -12
W=$PWD/build-dev/worker/autotune-bench
venv=$(python3 -c 'import sys; print(sys.prefix)')
src=/tmp/comfyui-src
mkdir -p "$src"
tar xzf .carry/ComfyUI-*.tar.gz -C "$src" && tar xzf .carry/einops-*.tar.gz -C "$src"
export PYTHONPATH
PYTHONPATH=$(echo "$src"/einops-*)

# autotune's arguments for a tune into directory $1
args() {
  echo --venv "$venv" --local-dir "$1/local" --cache-dir "$1/shared" --env-settings "$1/env_settings" \
    --decision-file "$1/decision.json" --worker "$W" --comfyui "$src/ComfyUI"
}

tune() {  # $1: set, $2: directory
  local dir=$2
  mkdir -p "$dir"
  bash scripts/clear_triton_cache.sh > /dev/null
  phase "tune $1, cold cache, Triton cache empty"
  local start
  start=$(date +%s%N)
  # shellcheck disable=SC2046
  "$autotune" $(args "$dir") --set "$1" --json > "$dir/boot.json" 2> "$dir/boot.log"
  echo "tune $1: rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$OUT/summary.txt"
  grep -E "Selected Mechanism|Decided by|Per-shape" "$dir/boot.log" | tee -a "$OUT/summary.txt"
  # shellcheck disable=SC2046
  "$autotune" $(args "$dir") --set "$1" --report --format json > "$dir/report.json" 2>> "$dir/report.err"
  # shellcheck disable=SC2046
  "$autotune" $(args "$dir") --set "$1" --report --format text > "$dir/report.txt" 2>> "$dir/report.err"
  cp "$dir/local/worker.log" "$dir/worker.log" 2>/dev/null
  grep -E "s; inputs and reference|imported after|done after|warmed up" "$dir/worker.log" | cut -c1-220 | sed 's/^/  /'
  rm -rf "$dir/local" "$dir/shared"
}

set_list=${SETS:-default full}
first=${set_list%% *}
d1=$OUT/tune-$first
mkdir -p "$d1"
bash scripts/clear_triton_cache.sh > /dev/null
phase "tune $first (the seen bench's starting decision)"
start=$(date +%s%N)
# shellcheck disable=SC2046
"$autotune" $(args "$d1") --set "$first" --json > "$d1/boot.json" 2> "$d1/boot.log"
echo "tune $first: rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$OUT/summary.txt"
grep -E "Selected Mechanism|Decided by|Per-shape" "$d1/boot.log" | tee -a "$OUT/summary.txt"
cp "$d1/local/worker.log" "$d1/worker.log" 2>/dev/null
grep -E "s; inputs and reference|imported after|done after|warmed up" "$d1/worker.log" | cut -c1-220 | sed 's/^/  /'
# shellcheck disable=SC2046
"$autotune" $(args "$d1") --set "$first" --report --format json > "$d1/report.json" 2>> "$d1/report.err"

if [ "${GAP_PROBE:-1}" != 0 ]; then
  phase "gap probe (FA3 on Flux: worker against do_bench)"
  python3 scripts/research/gap_probe.py "$OUT/gap_probe.csv" 2>&1 | tail -14
fi

if [ "${SEEN:-1}" != 0 ]; then
  phase "seen step bench"
  cp "$d1/decision.json" "$d1/decision-before-seen.json"
  scratch=/tmp/beside-tune
  bash scripts/clear_triton_cache.sh > /dev/null
  timeout 420 python3 scripts/bench/seen_step_bench.py --comfyui "$src/ComfyUI" --comfyui-commit a125cd84 \
    --decision "$d1/decision.json" --model wan13b720 --repeats "${REPEATS:-3}" --out "$OUT/seen_step" \
    --tune "$autotune $(args "$d1") tune --seen" \
    ${BESIDE:+--beside "$autotune $(args "$scratch") --set default"} \
    ${BESIDE:+$([ "${BESIDE_MARKER:-1}" = 0 ] || echo --beside-marker "$scratch/decision.busy" --beside-gap-s "${BESIDE_GAP_S:-1.5}")} 2>&1 | tail -40
  cp "$d1/decision.seen.json" "$OUT/seen_step/" 2>/dev/null
  cp "$d1/decision.json" "$OUT/seen_step/decision-after-seen.json" 2>/dev/null
  cp "$d1/local/worker.log" "$OUT/seen_step/worker-seen.log" 2>/dev/null
  cp "$scratch/local/worker.log" "$OUT/seen_step/worker-beside.log" 2>/dev/null
  # shellcheck disable=SC2046
  "$autotune" $(args "$d1") --set "$first" --report --format text > "$OUT/seen_step/report-after-seen.txt" 2>&1
fi
rm -rf "$d1/local" "$d1/shared"

for s in ${set_list#"$first"}; do
  if [ "$SECONDS" -lt "${SETS_BEFORE_S:-10000}" ]; then
    tune "$s" "$OUT/tune-$s"
  else
    echo "tune $s: not started, ${SECONDS}s used (SETS_BEFORE_S)" | tee -a "$OUT/summary.txt"
  fi
done
phase "seen parts done"
{ echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'; } > "$OUT/env.txt"
# Packed now: what follows may run into the call's time limit, and a killed call brings back only
# what lies under $final then.
tar -C "$final" -czf "$final/seen.tar.gz" seen && rm -rf "$final/seen"
mkdir -p "$OUT"

# The quality levels' data where this call has time left (device_quality.sh without its setup):
# every Sage kernel on the default set and the exact and fast tunes, beside the balanced ones above.
if [ "${QUALITY:-1}" != 0 ] && [ "$SECONDS" -lt "${QUALITY_BEFORE_S:-400}" ]; then
  phase "quality levels (device_quality.sh, no model bench)"
  OUT=$final PREPARED=1 MODEL_BENCH=0 LEVELS="${QUALITY_LEVELS:-exact fast}" AUTOTUNE=$autotune \
    KERNELS_TIMEOUT=$(( ${QUALITY_UNTIL_S:-540} - SECONDS - 60 )) bash scripts/bench/device_quality.sh 2>&1 | tail -40
else
  echo "no quality levels: ${SECONDS}s used" | tee -a "$OUT/summary.txt"
fi

if [ "${POD_TIMING:-1}" = 0 ]; then
  echo "no pod start timing: POD_TIMING=0" | tee -a "$OUT/summary.txt"
else
  phase "pod start timing"
  OUT=$OUT AUTOTUNE=$autotune RUNS=5 bash scripts/bench/device_pod_start.sh
fi
ls -la "$final" "$OUT"
