#include "report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace autotune {

namespace {

std::string dims(const Workload& w) {
  return std::to_string(w.batch) + "x" + std::to_string(w.heads) + "x" + std::to_string(w.q_len) + "/" +
         std::to_string(w.kv_len) + " d" + std::to_string(w.head_dim);
}

}  // namespace

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

namespace {

}  // namespace

std::string why_no_cost(const Report& r, Mechanism m) {
  for (const auto& c : r.policy.costs)
    if (c.mechanism == m && !c.eligible) return "not eligible: " + c.why_not;
  return "not measured";
}

namespace {

// "1.23x" or "n/a" when either side lacks a full set of measurements.
std::string speedup(const Report& r, Mechanism over) {
  if (!r.policy.decision) return "n/a";
  const auto pick = r.step_ms(r.policy.decision->mechanism);
  const auto other = r.step_ms(over);
  if (!pick || !other || *pick <= 0) return "n/a (" + std::string(to_string(over)) + " " + why_no_cost(r, over) + ")";
  return format_number("%.2fx", *other / *pick) + " (" + std::string(to_string(over)) + " " + format_number("%.3f ms", *other) + ")";
}

// Whole-word, case-insensitive: "L4" must not match "L40S", "H100" must match "H100-SXM5-80GB".
bool has_words(std::string_view name, std::string_view words) {
  const auto lower = [](std::string_view v) {
    std::string out(v);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string n = lower(name), w = lower(words);
  for (std::size_t at = n.find(w); at != std::string::npos; at = n.find(w, at + 1)) {
    const bool left = at == 0 || !std::isalnum(static_cast<unsigned char>(n[at - 1]));
    const std::size_t end = at + w.size();
    const bool right = end == n.size() || !std::isalnum(static_cast<unsigned char>(n[end]));
    if (left && right) return true;
  }
  return false;
}

// `text` cut to `width` columns, with "..." where it was cut.
std::string cut(const std::string& text, std::size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 3) + "...";
}

// `text` wrapped to `width` at `indent`, at most `max_lines` lines, the last ending in "..." when
// there was more: a full Python traceback must not flood the terminal (--format json has it all).
std::string clipped(const std::string& text, std::size_t width, std::size_t indent, int max_lines) {
  const std::string body = wrap(text, width - indent, 0);
  std::string out;
  std::size_t at = 0;
  for (int n = 0; n < max_lines && at < body.size(); ++n) {
    const std::size_t end = body.find('\n', at);
    std::string line = body.substr(at, end - at);
    at = end + 1;
    if (n == max_lines - 1 && at < body.size()) line = cut(line, width - indent - 4) + " ...";
    out += std::string(indent, ' ') + line + "\n";
  }
  return out;
}

std::string with_peak(const Report& r, double tf) {
  const auto peak = peak_bf16(r.key.gpu_name);
  return peak && tf > 0 ? format_number("%.0f%%", 100 * tf / peak->tflops) : "-";
}

}  // namespace

const std::vector<PeakTflops>& peak_bf16_table() {
  // Dense bf16 with fp32 accumulation (what torch's attention kernels use). Datasheet figures
  // marked "with sparsity" are halved.
  static const std::vector<PeakTflops> table{
      {"H100 NVL", 835, "H100 NVL", "NVIDIA H100 datasheet: BF16 1,671 TFLOPS with sparsity"},
      {"H100 PCIe", 756, "H100 PCIe", "NVIDIA H100 datasheet: BF16 1,513 TFLOPS with sparsity"},
      {"H100", 989, "H100 SXM5", "NVIDIA H100 datasheet: BF16 1,979 TFLOPS with sparsity"},
      {"H200 NVL", 835, "H200 NVL", "NVIDIA H200 datasheet: BF16 1,671 TFLOPS with sparsity"},
      {"H200", 989, "H200 SXM", "NVIDIA H200 datasheet: BF16 1,979 TFLOPS with sparsity"},
      {"B200", 2250, "B200", "NVIDIA HGX B200 datasheet: BF16 36 PFLOPS with sparsity for 8 GPUs"},
      {"A100", 312, "A100", "NVIDIA A100 datasheet: BF16 312 TFLOPS (624 with sparsity)"},
      {"L40S", 362, "L40S", "NVIDIA L40S datasheet: BF16 362.05 TFLOPS dense"},
      {"L40", 181, "L40", "NVIDIA L40 datasheet: BF16 362 TFLOPS with sparsity"},
      {"L4", 121, "L4", "NVIDIA L4 datasheet: BF16 242 TFLOPS with sparsity"},
      {"RTX 4090", 165, "GeForce RTX 4090",
       "NVIDIA Ada Lovelace architecture whitepaper: BF16 with FP32 accumulate 165.2 TFLOPS dense"},
  };
  return table;
}

