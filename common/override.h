// COMFYUI_ATTENTION_MECHANISM: the user's override of the choice.
#pragma once

#include <optional>
#include <string>

#include "common/environment.h"
#include "common/gpu.h"
#include "common/mechanism.h"

namespace autotune {

struct Override {
  std::optional<Mechanism> mechanism;  // nullopt: auto
  std::string message;                 // why a given value was not honoured, or what was honoured
};

// Grammar: flash3|flash2|sage|xformers|pytorch|split|quad|auto, case-insensitive, trimmed;
// unset or empty means auto. An unknown value, a backend not installed in the venv, or one with
// no kernel for the GPU gives auto with a message naming the value and the valid ones: the
// override is never silently ignored.
//
// `written_by_us` is AUTOTUNE_WRITTEN_MECHANISM, which .env_settings exports beside
// COMFYUI_ATTENTION_MECHANISM: a shell that sourced our own earlier output carries both, equal,
// and that is our previous decision, not the user's override.
Override parse_override(const std::optional<std::string>& value,
                        const std::optional<std::string>& written_by_us, const Fingerprint& env,
                        const GpuInfo* gpu);

}  // namespace autotune
