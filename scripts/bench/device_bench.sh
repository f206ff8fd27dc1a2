#!/usr/bin/env bash
# Question: does the worker build and pass its tests on the GPU, and what do its benchmarks read?
#
# On the GPU machine (device `run`): configure and build the worker against the venv's torch,
# run the worker tests (CPU and gpu labels), then the benchmarks: the default set twice (wall
# time, run-to-run agreement), triton do_bench on the same calls (fidelity), and the full set's
# large shapes. Everything lands under $OUT (at most 8 files come back).
#   bash scripts/bench/device_bench.sh [default|full|all]     (default: all)
set -u
what=${1:-all}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
log=$OUT/build_test.log
exec 3>&1
say() { echo "== $*" | tee -a "$log" >&3; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "gpu: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader)"
  echo "driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader)"
  echo "python: $(python3 -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  echo "torch: $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.backends.cudnn.version())')"
  echo "triton: $(python3 -c 'import triton; print(triton.__version__)')"
  echo "nvcc: $(nvcc --version | tail -1)"
  echo "cmake: $(cmake --version | head -1)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt" >&3

PY=$(command -v python3)
SITE=$($PY -c 'import site; print(site.getsitepackages()[0])')
TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
export TORCH_CUDA_ARCH_LIST=9.0
say "configure"
t0=$(date +%s)
cmake -S . -B build-dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTOTUNE_BUILD_BOOT=OFF \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DPython_EXECUTABLE="$PY" >> "$log" 2>&1 || { say "configure FAILED"; tail -40 "$log" >&3; exit 1; }
say "build"
cmake --build build-dev -j16 --target autotune-bench test_bench_proto >> "$log" 2>&1 || { say "build FAILED"; grep -E "error|Error" "$log" | head -30 >&3; exit 1; }
say "built in $(( $(date +%s) - t0 )) s"
W=build-dev/worker/autotune-bench

say "tests"
(cd build-dev && ctest -L worker -R "bench" --output-on-failure -j4 >> "$log" 2>&1; ctest -R "Job|TorchGates" >> "$log" 2>&1)
grep -E "tests passed|Failed|Skipped|\*\*\*" "$log" | tail -20 >&3

run_job() {  # name, then bench_job.py args
  local name=$1; shift
  $PY scripts/bench/bench_job.py --python-path "$SITE" "$@" > "$OUT/$name.job"
  local s
  s=$(date +%s%N)
  $W < "$OUT/$name.job" > "$OUT/$name.jsonl" 2>> "$OUT/worker.log"
  local rc=$?
  say "$name: rc=$rc wall $(( ($(date +%s%N) - s) / 1000000 )) ms, $(grep -c '"result"' "$OUT/$name.jsonl") results"
  rm -f "$OUT/$name.job"
}

if [[ $what == default || $what == all ]]; then
  run_job default1 --set default --max-seconds 1.0
  run_job default2 --set default --max-seconds 1.0
  say "do_bench fidelity"
  PYTHONUNBUFFERED=1 $PY scripts/research/dobench_compare.py "$OUT/default1.jsonl" "$OUT/dobench.csv" >> "$OUT/worker.log" 2>&1
  cat "$OUT/dobench.csv" >&3
fi
if [[ $what == full || $what == all ]]; then
  run_job full --set full --only-set default --max-seconds 1.0 --skip-heavy 5e13 \
    --backends sdpa_comfy,sdpa_cudnn,sdpa_flash,sdpa_efficient,sdpa_math,split,quad
fi
say "done"
