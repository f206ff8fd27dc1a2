// Publish, lease and read latencies of the fleet cache, each on its own, in several places side
// by side (a local disk against a MooseFS mount), through the code a boot runs:
//   publish  publish_key() of one tuned key (a decision, 4 measurements) from the pod's local file
//   lease    Lease::try_acquire(), keep_alive(), release(): a tuner's take and give back
//   read     fleet_decision() of a fresh pod (no local file) with 1 published file of its key
// For `cache_torture_driver --latency` (tests/cache/torture.py perf).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace autotune {

struct LatencyPlace {
  std::string name;                // "local disk", "MooseFS"
  std::filesystem::path shared;    // a --cache-dir there, made empty by the caller
};

// Times `n` of each operation in each place, interleaved (every place's i-th publish, then every
// place's i-th lease, ...; the places' order reversed every other time), so the places share the
// machine's load alike. Each publish's file is removed after it, untimed, so every publish finds
// the key as a tuner's first publish does. Prints per place and operation
//   "latency <place> <operation>: median <x> ms, p90 <y> ms (n <n>)".
// `local_dir`: the pods' local files (one per place). Returns 0, or 1 after an operation failed
// (the reason on stderr).
int measure_latencies(int n, const std::filesystem::path& local_dir, const std::vector<LatencyPlace>& places);

}  // namespace autotune
