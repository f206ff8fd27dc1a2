// Multi-GPU boot end to end with simulated GPUs: one tuning per model, models tuned at the same
// time with each worker pinned to its own GPU, per-GPU files, CUDA_VISIBLE_DEVICES honoured. The
// worker is tests/boot/tuning/fake_worker.py (through per_gpu_worker.py), so no GPU is needed.
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/boot/test_support.h"
#include "boot/boot.h"
#include "boot/outputs.h"
#include "boot/tuning.h"
#include "common/workload.h"

namespace autotune {
namespace {

using testing::contains;
using testing::kH100;
using testing::kVenvs;
using testing::read_file;
using testing::TempDir;
namespace fs = std::filesystem;

const std::string kL40S = "name=NVIDIA L40S;cc=8.9;memory_mib=46068;driver=580.159.04;sms=142";
// nvidia-smi order: two H100s, then an L40S.
const std::string kPod = kH100 + ";uuid=GPU-aaaa0000|" + kH100 + ";uuid=GPU-bbbb1111|" + kL40S + ";uuid=GPU-cccc2222";
const std::string kTwoH100 = kH100 + ";uuid=GPU-aaaa0000|" + kH100 + ";uuid=GPU-bbbb1111";
// flash3 wins on the H100s, ComfyUI's PyTorch path on the L40S.
const std::string kMsByGpu = "GPU-aaaa0000:sdpa_comfy=1.0,flash3=0.8;GPU-bbbb1111:sdpa_comfy=1.0,flash3=0.8;"
                             "GPU-cccc2222:sdpa_comfy=0.5,flash3=0.9";
const fs::path kWorkloads = fs::path(AUTOTUNE_FIXTURES) / "workloads/boot.json";

std::vector<nlohmann::json> json_lines(const fs::path& file) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string env_line(const fs::path& file, const std::string& name) {
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("export " + name + "=", 0) == 0) return line.substr(8 + name.size());
  return "<no " + name + ">";
}

class MultiGpuBoot : public ::testing::Test {
 protected:
  TempDir dir;
  BootOptions options;
  std::atomic<int> tunings{0};

  void SetUp() override {
    options.venv = kVenvs / "full";
    options.cache_path = dir / "local/cache.sqlite";
    options.env_settings = dir / "out/.env_settings";
    options.decision_file = dir / "out/decision.json";
    options.detect.simulate = kPod;
    options.workloads_version = "w1";
    options.harness_version = "h1";
    // The worker's environment: inherited from this process (tune() adds CUDA_VISIBLE_DEVICES).
    setenv("FAKE_WORKER_JOBS", (dir / "jobs.jsonl").c_str(), 1);
    setenv("MULTIGPU_TIMES", (dir / "times.jsonl").c_str(), 1);
    setenv("FAKE_WORKER_MS_BY_GPU", kMsByGpu.c_str(), 1);
    unsetenv("FAKE_WORKER_MODE");
    unsetenv("FAKE_WORKER_MS");
    // As main.cpp's tuner does: tune() with the worker pinned to the model's GPU.
    options.tuner = [this](const GpuInfo& gpu, const Fingerprint& env, Cache* cache, const CacheKey& key,
                           std::vector<std::string>& warnings) -> std::optional<Decision> {
      ++tunings;
      TuneOptions t;
      t.worker_argv = {PER_GPU_WORKER};
      t.workloads = load_workloads(kWorkloads.string(), "default");
      t.backends = {"sdpa_comfy", "flash3"};
      t.gpu_uuid = worker_pin(gpu);
      t.budget = std::chrono::seconds(60);
      auto outcome = tune(t, env, cache, key);
      if (!outcome.decision) warnings.push_back("tuning did not decide: " + outcome.reason);
      return outcome.decision;
    };
  }
  void TearDown() override {
    for (const char* name : {"FAKE_WORKER_JOBS", "MULTIGPU_TIMES", "FAKE_WORKER_MS_BY_GPU", "FAKE_WORKER_MODE"})
      unsetenv(name);
  }

