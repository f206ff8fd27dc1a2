#!/usr/bin/env bash
# Question: how much later does ComfyUI accept prompts when pod_start.sh starts it?
#
# Starts a real ComfyUI
# RUNS times on its own (python main.py) and RUNS times through scripts/pod_start.sh with a cold
# cache (fresh directories each time), alternating which goes first, and times each from the
# launch to the first HTTP 200 of /system_stats (polled every 20 ms). Prints one line per start
# and the medians; writes them to OUT (a file) too.
#
#   pod_start_timing.sh COMFYUI_DIR OUT [RUNS] -- [ComfyUI arguments...]
#
# Environment: COMFYUI_PYTHON [python3], AUTOTUNE_BIN [build/boot/autotune], AUTOTUNE_VENV
# [the interpreter's prefix], AUTOTUNE_WORKER [autotune-bench beside AUTOTUNE_BIN], PORT [8190].
# The ComfyUI arguments go to both starts (for example
# --cpu --front-end-root DIR on a machine without the frontend package). pod_start.sh links the
# node into COMFYUI_DIR/custom_nodes, so the plain starts run from a copy without it.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$(dirname "$here")")
[ $# -ge 2 ] || { echo "usage: $0 COMFYUI_DIR OUT [RUNS] -- [ComfyUI arguments...]" >&2; exit 2; }
comfyui=$(realpath "$1")
out=$2
runs=5
shift 2
if [ $# -gt 0 ] && [ "$1" != -- ]; then runs=$1; shift; fi
[ "${1:-}" = -- ] && shift
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer, got '$runs'" >&2; exit 2; }
[ -f "$comfyui/main.py" ] || { echo "$comfyui has no main.py" >&2; exit 2; }
python=${COMFYUI_PYTHON:-python3}
autotune=$(realpath "${AUTOTUNE_BIN:-$repo/build/boot/autotune}")
venv=${AUTOTUNE_VENV:-$("$python" -c 'import sys; print(sys.prefix)')}
port=${PORT:-8190}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
plain=$work/plain-comfyui
cp -r "$comfyui" "$plain"
rm -rf "$plain/custom_nodes/comfyui_node" "$plain/custom_nodes/comfyui-attention-autotune"

now() { date +%s%N; }
# $1: the process group (setsid's leader) to stop after ComfyUI answered; prints ms from $2 (a now()) to the answer,
# or why there was none: "exited" (the start ended without answering; its log, $3, is kept beside OUT) or
# "timeout" (no answer within READY_TIMEOUT_S [120] s).
wait_ready() {
  local _
  for _ in $(seq 1 $(( ${READY_TIMEOUT_S:-120} * 50 ))); do
    if ! kill -0 "$1" 2>/dev/null; then
      cp "$3" "$out.$(basename "$3" .log)-exited.log"
      echo exited
      return 0
    fi
    if curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/system_stats"; then
      echo $(( ($(now) - $2) / 1000000 ))
      kill -TERM -- "-$1" 2>/dev/null
      sleep 1
      kill -KILL -- "-$1" 2>/dev/null
      return 0
    fi
    sleep 0.02
  done
  kill -KILL -- "-$1" 2>/dev/null
  cp "$3" "$out.$(basename "$3" .log)-timeout.log"
  echo timeout
}

start_plain() {
  local t0
  t0=$(now)
  (cd "$plain" && exec setsid "$python" main.py --listen 127.0.0.1 --port "$port" "$@" > "$work/plain.log" 2>&1) &
  wait_ready $! "$t0" "$work/plain.log"
}

start_pod() {
  local t0 d=$work/pod-$RANDOM
  mkdir -p "$d"
  t0=$(now)
  (exec setsid env COMFYUI_DIR="$comfyui" COMFYUI_PYTHON="$python" AUTOTUNE_BIN="$autotune" \
     AUTOTUNE_ARGS="--venv $venv --local-dir $d/local --cache-dir $d/shared --decision-file $d/decision.json${AUTOTUNE_WORKER:+ --worker $AUTOTUNE_WORKER}" \
     AUTOTUNE_ENV_SETTINGS="$d/env_settings" AUTOTUNE_NODE_DIR="$repo/comfyui_node" \
     AUTOTUNE_LOCAL_DIR="$d/local" bash "$repo/scripts/pod_start.sh" --listen 127.0.0.1 --port "$port" "$@" \
     > "$work/pod.log" 2>&1) &
  wait_ready $! "$t0" "$work/pod.log"
}

: > "$out"
for r in $(seq 1 "$runs"); do
  if [ $((r % 2)) = 1 ]; then order="plain pod"; else order="pod plain"; fi
  for m in $order; do
    ms=$("start_$m" "$@")
    case $ms in *[!0-9]*) echo "run $r $m $ms (log beside $out)" ;; *) echo "run $r $m $ms ms" ;; esac | tee -a "$out"
    sleep 1
  done
done
python3 - "$out" <<'EOF' | tee -a "$out"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith("run ")]
t = {m: [int(r[3]) for r in rows if r[2] == m and r[3].isdigit()] for m in ("plain", "pod")}
if t["plain"] and t["pod"]:
    p, q = statistics.median(t["plain"]), statistics.median(t["pod"])
    print("median: ComfyUI alone {:.0f} ms, through pod_start.sh {:.0f} ms: +{:.0f} ms ({} runs each)".format(
        p, q, q - p, min(len(t["plain"]), len(t["pod"]))))
EOF
echo "--- the last pod_start.sh start: its own lines, autotune's summary, the node's, ComfyUI's custom nodes" >> "$out"
grep -E "^\[pod_start\]|Selected Mechanism|Decided by|attention-autotune|custom_nodes|Import times|seconds: " "$work/pod.log" >> "$out"
