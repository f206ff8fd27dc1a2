#include "worker/job.h"
#include "worker/torch_gates.h"
#include "common/adapters.h"

#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

namespace autotune::bench {
namespace {

nlohmann::json base() {
  return nlohmann::json::parse(R"({"protocol":1,"workloads":[{"id":"w","sets":["full"],"batch":1,"heads":2,
    "head_dim":8,"q_len":4,"kv_len":4,"layout":"bhld","calls_per_step":1}]})");
}

std::string error_of(const nlohmann::json& j) {
  try {
    parse_job(j);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Job, DefaultsToEveryBuiltinBackend) {
  const Job job = parse_job(base());
  ASSERT_EQ(job.backends.size(), builtin_backends().size());
  EXPECT_EQ(job.backends.front().id, "sdpa_comfy");
  EXPECT_EQ(job.dtype, DType::bf16);
  EXPECT_FALSE(job.cpu);
  EXPECT_DOUBLE_EQ(job.max_seconds_per_measurement, 2.0);
  EXPECT_DOUBLE_EQ(job.settle_ms, 100.0);  // what the H200 needed (MeasureOptions::settle_ms)
}

TEST(Job, SettleAndTurnAreReadAndBounded) {
  auto j = base();
  j["settle_ms"] = 0;
  EXPECT_DOUBLE_EQ(parse_job(j).settle_ms, 0.0);
  j["settle_ms"] = -5;
  EXPECT_NE(error_of(j).find("settle_ms -5"), std::string::npos) << error_of(j);
  j["settle_ms"] = 1001;
  EXPECT_NE(error_of(j).find("outside 0..1000"), std::string::npos);
  EXPECT_DOUBLE_EQ(parse_job(base()).turn_ms, 200.0);
  j = base();
  j["turn_ms"] = 0;  // one sample per turn
  EXPECT_DOUBLE_EQ(parse_job(j).turn_ms, 0.0);
  j["turn_ms"] = "long";
  EXPECT_FALSE(error_of(j).empty());
  j["turn_ms"] = 10001;
  EXPECT_NE(error_of(j).find("turn_ms 10001 outside 0..10000"), std::string::npos) << error_of(j);
}

TEST(Job, PromptMarkerAndItsBoundAreRead) {
  EXPECT_EQ(parse_job(base()).prompt_marker, "");  // no marker: the worker never waits
  EXPECT_DOUBLE_EQ(parse_job(base()).max_pause_s, 900.0);
  auto j = base();
  j["prompt_marker"] = "/workspace/venv/.attention_decision.busy";
  j["max_pause_s"] = 30;
  EXPECT_EQ(parse_job(j).prompt_marker, "/workspace/venv/.attention_decision.busy");
  EXPECT_DOUBLE_EQ(parse_job(j).max_pause_s, 30.0);
  j["max_pause_s"] = -1;
  EXPECT_NE(error_of(j).find("max_pause_s -1 outside 0..86400"), std::string::npos) << error_of(j);
  j["max_pause_s"] = 1;
  j["prompt_marker"] = 5;
  EXPECT_FALSE(error_of(j).empty());
}

TEST(Job, QueueDepthIsReadAndBounded) {
  EXPECT_EQ(parse_job(base()).queue_depth, 3);
  auto j = base();
  j["queue_depth"] = 1;  // one sample at a time
  EXPECT_EQ(parse_job(j).queue_depth, 1);
  j["queue_depth"] = 0;
  EXPECT_NE(error_of(j).find("queue_depth 0 outside 1..16"), std::string::npos) << error_of(j);
  j["queue_depth"] = 17;
  EXPECT_NE(error_of(j).find("queue_depth 17 outside 1..16"), std::string::npos) << error_of(j);
  j["queue_depth"] = 2.5;
  EXPECT_NE(error_of(j).find("queue_depth 2.5 is not an integer"), std::string::npos) << error_of(j);
}

TEST(Job, ComfyuisSdpaPriorityIsReadWithA125cd84sAsTheDefault) {
  EXPECT_EQ(parse_job(base()).comfyui_sdpa, comfyui_a125cd84_sdpa());
  auto j = base();
  j["comfyui_sdpa"] = {{"order", {"FLASH_ATTENTION", "CUDNN_ATTENTION"}}, {"min_elements", 131072}};
  const Job job = parse_job(j);
  EXPECT_EQ(job.comfyui_sdpa.order, (std::vector<std::string>{"FLASH_ATTENTION", "CUDNN_ATTENTION"}));
  EXPECT_EQ(job.comfyui_sdpa.min_elements, 131072);
  j["comfyui_sdpa"]["order"] = {"WARP"};
  EXPECT_NE(error_of(j).find("unknown kernel 'WARP'"), std::string::npos) << error_of(j);
}

TEST(Job, BackendsAndSkips) {
  auto j = base();
  j["backends"] = {"sage", "t_x"};
  j["python_backends"] = {{{"id", "t_x"}, {"module", "m"}, {"function", "f"}, {"layout", "bhld"}}};
  j["skip"] = {{{"backend", "sage"}, {"shape", "w"}}};
  const Job job = parse_job(j);
  ASSERT_EQ(job.backends.size(), 2u);
  EXPECT_EQ(job.backends[0].id, "sage");
  EXPECT_TRUE(job.backends[0].quantized);
  EXPECT_DOUBLE_EQ(job.backends[0].tolerance, 8e-2);
  EXPECT_EQ(job.backends[1].kernel_layout, KernelLayout::bhld);
  EXPECT_TRUE(job.skipped("sage", "w"));
  EXPECT_FALSE(job.skipped("sage", "other"));
}

TEST(Job, ErrorsNameTheValueAndTheValidSet) {
  auto j = base();
  j["backends"] = {"flash4"};
  const std::string e = error_of(j);
  EXPECT_NE(e.find("'flash4'"), std::string::npos) << e;
  EXPECT_NE(e.find(builtin_backend_names()), std::string::npos) << e;
  j = base();
  j["dtype"] = "fp8";
  EXPECT_NE(error_of(j).find("'fp8' (expected one of: bf16, fp16, fp32)"), std::string::npos);
  j = base();
  j["protocol"] = 2;
  EXPECT_NE(error_of(j).find("protocol 2"), std::string::npos);
  j = base();
  j["workloads"] = nlohmann::json::array();
  EXPECT_NE(error_of(j).find("workloads"), std::string::npos);
  j = base();
  j["python_backends"] = {{{"id", "sage"}, {"module", "m"}, {"function", "f"}}};
  EXPECT_NE(error_of(j).find("clashes with a built-in"), std::string::npos);
}

TEST(TorchGates, VersionGates) {
  EXPECT_EQ(native_gate("sdpa_cudnn", {2, 11}), "");
  EXPECT_EQ(native_gate("sdpa_cudnn", {2, 2}), "LibTorch 2.2 has no cuDNN SDPA kernel (needs >= 2.3)");
  EXPECT_NE(native_gate("sdpa_comfy", {1, 13}), "");
  EXPECT_EQ(native_gate("sdpa_comfy", {2, 0}), "");
  EXPECT_EQ(native_gate("sdpa_flash", {2, 0}), "");
  EXPECT_NE(native_gate("sdpa_efficient", {1, 13}), "");
  EXPECT_EQ(native_gate("sdpa_math", {1, 13}), "");
  EXPECT_EQ(native_gate("split", {1, 0}), "");
  EXPECT_EQ(native_gate("quad", {1, 0}), "");
  EXPECT_TRUE(kSdpPriorityMin.at_least(2, 6));
  EXPECT_FALSE((TorchVersion{2, 5}).at_least(kSdpPriorityMin.major, kSdpPriorityMin.minor));
}

TEST(Registry, SageKernelsOnlyWhereTheGpuHasThem) {
  const auto gate = [](const char* id, const char* cc) { return capability_gate(*find_builtin(id), cc); };
  EXPECT_EQ(gate("sage_fp8_sm90", "9.0"), "");
  EXPECT_EQ(gate("sage_fp8_sm90", "8.9"), "sage_fp8_sm90 runs on sm90 only; this GPU is sm89");
  EXPECT_EQ(gate("sage_fp8", "8.9"), "");
  EXPECT_EQ(gate("sage_fp8_warp", "12.0"), "");
  EXPECT_EQ(gate("sage_fp8", "9.0"), "sage_fp8 runs on sm89, sm120, sm121 only; this GPU is sm90");
  EXPECT_EQ(gate("sage_fp16_cuda", "8.0"), "");
  EXPECT_EQ(gate("sage_fp16_triton", "8.6"), "");
  EXPECT_EQ(gate("sage_fp16_triton", "9.0"), "sage_fp16_triton runs on sm80, sm86, sm87 only; this GPU is sm90");
  EXPECT_EQ(gate("sage_fp16_cuda", "7.5"), "sage_fp16_cuda needs sm80 or later; this GPU is sm75");
  EXPECT_EQ(gate("sage", "7.5"), "");  // sageattn's own dispatch raises where it has no kernel
  EXPECT_EQ(gate("sage_fp8_sm90", ""), "");  // the CPU: stand-ins run everywhere
  EXPECT_NE(gate("sage_fp8_sm90", "nine").find("not understood"), std::string::npos);
}

TEST(Registry, ListsExactlyTheAdaptersOfCommonAdaptersH) {
  std::set<std::string> registry, common;
  for (const auto& b : builtin_backends()) {
    registry.insert(b.id);
    EXPECT_EQ(b.quantized, is_quantized_adapter(b.id)) << b.id;
  }
  for (const auto& a : kAdapters) common.insert(std::string(a.id));
  EXPECT_EQ(registry, common);
  EXPECT_EQ(registry.size(), builtin_backends().size());  // no id twice
}

TEST(Registry, UnfusedFallbacksAreNotMeasuredFromSm90On) {
  const auto gate = [](const char* id, const char* cc) { return outrun_gate(*find_builtin(id), cc); };
  for (const char* id : {"sdpa_math", "split", "quad"}) {
    EXPECT_EQ(gate(id, "9.0"), std::string(id) + " is a fallback that the fused kernels outrun 3-33x from sm90 on "
                                                  "(H100, H200): not measured on sm90");
    EXPECT_NE(gate(id, "12.0"), "");
    EXPECT_EQ(gate(id, "8.9"), "");  // unmeasured below Hopper: kept
    EXPECT_EQ(gate(id, ""), "");     // the CPU
    EXPECT_EQ(gate(id, "nine"), "");  // capability_gate names it
  }
  for (const char* id : {"sdpa_comfy", "sdpa_cudnn", "sdpa_flash", "sdpa_efficient", "flash3", "sage"})
    EXPECT_EQ(gate(id, "9.0"), "") << id;
}

}  // namespace
}  // namespace autotune::bench
