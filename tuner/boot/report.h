// `autotune --report`: what the cache holds for this GPU and software, and what the policy makes
// of it. The data is built once; each format renders it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cache/cache.h"
#include "tuner/measurement.h"
#include "tuner/mechanism.h"
#include "tuner/policy.h"
#include "tuner/workload.h"

namespace autotune {

struct Report {
  CacheKey key;
  std::vector<Workload> workloads;
  std::vector<Measurement> measurements;  // current versions, for these workloads
  PolicyResult policy;
  Mechanism comfyui_default = Mechanism::pytorch;  // what ComfyUI runs with no flags
  Mechanism table_choice = Mechanism::pytorch;     // what the static table would pick

  // Step cost of a mechanism over the workload set, when it has a full set of measurements.
  std::optional<double> step_ms(Mechanism m) const;
};

Report build_report(const CacheKey& key, std::vector<Workload> workloads, const std::vector<Measurement>& rows,
                    Mechanism comfyui_default, Mechanism table_choice, const PolicyOptions& options);

// 4 * B * H * Lq * Lk * D floating-point operations over the median: TFLOP/s; 0 when not ok.
double tflops(const Workload& w, const Measurement& m);

std::string render_text(const Report& r);      // for a terminal, at most 100 columns
std::string render_csv(const Report& r);       // one row per (shape, backend)
std::string render_markdown(const Report& r);  // the same table, for results/ and issues
nlohmann::json report_json(const Report& r);

}  // namespace autotune
