#!/usr/bin/env bash
# On the GPU machine: does min_turns (tuner/bench/README.md) buy run-to-run agreement, and what
# does it cost? The worker runs the default set on the 7 backends present (the SDPA kernels, math,
# split, quad) ROUNDS times for each value of TURNS, the values interleaved round by round so that
# a drift of the card falls on all of them alike. For each value: the wall time of each run, and
# scripts/run_to_run.py between its first two runs. Results land in $OUT.
#   bash scripts/device_bench.sh none && TURNS="1 3" ROUNDS=2 bash scripts/min_turns_ab.sh
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
W=${WORKER:-build-dev/tuner/bench/autotune-bench}
SITE=$(python3 -c 'import site; print(site.getsitepackages()[0])')
TURNS=${TURNS:-1 3}
ROUNDS=${ROUNDS:-2}
backends=sdpa_comfy,sdpa_cudnn,sdpa_flash,sdpa_efficient,sdpa_math,split,quad
for round in $(seq 1 "$ROUNDS"); do
  for t in $TURNS; do
    name=turns$t-run$round
    python3 scripts/bench_job.py --python-path "$SITE" --set default --max-seconds 1.0 --min-turns "$t" \
      --backends "$backends" > "$OUT/$name.job"
    s=$(date +%s%N)
    "$W" < "$OUT/$name.job" > "$OUT/$name.jsonl" 2>> "$OUT/min_turns.log"
    echo "$name: rc=$? wall $(( ($(date +%s%N) - s) / 1000000 )) ms, $(grep -c '"result"' "$OUT/$name.jsonl") results"
    rm -f "$OUT/$name.job"
  done
done
for t in $TURNS; do
  echo "== min_turns $t: run 1 against run 2"
  python3 scripts/run_to_run.py "$OUT/turns$t-run1.jsonl" "$OUT/turns$t-run2.jsonl"
done
