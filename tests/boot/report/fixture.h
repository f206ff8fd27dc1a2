// A FIXTURE, not a measurement: synthetic results shaped like DESIGN.md's H100 table (torch 2.11,
// FA3 and SageAttention 2.2, bf16), for testing how the report presents data. Shapes DESIGN.md
// lists take its numbers; the others are scaled from them by FLOPs. Real H100 numbers live in
// results/, rendered from a device run.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "common/measurement.h"
#include "common/workload.h"

namespace autotune::fixture {

// The simulated GPU the fixture pretends to be, as --simulate-gpu takes it.
inline const std::string kH100Spec =
    "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132";
// A venv with torch 2.11.0+cu130, flash_attn_3 and sageattention (no xformers, no flash_attn).
inline const std::filesystem::path kVenv = std::filesystem::path(AUTOTUNE_REPORT_DATA) / "venvs" / "h100";
inline const std::filesystem::path kWorkloads = std::filesystem::path(AUTOTUNE_SOURCE_DIR) / "workloads";

// For each workload: sdpa_comfy, sdpa_cudnn, sdpa_flash, sdpa_efficient, flash3, sage. FA3
// "crashed" and Sage is "unsupported" at head_dim 160, as on the H100.
std::vector<Measurement> h100_measurements(const std::vector<Workload>& workloads);

// The key `autotune --simulate-gpu kH100Spec --venv kVenv --set <set>` computes.
CacheKey h100_key(const std::string& set);

// Writes the fixture for `set` into the SQLite file at `cache_path`.
void write_h100_cache(const std::filesystem::path& cache_path, const std::string& set);

}  // namespace autotune::fixture
