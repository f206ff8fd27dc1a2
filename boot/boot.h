// The boot flow that runs at every pod start:
// detect -> fingerprint -> override? -> cache hit? -> tuning -> static table -> outputs.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "common/decision.h"
#include "common/environment.h"
#include "boot/multi_gpu.h"
#include "common/clock.h"
#include "common/gpu.h"
#include "common/workload.h"

namespace autotune {

struct BootResult;

// Tuning, when a worker exists: measures, stores what it measured in the cache, and returns the
// decision; nullopt when it could not finish (no worker, budget spent), with the reason in
// `warnings`. The boot then falls back to the static table.
// With several GPU models visible it is called once per model, from one thread per model, at the
// same time (`gpu` is the model's first visible GPU; `cache` is that thread's own handle), so it
// must be safe to call concurrently.
using Tuner = std::function<std::optional<Decision>(const GpuInfo& gpu, const Fingerprint& env, Cache* cache,
                                                    const CacheKey& key, std::vector<std::string>& warnings)>;

struct BootOptions {
  std::filesystem::path venv = "/workspace/venv";
  std::filesystem::path comfyui;  // the ComfyUI folder (--comfyui); empty: not read
  std::filesystem::path cache_path;     // this pod's local SQLite file (never on a network volume)
  // The fleet's shared directory (<cache-dir>, on the network volume): published files and
  // leases (cache/README.md). Empty: this pod's local file only, no sharing.
  std::filesystem::path shared_dir;
  // On a miss while another pod holds the key's lease: how long to wait for its published
  // decision before the static table decides (the next boot picks the result up).
  std::chrono::milliseconds wait_for_fleet{30000};
  std::chrono::milliseconds lease_ttl{60000};
  std::chrono::milliseconds fleet_poll{250};
  // The wait for the fleet and the lease read this clock (tests: a ManualClock, no sleeping).
  const Clock* clock = &real_clock();
  std::filesystem::path env_settings;   // empty: <venv>/.env_settings
  std::filesystem::path decision_file;  // empty: <venv>/.attention_decision.json
  DetectOptions detect;
  std::optional<std::string> override_value;  // COMFYUI_ATTENTION_MECHANISM
  std::optional<std::string> written_marker;  // AUTOTUNE_WRITTEN_MECHANISM
  std::string workloads_version;
  std::string harness_version;
  // Shapes the node recorded that the workload set does not cover (common/seen_shapes.h), with
  // `autotune tune --seen`. They are not part of the cache key: measurements are stored per
  // shape, so a hit whose key lacks rows for one of them tunes only those, under the same key.
  std::vector<Workload> seen_workloads;
  // The tuner's PolicyOptions::signature(): a cached decision counts only under the same one (it
  // joins the backends in the decision's identity). Empty: the backends alone.
  std::string policy;
  Tuner tuner;                     // empty: no tuning, for the reason below
  std::string tuning_off_reason = "tuning is off";
  // Called once, before any cache lookup or tuning, with the visible GPUs grouped by model. With
  // more than one group the tuner runs on several threads at once; the CLI uses this to print
  // plain lines tagged with the GPU instead of one status line.
  std::function<void(const std::vector<GpuGroup>&)> on_groups;
};

// One visible GPU's decision: the one its own ComfyUI instance gets.
struct GpuDecision {
  std::size_t position = 0;  // in Detection::gpus
  std::size_t group = 0;     // in BootResult::groups
  std::string architecture;
  Decision decision;
  double decide_ms = 0;      // its group's cache lookup and tuning, wall time
};

struct BootResult {
  Detection detection;
  Fingerprint env;
  std::string architecture;
  Decision decision;  // for the first visible GPU (per_gpu[0] when there is one)
  std::vector<std::string> warnings;
  std::vector<std::filesystem::path> written;
  double elapsed_ms = 0;
  std::vector<GpuGroup> groups;      // the visible GPUs by model; empty without a GPU
  std::vector<GpuDecision> per_gpu;  // one per visible GPU, in visible order
  // Key hashes whose published files piled up (cache/fleet.h, kCompactAbove). The boot does not
  // compact them: its caller may, after the outputs are written (compact_detached).
  std::vector<std::string> compact;

  const GpuInfo* gpu() const { return detection.gpus.empty() ? nullptr : &detection.gpus.front(); }
};

std::filesystem::path env_settings_path(const BootOptions& options);
std::filesystem::path decision_file_path(const BootOptions& options);

// The boot's two steps. decide_boot: detect the GPUs, fingerprint the venv and decide for each
// GPU model (override, cache, fleet, tuning, table); it writes no output file, only the cache.
// write_outputs (outputs.h) then writes the decision and settings files. run_boot does both,
// its elapsed_ms counting both. Never throws for bad input or I/O: every failure becomes a
// warning and a safe decision. Only a malformed simulated-GPU spec (a usage error) throws
// std::invalid_argument.
BootResult decide_boot(const BootOptions& options);
BootResult run_boot(const BootOptions& options);

}  // namespace autotune
