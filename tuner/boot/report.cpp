#include "report.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace autotune {

namespace {

std::string fmt(const char* format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

std::string dims(const Workload& w) {
  return std::to_string(w.batch) + "x" + std::to_string(w.heads) + "x" + std::to_string(w.q_len) + "/" +
         std::to_string(w.kv_len) + " d" + std::to_string(w.head_dim);
}

// The measurements of one shape, fastest ok first, then the rest by backend name.
std::vector<const Measurement*> rows_of(const Report& r, const std::string& shape) {
  std::vector<const Measurement*> out;
  for (const auto& m : r.measurements)
    if (m.shape == shape) out.push_back(&m);
  std::stable_sort(out.begin(), out.end(), [](const Measurement* a, const Measurement* b) {
    const bool a_ok = a->status == Status::ok, b_ok = b->status == Status::ok;
    if (a_ok != b_ok) return a_ok;
    return a_ok ? a->median_ms < b->median_ms : a->backend < b->backend;
  });
  return out;
}

std::string routed_backend(const Report& r, const std::string& shape) {
  if (r.policy.decision)
    for (const auto& route : r.policy.decision->routes)
      if (route.workload == shape) return route.backend;
  return {};
}

// "1.23x" or "n/a" when either side lacks a full set of measurements.
std::string speedup(const Report& r, Mechanism over) {
  if (!r.policy.decision) return "n/a";
  const auto pick = r.step_ms(r.policy.decision->mechanism);
  const auto other = r.step_ms(over);
  if (!pick || !other || *pick <= 0) return "n/a (" + std::string(to_string(over)) + " not measured)";
  return fmt("%.2fx", *other / *pick) + " (" + std::string(to_string(over)) + " " + fmt("%.3f ms", *other) + ")";
}

}  // namespace

std::optional<double> Report::step_ms(Mechanism m) const {
  for (const auto& c : policy.costs)
    if (c.mechanism == m && c.eligible) return c.step_ms;
  return std::nullopt;
}

double tflops(const Workload& w, const Measurement& m) {
  return m.status == Status::ok && m.median_ms > 0 ? w.flops() / (m.median_ms * 1e-3) / 1e12 : 0;
}

Report build_report(const CacheKey& key, std::vector<Workload> workloads, const std::vector<Measurement>& rows,
                    Mechanism comfyui_default, Mechanism table_choice, const PolicyOptions& options) {
  Report r;
  r.key = key;
  r.workloads = std::move(workloads);
  std::set<std::string> ids;
  for (const auto& w : r.workloads) ids.insert(w.id);
  for (const auto& m : rows)
    if (ids.count(m.shape)) r.measurements.push_back(m);
  r.policy = choose(r.workloads, r.measurements, options);
  r.comfyui_default = comfyui_default;
  r.table_choice = table_choice;
  return r;
}

std::string render_text(const Report& r) {
  std::ostringstream out;
  out << "GPU " << r.key.gpu_name << " (compute " << r.key.compute_capability << "), driver " << r.key.driver
      << ", torch " << r.key.torch << "\n";
  if (r.measurements.empty()) {
    out << "No measurements cached for this GPU and software yet: run `autotune` to tune.\n";
    return out.str();
  }
  out << "Per call, back to back. * marks each shape's winner (the custom node's route).\n";
  std::string family;
  for (const auto& w : r.workloads) {
    if (w.family != family) {
      family = w.family;
      out << "\n== " << family << " ==\n";
    }
    out << w.id << "  " << dims(w) << ", " << w.calls_per_step << " calls/step\n";
    out << "    backend         median ms  spread  host ms  TFLOP/s   mem MiB   rel err  status\n";
    const std::string winner = routed_backend(r, w.id);
    for (const Measurement* m : rows_of(r, w.id)) {
      const bool ok = m->status == Status::ok;
      char line[160];
      std::snprintf(line, sizeof line, "  %s %-15s %9s %7s %8s %8s %9s %9s  %s\n", m->backend == winner ? "*" : " ",
                    m->backend.c_str(), ok ? fmt("%.3f", m->median_ms).c_str() : "-",
                    ok ? fmt("%.1f%%", m->spread * 100).c_str() : "-", ok ? fmt("%.3f", m->host_ms).c_str() : "-",
                    ok ? fmt("%.1f", tflops(w, *m)).c_str() : "-",
                    m->peak_mem_bytes ? fmt("%.1f", m->peak_mem_bytes / 1048576.0).c_str() : "-",
                    m->rel_error > 0 || ok ? fmt("%.1e", m->rel_error).c_str() : "-",
                    std::string(to_string(m->status)).c_str());
      out << line;
      if (!ok && !m->reason.empty()) out << "      " << m->reason.substr(0, 90) << "\n";
    }
  }
  out << "\nPer sampling step, all shapes (ms): ";
  bool first = true;
  for (const auto& c : r.policy.costs) {
    out << (first ? "" : ", ") << to_string(c.mechanism) << " "
        << (c.eligible ? fmt("%.3f", c.step_ms) : "not eligible (" + c.why_not + ")");
    first = false;
  }
  out << "\n";
  if (r.policy.decision) {
    out << "Pick: " << to_string(r.policy.decision->mechanism) << fmt(", %.3f ms per step", *r.step_ms(r.policy.decision->mechanism))
        << fmt("; with per-shape routing %.3f ms", r.policy.routed_step_ms) << "\n";
    out << "Speedup over ComfyUI's default: " << speedup(r, r.comfyui_default) << "\n";
    out << "Speedup over the static table's choice: " << speedup(r, r.table_choice) << "\n";
  } else {
    out << "No pick: " << r.policy.reason << "\n";
  }
  return out.str();
}

std::string render_csv(const Report& r) {
  std::ostringstream out;
  out << "shape,family,batch,heads,q_len,kv_len,head_dim,calls_per_step,backend,backend_version,status,median_ms,"
         "spread,host_ms,tflops,peak_mem_mib,rel_error,samples,winner,reason\n";
  for (const auto& w : r.workloads) {
    const std::string winner = routed_backend(r, w.id);
    for (const Measurement* m : rows_of(r, w.id)) {
      std::string reason = m->reason;
      for (char& c : reason)
        if (c == '"' || c == '\n') c = '\'';
      out << w.id << ',' << w.family << ',' << w.batch << ',' << w.heads << ',' << w.q_len << ',' << w.kv_len << ','
          << w.head_dim << ',' << w.calls_per_step << ',' << m->backend << ',' << m->backend_version << ','
          << to_string(m->status) << ',' << fmt("%.5f", m->median_ms) << ',' << fmt("%.4f", m->spread) << ','
          << fmt("%.5f", m->host_ms) << ',' << fmt("%.1f", tflops(w, *m)) << ','
          << fmt("%.1f", m->peak_mem_bytes / 1048576.0) << ',' << fmt("%.2e", m->rel_error) << ',' << m->samples
          << ',' << (m->backend == winner ? "yes" : "") << ",\"" << reason << "\"\n";
    }
  }
  return out.str();
}

std::string render_markdown(const Report& r) {
  std::set<std::string> backends;
  for (const auto& m : r.measurements) backends.insert(m.backend);
  std::ostringstream out;
  out << "GPU " << r.key.gpu_name << " (compute " << r.key.compute_capability << "), driver " << r.key.driver
      << ", torch " << r.key.torch << ". Median ms per call, back to back; **bold**: the shape's winner.\n\n";
  out << "| shape (B, H, Lq/Lk, D) | calls/step |";
  for (const auto& b : backends) out << ' ' << b << " |";
  out << "\n|---|---|";
  for (std::size_t i = 0; i < backends.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& w : r.workloads) {
    const std::string winner = routed_backend(r, w.id);
    out << "| " << w.id << " (" << w.batch << ", " << w.heads << ", " << w.q_len << "/" << w.kv_len << ", "
        << w.head_dim << ") | " << w.calls_per_step << " |";
    for (const auto& b : backends) {
      const Measurement* found = nullptr;
      for (const auto& m : r.measurements)
        if (m.shape == w.id && m.backend == b) found = &m;
      if (!found) out << " - |";
      else if (found->status != Status::ok) out << ' ' << to_string(found->status) << " |";
      else if (b == winner) out << " **" << fmt("%.3f", found->median_ms) << "** |";
      else out << ' ' << fmt("%.3f", found->median_ms) << " |";
    }
    out << "\n";
  }
  if (r.policy.decision) {
    out << "\nPick: **" << to_string(r.policy.decision->mechanism) << "**, "
        << fmt("%.3f ms per sampling step", *r.step_ms(r.policy.decision->mechanism))
        << fmt(" (per-shape routing: %.3f ms). ", r.policy.routed_step_ms)
        << "Speedup over ComfyUI's default: " << speedup(r, r.comfyui_default)
        << "; over the static table's choice: " << speedup(r, r.table_choice) << ".\n";
  }
  return out.str();
}

nlohmann::json report_json(const Report& r) {
  nlohmann::json shapes = nlohmann::json::array();
  for (const auto& w : r.workloads) {
    nlohmann::json rows = nlohmann::json::array();
    for (const Measurement* m : rows_of(r, w.id)) {
      nlohmann::json j = *m;
      j["tflops"] = tflops(w, *m);
      rows.push_back(j);
    }
    shapes.push_back({{"workload", w}, {"winner", routed_backend(r, w.id)}, {"measurements", rows}});
  }
  nlohmann::json costs = nlohmann::json::array();
  for (const auto& c : r.policy.costs)
    costs.push_back({{"mechanism", std::string(to_string(c.mechanism))},
                     {"step_ms", c.step_ms},
                     {"eligible", c.eligible},
                     {"why_not", c.why_not},
                     {"fallback_shapes", c.fallback_shapes}});
  nlohmann::json pick = nullptr;
  if (r.policy.decision) pick = std::string(to_string(r.policy.decision->mechanism));
  return {{"gpu", r.key.gpu_name},
          {"compute_capability", r.key.compute_capability},
          {"driver", r.key.driver},
          {"torch", r.key.torch},
          {"shapes", shapes},
          {"mechanism_costs", costs},
          {"pick", pick},
          {"routed_step_ms", r.policy.routed_step_ms},
          {"comfyui_default", std::string(to_string(r.comfyui_default))},
          {"table_choice", std::string(to_string(r.table_choice))}};
}

}  // namespace autotune
