#!/usr/bin/env bash
# Question: how long would the default set's tune take on a pod with all four attention libraries?
#
# On the GPU machine: how long the default set's tune would take on a pod that has all four
# attention libraries, which the device lacks. The worker runs the default set twice: on the
# backends present (the SDPA kernels, math, split, quad), then with flash2, flash3, sage and
# xformers added, their stand-ins (tests/standins) made fast by computing with torch's SDPA instead
# of float32 matrix products, so that they converge as real kernels do, through the same
# embedded-Python adapters, once with the imports beside the native measurements (the job's
# overlap_imports, as autotune asks) and once with the imports first, and compares the two. Then,
# with AUTOTUNE set, `autotune` itself tunes a cold cache twice with a venv made of links to the
# real site-packages' entries and the fast stand-ins, so the whole boot is timed with all eleven
# backends. Wall times and results land in $OUT.
#   bash scripts/bench/device_bench.sh none && AUTOTUNE=.carry/autotune bash scripts/research/full_pod_estimate.sh
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
W=${WORKER:-build-dev/worker/autotune-bench}
SITE=$(python3 -c 'import site; print(site.getsitepackages()[0])')
fast=$(mktemp -d)
cp -r tests/standins/flash_attn tests/standins/flash_attn_interface.py tests/standins/sageattention \
  tests/standins/xformers "$fast/"
cat > "$fast/_attn.py" <<'EOF'
"""The stand-ins' attention through torch's SDPA (its default kernel choice), (B, L, H, D)."""
import torch.nn.functional as F


def attention_blhd(q, k, v, scale=None):
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), scale=scale)
    return out.transpose(1, 2)


def attention_bhld(q, k, v, scale=None):
    return F.scaled_dot_product_attention(q, k, v, scale=scale)
EOF
run() {  # name, then bench_job.py args
  local name=$1; shift
  python3 scripts/bench/bench_job.py --set default --max-seconds 1.0 "$@" > "$OUT/$name.job"
  local s
  s=$(date +%s%N)
  "$W" < "$OUT/$name.job" > "$OUT/$name.jsonl" 2>> "$OUT/full_pod.log"
  echo "$name: rc=$? wall $(( ($(date +%s%N) - s) / 1000000 )) ms, $(grep -c '"result"' "$OUT/$name.jsonl") results"
  rm -f "$OUT/$name.job"
}
run present --python-path "$SITE"
# ORDER=serial-first runs the imports-first worker before the overlapped one (default: after),
# so that two calls can take the page cache's warming on either side.
if [ "${ORDER:-}" = serial-first ]; then
  run all --python-path "$fast" --python-path "$SITE"
  run all-overlap --python-path "$fast" --python-path "$SITE" --overlap-imports
else
  run all-overlap --python-path "$fast" --python-path "$SITE" --overlap-imports
  run all --python-path "$fast" --python-path "$SITE"
fi
python3 - "$OUT/all.jsonl" "$OUT/all-overlap.jsonl" <<'EOF'
import json, sys
rs = [json.loads(line) for line in open(sys.argv[1])]
listed = [b for e in rs if e.get("event") in ("hello", "backends") for b in e["backends"]]
print("backends:", ", ".join("{} {}".format(b["backend"], "installed" if b["installed"] else b["reason"]) for b in listed))
for e in rs:
    if e.get("event") == "result" and e["backend"] in ("flash2", "flash3", "sage", "xformers"):
        print("{:22s} {:9s} {:8s} {:>9.4f} ms  {:3d} samples  {}  err {:.1e}".format(
            e["shape"], e["backend"], e["status"], e.get("median_ms", 0), e.get("samples", 0), e.get("stop", ""), e.get("rel_error", 0)))
# The overlapped run against the serial one: the Python backends of the shapes measured while the
# imports ran come after the last shape, so their medians are where a bias would show.
ov = [json.loads(line) for line in open(sys.argv[2])]
deferred, seen = set(), False
for e in ov:
    seen |= e.get("event") == "backends"
    if not seen and e.get("event") == "result":
        deferred.add(e["shape"])
med = lambda lines: {(e["backend"], e["shape"]): e["median_ms"] for e in lines
                     if e.get("event") == "result" and e["status"] == "ok"}
a, b = med(rs), med(ov)
print("overlap: shapes measured during the imports:", ", ".join(sorted(deferred)) or "none")
for tag, keep in (("deferred Python", lambda k: k[1] in deferred and k[0] in ("flash2", "flash3", "sage", "xformers")),
                  ("all pairs >= 0.1 ms", lambda k: a[k] >= 0.1)):
    ks = [k for k in a if k in b and keep(k)]
    if not ks:
        continue
    gaps = sorted(((b[k] / a[k] - 1) * 100, k) for k in ks)
    within = sum(1 for g, _ in gaps if abs(g) <= 2)
    print("overlap/serial, {}: {} of {} within 2%; extremes {:+.2f}% {} and {:+.2f}% {}".format(
        tag, within, len(ks), gaps[0][0], gaps[0][1], gaps[-1][0], gaps[-1][1]))
EOF
echo "import torch in a fresh python3: $(python3 -c 'import time; t = time.time(); import torch; print(round(time.time() - t, 2))') s"
if [ -n "${AUTOTUNE:-}" ]; then
  [ -d .carry/lib ] && export LD_LIBRARY_PATH=$PWD/.carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  venv=$(mktemp -d)
  sp=$venv/lib/python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages
  mkdir -p "$sp"
  for e in "$SITE"/* "$fast"/*; do ln -s "$e" "$sp/"; done
  for n in 1 2; do
    c=$(mktemp -d)
    s=$(date +%s%N)
    "$AUTOTUNE" --venv "$venv" --local-dir "$c/local" --cache-dir "$c/shared" --set default \
      --env-settings "$c/env_settings" --decision-file "$c/decision.json" --worker "$W" --budget 600 \
      > "$OUT/autotune-all-$n.log" 2>&1
    echo "autotune, all eleven backends, cold cache $n: rc=$? wall $(( ($(date +%s%N) - s) / 1000000 )) ms"
    grep -E "Backends:|Selected Mechanism|Decided by|Boot time" "$OUT/autotune-all-$n.log"
    [ "$n" = 1 ] && "$AUTOTUNE" --venv "$venv" --local-dir "$c/local" --cache-dir "$c/shared" --set default \
      --report > "$OUT/autotune-all-report.txt" 2>&1
    rm -rf "$c"
  done
  rm -rf "$venv"
fi
rm -rf "$fast"
