// What the boot decided, and how it is realised.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/mechanism.h"

namespace autotune {

enum class Source { cache, tuning, table, override_ };
std::string_view to_string(Source s);

// A per-shape winner, for the ComfyUI node's routing.
struct Route {
  std::string workload;
  int batch = 0, heads = 0, head_dim = 0, q_len = 0, kv_len = 0;
  std::string backend;  // adapter id: "sdpa_cudnn", "flash3", ...
  double median_ms = 0;
  // Where `backend` is 8-bit under a balanced decision: the exact backend the node runs on the
  // first and last sampling steps. Empty otherwise.
  std::string exact_backend;
};

// Which quality level decided (common/quality.h) and what it cost or saved per sampling step.
struct QualityAccount {
  std::string level;         // "exact", "balanced", "fast"; empty: decided without the policy
  int exact_steps = 0;       // first and last steps that run exact attention (balanced)
  int steps = 0;             // the sampling run the account assumes
  double exact_step_ms = 0;  // every shape routed exactly
  double step_ms = 0;        // as decided, the exact steps included
  int quantized_routes = 0;
};

struct Decision {
  Mechanism mechanism = Mechanism::pytorch;
  Source source = Source::table;
  std::string reason;
  std::string default_backend;  // adapter id for shapes without a route
  std::vector<Route> routes;
  QualityAccount quality;
};

// The adapter that runs a mechanism when no measurement says otherwise: "sdpa_comfy" for
// pytorch (ComfyUI's own PyTorch path), the mechanism's name for the rest.
std::string default_backend_of(Mechanism m);

void to_json(nlohmann::json& j, const Route& r);
void from_json(const nlohmann::json& j, Route& r);
// The decision file's "quality" object, also what the cache keeps. Reading is lenient: a missing
// member keeps its default (records written before the cache kept it read as an empty account).
void to_json(nlohmann::json& j, const QualityAccount& q);
void from_json(const nlohmann::json& j, QualityAccount& q);

}  // namespace autotune