std::optional<PeakTflops> peak_bf16(std::string_view gpu_name) {
  for (const auto& row : peak_bf16_table())
    if (has_words(gpu_name, row.match)) return row;
  return std::nullopt;
}

std::vector<FamilyCosts> family_costs(const Report& r) {
  std::vector<FamilyCosts> out;
  for (const auto& w : r.workloads) {
    auto it = std::find_if(out.begin(), out.end(), [&](const FamilyCosts& f) { return f.family == w.family; });
    if (it == out.end()) {
      out.push_back({w.family, {}, {}, {}});
      it = out.end() - 1;
    }
    it->workloads.push_back(w);
  }
  std::set<std::string> flag_backends, backends;
  for (Mechanism m : kAllMechanisms) flag_backends.insert(default_backend_of(m));
  for (const auto& m : r.measurements) backends.insert(m.backend);
  for (auto& f : out) {
    f.policy = choose(f.workloads, r.measurements, r.options);
    for (const auto& b : backends) {
      if (flag_backends.count(b)) continue;
      double step = 0;
      bool complete = true;
      for (const auto& w : f.workloads) {
        const auto m = std::find_if(r.measurements.begin(), r.measurements.end(),
                                    [&](const Measurement& x) { return x.shape == w.id && x.backend == b; });
        if (m == r.measurements.end() || m->status != Status::ok) {
          complete = false;
          break;
        }
        step += w.calls_per_step * call_cost_ms(*m);
      }
      if (complete) f.node_only.emplace_back(b, step);
    }
  }
  return out;
}

std::string wrap(std::string_view text, std::size_t width, std::size_t indent) {
  if (indent + 1 >= width) indent = 0;
  std::string out, line;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    std::string word(text.substr(i, j - i));
    i = j;
    while (!word.empty()) {
      const std::size_t pad = out.empty() ? 0 : indent;
      if (line.empty()) {
        const std::size_t take = std::min(word.size(), width - pad);  // a word longer than a line is cut
        line = std::string(pad, ' ') + word.substr(0, take);
        word.erase(0, take);
        if (!word.empty()) {
          out += line + "\n";
          line.clear();
        }
      } else if (line.size() + 1 + word.size() <= width) {
        line += ' ' + word;
        word.clear();
      } else {
        out += line + "\n";
        line.clear();
      }
    }
  }
  if (!line.empty()) out += line + "\n";
  return out;
}

std::optional<double> Report::step_ms(Mechanism m) const {
  for (const auto& c : policy.costs)
    if (c.mechanism == m && c.eligible) return c.step_ms;
  return std::nullopt;
}

double tflops(const Workload& w, const Measurement& m) {
  return m.status == Status::ok && m.median_ms > 0 ? w.flops() / (m.median_ms * 1e-3) / 1e12 : 0;
}

std::string spread_text(const Measurement& m) {
  return m.status == Status::ok && m.samples > 1 ? format_number("%.1f%%", m.spread * 100) : "-";
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
  r.options = options;
  return r;
}

