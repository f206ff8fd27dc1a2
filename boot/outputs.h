// What the boot leaves behind: .env_settings for the shell, a JSON decision file for the ComfyUI
// node and scripts, and the summary block for the log.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/atomic_file.h"  // atomic_write
#include "boot/boot.h"

namespace autotune {

// Writes the decision file and .env_settings (and, with several GPUs, each GPU's pair) for a
// decided boot. Each path written goes to result.written; each failure is a warning in
// result.warnings, never an exception: ComfyUI starts with what could be written.
void write_outputs(const BootOptions& options, BootResult& result);

std::string render_env_settings(const BootResult& result, const std::filesystem::path& decision_file);
nlohmann::json decision_json(const BootResult& result);
// The summary lists each visible GPU's mechanism when there are several; its `Selected Mechanism:`
// line is the first visible GPU's, as with one.
std::string render_summary(const BootResult& result);

// One GPU's files on a pod with several (multi_gpu.h names them): the same content as above for
// that GPU and its decision. The env file also exports COMFYUI_ATTENTION_GPU_INDEX (nvidia-smi's
// number) and COMFYUI_ATTENTION_GPU_UUID, so a launch script can pin its ComfyUI by UUID.
std::string render_env_settings(const BootResult& result, const GpuDecision& gpu,
                                const std::filesystem::path& decision_file);
nlohmann::json decision_json(const BootResult& result, const GpuDecision& gpu);

}  // namespace autotune
