#include "override.h"

#include "common/arch_table.h"
#include "common/text.h"

namespace autotune {

Override parse_override(const std::optional<std::string>& value,
                        const std::optional<std::string>& written_by_us, const Fingerprint& env,
                        const GpuInfo* gpu) {
  if (!value) return {};
  const std::string name = lower(trim(*value));
  if (name.empty() || name == "auto") return {};
  if (written_by_us && lower(trim(*written_by_us)) == name)
    return {std::nullopt, "COMFYUI_ATTENTION_MECHANISM=" + name +
                              " came from an earlier .env_settings (AUTOTUNE_WRITTEN_MECHANISM); deciding afresh"};
  const std::string prefix = "COMFYUI_ATTENTION_MECHANISM='" + *value + "': ";
  const auto mechanism = parse_mechanism(name);
  if (!mechanism)
    return {std::nullopt, prefix + "unknown mechanism (valid: " + mechanism_names("|") + "|auto); using auto"};
  const std::string package(required_package(*mechanism));
  if (!env.installed(package))
    return {std::nullopt, prefix + package + " is not installed in " + env.venv.string() + "; using auto"};
  if (gpu) {
    const std::string why = unsupported_reason(*mechanism, gpu->cc_major, gpu->cc_minor);
    if (!why.empty()) return {std::nullopt, prefix + why + "; using auto"};
  }
  return {mechanism, "override COMFYUI_ATTENTION_MECHANISM=" + name};
}

}  // namespace autotune
