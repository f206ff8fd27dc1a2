#include "common/quality.h"
#include "common/policy.h"

#include <gtest/gtest.h>

namespace autotune {
namespace {

Workload shape(const std::string& id, const std::string& family, int calls = 10) {
  Workload w;
  w.id = id;
  w.family = family;
  w.batch = 1;
  w.heads = 12;
  w.head_dim = 128;
  w.q_len = w.kv_len = 32760;
  w.calls_per_step = calls;
  return w;
}

Measurement row(const std::string& backend, const std::string& shape, double ms, double err) {
  Measurement m;
  m.backend = backend;
  m.shape = shape;
  m.status = Status::ok;
  m.median_ms = ms;
  m.rel_error = err;
  return m;
}

QualityBudgets budgets() {
  QualityBudgets b;
  parse_quality(R"({"workloads": [], "quality": {"family": "wan", "balanced": 0.05, "fast": 0.06, "steps": 30}})",
                "wan.json", b);
  parse_quality(R"({"workloads": [], "quality": {"family": "sdxl", "balanced": 0.03, "steps": 20}})", "sdxl.json", b);
  return b;
}

// Wan's self-attention: the 8-bit kernel 10% faster and within Wan's budget; SDXL's: faster too,
// but over SDXL's tighter budget.
const std::vector<Workload> kShapes{shape("wan-self", "wan"), shape("sdxl-self", "sdxl")};
const std::vector<Measurement> kRows{
    row("sdpa_comfy", "wan-self", 10, 2e-3),    row("flash3", "wan-self", 9.6, 2e-3),
    row("sage_fp8_sm90", "wan-self", 8.6, 4e-2), row("sdpa_comfy", "sdxl-self", 0.2, 2e-3),
    row("sage_fp8_sm90", "sdxl-self", 0.15, 4e-2)};

PolicyResult decide(Quality level) {
  PolicyOptions o;
  o.quality = level;
  o.budgets = budgets();
  return choose(kShapes, kRows, o);
}

std::string route_of(const PolicyResult& r, const std::string& id) {
  for (const auto& route : r.decision->routes)
    if (route.workload == id) return route.backend + (route.exact_backend.empty() ? "" : "/" + route.exact_backend);
  return "";
}

TEST(Quality, ExactNeverPicks8Bit) {
  const auto r = decide(Quality::exact);
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(route_of(r, "wan-self"), "flash3");
  EXPECT_EQ(route_of(r, "sdxl-self"), "sdpa_comfy");
  EXPECT_EQ(r.decision->quality.level, "exact");
  EXPECT_NE(r.decision->reason.find("quality exact: no 8-bit attention"), std::string::npos);
}

TEST(Quality, BalancedPicks8BitOnlyWithinTheFamilysBudgetAndRunsExactStepsExactly) {
  const auto r = decide(Quality::balanced);
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(route_of(r, "wan-self"), "sage_fp8_sm90/flash3");  // 4e-2 within Wan's 5e-2
  EXPECT_EQ(route_of(r, "sdxl-self"), "sdpa_comfy");           // 4e-2 over SDXL's 3e-2
  const QualityAccount& q = r.decision->quality;
  EXPECT_EQ(q.level, "balanced");
  EXPECT_EQ(q.exact_steps, 1);
  EXPECT_EQ(q.steps, 30);
  EXPECT_EQ(q.quantized_routes, 1);
  // Exact: 10 x 9.6 + 10 x 0.2 = 98 ms; 8-bit steps 10 x 8.6 + 2 = 88; 2 of 30 steps exact.
  EXPECT_NEAR(q.exact_step_ms, 98, 1e-9);
  EXPECT_NEAR(q.step_ms, (2 * 98 + 28 * 88) / 30.0, 1e-9);
  EXPECT_NEAR(r.routed_step_ms, q.step_ms, 1e-9);
  EXPECT_NE(r.decision->reason.find("exact on the first and last 1 of 30 steps"), std::string::npos) << r.decision->reason;
}

TEST(Quality, TheExactStepsCountSetsTheAccountAndTheRoutes) {
  // autotune --exact-steps / AUTOTUNE_EXACT_STEPS: 2 first and 2 last of Wan's 30 steps exact.
  PolicyOptions o;
  o.quality = Quality::balanced;
  o.budgets = budgets();
  o.budgets.exact_steps = 2;
  auto r = choose(kShapes, kRows, o);
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(route_of(r, "wan-self"), "sage_fp8_sm90/flash3");
  EXPECT_EQ(r.decision->quality.exact_steps, 2);
  EXPECT_NEAR(r.decision->quality.step_ms, (4 * 98 + 26 * 88) / 30.0, 1e-9);
  EXPECT_NE(r.decision->reason.find("exact on the first and last 2 of 30 steps"), std::string::npos) << r.decision->reason;
  // 0: 8-bit on every step, no exact backend for the node.
  o.budgets.exact_steps = 0;
  r = choose(kShapes, kRows, o);
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(route_of(r, "wan-self"), "sage_fp8_sm90");
  EXPECT_EQ(r.decision->quality.exact_steps, 0);
  EXPECT_NEAR(r.decision->quality.step_ms, 88, 1e-9);
}

TEST(Quality, FastPicks8BitWithinTheLooseBoundOnEveryStep) {
  const auto r = decide(Quality::fast);
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(route_of(r, "wan-self"), "sage_fp8_sm90");
  EXPECT_EQ(route_of(r, "sdxl-self"), "sage_fp8_sm90");  // 4e-2 within SDXL's fast 6e-2 (default)
  EXPECT_EQ(r.decision->quality.exact_steps, 0);
  EXPECT_NEAR(r.decision->quality.step_ms, 10 * 8.6 + 10 * 0.15, 1e-9);
}

TEST(Quality, ApplyQualityNamesTheBudget) {
  const auto rows = apply_quality(kShapes, kRows, Quality::balanced, budgets());
  ASSERT_EQ(rows.size(), kRows.size());
  EXPECT_EQ(rows[4].status, Status::rejected);
  EXPECT_EQ(rows[4].reason, "relative error 0.04 above the sdxl balanced budget 0.03");
  EXPECT_EQ(apply_quality(kShapes, kRows, Quality::exact, budgets()).size(), 3u);
}

TEST(Quality, ARecordedComfyUIModelClassFindsItsCatalogueFamily) {
  // The node records ComfyUI's model class (seen.py); `autotune tune --seen` tunes the shape
  // under that name. Without this, Wan 1.3B at 720p fell back to the default budget on the H200
  // and its self-attention went to FA3, not to Sage within Wan's budget.
  QualityBudgets b = budgets();
  b.fallback.balanced = 0.01;
  for (const std::string recorded : {"WAN21", "WAN22", "WanModel", "wan"}) EXPECT_DOUBLE_EQ(b.of(recorded).balanced, 0.05) << recorded;
  EXPECT_DOUBLE_EQ(b.of("SDXL").balanced, 0.03);
  EXPECT_DOUBLE_EQ(b.of("SDXLRefiner").balanced, 0.03);
  EXPECT_DOUBLE_EQ(b.of("BaseModel").balanced, 0.01);  // SD1.5's class names no family
  EXPECT_DOUBLE_EQ(b.of("").balanced, 0.01);
  EXPECT_DOUBLE_EQ(b.of("swan").balanced, 0.01);  // a prefix, not a substring
}

TEST(Quality, LevelsAndBudgetsAreValidated) {
  EXPECT_EQ(parse_quality("fast"), Quality::fast);
  try {
    parse_quality("quick");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "quality 'quick' unknown (expected one of: exact, balanced, fast)");
  }
  QualityBudgets b;
  EXPECT_THROW(parse_quality(R"({"quality": {"family": "x", "balanced": 2}})", "x.json", b), std::invalid_argument);
  EXPECT_THROW(parse_quality(R"({"quality": {"family": "x", "balanced": 0.07, "fast": 0.06}})", "x.json", b),
               std::invalid_argument);
  EXPECT_NEAR(step_aware_ms(10, 8, 30, 1), (20 + 28 * 8) / 30.0, 1e-12);
  EXPECT_EQ(step_aware_ms(10, 8, 2, 1), 10);
}

}  // namespace
}  // namespace autotune
