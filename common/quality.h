// Quality levels: where 8-bit (quantized) attention may be picked, as a filter around the
// policy's choose(). Pure: the budgets are data (workloads/*.json "quality" objects).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/adapters.h"
#include "common/measurement.h"
#include "common/workload.h"

namespace autotune {

// exact: never 8-bit. balanced (default): 8-bit only where its relative error on both checked
// input sets (randn and activation-like, worker/activation_like.h) is within the model
// family's budget, and exact attention on the first and last sampling steps. fast: 8-bit within
// a loose bound, every step.
enum class Quality { exact, balanced, fast };
std::string_view to_string(Quality q);
// Throws std::invalid_argument naming the value and "exact, balanced, fast".
Quality parse_quality(std::string_view s);

struct FamilyQuality {
  double balanced = 0.04;  // relative error budget of an 8-bit backend under balanced
  double fast = 0.08;      // under fast: the worker's own bound for Sage (backend_registry.cpp)
  int steps = 30;          // a typical sampling run's steps, for the step-aware cost account
};

// The most first and last steps that may run exact: --exact-steps takes 0..kMaxExactSteps, a
// cached decision outside it is impossible (cache/records.cpp), and the node reads the same bound
// (comfyui_node/decision.py MAX_EXACT_STEPS).
inline constexpr int kMaxExactSteps = 1000;

struct QualityBudgets {
  std::map<std::string, FamilyQuality> families;
  FamilyQuality fallback;  // a family without a "quality" object
  int exact_steps = 1;     // balanced: exact attention on this many first and last steps
  // The family's budgets; a ComfyUI model class the node recorded ("WAN21") finds the catalogue
  // family its lower-case name starts with ("wan"); else the fallback.
  const FamilyQuality& of(const std::string& family) const;
};

// The "quality" object of each catalogue file ({"family": ..., "balanced": ..., "fast": ...,
// "steps": ...}); `name` for messages. Throws std::invalid_argument naming the file and field.
void parse_quality(const std::string& text, const std::string& name, QualityBudgets& into);
QualityBudgets load_quality_budgets(const std::string& dir_or_file);

// The measurements as `level` lets the policy see them: exact drops every quantized row;
// balanced and fast turn a quantized row over the shape's family bound into `rejected`, its
// reason naming the bound, so a mechanism that would run it everywhere is not eligible and no
// route picks it.
std::vector<Measurement> apply_quality(const std::vector<Workload>& workloads,
                                       const std::vector<Measurement>& measurements, Quality level,
                                       const QualityBudgets& budgets);

// A sampling run's mean cost per step when the first and last `exact_steps` of `steps` run
// `exact_ms` and the rest `quantized_ms` (fewer steps than 2 * exact_steps: all exact).
double step_aware_ms(double exact_ms, double quantized_ms, int steps, int exact_steps);

}  // namespace autotune
