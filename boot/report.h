// `autotune --report`: what the cache holds for this GPU and software, and what the policy makes
// of it. The data is built once; each format renders it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cache/cache.h"
#include "common/measurement.h"
#include "common/mechanism.h"
#include "common/policy.h"
#include "common/workload.h"

namespace autotune {

struct Report {
  CacheKey key;
  std::vector<Workload> workloads;
  std::vector<Measurement> measurements;  // current versions, for these workloads
  PolicyResult policy;
  Mechanism comfyui_default = Mechanism::pytorch;  // what ComfyUI runs with no flags
  Mechanism table_choice = Mechanism::pytorch;     // what the static table would pick
  PolicyOptions options;

  // The environment beyond the cache key, for the HTML report; the caller fills these.
  std::string python;
  std::map<std::string, std::string> packages;  // tracked attention libraries -> version
  std::string workload_set;
  std::string generated_at;  // UTC, "2026-11-25T12:00:00Z"

  // Step cost of a mechanism over the workload set, when it has a full set of measurements.
  std::optional<double> step_ms(Mechanism m) const;
};

// A card's peak dense bf16 tensor-core throughput, as vendors publish it. Datasheets often
// print the 2:4-sparsity figure; these are the dense ones (half of it), which is what attention
// kernels can reach. An H100 SXM large matmul reached about 798 of its 989 (DESIGN.md).
struct PeakTflops {
  std::string_view match;   // whole words of the NVML name, e.g. "H100 PCIe"
  double tflops = 0;
  std::string_view card;    // for people: "H100 SXM5"
  std::string_view source;
};
// The table, most specific names first (first match wins).
const std::vector<PeakTflops>& peak_bf16_table();
// nullopt for a card not in the table: the report then omits the ratio rather than guess.
std::optional<PeakTflops> peak_bf16(std::string_view gpu_name);

// One model family's share of a sampling step, as the policy counts it: for each mechanism,
// calls_per_step x per-call time over the family's shapes, with ComfyUI's fallback time where
// the mechanism cannot run a shape (choose() on the family's workloads, not a re-derivation).
struct FamilyCosts {
  std::string family;
  std::vector<Workload> workloads;
  PolicyResult policy;
  // SDPA kernels the ComfyUI node can pin per call but no flag selects (sdpa_cudnn, ...):
  // their step cost where they ran every shape of the family; there is no fallback to count.
  std::vector<std::pair<std::string, double>> node_only;
};
std::vector<FamilyCosts> family_costs(const Report& r);

// Splits `text` at spaces into lines of at most `width` columns, the later ones indented by
// `indent` spaces; a word longer than a line is cut. Each line ends with '\n'.
std::string wrap(std::string_view text, std::size_t width, std::size_t indent);

Report build_report(const CacheKey& key, std::vector<Workload> workloads, const std::vector<Measurement>& rows,
                    Mechanism comfyui_default, Mechanism table_choice, const PolicyOptions& options);

// The measurements of one shape, fastest ok first, then the rest by backend name.
std::vector<const Measurement*> rows_of(const Report& r, const std::string& shape);
// Why a mechanism has no step cost: "not eligible: crashed at sd15-512-self-256: ..." or
// "not measured".
std::string why_no_cost(const Report& r, Mechanism m);
// The shape's winner as the policy routes it (the custom node's route); empty when none.
std::string routed_backend(const Report& r, const std::string& shape);

// 4 * B * H * Lq * Lk * D floating-point operations over the median: TFLOP/s; 0 when not ok.
double tflops(const Workload& w, const Measurement& m);
// The spread as the tables show it, "0.4%"; "-" when not ok or from one sample (a backend far
// out of the race stops after one: StoppingParams::outpaced_far_ratio).
std::string spread_text(const Measurement& m);

inline constexpr std::size_t kTextWidth = 100;
std::string render_text(const Report& r);      // for a terminal, at most kTextWidth columns
std::string render_csv(const Report& r);       // one row per (shape, backend)
std::string render_markdown(const Report& r);  // the same table, for results/ and issues
nlohmann::json report_json(const Report& r);

}  // namespace autotune
