#include "worker/native.h"

#include <unistd.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include <torch/version.h>

#ifdef AUTOTUNE_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

#include "worker/torch_gates.h"

namespace autotune::bench {

#define AUTOTUNE_TORCH_AT_LEAST(ma, mi) \
  (TORCH_VERSION_MAJOR > (ma) || (TORCH_VERSION_MAJOR == (ma) && TORCH_VERSION_MINOR >= (mi)))

static_assert(kSdpaMin.major == 2 && kSdpaMin.minor == 0, "keep the #if below in step");
static_assert(kCudnnSdpaMin.major == 2 && kCudnnSdpaMin.minor == 3, "keep the #if below in step");
static_assert(kSdpPriorityMin.major == 2 && kSdpPriorityMin.minor == 6, "keep the #if below in step");

struct SdpSelection::Saved {
  bool active = false;
  bool flash = true, efficient = true, math = true, cudnn = true;
#if AUTOTUNE_TORCH_AT_LEAST(2, 6)
  std::vector<int64_t> priority;
#endif
};

#if AUTOTUNE_TORCH_AT_LEAST(2, 6)
// A ComfySdpa kernel name (torch.nn.attention.SDPBackend's member names; from_json checked it).
at::SDPBackend sdp_backend(const std::string& name) {
  if (name == "CUDNN_ATTENTION") return at::SDPBackend::cudnn_attention;
  if (name == "FLASH_ATTENTION") return at::SDPBackend::flash_attention;
  if (name == "EFFICIENT_ATTENTION") return at::SDPBackend::efficient_attention;
  if (name == "MATH") return at::SDPBackend::math;
  throw std::invalid_argument("unknown SDPA kernel '" + name + "'");
}
#endif

SdpSelection::SdpSelection(const std::string& id, const ComfySdpa& comfy, std::int64_t q_elements)
    : saved_(std::make_unique<Saved>()) {
#if AUTOTUNE_TORCH_AT_LEAST(2, 0)
  if (id.rfind("sdpa_", 0) != 0) return;
  auto& ctx = at::globalContext();
  saved_->active = true;
  saved_->flash = ctx.userEnabledFlashSDP();
  saved_->efficient = ctx.userEnabledMemEfficientSDP();
  saved_->math = ctx.userEnabledMathSDP();
  const bool all = id == "sdpa_comfy";
  ctx.setSDPUseFlash(all || id == "sdpa_flash");
  ctx.setSDPUseMemEfficient(all || id == "sdpa_efficient");
  ctx.setSDPUseMath(all || id == "sdpa_math");
#if AUTOTUNE_TORCH_AT_LEAST(2, 3)
  saved_->cudnn = ctx.userEnabledCuDNNSDP();
  ctx.setSDPUseCuDNN(all || id == "sdpa_cudnn");
#endif
#if AUTOTUNE_TORCH_AT_LEAST(2, 6)
  for (auto b : ctx.sDPPriorityOrder()) saved_->priority.push_back(static_cast<int64_t>(b));
  if (all && !comfy.order.empty() && q_elements >= comfy.min_elements) {
    // ComfyUI: sdpa_kernel(SDPA_BACKEND_PRIORITY, set_priority=True). Like torch's Python
    // wrapper, the backends it does not name keep their relative order after these.
    std::vector<int64_t> order;
    for (const auto& name : comfy.order) order.push_back(static_cast<int64_t>(sdp_backend(name)));
    for (auto b : saved_->priority)
      if (std::find(order.begin(), order.end(), b) == order.end()) order.push_back(b);
    ctx.setSDPPriorityOrder(order);
  }
#endif
#else
  (void)id;
  (void)comfy;
  (void)q_elements;
#endif
}

SdpSelection::~SdpSelection() {
#if AUTOTUNE_TORCH_AT_LEAST(2, 0)
  if (!saved_->active) return;
  auto& ctx = at::globalContext();
  ctx.setSDPUseFlash(saved_->flash);
  ctx.setSDPUseMemEfficient(saved_->efficient);
  ctx.setSDPUseMath(saved_->math);
#if AUTOTUNE_TORCH_AT_LEAST(2, 3)
  ctx.setSDPUseCuDNN(saved_->cudnn);
#endif
#if AUTOTUNE_TORCH_AT_LEAST(2, 6)
  ctx.setSDPPriorityOrder(saved_->priority);
#endif
#endif
}

std::int64_t comfy_free_memory(const at::Device& device) {
#ifdef AUTOTUNE_WITH_CUDA
  if (device.is_cuda()) {
    size_t free_bytes = 0, total = 0;
    const cudaError_t err = cudaMemGetInfo(&free_bytes, &total);
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("cudaMemGetInfo: ") + cudaGetErrorString(err));
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    // index 0 = StatType::AGGREGATE
    const std::int64_t reserved = stats.reserved_bytes[0].current;
    const std::int64_t active = stats.active_bytes[0].current;
    return static_cast<std::int64_t>(free_bytes) + (reserved - active);
  }
#endif
  (void)device;
  return static_cast<std::int64_t>(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
}

namespace {

// (B, H, L, D) -> (B, Lq, H*D), ComfyUI's out.transpose(1, 2).reshape(b, -1, heads * dim_head).
at::Tensor bhld_to_flat(const at::Tensor& out) {
  const auto b = out.size(0), h = out.size(1), d = out.size(3);
  return out.transpose(1, 2).reshape({b, -1, h * d});
}

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#if AUTOTUNE_TORCH_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(q, k, v);
#else
  // 1.13: the math kernel is the only SDPA there (native_gate reports the fused ones missing).
  return std::get<0>(at::_scaled_dot_product_attention_math(q, k, v));
#endif
}

// ComfyUI attention_pytorch.
AttentionFn make_sdpa(const Workload& w) {
  const int64_t h = w.heads, d = w.head_dim;
  if (w.layout == Layout::bhld)
    return [](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
      return bhld_to_flat(sdpa(q, k, v));
    };
  return [h, d](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    const auto b = q.size(0);
    auto heads = [&](const at::Tensor& t) { return t.view({b, -1, h, d}).transpose(1, 2); };
    return bhld_to_flat(sdpa(heads(q), heads(k), heads(v)));
  };
}

// ComfyUI's q.unsqueeze(3).reshape(b, -1, heads, dim_head).permute(0, 2, 1, 3)
// .reshape(b * heads, -1, dim_head): (B*H, L, D), a copy for the flat layout.
at::Tensor to_bh_l_d(const at::Tensor& t, const Workload& w) {
  const auto b = t.size(0);
  if (w.layout == Layout::bhld) return t.reshape({b * w.heads, -1, w.head_dim});
  return t.reshape({b, -1, w.heads, w.head_dim}).permute({0, 2, 1, 3}).reshape({b * w.heads, -1, w.head_dim});
}

// (B*H, Lq, D) -> (B, Lq, H*D): r1.unsqueeze(0).reshape(b, heads, -1, dim_head)
// .permute(0, 2, 1, 3).reshape(b, -1, heads * dim_head).
at::Tensor bh_l_d_to_flat(const at::Tensor& r, int64_t b, const Workload& w) {
  return r.reshape({b, w.heads, -1, w.head_dim}).permute({0, 2, 1, 3}).reshape({b, -1, w.heads * w.head_dim});
}

// ComfyUI attention_split (comfy/ldm/modules/attention.py), bf16/fp16 without upcast (its
// default for those dtypes): score slices sized so that 3x the score tensor fits the free memory,
// "Not enough memory" above 64 slices.
AttentionFn make_split(const Workload& w) {
  return [w](const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) {
    const int64_t b = q_in.size(0);
    const double scale = 1.0 / std::sqrt(static_cast<double>(w.head_dim));
    at::Tensor q = to_bh_l_d(q_in, w).contiguous();
    at::Tensor k = to_bh_l_d(k_in, w).contiguous();
    at::Tensor v = to_bh_l_d(v_in, w).contiguous();
    at::Tensor r1 = at::zeros({q.size(0), q.size(1), v.size(2)}, q.options());
    const double mem_free = static_cast<double>(comfy_free_memory(q.device()));
    const double tensor_size = static_cast<double>(q.size(0)) * q.size(1) * k.size(1) * q.element_size();
    const double mem_required = tensor_size * 3;
    int64_t steps = 1;
    if (mem_required > mem_free) steps = static_cast<int64_t>(std::pow(2.0, std::ceil(std::log2(mem_required / mem_free))));
    if (steps > 64)
      throw std::runtime_error("Not enough memory, use lower resolution (split attention needs " +
                               std::to_string(mem_required / 64 / (1 << 30)) + " GB free per slice)");
    const int64_t lq = q.size(1);
    const int64_t slice = lq % steps == 0 ? lq / steps : lq;
    const at::Tensor kt = k.transpose(1, 2);
    for (int64_t i = 0; i < lq; i += slice) {
      const int64_t end = std::min(i + slice, lq);
      at::Tensor s1 = at::bmm(q.slice(1, i, end), kt) * scale;  // einsum('b i d, b j d -> b i j')
      at::Tensor s2 = s1.softmax(-1).to(v.scalar_type());
      s1.reset();
      r1.slice(1, i, end).copy_(at::bmm(s2, v));
    }
    return bh_l_d_to_flat(r1, b, w);
  };
}

// comfy/ldm/modules/sub_quadratic_attention.py, efficient_dot_product_attention, as ComfyUI's
// attention_sub_quad calls it (no upcast for bf16/fp16, use_checkpoint=False).
at::Tensor scores_no_kv_chunking(const at::Tensor& q, const at::Tensor& kt, const at::Tensor& v, double scale) {
  at::Tensor scores = at::baddbmm(at::empty({1, 1, 1}, q.options()), q, kt, /*beta=*/0, /*alpha=*/scale);
  at::Tensor probs = scores.softmax(-1);
  scores.reset();
  return at::bmm(probs.to(v.scalar_type()), v);
}

at::Tensor query_chunk_attention(const at::Tensor& q, const at::Tensor& kt, const at::Tensor& v,
                                 double scale, int64_t kv_chunk) {
  const int64_t k_tokens = kt.size(2);
  std::vector<at::Tensor> values, weights, maxes;
  for (int64_t c = 0; c < k_tokens; c += kv_chunk) {
    const at::Tensor key_chunk = kt.slice(2, c, c + kv_chunk);
    const at::Tensor value_chunk = v.slice(1, c, c + kv_chunk);
    at::Tensor w = at::baddbmm(at::empty({1, 1, 1}, q.options()), q, key_chunk, 0, scale);
    at::Tensor max_score = std::get<0>(at::max(w, -1, true));
    w -= max_score;
    at::exp_out(w, w);
    at::Tensor exp_w = w.to(value_chunk.scalar_type());
    values.push_back(at::bmm(exp_w, value_chunk));
    weights.push_back(exp_w.sum(-1));
    maxes.push_back(max_score.squeeze(-1));
  }
  at::Tensor chunk_values = at::stack(values), chunk_weights = at::stack(weights), chunk_max = at::stack(maxes);
  at::Tensor global_max = std::get<0>(at::max(chunk_max, 0, true));
  at::Tensor max_diffs = at::exp(chunk_max - global_max);
  chunk_values *= max_diffs.unsqueeze(-1);
  chunk_weights *= max_diffs;
  return chunk_values.sum(0) / chunk_weights.unsqueeze(-1).sum(0);
}

AttentionFn make_quad(const Workload& w) {
  return [w](const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in) {
    const int64_t b = q_in.size(0);
    const at::Tensor q = to_bh_l_d(q_in, w);
    const at::Tensor v = to_bh_l_d(v_in, w);
    at::Tensor kt;  // (B*H, D, Lk): key.permute(0, 2, 3, 1).reshape(b * heads, dim_head, -1)
    if (w.layout == Layout::bhld)
      kt = k_in.reshape({b * w.heads, -1, w.head_dim}).transpose(1, 2);
    else
      kt = k_in.reshape({b, -1, w.heads, w.head_dim}).permute({0, 2, 3, 1}).reshape({b * w.heads, w.head_dim, -1});
    const int64_t bh = q.size(0), q_tokens = q.size(1), k_tokens = kt.size(2);
    const double bytes_per_token = static_cast<double>(q.element_size());
    const double mem_free = static_cast<double>(comfy_free_memory(q.device()));
    int64_t query_chunk = 0, kv_chunk = 0;
    for (int64_t x : {4096, 2048, 1024, 512, 256}) {
      if (mem_free / (bh * bytes_per_token * x * 4.0) >= static_cast<double>(k_tokens)) {
        kv_chunk = k_tokens;
        query_chunk = x;
        break;
      }
    }
    if (query_chunk == 0) query_chunk = 512;
    if (kv_chunk == 0) kv_chunk = static_cast<int64_t>(std::sqrt(static_cast<double>(k_tokens)));
    kv_chunk = std::min(kv_chunk, k_tokens);
    const double scale = 1.0 / std::sqrt(static_cast<double>(w.head_dim));
    auto chunk_attn = [&](const at::Tensor& qc) {
      return k_tokens <= kv_chunk ? scores_no_kv_chunking(qc, kt, v, scale)
                                  : query_chunk_attention(qc, kt, v, scale, kv_chunk);
    };
    at::Tensor hidden;
    if (q_tokens <= query_chunk) {
      hidden = chunk_attn(q);
    } else {
      std::vector<at::Tensor> parts;
      for (int64_t i = 0; i < q_tokens; i += query_chunk) parts.push_back(chunk_attn(q.slice(1, i, i + query_chunk)));
      hidden = at::cat(parts, 1);
    }
    hidden = hidden.to(q_in.scalar_type());
    // hidden_states.unflatten(0, (-1, heads)).transpose(1, 2).flatten(start_dim=2)
    return hidden.view({b, w.heads, q_tokens, w.head_dim}).transpose(1, 2).flatten(2);
  };
}

}  // namespace

AttentionFn make_native(const std::string& id, const Workload& w) {
  if (id.rfind("sdpa_", 0) == 0) return make_sdpa(w);
  if (id == "split") return make_split(w);
  if (id == "quad") return make_quad(w);
  throw std::invalid_argument("not a native backend: '" + id + "'");
}

at::Tensor output_to_bhld(const at::Tensor& out, const Workload& w) {
  return out.view({out.size(0), out.size(1), w.heads, w.head_dim}).transpose(1, 2);
}

at::Tensor input_to_bhld(const at::Tensor& t, const Workload& w) {
  if (w.layout == Layout::bhld) return t;
  return t.view({t.size(0), t.size(1), w.heads, w.head_dim}).transpose(1, 2);
}

}  // namespace autotune::bench
