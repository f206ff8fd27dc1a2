// Multi-GPU pods: which visible GPUs can share one tuning, where each GPU's own outputs go, and
// which GPU a tuning worker is pinned to. Pure functions; run_boot (boot.h) does the rest.
//
// Pods come with 2, 4 or 8 GPUs and people run one ComfyUI per GPU (CUDA_VISIBLE_DEVICES=<n>).
// Identical GPUs measure the same, so they share one tuning and one cache key; each distinct
// model gets its own tuning, and those run at the same time, one worker per model, each pinned to
// a GPU of that model. First boot on a pod of 8 GPUs of 2 models then takes about as long as on one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/gpu.h"

namespace autotune {

// What makes measurements transferable between two GPUs: exactly the GPU fields of the cache key
// (make_cache_key, cache/cache.h), so two GPUs are in one group if and only if they would look up
// the same key. The driver is in the key, so it is here too; NVML reports one driver per host,
// so on real hardware it never splits a group (only a simulated spec can give two).
// Memory is compared exactly: two cards of one SKU with ECC set differently (GDDR cards such as
// the L40S give up some memory to ECC) are different keys, hence different groups.
struct GpuModel {
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  std::uint64_t memory_mib = 0;
  std::string driver;

  bool operator==(const GpuModel& other) const;
  bool operator!=(const GpuModel& other) const { return !(*this == other); }
  // "NVIDIA L40S (8.9, 142 SMs, 46068 MiB)"
  std::string describe() const;
};

GpuModel model_of(const GpuInfo& gpu);

struct GpuGroup {
  GpuModel model;
  // Positions in the visible list (Detection::gpus), in visible order; the first is the GPU the
  // group's tuning runs on.
  std::vector<std::size_t> members;
};

// Groups in order of their first member's position, so the first visible GPU is always in
// group 0 and a pod's groups come out the same at every boot.
std::vector<GpuGroup> group_by_model(const std::vector<GpuInfo>& gpus);

// Per-GPU output files, beside the single-instance ones:
//   <env_settings>.gpu<N>                    .env_settings       -> .env_settings.gpu1
//   <decision stem>.gpu<N><decision ext>     .attention_decision.json -> .attention_decision.gpu1.json
// N is the NVML index, the number nvidia-smi shows, not CUDA's device ordinal: it names the
// physical GPU whatever CUDA_VISIBLE_DEVICES this autotune ran with, so the files of one GPU keep
// their name when autotune is run with a subset. CUDA numbers devices fastest first by default
// (CUDA_DEVICE_ORDER=FASTEST_FIRST), which on a pod of mixed models differs from nvidia-smi's PCI
// order; only with CUDA_DEVICE_ORDER=PCI_BUS_ID (or on a pod of identical GPUs, where CUDA breaks
// ties by PCI bus id) does CUDA_VISIBLE_DEVICES=N select nvidia-smi's GPU N. Launch scripts that
// cannot be sure of that should select by UUID: each per-GPU file exports COMFYUI_ATTENTION_GPU_UUID.
std::filesystem::path per_gpu_env_settings_path(const std::filesystem::path& env_settings, int nvml_index);
std::filesystem::path per_gpu_decision_path(const std::filesystem::path& decision_file, int nvml_index);

// The UUID a tuning worker for `gpu` is pinned to (its CUDA_VISIBLE_DEVICES), or empty for "do
// not pin". A real GPU is always pinned: CUDA's numbering (fastest first, renumbered by the
// user's CUDA_VISIBLE_DEVICES) could otherwise point the worker at another GPU than NVML
// described, and two parallel workers at the same GPU. A simulated GPU is pinned only when its
// spec gave a uuid: the placeholder gpu.cpp invents ("GPU-simulated-<n>") matches no real device,
// and pinning a real worker to it would hide every GPU from it.
std::string worker_pin(const GpuInfo& gpu);

// The placeholder UUID prefix of simulated GPUs whose spec gives none (common/gpu.cpp).
inline constexpr const char* kSimulatedUuidPrefix = "GPU-simulated-";

}  // namespace autotune
