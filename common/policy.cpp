#include "policy.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

#include "common/adapters.h"
#include "common/text.h"

namespace autotune {

namespace {

using Index = std::map<std::pair<std::string, std::string>, const Measurement*>;  // (shape, backend)

const Measurement* find(const Index& index, const std::string& shape, const std::string& backend) {
  const auto it = index.find({shape, backend});
  return it == index.end() ? nullptr : it->second;
}

int mechanism_rank(Mechanism m) {
  const auto& order = tie_preference();
  return static_cast<int>(std::find(order.begin(), order.end(), m) - order.begin());
}

std::string ms(double v) { return format_number("%.3f ms", v); }

// Statuses after which ComfyUI goes on with its PyTorch path for that call. A crash or a hang
// takes the ComfyUI process down with it, so those are not survivable.
bool falls_back(Status s) {
  return s == Status::unsupported || s == Status::failed || s == Status::oom || s == Status::not_installed;
}

bool host_bound(const Measurement& m) { return m.host_ms >= m.median_ms; }

// Whether `m` ties the shape's fastest cost (PolicyOptions: tie_tolerance, host_jitter_ms).
// Within host_jitter_ms where either cost is a host time: `m`'s, or the fastest's, which is as
// uncertain. Two cold tunes on the H200 (results/h200-2026-12-03-callH) read FA3 on Wan 1.3B's
// cross-attention at 0.1869 GPU / 0.2118 host ms and 0.1903 / 0.1914, cuDNN at 0.2049 and
// 0.2029 GPU: the first routed cuDNN (FA3 host-bound, within the jitter), the second FA3
// (fastest by its host time, cuDNN 0.0115 ms behind, no allowance for it).
bool ties(const Measurement& m, const Measurement& fastest, const PolicyOptions& o) {
  const double cost = call_cost_ms(m), best = call_cost_ms(fastest);
  return cost <= best * (1 + o.tie_tolerance) ||
         ((host_bound(m) || host_bound(fastest)) && cost <= best + o.host_jitter_ms);
}

}  // namespace

double call_cost_ms(const Measurement& m) { return std::max(m.median_ms, m.host_ms); }

const std::vector<Mechanism>& tie_preference() {
  static const std::vector<Mechanism> order{Mechanism::pytorch, Mechanism::flash3, Mechanism::flash2,
                                            Mechanism::xformers, Mechanism::sage,  Mechanism::split,
                                            Mechanism::quad};
  return order;
}

Mechanism comfyui_default(bool xformers_installed) {
  return xformers_installed ? Mechanism::xformers : Mechanism::pytorch;
}

namespace {
// The choice on measurements as the quality level lets the policy see them (choose() below).
PolicyResult choose_measured(const std::vector<Workload>& workloads, const std::vector<Measurement>& measurements,
                             const PolicyOptions& options) {
  PolicyResult result;
  Index index;
  std::map<std::string, bool> measured_backends;
  for (const auto& m : measurements) {
    index[{m.shape, m.backend}] = &m;
    measured_backends[m.backend] = true;
  }

  for (Mechanism mechanism : kAllMechanisms) {
    const std::string backend = default_backend_of(mechanism);
    if (!measured_backends.count(backend)) continue;
    MechanismCost cost;
    cost.mechanism = mechanism;
    if (options.exclude_quantized && mechanism == Mechanism::sage) {
      cost.eligible = false;
      cost.why_not = "quantized backends excluded";
    }
    for (const auto& w : workloads) {
      if (!cost.eligible) break;
      const Measurement* m = find(index, w.id, backend);
      const Measurement* fallback = find(index, w.id, "sdpa_comfy");
      double per_call = 0;
      if (m && m->status == Status::ok) {
        per_call = call_cost_ms(*m);
      } else if (m && falls_back(m->status) && mechanism != Mechanism::pytorch && fallback &&
                 fallback->status == Status::ok) {
        per_call = call_cost_ms(*fallback);
        ++cost.fallback_shapes;
      } else {
        cost.eligible = false;
        cost.why_not = !m ? "not measured at " + w.id
                          : std::string(to_string(m->status)) + " at " + w.id + (m->reason.empty() ? "" : ": " + m->reason);
        break;
      }
      cost.step_ms += w.calls_per_step * per_call;
    }
    result.costs.push_back(cost);
  }
  std::stable_sort(result.costs.begin(), result.costs.end(), [](const MechanismCost& a, const MechanismCost& b) {
    if (a.eligible != b.eligible) return a.eligible;
    return a.step_ms < b.step_ms;
  });

  const MechanismCost* best = nullptr;
  for (const auto& c : result.costs) {
    if (!c.eligible) continue;
    if (!best) {
      best = &c;
      continue;
    }
    if (c.step_ms <= result.costs.front().step_ms * (1 + options.tie_tolerance) &&
        mechanism_rank(c.mechanism) < mechanism_rank(best->mechanism))
      best = &c;
  }
  if (!best) {
    result.reason = "no mechanism has usable measurements for every shape";
    for (const auto& c : result.costs) result.reason += "; " + std::string(to_string(c.mechanism)) + ": " + c.why_not;
    return result;
  }

  Decision d;
  d.mechanism = best->mechanism;
  d.source = Source::tuning;
  d.default_backend = default_backend_of(best->mechanism);
  for (const auto& w : workloads) {
    // The shape's candidates within the tolerance of its fastest tie, and the tie order decides
    // among them. Comparing each with the winner so far would chain: with 1.00, 1.029 and 1.058,
    // the 1.058 backend ties the 1.029 one that tied the fastest, and the route would go 5.8%
    // slower than the fastest or not, depending on the order the rows arrive in.
    std::vector<const Measurement*> candidates;
    for (const auto& m : measurements)
      if (m.shape == w.id && m.status == Status::ok && !(options.exclude_quantized && m.backend == "sage"))
        candidates.push_back(&m);
    if (candidates.empty()) continue;
    const Measurement* fastest = candidates.front();
    for (const Measurement* m : candidates)
      if (call_cost_ms(*m) < call_cost_ms(*fastest)) fastest = m;
    const auto order = [](const Measurement* m) {
      return std::make_tuple(adapter_tie_rank(m->backend), call_cost_ms(*m), m->backend);
    };
    const Measurement* winner = nullptr;
    for (const Measurement* m : candidates)
      if (ties(*m, *fastest, options) && (!winner || order(m) < order(winner))) winner = m;
    result.routed_step_ms += w.calls_per_step * call_cost_ms(*winner);
    d.routes.push_back({w.id, w.batch, w.heads, w.head_dim, static_cast<int>(w.q_len), static_cast<int>(w.kv_len),
                        winner->backend, winner->median_ms});
  }
  d.reason = "tuned over " + std::to_string(workloads.size()) + " shapes: " + std::string(to_string(best->mechanism)) +
             " " + ms(best->step_ms) + " per step";
  for (const auto& c : result.costs)
    if (&c != best && c.eligible) {
      d.reason += ", next " + std::string(to_string(c.mechanism)) + " " + ms(c.step_ms);
      break;
    }
  if (best->fallback_shapes) d.reason += " (" + std::to_string(best->fallback_shapes) + " shapes fall back to PyTorch)";
  d.reason += "; per-shape routing " + ms(result.routed_step_ms);
  result.reason = d.reason;
  result.decision = std::move(d);
  return result;
}
}  // namespace

std::string PolicyOptions::signature() const {
  std::string s = "quality=" + std::string(to_string(level()));
  if (level() == Quality::exact) return s;
  if (level() == Quality::balanced) s += " exact_steps=" + std::to_string(budgets.exact_steps);
  const auto budget = [](const std::string& family, const FamilyQuality& f) {
    std::ostringstream o;
    o << family << ':' << f.balanced << '/' << f.fast << '/' << f.steps;
    return o.str();
  };
  s += " budgets=" + budget("*", budgets.fallback);
  for (const auto& [family, f] : budgets.families) s += "," + budget(family, f);
  return s;
}

PolicyResult choose(const std::vector<Workload>& workloads, const std::vector<Measurement>& measurements,
                    const PolicyOptions& options) {
  PolicyOptions exact_options = options;
  exact_options.exclude_quantized = true;
  const Quality level = options.level();
  // Exact: without the 8-bit kernels; `sage` stays, for exclude_quantized to mark its mechanism
  // ineligible with the reason.
  std::vector<Measurement> exact_rows;
  for (const auto& m : measurements)
    if (!is_quantized_adapter(m.backend) || m.backend == "sage") exact_rows.push_back(m);
  PolicyResult exact = choose_measured(workloads, exact_rows, exact_options);
  if (level == Quality::exact) {
    if (exact.decision) {
      exact.decision->quality.level = "exact";
      exact.decision->quality.exact_step_ms = exact.decision->quality.step_ms = exact.routed_step_ms;
      exact.decision->reason += "; quality exact: no 8-bit attention";
      exact.reason = exact.decision->reason;
    }
    return exact;
  }
  PolicyResult r = choose_measured(workloads, apply_quality(workloads, measurements, level, options.budgets), options);
  if (!r.decision) return r;
  Decision& d = *r.decision;
  QualityAccount& q = d.quality;
  q.level = std::string(to_string(level));
  // The step count the account assumes: the fewest of the families that route to 8-bit, where
  // the exact steps weigh most (the conservative saving).
  std::map<std::string, const Workload*> by_id;
  for (const auto& w : workloads) by_id[w.id] = &w;
  for (Route& route : d.routes) {
    if (!is_quantized_adapter(route.backend)) continue;
    ++q.quantized_routes;
    const int steps = options.budgets.of(by_id.at(route.workload)->family).steps;
    q.steps = q.steps ? std::min(q.steps, steps) : steps;
    // The exact backend for the first and last steps (the node's step-aware routing); none where
    // no step runs exact (AUTOTUNE_EXACT_STEPS=0).
    if (level != Quality::balanced || !exact.decision || options.budgets.exact_steps <= 0) continue;
    for (const Route& e : exact.decision->routes)
      if (e.workload == route.workload) route.exact_backend = e.backend;
  }
  q.exact_step_ms = exact.decision ? exact.routed_step_ms : r.routed_step_ms;
  q.exact_steps = level == Quality::balanced && q.quantized_routes ? options.budgets.exact_steps : 0;
  // Balanced runs its exact steps at the exact routes' cost: the per-step mean over the run.
  r.routed_step_ms = step_aware_ms(q.exact_step_ms, r.routed_step_ms, q.steps, q.exact_steps);
  q.step_ms = r.routed_step_ms;
  d.reason += "; quality " + q.level + ": 8-bit on " + std::to_string(q.quantized_routes) + " of " +
              std::to_string(d.routes.size()) + " shapes";
  if (q.exact_steps)
    d.reason += ", exact on the first and last " + std::to_string(q.exact_steps) + " of " + std::to_string(q.steps) +
                " steps";
  if (q.quantized_routes)
    d.reason += ": " + ms(q.step_ms) + " per step against " + ms(q.exact_step_ms) + " exact (" +
                format_number("%+.1f%%", q.exact_step_ms > 0 ? 100 * (q.step_ms / q.exact_step_ms - 1) : 0) + ")";
  r.reason = d.reason;
  return r;
}

std::map<Mechanism, std::string> broken_mechanisms(const std::vector<Measurement>& measurements) {
  struct Seen {
    int broken = 0, measured = 0;
    const Measurement* first = nullptr;
  };
  std::map<Mechanism, Seen> seen;
  for (const auto& m : measurements) {
    const auto mechanism = mechanism_of_backend(m.backend);
    if (!mechanism || default_backend_of(*mechanism) != m.backend) continue;
    Seen& s = seen[*mechanism];
    ++s.measured;
    if (m.status == Status::crashed || m.status == Status::timeout || m.status == Status::rejected) {
      ++s.broken;
      if (!s.first) s.first = &m;
    }
  }
  std::map<Mechanism, std::string> out;
  for (const auto& [mechanism, s] : seen)
    if (s.first)
      out[mechanism] = "measured " + std::string(to_string(s.first->status)) + " on " + std::to_string(s.broken) +
                       " of " + std::to_string(s.measured) + " shapes (" + s.first->shape +
                       (s.first->reason.empty() ? "" : ": " + s.first->reason) + ")";
  return out;
}

}  // namespace autotune
