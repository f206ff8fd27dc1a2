#include "worker/backend_registry.h"

#include <algorithm>
#include <stdexcept>

#include "common/adapters.h"

namespace autotune::bench {

// SageAttention's bound, on randn and on the activation-like set (harness.cpp): its kernels read
// 3.5e-2 to 4.1e-2 on randn and 5.3e-2 to 6.9e-2 on the activation-like set, default and full
// sets on the H200 (results/h200-2026-12-03-seen); 6e-2 rejected sageattn on HunyuanVideo and
// Wan 14B 720p, the video shapes it wins by 1.2x. A kernel that quantises K without smoothing it
// reads 0.37 there (tests/worker/test_worker.py), still 4.6x over.
constexpr double kSageTolerance = 8e-2;

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
    // The unfused fallbacks, against the best backend on every shape measured on Hopper: the
    // math kernel 7.2-33x, split 3.8-13x, quad 3.2-11x (H100, full set, 28 shapes:
    // results/h100-backends.csv); 9.3-33x, 3.8-14x and 3.3-12x (H200, default set,
    // results/h200-2026-12-03-seen/call3). They cannot win a shape there, and on the H200 they
    // took 3-4 s of a 23 s cold default-set tune (the math kernel's first calls on Wan 1.3B alone
    // 1.1 s) and 17 s of the full set's 98 s on its two largest shapes alone (split and quad on
    // HunyuanVideo and Wan 14B 720p, 0.7-1.5 s a call: first calls 13.1 s, samples 4.3 s; call2).
    // Not measured from sm90 on; older GPUs, unmeasured here, keep them.
    for (auto& b : v) b.outrun_from_sm = b.id == "sdpa_math" || b.id == "split" || b.id == "quad" ? 90 : 0;
    auto python = [&](std::string id, std::string module, std::string function, double tol, std::string what) {
      BackendInfo b;
      b.id = std::move(id);
      b.kind = BackendKind::python;
      b.module = std::move(module);
      b.function = std::move(function);
      b.kernel_layout = KernelLayout::blhd;
      b.tolerance = tol;
      b.quantized = is_quantized_adapter(b.id);  // common/adapters.h
      b.description = std::move(what);
      v.push_back(b);
    };
    python("flash2", "flash_attn", "flash_attn_func", 1e-2,
           "FlashAttention-2, flash_attn.flash_attn_func (ComfyUI --use-flash-attention)");
    python("flash3", "flash_attn_interface", "flash_attn_func", 1e-2,
           "FlashAttention-3, flash_attn_interface.flash_attn_func (Hopper)");
    python("sage", "sageattention", "sageattn", kSageTolerance,
           "SageAttention, sageattention.sageattn (8-bit; ComfyUI --use-sage-attention)");
    // SageAttention 2.2's kernels one by one, beside `sage` (its own dispatch by compute
    // capability): which is fastest and which is accurate enough differs by GPU and model, and a
    // kernel sageattn does not pick may be the one that works (ComfyUI #9184, #9773: the Triton
    // kernel sageattn picks on sm86 gives NaN, sageattn_qk_int8_pv_fp16_cuda does not). Each only
    // where its kernel is built: sageattention/core.py dispatches sm90 to the fp8 sm90 kernel,
    // sm89 and sm120/121 to the fp8 one, sm80/86 to fp16 ones. The qk_quant_gran variants
    // (per_thread, the kernels' default, or per_warp: coarser scales, fewer of them) and the fp8
    // kernel's pv_accum_dtype are separate ids, so that the node calls exactly what was timed;
    // comfyui_node/backends.py's SAGE_KERNELS holds the arguments of each id.
    // Where sageattn itself calls a kernel with the same arguments (sageattention 2.2's core.py:
    // sm80 fp16_cuda per_thread fp32; sm86 fp16_triton; sm89 fp8_cuda per_thread fp32+fp16;
    // sm90 fp8_cuda_sm90 per_thread fp32+fp32; sm120/121 fp8_cuda per_warp fp32+fp16), `sage`
    // measures it and the kernel's own id is not measured again (duplicate_gate).
    auto sage = [&](std::string id, std::string function, int min_sm, std::vector<int> only_sm,
                    std::vector<int> sageattn_on, std::string what) {
      python(std::move(id), "sageattention", std::move(function), kSageTolerance, std::move(what));
      v.back().min_sm = min_sm;
      v.back().only_sm = std::move(only_sm);
      v.back().variant_of = "sage";
      v.back().library_runs_it_on = std::move(sageattn_on);
    };
    sage("sage_fp8_sm90", "sageattn_qk_int8_pv_fp8_cuda_sm90", 0, {90}, {90},
         "SageAttention sageattn_qk_int8_pv_fp8_cuda_sm90, per_thread, PV fp32+fp32 (sm90; sageattn's pick there)");
    sage("sage_fp8_sm90_warp", "sageattn_qk_int8_pv_fp8_cuda_sm90", 0, {90}, {},
         "SageAttention sageattn_qk_int8_pv_fp8_cuda_sm90, per_warp, PV fp32+fp32 (sm90)");
    sage("sage_fp8", "sageattn_qk_int8_pv_fp8_cuda", 0, {89, 120, 121}, {89},
         "SageAttention sageattn_qk_int8_pv_fp8_cuda, per_thread, PV fp32+fp16 (sm89, sm120; sageattn's pick on sm89)");
    sage("sage_fp8_warp", "sageattn_qk_int8_pv_fp8_cuda", 0, {89, 120, 121}, {120, 121},
         "SageAttention sageattn_qk_int8_pv_fp8_cuda, per_warp, PV fp32+fp16 (sageattn's pick on sm120)");
    sage("sage_fp8_fp32acc", "sageattn_qk_int8_pv_fp8_cuda", 0, {89, 120, 121}, {},
         "SageAttention sageattn_qk_int8_pv_fp8_cuda, per_thread, PV fp32+fp32 (sm89, sm120)");
    sage("sage_fp16_cuda", "sageattn_qk_int8_pv_fp16_cuda", 80, {}, {80},
         "SageAttention sageattn_qk_int8_pv_fp16_cuda, per_thread, PV fp32 (sm80 and later; sageattn's pick on sm80)");
    sage("sage_fp16_cuda_warp", "sageattn_qk_int8_pv_fp16_cuda", 80, {}, {},
         "SageAttention sageattn_qk_int8_pv_fp16_cuda, per_warp, PV fp32 (sm80 and later)");
    // Not on sm89 and later, whose fp8 kernels are sageattn's own: on the H200 (2026-12-03) this
    // Triton kernel took 7.6 s to compile in the warm-up and 0.2-1.0 s on each new shape, and
    // the activation-like set rejected it on every default-set shape (6.3e-2 to 6.9e-2).
    sage("sage_fp16_triton", "sageattn_qk_int8_pv_fp16_triton", 0, {80, 86, 87}, {86},
         "SageAttention sageattn_qk_int8_pv_fp16_triton, per_block (sageattn's pick on sm86)");
    python("xformers", "xformers.ops", "memory_efficient_attention", 1e-2,
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

namespace {
// "9.0" -> 90; -1 where it is not major.minor.
int sm_number(std::string_view capability) {
  const auto dot = capability.find('.');
  if (dot == std::string_view::npos) return -1;
  try {
    return std::stoi(std::string(capability.substr(0, dot))) * 10 + std::stoi(std::string(capability.substr(dot + 1)));
  } catch (const std::exception&) {
    return -1;
  }
}
}  // namespace

std::string capability_gate(const BackendInfo& b, std::string_view capability) {
  if (capability.empty() || (b.min_sm == 0 && b.only_sm.empty())) return {};
  const int sm = sm_number(capability);
  if (sm < 0) return "compute capability '" + std::string(capability) + "' not understood (expected major.minor)";
  const auto name = [](int s) { return "sm" + std::to_string(s); };
  if (b.min_sm && sm < b.min_sm) return b.id + " needs " + name(b.min_sm) + " or later; this GPU is " + name(sm);
  if (!b.only_sm.empty() && std::find(b.only_sm.begin(), b.only_sm.end(), sm) == b.only_sm.end()) {
    std::string set;
    for (int s : b.only_sm) set += (set.empty() ? "" : ", ") + name(s);
    return b.id + " runs on " + set + " only; this GPU is " + name(sm);
  }
  return {};
}

// An unreadable capability passes the two gates below: capability_gate names it.
std::string duplicate_gate(const BackendInfo& b, std::string_view capability) {
  const int sm = sm_number(capability);
  const auto& on = b.library_runs_it_on;
  if (sm < 0 || std::find(on.begin(), on.end(), sm) == on.end()) return {};
  return b.id + " is what " + b.variant_of + " itself runs on sm" + std::to_string(sm) + ": measured as " + b.variant_of;
}

std::string outrun_gate(const BackendInfo& b, std::string_view capability) {
  const int sm = sm_number(capability);
  if (b.outrun_from_sm == 0 || sm < b.outrun_from_sm) return {};
  return b.id + " is a fallback that the fused kernels outrun 3-33x from sm" + std::to_string(b.outrun_from_sm) +
         " on (H100, H200): not measured on sm" + std::to_string(sm);
}

std::optional<BackendInfo> find_builtin(std::string_view id) {
  for (const auto& b : builtin_backends())
    if (b.id == id) return b;
  return std::nullopt;
}

}  // namespace autotune::bench