  std::vector<nlohmann::json> jobs() const {
    return fs::exists(dir / "jobs.jsonl") ? json_lines(dir / "jobs.jsonl") : std::vector<nlohmann::json>{};
  }
  std::multiset<std::string> pins() const {
    std::multiset<std::string> out;
    for (const auto& j : jobs()) out.insert(j.value("_seen_cuda_visible_devices", "<unset>"));
    return out;
  }
  fs::path out(const std::string& name) const { return dir / "out" / name; }
};

TEST_F(MultiGpuBoot, TwoIdenticalGpusShareOneTuning) {
  options.detect.simulate = kTwoH100;
  const BootResult r = run_boot(options);
  EXPECT_EQ(tunings, 1);
  EXPECT_EQ(jobs().size(), 1u) << "one worker for one model";
  EXPECT_EQ(pins(), (std::multiset<std::string>{"GPU-aaaa0000"}));
  ASSERT_EQ(r.groups.size(), 1u);
  ASSERT_EQ(r.per_gpu.size(), 2u);
  EXPECT_EQ(r.decision.source, Source::tuning);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  for (const auto& one : r.per_gpu) EXPECT_EQ(one.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(env_line(out(".env_settings.gpu0"), "COMFYUI_ATTENTION_MECHANISM"), "flash3");
  EXPECT_EQ(env_line(out(".env_settings.gpu1"), "COMFYUI_ATTENTION_MECHANISM"), "flash3");
  EXPECT_EQ(env_line(out(".env_settings.gpu1"), "COMFYUI_ATTENTION_GPU_UUID"), "'GPU-bbbb1111'");
  // One key in the cache: the next boot is a hit for both GPUs and starts no worker.
  const BootResult again = run_boot(options);
  EXPECT_EQ(tunings, 1);
  EXPECT_EQ(jobs().size(), 1u);
  for (const auto& one : again.per_gpu) EXPECT_EQ(one.decision.source, Source::cache);
}

TEST_F(MultiGpuBoot, TwoModelsTuneAtTheSameTimeEachOnItsOwnGpu) {
  // 2 workloads x 2 backends at 0.3 s each: about 1.2 s per tuning, 2.4 s one after the other.
  setenv("FAKE_WORKER_MODE", "slow:0.3", 1);
  const BootResult r = run_boot(options);
  EXPECT_EQ(tunings, 2);
  EXPECT_EQ(pins(), (std::multiset<std::string>{"GPU-aaaa0000", "GPU-cccc2222"}))
      << "one worker per model, pinned to the model's first GPU";
  const auto times = json_lines(dir / "times.jsonl");
  ASSERT_EQ(times.size(), 2u);
  const double overlap = std::min(times[0]["end"].get<double>(), times[1]["end"].get<double>()) -
                         std::max(times[0]["start"].get<double>(), times[1]["start"].get<double>());
  // One after the other they would not overlap at all; together, each runs while the other does
  // (judged against the shorter run, so that a loaded machine's slower start does not matter).
  const double shorter = std::min(times[0]["end"].get<double>() - times[0]["start"].get<double>(),
                                  times[1]["end"].get<double>() - times[1]["start"].get<double>());
  EXPECT_GT(overlap, 0.5 * shorter) << "the shorter worker ran " << shorter << " s and they overlapped only "
                                    << overlap << " s";
  ASSERT_EQ(r.per_gpu.size(), 3u);
  EXPECT_EQ(r.per_gpu[0].decision.source, Source::tuning);
  EXPECT_EQ(r.per_gpu[2].decision.source, Source::tuning);
  EXPECT_GT(r.per_gpu[2].decide_ms, 1000);
}

TEST_F(MultiGpuBoot, EachGpuGetsItsOwnFilesWithItsOwnMechanism) {
  const BootResult r = run_boot(options);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(r.per_gpu[1].decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(r.per_gpu[2].decision.mechanism, Mechanism::pytorch);

  // The single-instance files: the first visible GPU's, exactly as with one GPU.
  EXPECT_EQ(env_line(out(".env_settings"), "COMFYUI_ATTENTION_MECHANISM"), "flash3");
  EXPECT_FALSE(contains(read_file(out(".env_settings")), "COMFYUI_ATTENTION_GPU_"));
  EXPECT_EQ(nlohmann::json::parse(read_file(out("decision.json"))).at("gpu").at("index"), 0);

  const std::vector<std::pair<int, std::string>> expected = {{0, "flash3"}, {1, "flash3"}, {2, "pytorch"}};
  for (const auto& [index, mechanism] : expected) {
    const std::string n = std::to_string(index);
    const fs::path settings = out(".env_settings.gpu" + n), decision = out("decision.gpu" + n + ".json");
    EXPECT_EQ(env_line(settings, "COMFYUI_ATTENTION_MECHANISM"), mechanism) << settings;
    EXPECT_EQ(env_line(settings, "AUTOTUNE_WRITTEN_MECHANISM"), mechanism) << settings;
    EXPECT_EQ(env_line(settings, "COMFYUI_ATTENTION_DECISION"), "'" + decision.string() + "'");
    EXPECT_EQ(env_line(settings, "COMFYUI_ATTENTION_GPU_INDEX"), n);
    const auto j = nlohmann::json::parse(read_file(decision));
    EXPECT_EQ(j.at("mechanism"), mechanism) << decision;
    EXPECT_EQ(j.at("gpu").at("index"), index);
    EXPECT_EQ(j.at("source"), "tuning");
  }
  EXPECT_EQ(nlohmann::json::parse(read_file(out("decision.gpu2.json"))).at("gpu").at("name"), "NVIDIA L40S");
  EXPECT_EQ(env_line(out(".env_settings.gpu2"), "COMFYUI_ATTENTION_ARGS"), "'--use-pytorch-cross-attention --disable-xformers'");
  EXPECT_EQ(r.written.size(), 2u + 2 * 3);

  const std::string summary = render_summary(r);
  EXPECT_TRUE(contains(summary, "  Selected Mechanism: flash3\n")) << summary;
  EXPECT_TRUE(contains(summary, "  GPU 0 mechanism:    flash3 (NVIDIA H100 80GB HBM3, tuning in ")) << summary;
  EXPECT_TRUE(contains(summary, "  GPU 1 mechanism:    flash3 (NVIDIA H100 80GB HBM3, same model as GPU 0)\n")) << summary;
  EXPECT_TRUE(contains(summary, "  GPU 2 mechanism:    pytorch (NVIDIA L40S, tuning in ")) << summary;
}

TEST_F(MultiGpuBoot, CudaVisibleDevicesSubsetIsHonoured) {
  // CUDA's order: the L40S first. Files are named by nvidia-smi's index; GPU 1 is not visible.
  options.detect.cuda_visible_devices = "2,0";
  const BootResult r = run_boot(options);
  EXPECT_EQ(pins(), (std::multiset<std::string>{"GPU-aaaa0000", "GPU-cccc2222"}));
  ASSERT_EQ(r.per_gpu.size(), 2u);
  EXPECT_EQ(r.decision.mechanism, Mechanism::pytorch) << "the first visible GPU is the L40S";
  EXPECT_EQ(env_line(out(".env_settings"), "COMFYUI_ATTENTION_MECHANISM"), "pytorch");
  EXPECT_EQ(env_line(out(".env_settings.gpu2"), "COMFYUI_ATTENTION_MECHANISM"), "pytorch");
  EXPECT_EQ(env_line(out(".env_settings.gpu0"), "COMFYUI_ATTENTION_MECHANISM"), "flash3");
  EXPECT_FALSE(fs::exists(out(".env_settings.gpu1")));
  EXPECT_FALSE(fs::exists(out("decision.gpu1.json")));
}

TEST_F(MultiGpuBoot, OneVisibleGpuWritesNoPerGpuFiles) {
  options.detect.cuda_visible_devices = "GPU-cccc";
  const BootResult r = run_boot(options);
  EXPECT_EQ(pins(), (std::multiset<std::string>{"GPU-cccc2222"}));
  EXPECT_EQ(r.written, (std::vector<fs::path>{out("decision.json"), out(".env_settings")}));
  EXPECT_EQ(testing::list_dir(dir / "out"), ".env_settings\ndecision.json\n");
  EXPECT_FALSE(contains(render_summary(r), "mechanism:")) << render_summary(r);
}

TEST_F(MultiGpuBoot, OverrideAppliesToEachGpuAsFarAsItCan) {
  // FA3 has no kernel on the L40S (8.9): that model warns and decides as without an override.
  options.override_value = "flash3";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.per_gpu[0].decision.source, Source::override_);
  EXPECT_EQ(r.per_gpu[1].decision.source, Source::override_);
  EXPECT_EQ(r.per_gpu[2].decision.source, Source::tuning);
  EXPECT_EQ(r.per_gpu[2].decision.mechanism, Mechanism::pytorch);
  EXPECT_EQ(pins(), (std::multiset<std::string>{"GPU-cccc2222"}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "GPU 2 (NVIDIA L40S): ")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[0], "Hopper (9.0) only")) << r.warnings[0];
}

TEST_F(MultiGpuBoot, AWarningEveryModelGivesIsShownOnceUnlabelled) {
  options.override_value = "turbo";
  options.tuner = nullptr;
  const BootResult r = run_boot(options);
  ASSERT_EQ(r.warnings.size(), 1u) << r.warnings[1];
  EXPECT_EQ(r.warnings[0].rfind("COMFYUI_ATTENTION_MECHANISM='turbo'", 0), 0u) << r.warnings[0];
  EXPECT_EQ(r.per_gpu[0].decision.mechanism, Mechanism::flash3);  // static table, Hopper
  EXPECT_EQ(r.per_gpu[2].decision.source, Source::table);
}

TEST_F(MultiGpuBoot, ATunerThatThrowsCostsOnlyItsOwnModel) {
  auto real = options.tuner;
  options.tuner = [real](const GpuInfo& gpu, const Fingerprint& env, Cache* cache, const CacheKey& key,
                         std::vector<std::string>& warnings) -> std::optional<Decision> {
    if (gpu.name == "NVIDIA L40S") throw std::runtime_error("worker exploded");
    return real(gpu, env, cache, key, warnings);
  };
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.per_gpu[0].decision.source, Source::tuning);
  EXPECT_EQ(r.per_gpu[2].decision.source, Source::table);
  EXPECT_TRUE(contains(r.per_gpu[2].decision.reason, "deciding failed: worker exploded")) << r.per_gpu[2].decision.reason;
  EXPECT_EQ(env_line(out(".env_settings.gpu2"), "COMFYUI_ATTENTION_SOURCE"), "table");
}

