#!/usr/bin/env bash
# Question: with every attention library broken, does a cold tune still pick a working backend?
#
# On the GPU machine (device `run`): a cold tune of the default set with the real worker and
# torch, in a venv whose four attention libraries all misbehave on every call (flash_attn hangs,
# sageattention aborts the process, xformers returns NaN, flash_attn_interface returns a tensor of
# the wrong shape), with autotune's default budget. Records the wall time, the pick and the
# reason; the tune must decide by tuning and pick a working backend. Results under $OUT/broken/.
#
#   AUTOTUNE=.carry/autotune [WORKER=build-dev/worker/autotune-bench] bash scripts/bench/device_broken_libs.sh
#
# The worker is built as scripts/bench/device_bench.sh builds it unless WORKER names one.
set -u
OUT=${OUT:-/tmp/out}/broken
mkdir -p "$OUT"
autotune=${AUTOTUNE:-.carry/autotune}
worker=${WORKER:-build-dev/worker/autotune-bench}
[ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -x "$worker" ] || bash scripts/bench/device_bench.sh none > "$OUT/build.log" 2>&1

# The venv: the machine's torch (and its dist-info, for the fingerprint) linked in, then the four
# broken libraries, each with the METADATA autotune reads.
real_site=$(python3 -c 'import site; print(site.getsitepackages()[0])')
venv=$(mktemp -d)/venv
site=$venv/lib/python3.12/site-packages
mkdir -p "$site"
printf 'home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.3\n' > "$venv/pyvenv.cfg"
ln -s "$real_site/torch" "$site/torch"
for d in "$real_site"/torch-*.dist-info "$real_site"/triton-*.dist-info; do ln -s "$d" "$site/"; done
dist() {  # name version
  mkdir -p "$site/$1-$2.dist-info"
  printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "$1" "$2" > "$site/$1-$2.dist-info/METADATA"
}
mkdir -p "$site/flash_attn" "$site/sageattention" "$site/xformers"
cat > "$site/flash_attn/__init__.py" <<'EOF'
import time
__version__ = "2.8.3"
def flash_attn_func(q, k, v, *args, **kwargs):  # hangs
    time.sleep(3600)
EOF
cat > "$site/sageattention/__init__.py" <<'EOF'
import os
def sageattn(q, k, v, *args, **kwargs):  # kills the process
    os.abort()
EOF
cat > "$site/xformers/__init__.py" <<'EOF'
__version__ = "0.0.33"
EOF
cat > "$site/xformers/ops.py" <<'EOF'
import torch
def memory_efficient_attention(q, k, v, attn_bias=None, **kwargs):  # NaN
    return torch.full_like(q, float("nan"))
EOF
cat > "$site/flash_attn_interface.py" <<'EOF'
def flash_attn_func(q, k, v, *args, **kwargs):  # the wrong shape
    return q[:, :1]
EOF
dist flash_attn 2.8.3; dist sageattention 2.2.0; dist xformers 0.0.33; dist flash_attn_3 3.0.0

work=$(mktemp -d)
start=$(date +%s%N)
"$autotune" --venv "$venv" --local-dir "$work/local" --cache-dir "$work/shared" --set default \
  --env-settings "$work/env_settings" --decision-file "$OUT/decision.json" --worker "$worker" \
  > "$OUT/boot.log" 2>&1
echo "broken libraries, default set, default budget: rc=$? wall $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee "$OUT/summary.txt"
grep -E "Selected Mechanism|Decided by|not tried|hung|crashed|giving up|respawn" "$OUT/boot.log" | tee -a "$OUT/summary.txt"
"$autotune" --venv "$venv" --local-dir "$work/local" --cache-dir "$work/shared" --set default --report \
  --format text > "$OUT/report.txt" 2>&1
cp "$work/local/worker.log" "$OUT/" 2>/dev/null
rm -rf "$work"
