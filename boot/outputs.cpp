#include "outputs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/mechanism.h"
#include "common/text.h"

namespace autotune {
namespace fs = std::filesystem;

namespace {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string installed_backends(const Fingerprint& env) {
  std::vector<std::string> present, missing;
  for (const auto& name : kTrackedPackages) {
    const auto it = env.packages.find(name);
    if (it != env.packages.end()) present.push_back(name + " " + it->second);
    else missing.push_back(name);
  }
  std::string out = present.empty() ? "none" : join(present, ", ");
  if (!missing.empty()) out += "; not installed: " + join(missing, ", ");
  return out;
}

}  // namespace

namespace {

// `extra`: lines placed before the marker line, which stays last.
std::string env_settings_text(const Decision& decision, const fs::path& decision_file, const std::string& extra) {
  const std::string mechanism(to_string(decision.mechanism));
  std::ostringstream out;
  out << "# comfyui-attention-autotune " AUTOTUNE_VERSION ", " << utc_timestamp() << "\n"
      << "# Source this file before starting ComfyUI; pass $COMFYUI_ATTENTION_ARGS to main.py.\n"
      << "export COMFYUI_ATTENTION_MECHANISM=" << mechanism << "\n"
      << "export COMFYUI_ATTENTION_ARGS=" << shell_quote(join(comfyui_args(decision.mechanism), " ")) << "\n"
      << "export COMFYUI_ATTENTION_SOURCE=" << to_string(decision.source) << "\n"
      << "export COMFYUI_ATTENTION_REASON=" << shell_quote(decision.reason) << "\n"
      << "export COMFYUI_ATTENTION_DECISION=" << shell_quote(decision_file.string()) << "\n"
      << extra
      // Lets the next `autotune` tell our own earlier output from a user's override.
      << "export AUTOTUNE_WRITTEN_MECHANISM=" << mechanism << "\n";
  return out.str();
}

nlohmann::json decision_document(const BootResult& r, const GpuInfo* g, const Decision& decision) {
  nlohmann::json gpu = nullptr;
  if (g) {
    gpu = {{"index", g->index},
           {"name", g->name},
           {"uuid", g->uuid},
           {"compute_capability", g->compute_capability()},
           {"memory_mib", g->memory_mib},
           {"sm_count", g->sm_count},
           {"driver", g->driver_version},
           {"simulated", g->simulated}};
  }
  return {{"schema", 1},
          {"tool_version", AUTOTUNE_VERSION},
          {"decided_at", utc_timestamp()},
          {"mechanism", std::string(to_string(decision.mechanism))},
          {"comfyui_args", comfyui_args(decision.mechanism)},
          {"source", std::string(to_string(decision.source))},
          {"reason", decision.reason},
          {"gpu", gpu},
          {"environment",
           {{"venv", r.env.venv.string()},
            {"python", r.env.python_version},
            {"torch", r.env.torch_version},
            {"torch_cuda", r.env.torch_cuda},
            {"packages", r.env.packages}}},
          {"comfyui_sdpa", r.env.comfyui_sdpa ? nlohmann::json(*r.env.comfyui_sdpa) : nlohmann::json(comfyui_a125cd84_sdpa())},
          {"default_backend", decision.default_backend},
          {"routes", decision.routes},
          {"quality", decision.quality},
          {"warnings", r.warnings}};
}

}  // namespace

std::string render_env_settings(const BootResult& r, const fs::path& decision_file) {
  return env_settings_text(r.decision, decision_file, "");
}

std::string render_env_settings(const BootResult& r, const GpuDecision& one, const fs::path& decision_file) {
  const GpuInfo& g = r.detection.gpus.at(one.position);
  return env_settings_text(one.decision, decision_file,
                           "export COMFYUI_ATTENTION_GPU_INDEX=" + std::to_string(g.index) + "\n" +
                               "export COMFYUI_ATTENTION_GPU_UUID=" + shell_quote(g.uuid) + "\n");
}

nlohmann::json decision_json(const BootResult& r) { return decision_document(r, r.gpu(), r.decision); }

nlohmann::json decision_json(const BootResult& r, const GpuDecision& one) {
  return decision_document(r, &r.detection.gpus.at(one.position), one.decision);
}

std::string render_summary(const BootResult& r) {
  std::ostringstream out;
  const auto line = [&out](const char* label, const std::string& value) {
    out << "  " << label << std::string(20 - std::strlen(label), ' ') << value << "\n";
  };
  out << "================ GPU Configuration Summary ================\n";
  if (const GpuInfo* g = r.gpu()) {
    std::string gpu = g->name + " (index " + std::to_string(g->index) + ", " + std::to_string(g->memory_mib) + " MiB";
    if (g->sm_count) gpu += ", " + std::to_string(g->sm_count) + " SMs";
    if (g->mig_enabled) gpu += ", MIG on";
    gpu += g->simulated ? ", simulated)" : ")";
    line("GPU:", gpu);
    if (r.detection.gpus.size() > 1) line("Visible GPUs:", std::to_string(r.detection.gpus.size()));
    line("Architecture:", r.architecture + ", compute capability " + g->compute_capability());
    line("Driver:", g->driver_version + (g->cuda_driver_version.empty() ? "" : " (CUDA " + g->cuda_driver_version + ")"));
  } else {
    line("GPU:", r.detection.message);
  }
  line("Torch:", r.env.torch_version.empty()
                     ? std::string("not found in ") + r.env.venv.string()
                     : r.env.torch_version + (r.env.torch_cuda.empty() ? "" : ", CUDA " + r.env.torch_cuda) +
                           ", Python " + r.env.python_version);
  line("Backends:", installed_backends(r.env));
  line("Selected Mechanism:", std::string(to_string(r.decision.mechanism)));
  line("ComfyUI arguments:", join(comfyui_args(r.decision.mechanism), " "));
  line("Decided by:", std::string(to_string(r.decision.source)) + ": " + r.decision.reason);
  if (!r.decision.routes.empty()) line("Per-shape routes:", std::to_string(r.decision.routes.size()) + " (custom node)");
  // One ComfyUI per GPU: each GPU's own mechanism, and whose tuning it shares.
  if (r.per_gpu.size() > 1) {
    for (const auto& one : r.per_gpu) {
      const GpuInfo& g = r.detection.gpus.at(one.position);
      std::string value = std::string(to_string(one.decision.mechanism)) + " (" + g.name;
      const std::size_t first = r.groups.at(one.group).members.front();
      if (first != one.position) {
        value += ", same model as GPU " + std::to_string(r.detection.gpus.at(first).index) + ")";
      } else {
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.1f s", one.decide_ms / 1000);
        value += ", " + std::string(to_string(one.decision.source)) + " in " + ms + ")";
      }
      const std::string label = "GPU " + std::to_string(g.index) + " mechanism:";
      line(label.c_str(), value);
    }
  }
  for (const auto& warning : r.warnings) line("Warning:", warning);
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f ms", r.elapsed_ms);
  line("Boot time:", ms);
  out << "===========================================================\n";
  return out.str();
}

void write_outputs(const BootOptions& o, BootResult& r) {
  namespace fs = std::filesystem;
  const fs::path settings = env_settings_path(o);
  const fs::path decision = decision_file_path(o);
  if (auto e = atomic_write(decision, decision_json(r).dump(2) + "\n")) r.warnings.push_back(*e);
  else r.written.push_back(decision);
  if (auto e = atomic_write(settings, render_env_settings(r, decision))) r.warnings.push_back(*e);
  else r.written.push_back(settings);
  // One ComfyUI per GPU: each instance sources its own GPU's files (multi_gpu.h names them).
  if (r.per_gpu.size() > 1) {
    for (const auto& one : r.per_gpu) {
      const int index = r.detection.gpus[one.position].index;
      const fs::path one_decision = per_gpu_decision_path(decision, index);
      const fs::path one_settings = per_gpu_env_settings_path(settings, index);
      if (auto e = atomic_write(one_decision, decision_json(r, one).dump(2) + "\n")) r.warnings.push_back(*e);
      else r.written.push_back(one_decision);
      if (auto e = atomic_write(one_settings, render_env_settings(r, one, one_decision))) r.warnings.push_back(*e);
      else r.written.push_back(one_settings);
    }
  }
}

}  // namespace autotune