std::string render_text(const Report& r) {
  constexpr std::size_t W = kTextWidth;
  std::ostringstream out;
  out << wrap("GPU " + r.key.gpu_name + " (compute " + r.key.compute_capability + "), driver " + r.key.driver +
                  ", torch " + r.key.torch,
              W, 4);
  if (r.measurements.empty()) {
    out << "No measurements cached for this GPU and software yet: run `autotune` to tune.\n";
    return out.str();
  }
  const auto peak = peak_bf16(r.key.gpu_name);
  out << wrap(peak ? "Peak dense bf16: " + format_number("%.0f", peak->tflops) + " TFLOP/s (" + std::string(peak->card) +
                         "); %peak is TFLOP/s against it."
                   : "Peak bf16 throughput of this card is not in the table: no %peak.",
              W, 4);
  out << wrap("Per call, back to back, ms. * marks each shape's winner (the custom node's route); "
              "> marks the pick's path.",
              W, 4);
  const std::string pick_backend = r.policy.decision ? r.policy.decision->default_backend : std::string();
  for (const auto& f : family_costs(r)) {
    out << "\n== " << f.family << " ==\n";
    std::string steps = "Per sampling step:";
    for (const auto& c : f.policy.costs)
      steps += " " + std::string(to_string(c.mechanism)) +
               (c.eligible ? " " + format_number("%.3f", c.step_ms) + " ms" : " not eligible") + ",";
    steps += " routed " + format_number("%.3f", f.policy.routed_step_ms) + " ms";
    out << wrap(steps, W, 4);
    for (const auto& w : f.workloads) {
      out << cut(w.id + "  " + dims(w) + ", " + std::to_string(w.calls_per_step) + " calls/step, " +
                     format_number("%.3f", w.flops() / 1e12) + " TFLOP/call",
                 W)
          << "\n";
      out << "    backend         median ms  spread  host ms  TFLOP/s  %peak  mem MiB   rel err  status\n";
      const std::string winner = routed_backend(r, w.id);
      for (const Measurement* m : rows_of(r, w.id)) {
        const bool ok = m->status == Status::ok;
        const std::string mark = std::string(m->backend == winner ? "*" : " ") + (m->backend == pick_backend ? ">" : " ");
        char line[256];
        std::snprintf(line, sizeof line, "  %s%-15s %9s %7s %8s %8s %6s %8s %9s  %s", mark.c_str(),
                      cut(m->backend, 15).c_str(), ok ? format_number("%.3f", m->median_ms).c_str() : "-",
                      spread_text(*m).c_str(), ok ? format_number("%.3f", m->host_ms).c_str() : "-",
                      ok ? format_number("%.1f", tflops(w, *m)).c_str() : "-", ok ? with_peak(r, tflops(w, *m)).c_str() : "-",
                      m->peak_mem_bytes ? format_number("%.1f", m->peak_mem_bytes / 1048576.0).c_str() : "-",
                      m->rel_error > 0 || ok ? format_number("%.1e", m->rel_error).c_str() : "-",
                      std::string(to_string(m->status)).c_str());
        out << cut(line, W) << "\n";
        if (!m->reason.empty()) out << clipped(m->reason, W, 6, 2);
      }
    }
  }
  out << "\nPer sampling step, all shapes:\n";
  for (const auto& c : r.policy.costs) {
    const std::string name = std::string(to_string(c.mechanism));
    if (c.eligible)
      out << cut("  " + std::string(name.size() < 10 ? 10 - name.size() : 0, ' ') + name + "  " +
                     format_number("%10.3f ms", c.step_ms) +
                     (c.fallback_shapes ? "  (" + std::to_string(c.fallback_shapes) + " shapes fall back to PyTorch)"
                                        : ""),
                 W)
          << "\n";
    else
      out << wrap("  " + std::string(name.size() < 10 ? 10 - name.size() : 0, ' ') + name + "  not eligible: " + c.why_not,
                  W, 14);
  }
  if (r.policy.decision) {
    out << "Pick: " << to_string(r.policy.decision->mechanism)
        << format_number(", %.3f ms per step", *r.step_ms(r.policy.decision->mechanism))
        << format_number("; with per-shape routing %.3f ms", r.policy.routed_step_ms) << "\n";
    if (const QualityAccount& q = r.policy.decision->quality; !q.level.empty()) {
      // The routed cost above is the quality level's: with exact steps, the mean over the run.
      std::string line = "Quality " + q.level + ": 8-bit attention on " + std::to_string(q.quantized_routes) + " of " +
                         std::to_string(r.policy.decision->routes.size()) + " shapes";
      if (q.exact_steps)
        line += ", exact on the first and last " + std::to_string(q.exact_steps) + " of " + std::to_string(q.steps) +
                " steps";
      if (q.quantized_routes)
        line += format_number(": %.3f ms per step", q.step_ms) + format_number(" against %.3f ms exact", q.exact_step_ms) +
                format_number(" (%+.1f%%)", q.exact_step_ms > 0 ? 100 * (q.step_ms / q.exact_step_ms - 1) : 0);
      out << wrap(line, W, 4);
    }
    out << wrap("Speedup over ComfyUI's default: " + speedup(r, r.comfyui_default), W, 4);
    out << wrap("Speedup over the static table's choice: " + speedup(r, r.table_choice), W, 4);
  } else {
    out << wrap("No pick: " + r.policy.reason, W, 4);
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
          << to_string(m->status) << ',' << format_number("%.5f", m->median_ms) << ',' << format_number("%.4f", m->spread) << ','
          << format_number("%.5f", m->host_ms) << ',' << format_number("%.1f", tflops(w, *m)) << ','
          << format_number("%.1f", m->peak_mem_bytes / 1048576.0) << ',' << format_number("%.2e", m->rel_error) << ',' << m->samples
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
      else if (b == winner) out << " **" << format_number("%.3f", found->median_ms) << "** |";
      else out << ' ' << format_number("%.3f", found->median_ms) << " |";
    }
    out << "\n";
  }
  if (r.policy.decision) {
    out << "\nPick: **" << to_string(r.policy.decision->mechanism) << "**, "
        << format_number("%.3f ms per sampling step", *r.step_ms(r.policy.decision->mechanism))
        << format_number(" (per-shape routing: %.3f ms). ", r.policy.routed_step_ms)
        << "Speedup over ComfyUI's default: " << speedup(r, r.comfyui_default)
        << "; over the static table's choice: " << speedup(r, r.table_choice) << ".\n";
  }
  return out.str();
}

