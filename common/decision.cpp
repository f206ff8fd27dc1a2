#include "decision.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

namespace autotune {

std::string_view to_string(Source s) {
  switch (s) {
    case Source::cache: return "cache";
    case Source::tuning: return "tuning";
    case Source::table: return "table";
    case Source::override_: return "override";
  }
  throw std::logic_error("Source value out of range");
}

std::string default_backend_of(Mechanism m) {
  return m == Mechanism::pytorch ? "sdpa_comfy" : std::string(to_string(m));
}

void to_json(nlohmann::json& j, const Route& r) {
  j = {{"workload", r.workload}, {"batch", r.batch},   {"heads", r.heads},
       {"head_dim", r.head_dim}, {"q_len", r.q_len},   {"kv_len", r.kv_len},
       {"backend", r.backend},   {"median_ms", r.median_ms}};
  if (!r.exact_backend.empty()) j["exact_backend"] = r.exact_backend;
}

void from_json(const nlohmann::json& j, Route& r) {
  r.workload = j.at("workload").get<std::string>();
  r.batch = json_integer<int>(j.at("batch"), "batch");
  r.heads = json_integer<int>(j.at("heads"), "heads");
  r.head_dim = json_integer<int>(j.at("head_dim"), "head_dim");
  r.q_len = json_integer<int>(j.at("q_len"), "q_len");
  r.kv_len = json_integer<int>(j.at("kv_len"), "kv_len");
  r.backend = j.at("backend").get<std::string>();
  r.median_ms = j.value("median_ms", 0.0);
  r.exact_backend = j.value("exact_backend", std::string());
}

void to_json(nlohmann::json& j, const QualityAccount& q) {
  j = {{"level", q.level},
       {"exact_steps", q.exact_steps},
       {"steps", q.steps},
       {"exact_step_ms", q.exact_step_ms},
       {"step_ms", q.step_ms},
       {"quantized_routes", q.quantized_routes}};
}

void from_json(const nlohmann::json& j, QualityAccount& q) {
  const QualityAccount none;
  q.level = j.value("level", none.level);
  q.exact_steps = j.contains("exact_steps") ? json_integer<int>(j.at("exact_steps"), "exact_steps") : none.exact_steps;
  q.steps = j.contains("steps") ? json_integer<int>(j.at("steps"), "steps") : none.steps;
  q.exact_step_ms = j.value("exact_step_ms", none.exact_step_ms);
  q.step_ms = j.value("step_ms", none.step_ms);
  q.quantized_routes =
      j.contains("quantized_routes") ? json_integer<int>(j.at("quantized_routes"), "quantized_routes") : none.quantized_routes;
}

}  // namespace autotune
