// The job the parent sends the worker on stdin (one JSON object), parsed and validated.
// Torch-free: the parent's tests and the worker's share it.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "worker/backend_registry.h"
#include "common/comfyui_sdpa.h"
#include "common/workload.h"

namespace autotune::bench {

inline constexpr int kProtocolVersion = 1;

enum class DType { bf16, fp16, fp32 };
std::string_view to_string(DType d);
DType parse_dtype(std::string_view s);  // throws, naming the value and "bf16, fp16, fp32"

struct Job {
  int protocol = kProtocolVersion;
  int device = 0;
  DType dtype = DType::bf16;
  std::vector<std::string> python_paths;
  std::vector<Workload> workloads;
  std::vector<BackendInfo> backends;  // resolved: built-ins asked for + the job's python backends
  std::set<std::pair<std::string, std::string>> skip;  // (backend, shape) already measured
  bool exclude_quantized = false;
  // Every kernel of a library measured in full, also where the library runs it itself and where
  // it cannot win (the quality acceptance data, scripts/bench/device_quality.sh); a tune leaves it off.
  bool every_kernel = false;
  // On the CPU only: the compute capability to gate backends by (BackendInfo::min_sm, only_sm),
  // so that the CI can see the gate; a CUDA device's own capability always decides.
  std::string compute_capability;
  double max_seconds_per_measurement = 2.0;
  double settle_ms = 100;  // MeasureOptions::settle_ms
  double turn_ms = 200;    // MeasureOptions::turn_ms; 0: one sample per turn
  int queue_depth = 3;     // MeasureOptions::queue_depth
  bool cpu = false;
  // Import the Python backends while the native ones are measured (the worker's Imports), which
  // saves a cold tune the seconds of `import torch`. Off unless the parent asks: a crash in an
  // import would otherwise read as a crash of the native measurement running beside it.
  bool overlap_imports = false;
  // ComfyUI's running-prompt marker (common/prompt_marker.h): while it names a live process the
  // worker waits between turns, at most max_pause_s in all. Empty: never waits.
  std::string prompt_marker;
  double max_pause_s = 900;
  // The priority sdpa_comfy runs under: the installed ComfyUI's, where the parent read it.
  ComfySdpa comfyui_sdpa = comfyui_a125cd84_sdpa();

  bool skipped(const std::string& backend, const std::string& shape) const {
    return skip.count({backend, shape}) > 0;
  }
  // Imported, to say whether it is installed, but neither warmed up nor measured.
  bool excluded(const BackendInfo& b) const { return exclude_quantized && b.quantized; }
};

// Throws std::invalid_argument with a message naming the bad field and value (an unknown
// backend id names the valid set).
Job parse_job(const nlohmann::json& j);

}  // namespace autotune::bench
