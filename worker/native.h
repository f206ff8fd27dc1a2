// Native adapters: torch SDPA (ComfyUI's priority and each kernel alone) and ComfyUI's split and
// sub-quadratic attention re-implemented with the same tensor ops, each wrapped in the reshapes
// ComfyUI does for the workload's layout. Every call returns (B, Lq, H*D), as ComfyUI's do.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "common/comfyui_sdpa.h"
#include "common/workload.h"

namespace autotune::bench {

using AttentionFn = std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&)>;

// Sets the SDPA kernel switches (and priority) for one adapter for its lifetime, restoring the
// previous ones after. A no-op for split, quad, and torch versions without the switches.
// sdpa_comfy runs every kernel under `comfy`'s priority, or under torch's own order where it has
// none or the call's q has fewer than comfy.min_elements elements (`q_elements`).
class SdpSelection {
 public:
  SdpSelection(const std::string& backend_id, const ComfySdpa& comfy, std::int64_t q_elements);
  ~SdpSelection();
  SdpSelection(const SdpSelection&) = delete;
  SdpSelection& operator=(const SdpSelection&) = delete;

 private:
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

// Free memory the way ComfyUI's model_management.get_free_memory counts it: the device's free
// memory plus what torch's allocator holds but does not use (CPU: available physical memory).
std::int64_t comfy_free_memory(const at::Device& device);

// The call for a native adapter id (see backend_registry.cpp); throws std::invalid_argument for
// an unknown id.
AttentionFn make_native(const std::string& backend_id, const Workload& w);

// Converts the (B, Lq, H*D) output to (B, H, Lq, D) and an input in the workload's layout to
// (B, H, L, D), both as views.
at::Tensor output_to_bhld(const at::Tensor& out, const Workload& w);
at::Tensor input_to_bhld(const at::Tensor& t, const Workload& w);

}  // namespace autotune::bench