namespace {
nlohmann::json costs_json(const std::vector<MechanismCost>& costs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : costs)
    out.push_back({{"mechanism", std::string(to_string(c.mechanism))},
                   {"step_ms", c.step_ms},
                   {"eligible", c.eligible},
                   {"why_not", c.why_not},
                   {"fallback_shapes", c.fallback_shapes}});
  return out;
}
}  // namespace

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
  const nlohmann::json costs = costs_json(r.policy.costs);
  nlohmann::json pick = nullptr;
  if (r.policy.decision) pick = std::string(to_string(r.policy.decision->mechanism));
  nlohmann::json peak = nullptr;
  if (const auto p = peak_bf16(r.key.gpu_name))
    peak = {{"tflops", p->tflops}, {"card", std::string(p->card)}, {"source", std::string(p->source)}};
  nlohmann::json families = nlohmann::json::array();
  for (const auto& f : family_costs(r)) {
    const nlohmann::json fc = costs_json(f.policy.costs);
    nlohmann::json node_only = nlohmann::json::array();
    for (const auto& [backend, step] : f.node_only) node_only.push_back({{"backend", backend}, {"step_ms", step}});
    families.push_back({{"family", f.family},
                        {"mechanism_costs", fc},
                        {"routed_step_ms", f.policy.routed_step_ms},
                        {"node_only", node_only}});
  }
  return {{"gpu", r.key.gpu_name},
          {"compute_capability", r.key.compute_capability},
          {"sm_count", r.key.sm_count},
          {"memory_mib", r.key.memory_mib},
          {"driver", r.key.driver},
          {"cuda_runtime", r.key.cuda_runtime},
          {"torch", r.key.torch},
          {"python", r.python},
          {"packages", r.packages},
          {"workload_set", r.workload_set},
          {"workloads_version", r.key.workloads_version},
          {"harness_version", r.key.harness_version},
          {"generated_at", r.generated_at},
          {"peak_bf16", peak},
          {"families", families},
          {"shapes", shapes},
          {"mechanism_costs", costs},
          {"pick", pick},
          {"routed_step_ms", r.policy.routed_step_ms},
          {"quality", r.policy.decision ? nlohmann::json{{"level", r.policy.decision->quality.level},
                                                         {"exact_steps", r.policy.decision->quality.exact_steps},
                                                         {"steps", r.policy.decision->quality.steps},
                                                         {"step_ms", r.policy.decision->quality.step_ms},
                                                         {"exact_step_ms", r.policy.decision->quality.exact_step_ms},
                                                         {"quantized_routes", r.policy.decision->quality.quantized_routes}}
                                        : nlohmann::json()},
          {"comfyui_default", std::string(to_string(r.comfyui_default))},
          {"table_choice", std::string(to_string(r.table_choice))}};
}

}  // namespace autotune
