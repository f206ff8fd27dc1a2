// Drives the benchmark worker: sends the job, stores each result in the cache as it arrives,
// enforces a deadline per measurement and a total budget, blames a crash or hang on the
// measurement that caused it, respawns the worker and goes on. A run cut short resumes on the
// next boot without redoing what is stored.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cache/cache.h"
#include "boot/progress.h"
#include "common/clock.h"
#include "common/environment.h"
#include "common/policy.h"
#include "common/workload.h"

namespace autotune {

struct TuneOptions {
  std::vector<std::string> worker_argv;  // {"/path/to/autotune-bench"}
  std::vector<Workload> workloads;
  std::vector<std::string> backends;     // adapter ids; empty: every one the worker knows
  nlohmann::json job_extra = nlohmann::json::object();  // merged into the job ("cpu", "python_backends", ...)
  // The GPU to tune, as the worker's CUDA_VISIBLE_DEVICES (a UUID), so that CUDA's numbering
  // (fastest first by default, and renumbered by the user's own CUDA_VISIBLE_DEVICES) cannot
  // point the worker at another GPU than NVML described. Empty: inherit, and use `device`.
  std::string gpu_uuid;
  int device = 0;
  std::chrono::milliseconds budget{120000};
  // Worker start to its hello: process start, CUDA initialisation, Python imports.
  std::chrono::milliseconds start_deadline{90000};
  // From a measurement's start to its result. The worker caps its own sampling at
  // max_seconds_per_measurement; the rest is warm-up, reference check and compilation.
  std::chrono::milliseconds measurement_deadline{30000};
  // 1 s: at 2 s, FA2 on Wan 1.3B's self-attention (19 ms a call, its clock wandering at the
  // H200's power cap) took the whole cap and a cold tune of the default set 20.4 s.
  double max_seconds_per_measurement = 1.0;
  // Respawns in a row that record nothing before the tune gives up (blamed crashes and hangs,
  // which record, do not count: each broken backend costs one respawn at most).
  int max_respawns = 8;
  // ComfyUI's running-prompt marker (common/prompt_marker.h, beside the decision file): the
  // worker waits between turns while a prompt runs, at most max_pause in all, and the time it
  // waits moves the budget's end. Empty: the tune never waits (no ComfyUI beside it).
  std::filesystem::path prompt_marker;
  std::chrono::milliseconds max_pause{900000};
  PolicyOptions policy;
  std::filesystem::path worker_log;  // worker's stderr; empty: inherited
  std::function<void(const std::string&)> log;  // progress lines
  std::function<void(const ProgressEvent&)> progress;  // the same, structured, for a display
  // The budget and the worker's deadlines read this clock. With a ManualClock a test spends the
  // budget by advancing it; a silent worker is still waited for in real time, up to a deadline.
  const Clock* clock = &real_clock();
};

struct TuneOutcome {
  std::optional<Decision> decision;
  PolicyResult policy;
  std::vector<Measurement> measurements;  // current versions, for the workloads tuned
  int measured_now = 0;                   // results received in this run
  int respawns = 0;
  bool budget_exhausted = false;
  std::chrono::milliseconds paused{0};    // waited for ComfyUI's prompts (not counted in the budget)
  std::string reason;                     // when there is no decision
};

// The version a backend's results are stored under: the fingerprint's version of the library
// behind it ("sdpa_cudnn" -> torch), so that upgrading one library re-tunes only its rows.
// Empty for adapters with no tracked library (test backends): the worker's report is used.
std::string backend_version(const std::string& backend, const Fingerprint& env);

TuneOutcome tune(const TuneOptions& options, const Fingerprint& env, Cache* cache, const CacheKey& key);

}  // namespace autotune