TEST_F(MultiGpuBoot, FleetTuningPublishesEveryModelForTheNextPod) {
  options.shared_dir = dir / "shared";
  run_boot(options);
  EXPECT_EQ(tunings, 2);
  // Another pod: fresh local disk, same volume. Both models are hits from the published files.
  options.cache_path = dir / "other-pod/cache.sqlite";
  const BootResult r = run_boot(options);
  EXPECT_EQ(tunings, 2);
  for (const auto& one : r.per_gpu) EXPECT_EQ(one.decision.source, Source::cache);
  EXPECT_EQ(r.per_gpu[2].decision.mechanism, Mechanism::pytorch);
  EXPECT_FALSE(fs::exists(dir / "other-pod/cache.sqlite")) << "a published hit creates no local file";
}

TEST_F(MultiGpuBoot, ParallelTuningStoresEveryModelsMeasurementsInTheOneLocalFile) {
  // Two models tune at once, each thread writing to the local file through its own connection.
  const auto gpus = parse_simulated_gpus(kPod);
  const auto fingerprint = read_fingerprint(options.venv);
  run_boot(options);
  EXPECT_EQ(testing::list_dir(dir / "local"), "cache.sqlite\n");
  auto opened = Cache::open(options.cache_path);
  for (const std::size_t i : {std::size_t{0}, std::size_t{2}})
    EXPECT_EQ(opened.cache->measurements(make_cache_key(gpus[i], fingerprint, "w1", "h1")).size(), 4u) << i;
}

