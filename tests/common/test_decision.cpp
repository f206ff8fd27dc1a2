#include "common/decision.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace autotune {
namespace {

TEST(Decision, SourceNames) {
  EXPECT_EQ(to_string(Source::cache), "cache");
  EXPECT_EQ(to_string(Source::tuning), "tuning");
  EXPECT_EQ(to_string(Source::table), "table");
  EXPECT_EQ(to_string(Source::override_), "override");
}

TEST(Decision, DefaultBackendOfPytorchIsComfyuisOwnPath) {
  EXPECT_EQ(default_backend_of(Mechanism::pytorch), "sdpa_comfy");
  EXPECT_EQ(default_backend_of(Mechanism::flash3), "flash3");
  EXPECT_EQ(default_backend_of(Mechanism::sage), "sage");
}

TEST(Decision, RouteJsonRoundTrip) {
  const Route in{"wan_720p", 1, 40, 128, 75600, 75600, "sage", 143.0};
  const nlohmann::json j = in;
  EXPECT_EQ(j.at("q_len"), 75600);
  const Route out = j.get<Route>();
  EXPECT_EQ(out.workload, in.workload);
  EXPECT_EQ(out.batch, 1);
  EXPECT_EQ(out.heads, 40);
  EXPECT_EQ(out.head_dim, 128);
  EXPECT_EQ(out.q_len, 75600);
  EXPECT_EQ(out.kv_len, 75600);
  EXPECT_EQ(out.backend, "sage");
  EXPECT_DOUBLE_EQ(out.median_ms, 143.0);
  EXPECT_THROW(nlohmann::json::parse(R"({"workload":"x"})").get<Route>(), nlohmann::json::exception);
}

}  // namespace
}  // namespace autotune
