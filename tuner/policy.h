// The selection policy: measurements + workload weights -> the global mechanism and the
// per-shape winners. Pure: no clocks, no files, no GPU.
//
// What it optimises: the worker's median, which is the time per call when calls run back to
// back with no synchronisation (DESIGN.md). On large shapes that is GPU time; on small ones the
// host cost of issuing the call shows through (ComfyUI's PyTorch path, SDXL cross-attention on the
// H100: 0.016 ms of kernel, 0.156 ms per call back to back). A sampling step pays the same mix,
// so that is the number to minimise; host time is reported beside it, not added to it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tuner/decision.h"
#include "tuner/measurement.h"
#include "tuner/mechanism.h"
#include "tuner/workload.h"

namespace autotune {

struct PolicyOptions {
  // Quantized backends (sage) compute with 8-bit Q/K and fp8 P/V: 3.5e-2 to 4.1e-2 relative
  // error on the H100 against 2.3e-3 for exact kernels. Users may refuse them.
  bool exclude_quantized = false;
  // Costs closer than this (relative) are a tie, resolved by kTiePreference, so that noise
  // cannot flip the pick between runs (two cold runs agree within 2% on the H100).
  double tie_tolerance = 0.03;
};

// Order in which ties resolve: ComfyUI's own path first (nothing extra to trust), exact kernels
// before the quantized one.
const std::vector<Mechanism>& tie_preference();

// A mechanism's cost over one sampling step of every workload in the set.
struct MechanismCost {
  Mechanism mechanism;
  double step_ms = 0;            // sum over shapes of calls_per_step * per-call time
  int fallback_shapes = 0;       // shapes where ComfyUI would fall back to its PyTorch path
  bool eligible = true;
  std::string why_not;           // when not eligible: which shape, which status
};

struct PolicyResult {
  std::optional<Decision> decision;  // nullopt when no mechanism has a full set of measurements
  std::vector<MechanismCost> costs;  // every mechanism that has measurements, cheapest first
  double routed_step_ms = 0;         // with every shape routed to its own winner (custom node)
  std::string reason;
};

// `measurements` must hold the current versions only (the caller filters stale rows).
// The time a mechanism pays for a shape it cannot run is that of ComfyUI's fallback, its
// PyTorch path (sdpa_comfy): sage and flash log and fall back per call (DESIGN.md). A backend
// that ran but was numerically rejected on any shape is not eligible: it would not fall back,
// it would return wrong pixels.
PolicyResult choose(const std::vector<Workload>& workloads, const std::vector<Measurement>& measurements,
                    const PolicyOptions& options);

// The mechanisms whose own backend (default_backend_of) was measured broken in this environment:
// crashed or hung (would take ComfyUI down) or rejected (wrong output, which ComfyUI would not
// catch). Each with why, for the table fallback's reason: "measured rejected on 9 of 9 shapes
// (flux-1024: output has NaN or Inf)", naming the first such row. `measurements`: the current
// versions only.
std::map<Mechanism, std::string> broken_mechanisms(const std::vector<Measurement>& measurements);

// ComfyUI with no flags: xformers when it imports, else its PyTorch path.
Mechanism comfyui_default(bool xformers_installed);

}  // namespace autotune
