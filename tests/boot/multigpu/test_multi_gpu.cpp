// Pure parts of multi-GPU boot (boot/multi_gpu.h): grouping by model, per-GPU file names,
// which UUID a worker is pinned to. No files, no processes.
#include "boot/multi_gpu.h"

#include <gtest/gtest.h>

#include "cache/cache.h"

namespace autotune {
namespace {

const std::string kH100 = "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132";
const std::string kL40S = "name=NVIDIA L40S;cc=8.9;memory_mib=46068;driver=580.159.04;sms=142";

std::vector<std::vector<std::size_t>> members(const std::vector<GpuGroup>& groups) {
  std::vector<std::vector<std::size_t>> out;
  for (const auto& g : groups) out.push_back(g.members);
  return out;
}

TEST(GroupByModel, IdenticalGpusShareAGroupAndModelsSplit) {
  const auto gpus = parse_simulated_gpus(kH100 + ";uuid=GPU-a|" + kH100 + ";uuid=GPU-b|" + kL40S + ";uuid=GPU-c");
  const auto groups = group_by_model(gpus);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(members(groups), (std::vector<std::vector<std::size_t>>{{0, 1}, {2}}));
  EXPECT_EQ(groups[0].model.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(groups[1].model.describe(), "NVIDIA L40S (8.9, 142 SMs, 46068 MiB)");
}

TEST(GroupByModel, GroupsComeInOrderOfFirstAppearance) {
  // The first visible GPU is always in group 0: its decision is the one .env_settings gets.
  const auto groups = group_by_model(parse_simulated_gpus(kL40S + "|" + kH100 + "|" + kL40S + "|" + kH100));
  EXPECT_EQ(members(groups), (std::vector<std::vector<std::size_t>>{{0, 2}, {1, 3}}));
  EXPECT_EQ(groups[0].model.name, "NVIDIA L40S");
}

TEST(GroupByModel, EightGpusOfOneModelAreOneGroup) {
  std::string spec;
  for (int i = 0; i < 8; ++i) spec += (i ? "|" : "") + kH100;
  const auto groups = group_by_model(parse_simulated_gpus(spec));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].members.size(), 8u);
}

TEST(GroupByModel, NoGpusNoGroups) { EXPECT_TRUE(group_by_model({}).empty()); }

TEST(GroupByModel, SameGroupExactlyWhenSameCacheKey) {
  // Each variant changes one field. Index, UUID, MIG mode and the CUDA driver version are not in
  // the cache key, so they must not split a group; every field of the key must.
  const std::vector<std::string> variants = {
      kH100,
      kH100 + ";uuid=GPU-other",                                                   // same model
      kH100 + ";cuda=13.0",                                                        // same model
      "name=NVIDIA H100 PCIe;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132",   // name
      "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=114",  // SMs
      "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81000;driver=580.159.04;sms=132",  // memory (ECC)
      "name=NVIDIA H100 80GB HBM3;cc=9.1;memory_mib=81559;driver=580.159.04;sms=132",  // capability
      "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=575.57.08;sms=132",   // driver
  };
  std::string spec;
  for (const auto& v : variants) spec += (spec.empty() ? "" : "|") + v;
  auto gpus = parse_simulated_gpus(spec);
  gpus[2].mig_enabled = true;
  const auto groups = group_by_model(gpus);
  EXPECT_EQ(groups.size(), variants.size() - 2);
  std::vector<std::size_t> group_of(gpus.size());
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (auto m : groups[g].members) group_of[m] = g;
  const Fingerprint env;
  for (std::size_t i = 0; i < gpus.size(); ++i)
    for (std::size_t j = 0; j < gpus.size(); ++j) {
      const bool same_key = make_cache_key(gpus[i], env, "w", "h").canonical() ==
                            make_cache_key(gpus[j], env, "w", "h").canonical();
      EXPECT_EQ(group_of[i] == group_of[j], same_key) << "GPUs " << i << " and " << j;
    }
}

TEST(PerGpuPaths, EnvSettingsGetsASuffix) {
  EXPECT_EQ(per_gpu_env_settings_path("/workspace/venv/.env_settings", 3), "/workspace/venv/.env_settings.gpu3");
  EXPECT_EQ(per_gpu_env_settings_path("env", 0), "env.gpu0");
}

TEST(PerGpuPaths, DecisionFileKeepsItsExtension) {
  EXPECT_EQ(per_gpu_decision_path("/workspace/venv/.attention_decision.json", 7),
            "/workspace/venv/.attention_decision.gpu7.json");
  EXPECT_EQ(per_gpu_decision_path("out/decision.json", 1), "out/decision.gpu1.json");
  EXPECT_EQ(per_gpu_decision_path("out/decision", 1), "out/decision.gpu1");
  EXPECT_EQ(per_gpu_decision_path("decision.json", 12), "decision.gpu12.json");
}

TEST(WorkerPin, RealGpusArePinnedByUuid) {
  GpuInfo real;
  real.uuid = "GPU-8f2c0d6e";
  EXPECT_EQ(worker_pin(real), "GPU-8f2c0d6e");
}

TEST(WorkerPin, SimulatedGpusOnlyWhenTheSpecGivesAUuid) {
  const auto gpus = parse_simulated_gpus(kH100 + "|" + kH100 + ";uuid=GPU-b7e1");
  EXPECT_EQ(gpus[0].uuid, "GPU-simulated-0") << "gpu.cpp's placeholder changed: update kSimulatedUuidPrefix";
  EXPECT_EQ(worker_pin(gpus[0]), "") << "a placeholder matches no device; pinning would hide every GPU";
  EXPECT_EQ(worker_pin(gpus[1]), "GPU-b7e1");
}

}  // namespace
}  // namespace autotune