TEST_F(MultiGpuBoot, ModelsSeeTheGroupsBeforeTuning) {
  std::vector<std::size_t> sizes;
  int tunings_then = -1;
  options.on_groups = [&](const std::vector<GpuGroup>& groups) {
    for (const auto& g : groups) sizes.push_back(g.members.size());
    tunings_then = tunings;
  };
  run_boot(options);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 1}));
  EXPECT_EQ(tunings_then, 0);
}

// --- the CLI: main.cpp's tuner pins each worker and tags each model's progress ------------------

TEST(MultiGpuCli, PinsWorkersTagsProgressAndListsEachGpu) {
  TempDir dir;
  const std::string command =
      "env -u COMFYUI_ATTENTION_MECHANISM -u AUTOTUNE_WRITTEN_MECHANISM -u AUTOTUNE_SIMULATE_GPU -u AUTOTUNE_VENV "
      "-u AUTOTUNE_CACHE_DIR -u CUDA_VISIBLE_DEVICES -u FAKE_WORKER_MODE AUTOTUNE_NVML_LIBRARY='" FAKE_NVML_PATH
      "' FAKE_NVML_MODE=no_gpus FAKE_WORKER_JOBS='" + (dir / "jobs.jsonl").string() +
      "' FAKE_WORKER_MS_BY_GPU='" + kMsByGpu + "' '" AUTOTUNE_BINARY "' --venv '" + (kVenvs / "full").string() +
      "' --cache-dir '" + (dir / "shared").string() + "' --local-dir '" + (dir / "local").string() +
      "' --env-settings '" + (dir / "out/env").string() + "' --decision-file '" + (dir / "out/d.json").string() +
      "' --workloads '" + kWorkloads.string() + "' --worker '" PER_GPU_WORKER
      "' --backends sdpa_comfy,flash3 --budget 60 --simulate-gpu '" + kPod + "'";
  const auto r = testing::run_command(command, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::multiset<std::string> pins;
  for (const auto& j : json_lines(dir / "jobs.jsonl")) pins.insert(j.value("_seen_cuda_visible_devices", "<unset>"));
  EXPECT_EQ(pins, (std::multiset<std::string>{"GPU-aaaa0000", "GPU-cccc2222"}));
  EXPECT_TRUE(contains(r.out, "  Selected Mechanism: flash3\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "  GPU 2 mechanism:    pytorch (NVIDIA L40S, tuning in ")) << r.out;
  EXPECT_TRUE(contains(r.err, "[GPU 0] autotune: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "[GPU 2] autotune: ")) << r.err;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    EXPECT_EQ(line.rfind("[GPU ", 0), 0u) << "every progress line is tagged whole: '" << line << "'";
  EXPECT_TRUE(fs::exists(dir / "local/worker.gpu0.log"));
  EXPECT_TRUE(fs::exists(dir / "local/worker.gpu2.log"));
  EXPECT_EQ(env_line(dir / "out/env.gpu2", "COMFYUI_ATTENTION_MECHANISM"), "pytorch");
  EXPECT_EQ(env_line(dir / "out/env.gpu1", "COMFYUI_ATTENTION_MECHANISM"), "flash3");
  EXPECT_TRUE(fs::exists(dir / "out/d.gpu2.json"));
}

}  // namespace
}  // namespace autotune
