#include "tuner/bench/backend_registry.h"

namespace autotune::bench {

const std::vector<BackendInfo>& builtin_backends() {
  static const std::vector<BackendInfo> all = [] {
    std::vector<BackendInfo> v;
    auto native = [&](std::string id, std::string what) {
      BackendInfo b;
      b.id = std::move(id);
      b.description = std::move(what);
      v.push_back(b);
    };
    native("sdpa_comfy",
           "scaled_dot_product_attention under the installed ComfyUI's kernel priority (job's comfyui_sdpa)");
    native("sdpa_cudnn", "scaled_dot_product_attention, cuDNN kernel only");
    native("sdpa_flash", "scaled_dot_product_attention, flash (vendored FA2) kernel only");
    native("sdpa_efficient", "scaled_dot_product_attention, memory-efficient (CUTLASS) kernel only");
    native("sdpa_math", "scaled_dot_product_attention, math kernel only");
    native("split", "ComfyUI's split attention (--use-split-cross-attention), in C++");
    native("quad", "ComfyUI's sub-quadratic attention (--use-quad-cross-attention), in C++");
    auto python = [&](std::string id, std::string module, std::string function, double tol,
                      bool quantized, std::string what) {
      BackendInfo b;
      b.id = std::move(id);
      b.kind = BackendKind::python;
      b.module = std::move(module);
      b.function = std::move(function);
      b.kernel_layout = KernelLayout::blhd;
      b.tolerance = tol;
      b.quantized = quantized;
      b.description = std::move(what);
      v.push_back(b);
    };
    python("flash2", "flash_attn", "flash_attn_func", 1e-2, false,
           "FlashAttention-2, flash_attn.flash_attn_func (ComfyUI --use-flash-attention)");
    python("flash3", "flash_attn_interface", "flash_attn_func", 1e-2, false,
           "FlashAttention-3, flash_attn_interface.flash_attn_func (Hopper)");
    python("sage", "sageattention", "sageattn", 6e-2, true,
           "SageAttention, sageattention.sageattn (8-bit; ComfyUI --use-sage-attention)");
    python("xformers", "xformers.ops", "memory_efficient_attention", 1e-2, false,
           "xformers.ops.memory_efficient_attention");
    return v;
  }();
  return all;
}

std::string builtin_backend_names() {
  std::string out;
  for (const auto& b : builtin_backends()) out += (out.empty() ? "" : ", ") + b.id;
  return out;
}

std::optional<BackendInfo> find_builtin(std::string_view id) {
  for (const auto& b : builtin_backends())
    if (b.id == id) return b;
  return std::nullopt;
}

}  // namespace autotune::bench
