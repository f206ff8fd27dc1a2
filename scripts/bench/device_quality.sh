#!/usr/bin/env bash
# Question: is 8-bit attention picked only where it is accurate enough, and what does it cost or save?
#
# On the GPU machine (device `run`): the quality levels' data with the real SageAttention 2.2 and
# FlashAttention-3 wheels. Installs the wheels carried from ../shared/device-wheels, builds the
# worker and runs its tests (scripts/device_bench.sh none), then:
#   1. kernels: every default-set shape with every Sage kernel measured in full (the worker's
#      job every_kernel, beside FA3 and SDPA), each kernel's time and its error on randn and on
#      the activation-like set, with the bf16 floor of each set (kernels.jsonl, kernels.md);
#   2. cold tunes of the default set under --quality exact, balanced and fast with the carried
#      `autotune` (Triton's cache emptied first, as a pod's first boot has none): each tune's
#      wall time (acceptance: within 20 s with every candidate), pick, routes, the decision's
#      quality account, and its report in every format (tune-<level>/);
#   3. one Wan 2.1 1.3B sampling step of real ComfyUI model code (scripts/model_step_bench.py)
#      under each level's decision: seconds per step and the output's relative difference from
#      ComfyUI's default (exact) attention (model_step-<level>/, quality_step.md). With no sigmas
#      in a single forward the node's balanced routes run their 8-bit kernels (a middle step);
#      the decision's quality account gives the mean over the run with its exact steps.
# Everything lands under $OUT/quality/ and comes back as $OUT/quality.tar.gz.
#
#   mkdir -p .carry/wheels && cp ../shared/device-wheels/*.whl .carry/wheels/
#   cp ../shared/comfyui/*.tar.gz .carry/
#   cp build/boot/autotune .carry/autotune     (and its libraries into .carry/lib if needed)
#   bash scripts/bench/device_quality.sh        (carry [".carry"])
#
# LEVELS="exact balanced fast" picks the tunes; KERNELS=0 leaves step 1 out (KERNELS_TIMEOUT caps it
# [580 s]), MODEL_BENCH=0 step 3; FULL_SET=1 adds a cold full-set tune after step 2.
set -u
OUT=${OUT:-/tmp/out}
final=$OUT
export OUT=$final/quality PYTHONUNBUFFERED=1
mkdir -p "$OUT"
autotune=${AUTOTUNE:-.carry/autotune}
[ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
phase() { echo "$(date -u +%Y/%m/%d\ %H:%M:%S.%3N) $*" | tee -a "$OUT/phases.log"; }

# PREPARED=1: the wheels are installed and the worker built (scripts/bench/device_seen.sh runs this
# after its own parts).
if [ "${PREPARED:-0}" != 1 ]; then
phase "install wheels"
bash scripts/bench/install_wheels.sh "$OUT/libs.txt"

phase "build and worker tests"
bash scripts/bench/device_bench.sh none 2>&1 | tail -25
fi
W=build-dev/worker/autotune-bench
venv=$(python3 -c 'import sys; print(sys.prefix)')
[ -x "$W" ] || { phase "no worker at $W: stopping"; exit 1; }

if [ "${KERNELS:-1}" != 0 ]; then
  phase "every Sage kernel on the default set, in full"
  bash scripts/clear_triton_cache.sh > /dev/null
  sage="sage,sage_fp8_sm90,sage_fp8_sm90_warp,sage_fp8,sage_fp8_warp,sage_fp8_fp32acc,sage_fp16_cuda,sage_fp16_cuda_warp,sage_fp16_triton"
  python3 scripts/bench/bench_job.py --set default --every-kernel --backends "sdpa_cudnn,sdpa_flash,sdpa_comfy,flash3,$sage" \
    > "$OUT/kernels.job.json"
  start=$(date +%s%N)
  timeout "${KERNELS_TIMEOUT:-580}" "$W" < "$OUT/kernels.job.json" > "$OUT/kernels.jsonl" 2> "$OUT/kernels.log"
  echo "kernels: rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$OUT/summary.txt"
  python3 - "$OUT/kernels.jsonl" > "$OUT/kernels.md" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
hello = {b["backend"]: b for e in rows if e["event"] in ("hello", "backends") for b in e.get("backends", [])}
print("| shape | backend | status | median ms | host ms | samples | stop | err randn | err act-like | floor randn | floor act-like | reason |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for e in rows:
    if e["event"] != "result":
        continue
    err, fl = e.get("rel_errors", {}), e.get("rel_error_floors", {})
    f = lambda d, k: "%.2e" % d[k] if k in d else ""
    print("| {} | {} | {} | {:.4f} | {:.4f} | {} | {} | {} | {} | {} | {} | {} |".format(
        e["shape"], e["backend"], e["status"], e.get("median_ms", 0), e.get("host_ms", 0), e.get("samples", 0),
        e.get("stop", ""), f(err, "randn"), f(err, "activation-like"), f(fl, "randn"), f(fl, "activation-like"),
        e.get("reason", "").replace("|", "/")[:120]))
print()
for b, h in sorted(hello.items()):
    if not h.get("installed"):
        print("- {} not measured: {}".format(b, h.get("reason", "")))
EOF
  tail -n +1 "$OUT/kernels.md" | head -80
fi

# FULL_SET=1: after the levels' tunes, a cold tune of the full set (balanced) into tune-full/,
# where the call has time left (before FULL_BEFORE_S [450] seconds).
levels=${LEVELS:-exact balanced fast}
[ "${FULL_SET:-0}" = 1 ] && levels="$levels full"
for level in $levels; do
  set_name=default
  if [ "$level" = full ]; then
    if [ "$SECONDS" -ge "${FULL_BEFORE_S:-450}" ]; then
      echo "tune full: not started, ${SECONDS}s used (FULL_BEFORE_S)" | tee -a "$OUT/summary.txt"
      continue
    fi
    set_name=full
  fi
  quality=${level/full/balanced}
  dir=$OUT/tune-$level
  mkdir -p "$dir"
  bash scripts/clear_triton_cache.sh > /dev/null
  phase "tune: $set_name set, --quality $quality, cold cache, Triton cache empty"
  start=$(date +%s%N)
  "$autotune" --venv "$venv" --local-dir "$dir/local" --cache-dir "$dir/shared" --set "$set_name" --quality "$quality" \
    --env-settings "$dir/env_settings" --decision-file "$dir/decision.json" --worker "$W" --json \
    > "$dir/boot.json" 2> "$dir/boot.log"
  echo "tune $level: rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$OUT/summary.txt"
  grep -E "Selected Mechanism|Decided by|Reason" "$dir/boot.log" | tee -a "$OUT/summary.txt"
  python3 - "$dir/decision.json" <<'EOF' | tee -a "$OUT/summary.txt"
import json, sys
d = json.load(open(sys.argv[1]))
print("  quality:", json.dumps(d.get("quality")))
for r in d.get("routes", []):
    print("  route {:28s} {:22s} exact {:12s} {:.4f} ms".format(r["workload"], r["backend"], r.get("exact_backend", "-"),
                                                               r.get("median_ms", 0)))
EOF
  for f in html:html text:txt markdown:md json:json csv:csv; do
    "$autotune" --venv "$venv" --local-dir "$dir/local" --cache-dir "$dir/shared" --set "$set_name" \
      --quality "$quality" --report --format "${f%%:*}" > "$dir/report.${f#*:}" 2>> "$dir/report.err" || echo "--format ${f%%:*} failed"
  done
  grep -E "s; inputs and reference|imported after|done after|warmed up" "$dir/local/worker.log" 2>/dev/null \
    | sed 's/^/  /' | head -40
done

if [ "${MODEL_BENCH:-1}" != 0 ] && compgen -G ".carry/ComfyUI-*.tar.gz" > /dev/null; then
  src=/tmp/comfyui-src
  mkdir -p "$src"
  tar xzf .carry/ComfyUI-*.tar.gz -C "$src" && tar xzf .carry/einops-*.tar.gz -C "$src"
  for level in ${LEVELS:-exact balanced fast}; do
    [ -f "$OUT/tune-$level/decision.json" ] || continue
    phase "model step bench: Wan 1.3B, --quality $level"
    PYTHONPATH=$(echo "$src"/einops-*) timeout "${MODEL_BENCH_TIMEOUT:-300}" python3 scripts/bench/model_step_bench.py \
      --comfyui "$src/ComfyUI" --comfyui-commit a125cd84 --models wan13b --decision "$OUT/tune-$level/decision.json" \
      --repeats "${MODEL_REPEATS:-7}" --out "$OUT/model_step-$level" 2>&1 | tail -30
  done
  python3 - "$OUT" > "$OUT/quality_step.md" <<'EOF'
import csv, json, os, sys
out = sys.argv[1]
print("| quality | s/step (one forward, middle step) | rel. diff from exact attention (ComfyUI default) "
      "| decision's mean ms/step with exact steps | exact ms/step | 8-bit routes |")
print("|---|---|---|---|---|---|")
for level in ("exact", "balanced", "fast"):
    path = os.path.join(out, "model_step-" + level, "model_step.csv")
    if not os.path.exists(path):
        continue
    rows = {r["config"]: r for r in csv.DictReader(open(path)) if r["model"] == "wan13b"}
    q = json.load(open(os.path.join(out, "tune-" + level, "decision.json"))).get("quality", {})
    a, d = rows.get("autotune", {}), rows.get("default", {})
    print("| {} | {} (default {}) | {} | {} | {} | {} |".format(level, a.get("s_per_step"), d.get("s_per_step"),
          a.get("rel_diff"), q.get("step_ms"), q.get("exact_step_ms"), q.get("quantized_routes")))
EOF
  cat "$OUT/quality_step.md"
fi

phase end
{ echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)'; } > "$OUT/env.txt"
tar -C "$final" -czf "$final/quality.tar.gz" quality && rm -rf "$final/quality"
ls -la "$final"
