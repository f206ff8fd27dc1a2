// One benchmark result: a backend run at one workload shape. The worker emits these as JSON lines,
// the cache stores them, the policy reads them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace autotune {

// Closed set; every string form round-trips through to_string/parse_status.
enum class Status {
  ok,           // timed and numerically accepted
  rejected,     // ran, but NaN/Inf or error above the backend's tolerance
  unsupported,  // backend cannot run this shape here (head_dim, dtype, capability)
  not_installed,
  oom,          // out of device memory
  failed,       // raised an error
  crashed,      // the worker process died during this measurement
  timeout,      // the parent's per-measurement deadline passed
};

std::string_view to_string(Status s);
// Throws std::invalid_argument naming the value and the valid set.
Status parse_status(std::string_view s);

struct Measurement {
  std::string backend;          // adapter id: "sdpa_comfy", "sdpa_cudnn", "flash3", "sage", ...
  std::string backend_version;  // the library version it ran with ("2.11.0+cu130")
  std::string shape;            // workload id from workloads/
  Status status = Status::failed;
  std::string reason;           // empty when ok
  double median_ms = 0;         // GPU time per call, steady state, back to back
  double spread = 0;            // relative spread of the GPU samples (IQR / median)
  double host_ms = 0;           // host time per call (launch cost), measured separately
  int samples = 0;
  std::int64_t peak_mem_bytes = 0;
  double rel_error = 0;         // ||out - ref|| / ||ref|| against a float32 reference, or kNonFiniteError
};

// rel_error of an output that held NaN or Inf (status rejected): JSON has no infinity, so the
// worker (harness.cpp) writes -1, and the cache and the fleet keep it as it is.
inline constexpr double kNonFiniteError = -1;


void to_json(nlohmann::json& j, const Measurement& m);
// Throws nlohmann::json::exception or std::invalid_argument on a malformed record (an integer
// field holding a fraction or a number out of its range is named with its value).
void from_json(const nlohmann::json& j, Measurement& m);

}  // namespace autotune
