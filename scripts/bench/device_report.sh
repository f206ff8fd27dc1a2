#!/usr/bin/env bash
# Question: what does the report of a cold tune on the GPU read, in every format?
#
# On the GPU machine (device `run`): a cold-cache boot of `autotune` with the real worker, then
# the report of the cache it left, in every format, under $OUT. The PNG is rendered afterwards on
# a machine with Chromium: scripts/render_report_png.sh report.html report.png
#
#   AUTOTUNE=.carry/autotune bash scripts/bench/device_report.sh [SET]        (SET: default)
#
# The GPU machine has no SQLiteCpp, so `autotune` is built on the dev machine and carried:
#   cmake --build build-report --target autotune && mkdir -p .carry/lib &&
#   strip -o .carry/autotune build-report/boot/autotune &&
#   cp -L /lib/x86_64-linux-gnu/libsqlite3.so.0 .carry/lib/      (in case the device lacks it)
# and run with carry [".carry"]. The worker is built here, as scripts/bench/device_bench.sh builds it,
# unless WORKER names one.
set -u
set_name=${1:-default}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
autotune=${AUTOTUNE:-.carry/autotune}
[ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
PY=$(command -v python3)
venv=${VENV:-$($PY -c 'import sys; print(sys.prefix)')}
worker=${WORKER:-build-dev/worker/autotune-bench}

if [ ! -x "$worker" ]; then
  TORCH_PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
  export TORCH_CUDA_ARCH_LIST=9.0
  if ! { cmake -S . -B build-dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTOTUNE_BUILD_BOOT=OFF \
           -DAUTOTUNE_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DPython_EXECUTABLE="$PY" &&
         cmake --build build-dev -j16 --target autotune-bench; } > "$OUT/build.log" 2>&1; then
    echo "worker build failed"; tail -30 "$OUT/build.log"; exit 1
  fi
fi

work=$(mktemp -d)
"$autotune" --help >/dev/null || { echo "cannot run $autotune"; exit 1; }
common=(--venv "$venv" --local-dir "$work/local" --cache-dir "$work/shared" --set "$set_name")
echo "== cold boot (tunes ${set_name})"
start=$(date +%s%N)
"$autotune" "${common[@]}" --env-settings "$work/env_settings" --decision-file "$work/decision.json" \
  --worker "$worker" --budget 600 --json > "$OUT/boot.json" 2> "$OUT/boot.log"
echo "rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
tail -5 "$OUT/boot.log"
echo "== warm boot (cache hit)"
start=$(date +%s%N)
"$autotune" "${common[@]}" --env-settings "$work/env_settings" --decision-file "$work/decision.json" \
  --worker "$worker" --quiet --json > "$OUT/boot-warm.json"
echo "rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms"
echo "== a plain boot, as a pod's start script runs it (cache hit)"
"$autotune" "${common[@]}" --env-settings "$work/env_settings" --decision-file "$work/decision.json" \
  --worker "$worker" > "$OUT/boot-plain.txt" 2>&1
echo "rc=$?"
cat "$OUT/boot-plain.txt"
echo "== report"
for f in html:html text:txt markdown:md json:json csv:csv; do
  "$autotune" "${common[@]}" --report --format "${f%%:*}" > "$OUT/report.${f#*:}" || echo "--format ${f%%:*} failed"
done
tail -25 "$OUT/report.txt"
{ echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; } > "$OUT/env.txt"
cp "$work/decision.json" "$OUT/decision.json"
cp "$work/env_settings" "$OUT/env_settings"
rm -rf "$work"
