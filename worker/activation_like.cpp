#include "worker/activation_like.h"

#include <algorithm>
#include <cmath>

namespace autotune::bench {

namespace {
// activation_like.h gives the sources and the errors these numbers produce.
constexpr double kQOutlierScale = 10;
constexpr double kKBiasMin = 10, kKBiasMax = 100;
}  // namespace

QKV make_activation_like(const Workload& w, at::ScalarType dtype, const at::Device& device) {
  const int64_t d = w.head_dim, h = w.heads;
  const int64_t n = std::min<int64_t>(std::max<int64_t>(2, d / 32), d / 2);
  // Per head and channel: Q's scale and K's bias, (H, D) float on the CPU.
  at::Tensor q_scale = at::ones({h, d}, at::kFloat);
  at::Tensor k_bias = at::zeros({h, d}, at::kFloat);
  auto qs = q_scale.accessor<float, 2>();
  auto kb = k_bias.accessor<float, 2>();
  for (int64_t head = 0; head < h; ++head) {
    const at::Tensor perm = at::randperm(d, at::TensorOptions().dtype(at::kLong));
    const at::Tensor signs = at::randint(0, 2, {n}, at::TensorOptions().dtype(at::kLong));
    const auto p = perm.accessor<int64_t, 1>();
    const auto sg = signs.accessor<int64_t, 1>();
    for (int64_t i = 0; i < n; ++i) {
      qs[head][p[i]] = static_cast<float>(kQOutlierScale);
      const double t = n == 1 ? 0 : static_cast<double>(i) / static_cast<double>(n - 1);
      const double bias = kKBiasMin * std::pow(kKBiasMax / kKBiasMin, t);
      kb[head][p[n + i]] = static_cast<float>(sg[i] ? bias : -bias);
    }
  }
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  auto shape = [&](int64_t len) -> std::vector<int64_t> {
    if (w.layout == Layout::bhld) return {w.batch, h, len, d};
    return {w.batch, len, h * d};
  };
  // Broadcast over batch and tokens: (1, H, 1, D) for (B, H, L, D); (1, 1, H*D) for (B, L, H*D).
  auto per_channel = [&](const at::Tensor& t) {
    at::Tensor x = t.to(device);
    return w.layout == Layout::bhld ? x.view({1, h, 1, d}) : x.view({1, 1, h * d});
  };
  QKV s;
  s.q = (at::randn(shape(w.q_len), f32) * per_channel(q_scale)).to(dtype);
  s.k = (at::randn(shape(w.kv_len), f32) + per_channel(k_bias)).to(dtype);
  s.v = at::randn(shape(w.kv_len), f32).to(dtype);
  return s;
}

}  // namespace autotune::bench
