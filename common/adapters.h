// The attention adapters, once: every id the worker times and the node runs, whether it is 8-bit,
// and its place in the policy's per-shape tie order. The worker's registry
// (worker/backend_registry.cpp) says how each one runs and lists exactly these ids
// (tests/worker/test_job.cpp); the node's adapters (comfyui_node/backends.py) list the same ids
// (tests/worker/test_worker.py). Pure and header-light, so the policy, the quality levels and the
// worker all read it.
#pragma once

#include <array>
#include <string_view>

namespace autotune {

struct Adapter {
  std::string_view id;
  bool quantized;  // 8-bit: the quality levels decide where it may run (common/quality.h)
  // Per-shape tie order (common/policy.cpp): the SDPA kernels the node pins, then ComfyUI's own
  // path, then the libraries, exact before quantized; the math kernel and the split and
  // sub-quadratic fallbacks last, and after them SageAttention's kernels one by one. A pinned
  // kernel before ComfyUI's path: the node runs a pinned kernel exactly as it was timed, while
  // what ComfyUI's path runs depends on the ComfyUI version and platform (common/comfyui_sdpa.h)
  // and on torch's state.
  int tie_rank;
};

inline constexpr int kKernelTieRank = 11;  // SageAttention's kernels one by one, and a job's own backends

inline constexpr std::array<Adapter, 19> kAdapters{{
    {"sdpa_cudnn", false, 0},
    {"sdpa_flash", false, 1},
    {"sdpa_efficient", false, 2},
    {"sdpa_comfy", false, 3},
    {"flash3", false, 4},
    {"flash2", false, 5},
    {"xformers", false, 6},
    {"sage", true, 7},
    {"split", false, 8},
    {"quad", false, 9},
    {"sdpa_math", false, 10},
    {"sage_fp8_sm90", true, kKernelTieRank},
    {"sage_fp8_sm90_warp", true, kKernelTieRank},
    {"sage_fp8", true, kKernelTieRank},
    {"sage_fp8_warp", true, kKernelTieRank},
    {"sage_fp8_fp32acc", true, kKernelTieRank},
    {"sage_fp16_cuda", true, kKernelTieRank},
    {"sage_fp16_cuda_warp", true, kKernelTieRank},
    {"sage_fp16_triton", true, kKernelTieRank},
}};

constexpr const Adapter* find_adapter(std::string_view id) {
  for (const auto& a : kAdapters)
    if (a.id == id) return &a;
  return nullptr;
}

// Unknown ids (a job's own backends, in tests and experiments) are exact and rank with the kernels.
constexpr bool is_quantized_adapter(std::string_view id) {
  const Adapter* a = find_adapter(id);
  return a != nullptr && a->quantized;
}

constexpr int adapter_tie_rank(std::string_view id) {
  const Adapter* a = find_adapter(id);
  return a != nullptr ? a->tie_rank : kKernelTieRank;
}

}  // namespace autotune
