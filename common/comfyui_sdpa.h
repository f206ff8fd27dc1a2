// What ComfyUI's PyTorch attention path runs: the SDPA kernel priority that the installed
// ComfyUI's comfy/ops.py sets around torch's scaled_dot_product_attention. It changed between
// versions (../shared/comfyui/README.md, Comfy-Org/ComfyUI's comfy/ops.py):
// - 2025 (a125cd84, the pinned copy): CUDNN, FLASH, EFFICIENT, MATH on CUDA, for every call;
// - some later versions: the same list on Windows only, torch's own order elsewhere;
// - 2026: FLASH, CUDNN, EFFICIENT, MATH, and torch's own order for q of under 1024 * 128
//   elements ("for small inputs cudnn attention seems slower").
// The worker times sdpa_comfy under this priority, the node's sdpa_comfy adapter runs it, and
// the report's "ComfyUI's default" is its cost. Pure parsing; the file is read by the caller.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace autotune {

struct ComfySdpa {
  // torch.nn.attention.SDPBackend member names in priority order ("CUDNN_ATTENTION", ...);
  // empty: torch's own order.
  std::vector<std::string> order;
  // Calls whose q has fewer elements than this run in torch's own order (0: none).
  std::int64_t min_elements = 0;
  std::string source;  // where this came from, for the log and the report

  // "CUDNN_ATTENTION>FLASH_ATTENTION>EFFICIENT_ATTENTION>MATH", with " below 131072: torch" when
  // min_elements is set; "torch" for torch's own order. Part of sdpa_comfy's cached version.
  std::string signature() const;
  bool operator==(const ComfySdpa& o) const { return order == o.order && min_elements == o.min_elements; }
};

// What the pinned ComfyUI (a125cd84) runs, which sdpa_comfy modelled before ComfyUI was read.
ComfySdpa comfyui_a125cd84_sdpa();

// Parses comfy/ops.py's text, as it runs on Linux. nullopt when the file sets no priority the
// parser recognises (the caller says so and keeps the assumption above).
std::optional<ComfySdpa> parse_comfyui_ops(std::string_view ops_py);

// Reads <comfyui>/comfy/ops.py; nullopt with `*why` set when it cannot.
std::optional<ComfySdpa> read_comfyui_sdpa(const std::string& comfyui_dir, std::string* why);

// The job's and the decision file's "comfyui_sdpa": {"order": [...], "min_elements": N}.
void to_json(nlohmann::json& j, const ComfySdpa& s);
// Throws std::invalid_argument naming the bad field (an unknown kernel name, a negative count).
void from_json(const nlohmann::json& j, ComfySdpa& s);

}  // namespace autotune
