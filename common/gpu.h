// GPU detection: NVML loaded at run time (no link-time dependency), or a simulated GPU.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autotune {

struct GpuInfo {
  int index = 0;                    // NVML index (physical order, not CUDA's renumbering)
  std::string name;                 // "NVIDIA H100 80GB HBM3"
  std::string uuid;                 // "GPU-..."; empty when simulated without one
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;                 // 0 when unknown
  std::uint64_t memory_mib = 0;
  std::string driver_version;       // "580.159.04"
  std::string cuda_driver_version;  // "13.0": the newest CUDA the driver supports
  bool mig_enabled = false;
  bool simulated = false;

  std::string compute_capability() const;  // "9.0"
};

struct Detection {
  std::vector<GpuInfo> gpus;  // visible GPUs, in CUDA_VISIBLE_DEVICES order
  std::string source;         // "nvml" or "simulated"
  std::string message;        // why there are none, when gpus is empty
};

struct DetectOptions {
  std::optional<std::string> simulate;              // AUTOTUNE_SIMULATE_GPU spec, see below
  std::string nvml_library = "libnvidia-ml.so.1";   // AUTOTUNE_NVML_LIBRARY, for tests
  std::optional<std::string> cuda_visible_devices;  // unset: all GPUs
};

// A simulated GPU, so every path runs without hardware:
//   "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132"
// name and cc are required; several GPUs are separated by '|'. Throws std::invalid_argument
// naming the bad field and the expected form.
std::vector<GpuInfo> parse_simulated_gpus(std::string_view spec);

// No NVML, no driver or no GPU is a normal outcome, explained in `message`; only a malformed
// `simulate` spec throws (std::invalid_argument), since that is a usage error.
Detection detect_gpus(const DetectOptions& options);

// CUDA_VISIBLE_DEVICES semantics: a comma-separated list of indices or UUID prefixes
// ("GPU-8f2c"), in the order CUDA will number them; the list ends at the first entry that
// matches nothing, as CUDA's does; an empty value hides every GPU. MIG-... entries match
// the parent GPU whose MIG mode is on.
std::vector<GpuInfo> apply_visible_devices(const std::vector<GpuInfo>& all, std::string_view value);

}  // namespace autotune
