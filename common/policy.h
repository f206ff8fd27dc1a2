// The selection policy: measurements + workload weights -> the global mechanism and the
// per-shape winners. Pure: no clocks, no files, no GPU.
//
// What it optimises: each call's cost in a sampling step, call_cost_ms() below: its GPU time, or
// its host time where issuing the call takes longer than the GPU needs to run it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/decision.h"
#include "common/measurement.h"
#include "common/mechanism.h"
#include "common/quality.h"
#include "common/workload.h"

namespace autotune {

struct PolicyOptions {
  // Quantized backends (sage) compute with 8-bit Q/K and fp8 P/V: 3.5e-2 to 4.1e-2 relative
  // error on the H100 against 2.3e-3 for exact kernels. Users may refuse them.
  bool exclude_quantized = false;
  // Costs closer than this (relative) are a tie, resolved by kTiePreference, so that noise
  // cannot flip the pick between runs (two cold runs agree within 2% on the H100).
  double tie_tolerance = 0.03;
  // A host-bound call (host time above GPU time) also ties the shape's fastest within this many
  // milliseconds: host time per call varies more than that between runs. Two cold tunes on the
  // H200 (results/h200-2026-12-03-real-libs) read the same C++ SDPA kernels' host time at
  // 0.021-0.034 ms and 0.017-0.024 ms on SDXL's and SD1.5's smallest shapes, and the route
  // flipped between kernels 0.002-0.010 ms apart. The node's Python adapters add about 0.035 ms
  // to each of those calls alike, so such differences do not reach a sampling step. Where the
  // fastest is host-bound, its cost is as uncertain: others within this many ms of it tie too.
  double host_jitter_ms = 0.015;
  // Where 8-bit backends may be picked, and each family's error budget (common/quality.h).
  Quality quality = Quality::balanced;
  QualityBudgets budgets;
  // No 8-bit backend can be picked: excluded, or the exact level. Then the worker neither warms
  // nor measures them (the cache keeps what it has; a later level that can pick them measures
  // what is missing).
  bool quantized_excluded() const { return level() == Quality::exact; }
  // The level that decides: exact under exclude_quantized, whatever `quality` says.
  Quality level() const { return exclude_quantized ? Quality::exact : quality; }
  // What, besides the measurements, a decision depends on: the level that decides and, where
  // 8-bit can be picked, the exact steps and each family's budgets. A decision cached under
  // another signature is not this policy's (a pod switched to exact must not reuse balanced's
  // Sage routes). "quality=exact", or "quality=balanced exact_steps=1 budgets=*:0.04/0.08/30,...".
  std::string signature() const;
};

// Order in which ties resolve: ComfyUI's own path first (nothing extra to trust), exact kernels
// before the quantized one.
const std::vector<Mechanism>& tie_preference();

// What one call costs a sampling step: max(GPU time, host time). The worker's median is GPU time
// alone (samples are queued behind a spin, so the host's issue time is hidden) and host_ms is the
// host's time to issue one call. A step issues its calls back to back with no synchronisation:
// while the GPU is busier than the host, a call's host time hides behind the queue; once the host
// is the slower, the GPU waits for it and the call costs its host time. Measured on the H200
// (a cold tune, 2026-12-03): SD1.5's 4096-token self-attention read FA3 0.153 ms GPU / 0.321 ms host and
// cuDNN 0.158 / 0.039; GPU time alone routed it to FA3, which a host-bound UNet step pays 0.321 ms
// a call for. Summing both would count the overlap twice; max is what a queue that never runs
// dry or full pays. A record without a host time (older caches) costs its GPU time.
double call_cost_ms(const Measurement& m);

// A mechanism's cost over one sampling step of every workload in the set.
struct MechanismCost {
  Mechanism mechanism;
  double step_ms = 0;            // sum over shapes of calls_per_step * call_cost_ms
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
