// The selection policy on synthetic numbers, several taken from DESIGN.md's H100 table.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/policy.h"

namespace autotune {
namespace {

Workload shape(const std::string& id, int calls) {
  Workload w;
  w.id = id;
  w.batch = 1;
  w.heads = 24;
  w.head_dim = 128;
  w.q_len = w.kv_len = 4352;
  w.calls_per_step = calls;
  return w;
}

Measurement ok(const std::string& backend, const std::string& id, double ms) {
  Measurement m;
  m.backend = backend;
  m.shape = id;
  m.status = Status::ok;
  m.median_ms = ms;
  return m;
}

// An ok measurement with its host time per call (GPU ms, host ms).
Measurement ok_host(const std::string& backend, const std::string& id, double gpu, double host) {
  Measurement m = ok(backend, id, gpu);
  m.host_ms = host;
  return m;
}

Measurement bad(const std::string& backend, const std::string& id, Status s) {
  Measurement m = ok(backend, id, 0);
  m.status = s;
  m.reason = "because";
  return m;
}

const MechanismCost* cost_of(const PolicyResult& r, Mechanism m) {
  for (const auto& c : r.costs)
    if (c.mechanism == m) return &c;
  return nullptr;
}

// DESIGN.md, H100: Flux (1, 24, 4352, 128) FA3 0.361, Sage 0.506, cuDNN 0.397, ComfyUI's PyTorch
// path 0.427; SDXL (2, 10, 4096, 64) FA3 0.198, Sage 0.277, cuDNN 0.189, ComfyUI's path 0.187.
TEST(Policy, PicksFa3ForFluxAndRoutesTheKernelThatWinsEachShape) {
  const std::vector<Workload> w{shape("flux", 57)};
  const std::vector<Measurement> m{ok("sdpa_comfy", "flux", 0.427), ok("sdpa_cudnn", "flux", 0.397),
                                   ok("flash3", "flux", 0.361), ok("sage", "flux", 0.506)};
  const PolicyResult r = choose(w, m, {});
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(r.decision->mechanism, Mechanism::flash3);
  EXPECT_EQ(r.decision->default_backend, "flash3");
  ASSERT_EQ(r.decision->routes.size(), 1u);
  EXPECT_EQ(r.decision->routes[0].backend, "flash3");
  EXPECT_DOUBLE_EQ(cost_of(r, Mechanism::flash3)->step_ms, 57 * 0.361);
  EXPECT_EQ(r.costs.front().mechanism, Mechanism::flash3);  // cheapest first
}

TEST(Policy, PicksComfyUisPathForSdxlWhereFa3IsSlower) {
  const std::vector<Workload> w{shape("sdxl", 10)};
  const std::vector<Measurement> m{ok("sdpa_comfy", "sdxl", 0.187), ok("sdpa_cudnn", "sdxl", 0.189),
                                   ok("flash3", "sdxl", 0.198), ok("sage", "sdxl", 0.277)};
  const PolicyResult r = choose(w, m, {});
  ASSERT_TRUE(r.decision);
  EXPECT_EQ(r.decision->mechanism, Mechanism::pytorch);
  EXPECT_EQ(r.decision->default_backend, "sdpa_comfy");
}

TEST(Policy, WeighsShapesByCallsPerStep) {
  // sage wins the big shape, loses the frequent small one: 1 x 143 + 100 x 0.3 = 173 against
  // 1 x 205 + 100 x 0.02 = 207 -> sage; with 1000 small calls pytorch wins (443 vs 225).
  std::vector<Workload> w{shape("wan", 1), shape("small", 100)};
  const std::vector<Measurement> m{ok("sdpa_comfy", "wan", 205), ok("sage", "wan", 143),
                                   ok("sdpa_comfy", "small", 0.02), ok("sage", "small", 0.3)};
  EXPECT_EQ(choose(w, m, {}).decision->mechanism, Mechanism::sage);
  w[1].calls_per_step = 1000;
  EXPECT_EQ(choose(w, m, {}).decision->mechanism, Mechanism::pytorch);
}

TEST(Policy, AShapeABackendCannotRunCostsTheFallbacksTime) {
  const std::vector<Workload> w{shape("a", 1), shape("b", 1)};
  const std::vector<Measurement> m{ok("sdpa_comfy", "a", 1.0), ok("sdpa_comfy", "b", 1.0), ok("sage", "a", 0.5),
                                   bad("sage", "b", Status::unsupported)};
  const PolicyResult r = choose(w, m, {});
  const MechanismCost* sage = cost_of(r, Mechanism::sage);
  ASSERT_NE(sage, nullptr);
  EXPECT_TRUE(sage->eligible);
  EXPECT_DOUBLE_EQ(sage->step_ms, 1.5);
  EXPECT_EQ(sage->fallback_shapes, 1);
  EXPECT_EQ(r.decision->mechanism, Mechanism::sage);
  // The route for b goes to what really runs there.
  EXPECT_EQ(r.decision->routes[1].backend, "sdpa_comfy");
}

TEST(Policy, NumericallyRejectedCrashedOrHungBackendsAreNotEligible) {
  for (Status s : {Status::rejected, Status::crashed, Status::timeout}) {
    const std::vector<Workload> w{shape("a", 1), shape("b", 1)};
    const std::vector<Measurement> m{ok("sdpa_comfy", "a", 1.0), ok("sdpa_comfy", "b", 1.0), ok("sage", "a", 0.1),
                                     bad("sage", "b", s)};
    const PolicyResult r = choose(w, m, {});
    EXPECT_EQ(r.decision->mechanism, Mechanism::pytorch) << to_string(s);
    EXPECT_FALSE(cost_of(r, Mechanism::sage)->eligible);
    EXPECT_NE(cost_of(r, Mechanism::sage)->why_not.find(std::string(to_string(s)) + " at b"), std::string::npos);
    // Still routed where it ran cleanly.
    EXPECT_EQ(r.decision->routes[0].backend, "sage");
  }
}

TEST(Policy, TiesWithinNoiseResolveTheSameWayWhateverTheOrder) {
  const std::vector<Workload> w{shape("a", 1)};
  std::vector<Measurement> m{ok("sdpa_comfy", "a", 1.00), ok("flash3", "a", 0.985), ok("xformers", "a", 0.99),
                             ok("sdpa_cudnn", "a", 0.98)};
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(m.begin(), m.end(), rng);
    const PolicyResult r = choose(w, m, {});
    EXPECT_EQ(r.decision->mechanism, Mechanism::pytorch);  // 2% apart: ComfyUI's own flag
    // Per shape the node pins the kernel that ties with ComfyUI's path (see common/adapters.h, tie_rank).
    EXPECT_EQ(r.decision->routes[0].backend, "sdpa_cudnn");
  }
  PolicyOptions strict;
  strict.tie_tolerance = 0.001;
  EXPECT_EQ(choose(w, m, strict).decision->mechanism, Mechanism::flash3);
}

// A chain seen in a tune: flash2 1.00, flash3 1.029, cuDNN 1.058 ms. flash3 ties the fastest (2.9% <
// 3%), cuDNN does not (5.8%): the route is flash3 whatever the order the rows arrive in. Compared
// with the winner so far, cuDNN tied flash3 and, ranked first, took the route in some orders.
TEST(Policy, ATieIsWithinTheToleranceOfTheShapesFastestInEveryOrder) {
  const std::vector<Workload> w{shape("a", 1)};
  std::vector<Measurement> m{ok("flash2", "a", 1.00), ok("flash3", "a", 1.029), ok("sdpa_cudnn", "a", 1.058)};
  std::sort(m.begin(), m.end(), [](const Measurement& a, const Measurement& b) { return a.backend < b.backend; });
  int orders = 0;
  do {
    const PolicyResult r = choose(w, m, {});
    ASSERT_TRUE(r.decision);
    ASSERT_EQ(r.decision->routes.size(), 1u);
    EXPECT_EQ(r.decision->routes[0].backend, "flash3") << "order " << m[0].backend << ", " << m[1].backend << ", "
                                                       << m[2].backend;
    ++orders;
  } while (std::next_permutation(m.begin(), m.end(), [](const Measurement& a, const Measurement& b) {
    return a.backend < b.backend;
  }));
  EXPECT_EQ(orders, 6);
}

// The H200's SD1.5 4096-token self-attention: FA3 0.153 ms GPU with 0.321 ms of host
// time, cuDNN 0.158 ms and 0.039 ms. GPU time alone would route FA3; the step pays FA3's host
// time, so cuDNN wins the shape. Where the GPU is the slower, host time changes nothing.
TEST(Policy, AHostBoundCallCostsItsHostTime) {
  const std::vector<Workload> w{shape("sd15", 16), shape("flux", 57)};
  const std::vector<Measurement> m{ok_host("flash3", "sd15", 0.153, 0.321),
                                   ok_host("sdpa_cudnn", "sd15", 0.158, 0.039),
                                   ok_host("sdpa_comfy", "sd15", 0.158, 0.045),
                                   ok_host("flash3", "flux", 0.351, 0.30),
                                   ok_host("sdpa_cudnn", "flux", 0.402, 0.04),
                                   ok_host("sdpa_comfy", "flux", 0.402, 0.05)};
  EXPECT_DOUBLE_EQ(call_cost_ms(m[0]), 0.321);
  EXPECT_DOUBLE_EQ(call_cost_ms(m[3]), 0.351);
  const PolicyResult r = choose(w, m, {});
  ASSERT_TRUE(r.decision);
  ASSERT_EQ(r.decision->routes.size(), 2u);
  EXPECT_EQ(r.decision->routes[0].backend, "sdpa_cudnn");
  EXPECT_EQ(r.decision->routes[1].backend, "flash3");
  EXPECT_DOUBLE_EQ(cost_of(r, Mechanism::flash3)->step_ms, 16 * 0.321 + 57 * 0.351);
  EXPECT_DOUBLE_EQ(r.routed_step_ms, 16 * 0.158 + 57 * 0.351);
}

// Two cold tunes on the H200 (results/h200-2026-12-03-real-libs), SD1.5's 256-token
// self-attention (GPU ms, host ms): the same kernels' host times moved by up to 0.012 ms, and by
// cost alone the route went to sdpa_comfy in one run and sdpa_efficient in the other. Host-bound
// costs within host_jitter_ms tie, and both runs route to cuDNN.
TEST(Policy, HostBoundCostsWithinTheHostsJitterTie) {
  const std::vector<Workload> w{shape("sd15", 5)};
  auto m = [](const char* b, double gpu, double host) { return ok_host(b, "sd15", gpu, host); };
  const std::vector<Measurement> run1{m("sdpa_cudnn", 0.0104, 0.0331), m("sdpa_comfy", 0.0105, 0.021),
                                      m("sdpa_efficient", 0.0145, 0.0262), m("sdpa_flash", 0.0168, 0.0382)};
  const std::vector<Measurement> run2{m("sdpa_cudnn", 0.0105, 0.02), m("sdpa_comfy", 0.0105, 0.0205),
                                      m("sdpa_efficient", 0.0146, 0.0169), m("sdpa_flash", 0.0167, 0.0245)};
  for (const auto& run : {run1, run2}) {
    const PolicyResult r = choose(w, run, {});
    ASSERT_TRUE(r.decision);
    EXPECT_EQ(r.decision->routes[0].backend, "sdpa_cudnn");
  }
  PolicyOptions no_jitter;
  no_jitter.host_jitter_ms = 0;
  EXPECT_EQ(choose(w, run1, no_jitter).decision->routes[0].backend, "sdpa_comfy");
  EXPECT_EQ(choose(w, run2, no_jitter).decision->routes[0].backend, "sdpa_efficient");
  // A GPU-bound call gets no such allowance: 0.30 against 0.25 ms is no tie.
  const std::vector<Measurement> gpu_bound{m("sdpa_cudnn", 0.30, 0.03), m("flash3", 0.25, 0.17)};
  EXPECT_EQ(choose(w, gpu_bound, {}).decision->routes[0].backend, "flash3");
}

// Two cold tunes on the H200 (results/h200-2026-12-03-callH), Wan 1.3B's cross-attention (GPU
// ms, host ms): FA3 host-bound in both, cuDNN 0.0115 ms behind FA3's host time in the second.
// The fastest's host time is as uncertain as any other's: both route to cuDNN.
TEST(Policy, AHostBoundFastestTiesWithinTheHostsJitterToo) {
  const std::vector<Workload> w{shape("wan", 60)};
  auto m = [](const char* b, double gpu, double host) { return ok_host(b, "wan", gpu, host); };
  const std::vector<Measurement> run1{m("flash3", 0.1869, 0.2118), m("sdpa_cudnn", 0.2049, 0.0437)};
  const std::vector<Measurement> run2{m("flash3", 0.1903, 0.1914), m("sdpa_cudnn", 0.2029, 0.0487)};
  for (const auto& run : {run1, run2}) EXPECT_EQ(choose(w, run, {}).decision->routes[0].backend, "sdpa_cudnn");
  PolicyOptions no_jitter;
  no_jitter.host_jitter_ms = 0;
  EXPECT_EQ(choose(w, run2, no_jitter).decision->routes[0].backend, "flash3");
  // Not past the jitter: cuDNN 0.02 ms behind a host-bound FA3 is slower.
  const std::vector<Measurement> apart{m("flash3", 0.1903, 0.1914), m("sdpa_cudnn", 0.2114, 0.0487)};
  EXPECT_EQ(choose(w, apart, {}).decision->routes[0].backend, "flash3");
}

TEST(Policy, QuantizedBackendsCanBeExcluded) {
  const std::vector<Workload> w{shape("wan", 1)};
  const std::vector<Measurement> m{ok("sdpa_comfy", "wan", 205), ok("sage", "wan", 143)};
  PolicyOptions no_sage;
  no_sage.exclude_quantized = true;
  const PolicyResult r = choose(w, m, no_sage);
  EXPECT_EQ(r.decision->mechanism, Mechanism::pytorch);
  EXPECT_EQ(r.decision->routes[0].backend, "sdpa_comfy");
  EXPECT_EQ(cost_of(r, Mechanism::sage)->why_not, "quantized backends excluded");
}

TEST(Policy, NoDecisionWithoutAFullSetOfMeasurements) {
  const std::vector<Workload> w{shape("a", 1), shape("b", 1)};
  const PolicyResult r = choose(w, {ok("sdpa_comfy", "a", 1.0)}, {});
  EXPECT_FALSE(r.decision);
  EXPECT_NE(r.reason.find("not measured at b"), std::string::npos) << r.reason;
  EXPECT_FALSE(choose(w, {}, {}).decision);
}

TEST(Policy, ComfyUisDefaultIsXformersWhenItImports) {
  EXPECT_EQ(comfyui_default(true), Mechanism::xformers);
  EXPECT_EQ(comfyui_default(false), Mechanism::pytorch);
}

// The table fallback's input: a mechanism's own backend crashed, hung or gave wrong output.
TEST(Policy, BrokenMechanismsAreThoseWhoseOwnBackendCrashedHungOrWasRejected) {
  Measurement nan = bad("xformers", "sdxl", Status::rejected);
  nan.reason = "output has NaN or Inf";
  const std::vector<Measurement> ms{ok("flash3", "flux", 0.36), bad("flash3", "sdxl", Status::crashed),
                                    bad("flash2", "flux", Status::timeout), bad("flash2", "sdxl", Status::timeout),
                                    ok("xformers", "flux", 1.4), nan,
                                    bad("sage", "flux", Status::failed),  // ComfyUI falls back: not broken
                                    bad("sdpa_math", "flux", Status::crashed),  // not what pytorch runs
                                    ok("sdpa_comfy", "flux", 0.43)};
  const auto broken = broken_mechanisms(ms);
  EXPECT_EQ(broken, (std::map<Mechanism, std::string>{
                        {Mechanism::flash3, "measured crashed on 1 of 2 shapes (sdxl: because)"},
                        {Mechanism::flash2, "measured timeout on 2 of 2 shapes (flux: because)"},
                        {Mechanism::xformers, "measured rejected on 1 of 2 shapes (sdxl: output has NaN or Inf)"}}));
}

}  // namespace
TEST(Policy, ASignatureNamesWhatBesidesTheMeasurementsADecisionDependsOn) {
  PolicyOptions o;
  o.quality = Quality::exact;
  EXPECT_EQ(o.signature(), "quality=exact");
  EXPECT_TRUE(o.quantized_excluded());
  o.quality = Quality::fast;
  EXPECT_FALSE(o.quantized_excluded());
  EXPECT_EQ(o.signature(), "quality=fast budgets=*:0.04/0.08/30");
  o.exclude_quantized = true;  // --exclude-quantized decides as exact does
  EXPECT_EQ(o.signature(), "quality=exact");
  o.exclude_quantized = false;
  o.quality = Quality::balanced;
  o.budgets.families["wan"] = {0.05, 0.1, 30};
  EXPECT_EQ(o.signature(), "quality=balanced exact_steps=1 budgets=*:0.04/0.08/30,wan:0.05/0.1/30");
  const std::string before = o.signature();
  o.budgets.exact_steps = 2;
  EXPECT_NE(o.signature(), before);
  o.budgets.exact_steps = 1;
  o.budgets.families["wan"].balanced = 0.06;
  EXPECT_NE(o.signature(), before);
}

}  // namespace autotune
