// Which native adapters a LibTorch version can run at all. Pure and torch-free, so the test
// can check the gates for versions other than the one it is built with. native.cpp guards the
// API calls with the same numbers in #if (static_asserts there keep the two in step).
#pragma once

#include <string>
#include <string_view>

namespace autotune::bench {

struct TorchVersion {
  int major = 0, minor = 0;
  constexpr bool at_least(int ma, int mi) const { return major > ma || (major == ma && minor >= mi); }
};

// at::scaled_dot_product_attention and the per-kernel switches (setSDPUseFlash, ...): torch 2.0.
inline constexpr TorchVersion kSdpaMin{2, 0};
// The cuDNN SDPA kernel and setSDPUseCuDNN: torch 2.3 (conservative: it appeared as a prototype
// in 2.2).
inline constexpr TorchVersion kCudnnSdpaMin{2, 3};
// setSDPPriorityOrder, what sdpa_kernel(..., set_priority=True) calls: taken as 2.6. Below it
// sdpa_comfy runs with every kernel enabled in torch's own order, as ComfyUI does there.
inline constexpr TorchVersion kSdpPriorityMin{2, 6};

// Why the native adapter `id` cannot run with LibTorch `v` ("" when it can). split and quad are
// plain tensor ops and run everywhere; sdpa_math on 1.13 uses _scaled_dot_product_attention_math.
inline std::string native_gate(std::string_view id, TorchVersion v) {
  auto need = [&](TorchVersion min, const char* what) -> std::string {
    if (v.at_least(min.major, min.minor)) return "";
    return "LibTorch " + std::to_string(v.major) + "." + std::to_string(v.minor) + " has no " +
           what + " (needs >= " + std::to_string(min.major) + "." + std::to_string(min.minor) + ")";
  };
  if (id == "sdpa_cudnn") return need(kCudnnSdpaMin, "cuDNN SDPA kernel");
  if (id == "sdpa_comfy" || id == "sdpa_flash" || id == "sdpa_efficient")
    return need(kSdpaMin, "SDPA kernel selection");
  if (id == "sdpa_math") return need({1, 13}, "SDPA math kernel");
  return "";
}

}  // namespace autotune::bench
