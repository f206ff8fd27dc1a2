#include "multi_gpu.h"

#include "common/text.h"

namespace autotune {
namespace fs = std::filesystem;

bool GpuModel::operator==(const GpuModel& o) const {
  return name == o.name && cc_major == o.cc_major && cc_minor == o.cc_minor && sm_count == o.sm_count &&
         memory_mib == o.memory_mib && driver == o.driver;
}

std::string GpuModel::describe() const {
  std::string out = name + " (" + std::to_string(cc_major) + "." + std::to_string(cc_minor);
  if (sm_count) out += ", " + std::to_string(sm_count) + " SMs";
  return out + ", " + std::to_string(memory_mib) + " MiB)";
}

GpuModel model_of(const GpuInfo& g) {
  return {g.name, g.cc_major, g.cc_minor, g.sm_count, g.memory_mib, g.driver_version};
}

std::vector<GpuGroup> group_by_model(const std::vector<GpuInfo>& gpus) {
  std::vector<GpuGroup> groups;
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    const GpuModel model = model_of(gpus[i]);
    GpuGroup* group = nullptr;
    for (auto& g : groups)
      if (g.model == model) group = &g;
    if (!group) group = &groups.emplace_back(GpuGroup{model, {}});
    group->members.push_back(i);
  }
  return groups;
}

fs::path per_gpu_env_settings_path(const fs::path& env_settings, int nvml_index) {
  return env_settings.string() + ".gpu" + std::to_string(nvml_index);
}

fs::path per_gpu_decision_path(const fs::path& decision_file, int nvml_index) {
  const fs::path name = decision_file.filename();
  return decision_file.parent_path() /
         (name.stem().string() + ".gpu" + std::to_string(nvml_index) + name.extension().string());
}

std::string worker_pin(const GpuInfo& gpu) {
  if (gpu.simulated && (gpu.uuid.empty() || starts_with(gpu.uuid, kSimulatedUuidPrefix))) return {};
  return gpu.uuid;
}

}  // namespace autotune
