#include "common/quality.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace autotune {

std::string_view to_string(Quality q) {
  switch (q) {
    case Quality::exact: return "exact";
    case Quality::balanced: return "balanced";
    case Quality::fast: return "fast";
  }
  return "?";
}

Quality parse_quality(std::string_view s) {
  if (s == "exact") return Quality::exact;
  if (s == "balanced") return Quality::balanced;
  if (s == "fast") return Quality::fast;
  throw std::invalid_argument("quality '" + std::string(s) + "' unknown (expected one of: exact, balanced, fast)");
}

const FamilyQuality& QualityBudgets::of(const std::string& family) const {
  if (const auto it = families.find(family); it != families.end()) return it->second;
  // A shape the node recorded carries ComfyUI's model class (comfy/model_base.py: WAN21, WAN22,
  // Flux, SDXL, SD3, HunyuanVideo, LTXV, QwenImage; WanModel where the bare model is patched):
  // the catalogue family its lower-case name starts with, the longest that matches.
  std::string lower = family;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const FamilyQuality* found = nullptr;
  std::size_t longest = 0;
  for (const auto& [name, q] : families)
    if (!name.empty() && name.size() > longest && lower.rfind(name, 0) == 0) {
      found = &q;
      longest = name.size();
    }
  return found ? *found : fallback;
}

void parse_quality(const std::string& text, const std::string& name, QualityBudgets& into) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(name + ": not JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("quality")) return;
  const auto& q = doc["quality"];
  const auto bound = [&](const char* key, double fallback) {
    if (!q.contains(key)) return fallback;
    if (!q[key].is_number() || !(q[key].get<double>() > 0 && q[key].get<double>() < 1))
      throw std::invalid_argument(name + ": quality." + key + " " + q[key].dump() + " is not a relative error in (0, 1)");
    return q[key].get<double>();
  };
  if (!q.is_object() || !q.contains("family") || !q["family"].is_string())
    throw std::invalid_argument(name + ": quality must be an object with a \"family\" string");
  FamilyQuality f;
  f.balanced = bound("balanced", f.balanced);
  f.fast = bound("fast", f.fast);
  if (q.contains("steps")) {
    if (!q["steps"].is_number_integer() || q["steps"].get<long long>() < 1 || q["steps"].get<long long>() > 10000)
      throw std::invalid_argument(name + ": quality.steps " + q["steps"].dump() + " is not an integer in 1..10000");
    f.steps = q["steps"].get<int>();
  }
  if (f.balanced > f.fast)
    throw std::invalid_argument(name + ": quality.balanced " + q["balanced"].dump() + " is looser than quality.fast");
  into.families[q["family"].get<std::string>()] = f;
}

QualityBudgets load_quality_budgets(const std::string& dir_or_file) {
  QualityBudgets b;
  for (const auto& p : catalogue_files(dir_or_file)) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    parse_quality(ss.str(), p.string(), b);
  }
  return b;
}

std::vector<Measurement> apply_quality(const std::vector<Workload>& workloads,
                                       const std::vector<Measurement>& measurements, Quality level,
                                       const QualityBudgets& budgets) {
  std::map<std::string, const Workload*> by_id;
  for (const auto& w : workloads) by_id[w.id] = &w;
  std::vector<Measurement> out;
  for (const auto& m : measurements) {
    if (!is_quantized_adapter(m.backend)) {
      out.push_back(m);
      continue;
    }
    if (level == Quality::exact) continue;
    Measurement f = m;
    const auto it = by_id.find(m.shape);
    const std::string family = it == by_id.end() ? "" : it->second->family;
    const FamilyQuality& q = budgets.of(family);
    const double bound = level == Quality::balanced ? q.balanced : q.fast;
    if (f.status == Status::ok && f.rel_error > bound) {
      f.status = Status::rejected;
      f.reason = "relative error " + format_number("%.3g", f.rel_error) + " above the " +
                 (family.empty() ? std::string("default") : family) + " " + std::string(to_string(level)) +
                 " budget " + format_number("%.3g", bound);
    }
    out.push_back(std::move(f));
  }
  return out;
}

double step_aware_ms(double exact_ms, double quantized_ms, int steps, int exact_steps) {
  if (steps <= 0) return quantized_ms;
  const int exact = std::min(steps, 2 * std::max(exact_steps, 0));
  return (exact * exact_ms + (steps - exact) * quantized_ms) / steps;
}

}  // namespace autotune
