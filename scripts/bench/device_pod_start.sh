#!/usr/bin/env bash
# Question: on the GPU machine, how much later does a real ComfyUI accept prompts through pod_start.sh?
#
# On the GPU machine (device `run`): unpacks the carried ComfyUI and einops, fakes the two modules
# that machine lacks (../shared/comfyui/README.md: av and torchsde; nothing here uses them), gives
# ComfyUI a stand-in frontend, and runs scripts/bench/pod_start_timing.sh (RUNS [3] starts each,
# alone and through pod_start.sh with a cold cache) with the carried `autotune`. Writes
# $OUT/pod_start/pod_start_timing.txt, and a start's log where one exited or timed out.
#
#   AUTOTUNE=.carry/autotune bash scripts/bench/device_pod_start.sh        (carry [".carry"])
#
# With the worker built (scripts/bench/device_bench.sh), AUTOTUNE_WORKER=build-dev/worker/autotune-bench
# runs the background tune beside each start as on a pod; without it that tune stops at once.
set -u
OUT=${OUT:-/tmp/out}/pod_start
mkdir -p "$OUT"
autotune=$(realpath "${AUTOTUNE:-.carry/autotune}")
[ -n "${AUTOTUNE_WORKER:-}" ] && AUTOTUNE_WORKER=$(realpath "$AUTOTUNE_WORKER") && export AUTOTUNE_WORKER
[ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# ComfyUI's server needs aiohttp, which that machine may lack: Debian 12's (python3-aiohttp and
# what it imports, unpacked into .carry/debpy without their Python 3.11 C extensions) run there
# on their pure-Python fallbacks. Only the modules python3 lacks are put on its path.
extra=/tmp/debpy
mkdir -p "$extra"
for m in aiohttp multidict yarl frozenlist aiosignal async_timeout attr idna charset_normalizer; do
  [ -d ".carry/debpy/$m" ] && ! python3 -c "import $m" 2> /dev/null && ln -sfn "$PWD/.carry/debpy/$m" "$extra/$m"
done
export AIOHTTP_NO_EXTENSIONS=1 PYTHONPATH=$extra${PYTHONPATH:+:$PYTHONPATH}
if ! python3 -c 'import aiohttp' 2> /dev/null; then
  echo "no pod start timing: $(python3 -c 'import aiohttp' 2>&1 | tail -1)" | tee "$OUT/pod_start_timing.txt"
  exit 0
fi
src=/tmp/comfyui-src
mkdir -p "$src"
[ -d "$src/ComfyUI" ] || { tar xzf .carry/ComfyUI-*.tar.gz -C "$src" && tar xzf .carry/einops-*.tar.gz -C "$src"; }
mkdir -p /tmp/frontend && echo '<html>stand-in frontend</html>' > /tmp/frontend/index.html
for m in torchsde av; do
  python3 -c "import $m" 2> /dev/null || python3 scripts/bench/fake_module.py /tmp/fakes "$m"
done
PYTHONPATH=$(echo "$src"/einops-*):/tmp/fakes:$extra READY_TIMEOUT_S=${READY_TIMEOUT_S:-60} AUTOTUNE_BIN=$autotune \
  bash scripts/bench/pod_start_timing.sh "$src/ComfyUI" "$OUT/pod_start_timing.txt" "${RUNS:-3}" -- \
  --front-end-root /tmp/frontend 2>&1 | tail -8
for f in "$OUT"/pod_start_timing.txt.*.log; do
  [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }
done
