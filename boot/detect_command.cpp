#include "detect_command.h"

#include <nlohmann/json.hpp>

#include "boot/exit_codes.h"

namespace autotune {

namespace {

nlohmann::json gpu_json(const GpuInfo& g) {
  return {{"index", g.index},
    {"name", g.name},
    {"uuid", g.uuid},
    {"compute_capability", g.compute_capability()},
    {"sm_count", g.sm_count},
    {"memory_mib", g.memory_mib},
    {"driver", g.driver_version},
    {"cuda_driver", g.cuda_driver_version},
    {"mig_enabled", g.mig_enabled},
    {"simulated", g.simulated}};
}

}  // namespace

int detect_command(const BootOptions& o, bool json, std::ostream& out, std::ostream& err) {
  const auto detection = detect_gpus(o.detect);
  const auto fp = read_fingerprint(o.venv, o.comfyui);
  if (json) {
    nlohmann::json gpus = nlohmann::json::array();
    for (const auto& g : detection.gpus) gpus.push_back(gpu_json(g));
    out << nlohmann::json{{"gpus", gpus},
                          {"gpu_source", detection.source},
                          {"gpu_message", detection.message},
                          {"venv", fp.venv.string()},
                          {"site_packages", fp.site_packages.string()},
                          {"python", fp.python_version},
                          {"torch", fp.torch_version},
                          {"torch_cuda", fp.torch_cuda},
                          {"packages", fp.packages},
                          {"comfyui_sdpa", fp.comfyui_sdpa ? nlohmann::json(*fp.comfyui_sdpa) : nlohmann::json()},
                          {"warnings", fp.warnings}}
               .dump(2)
        << "\n";
    return kConfigured;
  }
  if (detection.gpus.empty()) out << detection.message << "\n";
  for (const auto& g : detection.gpus)
    out << "GPU " << g.index << ": " << g.name << ", compute " << g.compute_capability() << ", "
        << g.memory_mib << " MiB, " << (g.sm_count ? std::to_string(g.sm_count) + " SMs, " : "")
        << "driver " << g.driver_version << (g.simulated ? " (simulated)" : "") << "\n";
  out << "venv " << fp.venv.string() << ": Python " << fp.python_version << ", torch "
      << (fp.torch_version.empty() ? "not found" : fp.torch_version) << "\n";
  for (const auto& [name, version] : fp.packages) out << "  " << name << " " << version << "\n";
  if (fp.comfyui_sdpa) out << "ComfyUI's PyTorch attention: " << fp.comfyui_sdpa->signature() << " (" << fp.comfyui_sdpa->source << ")\n";
  for (const auto& w : fp.warnings) err << "warning: " << w << "\n";
  return kConfigured;
}

}  // namespace autotune
