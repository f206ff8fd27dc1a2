#!/usr/bin/env bash
# Question: does the worker's GPU test of the settle rule (worker/settle.h) pass with the rule and
# fail without it?
#
# On the GPU machine (device `run`), after scripts/bench/device_bench.sh built build-dev: runs
# GpuWorker.test_a_host_bound_call_settles_for_the_settle_time with that worker; then builds the
# worker again with the old count (the settle's calls by their device time alone), runs the test
# with it, and builds the tree's worker back. Prints both outcomes.
set -u
W=build-dev/worker/autotune-bench
[ -x "$W" ] || { echo "no worker at $W"; exit 1; }
test_once() {
  echo "== $1"
  python3 tests/worker/test_worker.py "$W" tests/standins \
    GpuWorker.test_a_host_bound_call_settles_for_the_settle_time 2>&1 | grep -E "^(OK|FAILED)|Error|turns_s|\(" | tail -4
}
test_once "the tree's rule"
rule='settle_calls(opt_.settle_ms, call_ms, st.host_ms)'
old='static_cast<int>(std::ceil(opt_.settle_ms / call_ms))'
sed -i "s|$rule|$old|" worker/harness.cpp
cmake --build build-dev --target autotune-bench > /dev/null 2>&1 && test_once "the old count (device time alone)"
sed -i "s|$old|$rule|" worker/harness.cpp
cmake --build build-dev --target autotune-bench > /dev/null 2>&1 || echo "rebuilding the tree's worker FAILED"
