#include "worker/order.h"

#include <gtest/gtest.h>

namespace autotune::bench {
namespace {

Workload shape(std::string id, int heads, std::int64_t len) {
  Workload w;
  w.id = std::move(id);
  w.heads = heads;
  w.head_dim = 64;
  w.q_len = w.kv_len = len;
  return w;
}

std::vector<std::string> ids(const std::vector<const Workload*>& ws) {
  std::vector<std::string> out;
  for (const auto* w : ws) out.push_back(w->id);
  return out;
}

TEST(Order, ShapesRunSmallestWorkFirstAndTiesKeepTheJobsOrder) {
  const std::vector<Workload> job{shape("video", 12, 32760), shape("image", 24, 4352), shape("cross", 12, 512),
                                  shape("same-as-cross", 12, 512), shape("unet", 10, 4096)};
  EXPECT_EQ(ids(smallest_first(job)),
            (std::vector<std::string>{"cross", "same-as-cross", "unet", "image", "video"}));
  EXPECT_TRUE(smallest_first({}).empty());
}

TEST(Order, BackendsRunFastestFirstOnThePreviousShapeAndUnmeasuredOnesLead) {
  const std::vector<std::string> backends{"sdpa_comfy", "sdpa_cudnn", "split", "quad", "flash3", "sage"};
  // Wan 14B 720p self-attention on the H200 (ms); flash3 and sage not measured there yet.
  const std::map<std::string, double> previous{{"sdpa_comfy", 207.4}, {"sdpa_cudnn", 206.7}, {"split", 957.0},
                                               {"quad", 752.9}};
  std::vector<std::string> got;
  for (const std::size_t i : race_order(backends, previous)) got.push_back(backends[i]);
  EXPECT_EQ(got, (std::vector<std::string>{"flash3", "sage", "sdpa_cudnn", "sdpa_comfy", "quad", "split"}));
}

TEST(Order, WithoutAPreviousShapeTheGivenOrderStays) {
  const std::vector<std::string> backends{"b", "a", "c"};
  EXPECT_EQ(race_order(backends, {}), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(Order, FastestMedianIsTheSmallestAndZeroForNone) {
  EXPECT_EQ(fastest_median({{"a", 3.0}, {"b", 1.5}, {"c", 2.0}}), 1.5);
  EXPECT_EQ(fastest_median({}), 0.0);
}

}  // namespace
}  // namespace autotune::bench
