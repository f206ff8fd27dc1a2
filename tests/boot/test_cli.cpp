// The `autotune` executable itself: flags, exit codes and what it prints.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cache/cache.h"
#include "boot/tuning.h"
#include "common/workload.h"
#include "tests/boot/test_support.h"

namespace autotune {
namespace {

using testing::CommandResult;
using testing::contains;
using testing::kH100;
using testing::kVenvs;
using testing::read_file;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

const fs::path kWorkloads = fs::path(AUTOTUNE_FIXTURES) / "workloads/boot.json";

class Cli : public ::testing::Test {
 protected:
  TempDir dir;

  // Runs autotune with a clean environment: no override, no simulation, and a fake NVML unless the
  // arguments say otherwise, so a developer's own settings or GPU cannot change the outcome.
  CommandResult autotune(const std::string& args, const std::string& env = "") {
    const std::string command =
        "env -u COMFYUI_ATTENTION_MECHANISM -u AUTOTUNE_WRITTEN_MECHANISM -u AUTOTUNE_SIMULATE_GPU "
        "-u AUTOTUNE_VENV -u AUTOTUNE_CACHE_DIR -u AUTOTUNE_ENV_SETTINGS -u CUDA_VISIBLE_DEVICES "
        "AUTOTUNE_NVML_LIBRARY='" FAKE_NVML_PATH "' FAKE_NVML_MODE=no_gpus " +
        env + " '" AUTOTUNE_BINARY "' " + args;
    return testing::run_command(command, dir.path());
  }

  // Every path into the scratch directory (never the real /workspace or /var/tmp), the fixture
  // catalogue, and no tuning.
  std::string paths(const fs::path& env_settings = {}) const {
    return "--venv '" + (kVenvs / "full").string() + "' --cache-dir '" + (dir / "shared").string() +
           "' --local-dir '" + (dir / "local").string() +
           "' --env-settings '" + (env_settings.empty() ? dir / "env_settings" : env_settings).string() +
           "' --decision-file '" +
           (dir / "decision.json").string() + "' --workloads '" + kWorkloads.string() + "' --no-tune";
  }
};

TEST_F(Cli, HelpListsOverrideValuesAndExitCodes) {
  const auto r = autotune("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "COMFYUI_ATTENTION_MECHANISM=flash3|flash2|sage|xformers|pytorch|split|quad|auto"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "--simulate-gpu")) << r.out;
  EXPECT_TRUE(contains(r.out, "Exit codes")) << r.out;
}

TEST_F(Cli, UnknownFlagIsAUsageError) {
  const auto r = autotune("--frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "frobnicate")) << r.err;
}

TEST_F(Cli, BadSimulatedGpuIsAUsageErrorNamingTheField) {
  const auto r = autotune(paths() + " --simulate-gpu 'name=H100;cc=9.0;memory_mib=lots'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "memory_mib 'lots' is not a whole number")) << r.err;
  EXPECT_FALSE(fs::exists(dir / "env_settings"));
}

TEST_F(Cli, SimulatedGpuFromTheEnvironment) {
  const auto r = autotune(paths(), "AUTOTUNE_SIMULATE_GPU='name=NVIDIA B200;cc=10.0'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Selected Mechanism: xformers")) << r.out;
}

TEST_F(Cli, DetectJson) {
  const auto r = autotune("--venv '" + (kVenvs / "full").string() + "' --simulate-gpu '" + kH100 + "' detect --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("gpu_source"), "simulated");
  ASSERT_EQ(j.at("gpus").size(), 1u);
  const auto& g = j.at("gpus")[0];
  EXPECT_EQ(g.at("name"), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(g.at("compute_capability"), "9.0");
  EXPECT_EQ(g.at("sm_count"), 132);
  EXPECT_EQ(g.at("memory_mib"), 81559);
  EXPECT_EQ(g.at("simulated"), true);
  EXPECT_EQ(j.at("python"), "3.12.3");
  EXPECT_EQ(j.at("torch"), "2.11.0+cu130");
  EXPECT_EQ(j.at("torch_cuda"), "13.0");
  EXPECT_EQ(j.at("packages").at("flash_attn_3"), "3.0.0b1");
  EXPECT_EQ(j.at("packages").size(), 6u);
  EXPECT_TRUE(j.at("warnings").empty());
}

TEST_F(Cli, DetectJsonThroughNvml) {
  const auto r = autotune("--venv '" + (kVenvs / "cpu").string() + "' detect --json",
                          "FAKE_NVML_MODE=two_gpus CUDA_VISIBLE_DEVICES=GPU-1d9e");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("gpu_source"), "nvml");
  ASSERT_EQ(j.at("gpus").size(), 1u);
  EXPECT_EQ(j.at("gpus")[0].at("name"), "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(j.at("gpus")[0].at("mig_enabled"), true);
  EXPECT_EQ(j.at("gpus")[0].at("cuda_driver"), "13.0");
  EXPECT_EQ(j.at("torch_cuda"), "");
}

TEST_F(Cli, DetectWithoutGpuSaysWhy) {
  const auto r = autotune("--venv '" + (kVenvs / "full").string() + "' detect", "FAKE_NVML_MODE=init_fails");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "no NVIDIA GPU detected: nvmlInit failed: Driver Not Loaded")) << r.out;
  EXPECT_TRUE(contains(r.out, "torch 2.11.0+cu130")) << r.out;
}

TEST_F(Cli, BootPrintsTheSummaryAndWritesSettings) {
  const auto r = autotune(paths() + " --simulate-gpu '" + kH100 + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "GPU Configuration Summary")) << r.out;
  EXPECT_TRUE(contains(r.out, "Selected Mechanism: flash3")) << r.out;
  EXPECT_TRUE(contains(r.out, "Decided by:         table:")) << r.out;
  EXPECT_TRUE(contains(r.out, "tuning is off (--no-tune)")) << r.out;
  EXPECT_TRUE(contains(read_file(dir / "env_settings"), "export COMFYUI_ATTENTION_MECHANISM=flash3\n"));
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "decision.json")).at("mechanism"), "flash3");
}

TEST_F(Cli, SettingsFileFromTheEnvironment) {
  // pod_start.sh reads the settings from AUTOTUNE_ENV_SETTINGS and passes it on: autotune must
  // write there, or ComfyUI starts without its flags and the node without a decision.
  const std::string args = "--venv '" + (kVenvs / "full").string() + "' --cache-dir '" + (dir / "shared").string() +
                           "' --local-dir '" + (dir / "local").string() + "' --decision-file '" +
                           (dir / "decision.json").string() + "' --workloads '" + kWorkloads.string() + "' --no-tune";
  const auto r = autotune(args, "AUTOTUNE_ENV_SETTINGS='" + (dir / "elsewhere").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(read_file(dir / "elsewhere"), "export COMFYUI_ATTENTION_ARGS=")) << read_file(dir / "elsewhere");
  // The flag wins over the variable, as for every option.
  const auto flag = autotune(paths(dir / "by-flag"), "AUTOTUNE_ENV_SETTINGS='" + (dir / "by-env").string() + "'");
  ASSERT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_TRUE(fs::exists(dir / "by-flag"));
  EXPECT_FALSE(fs::exists(dir / "by-env"));
}

TEST_F(Cli, OverrideFromTheEnvironment) {
  const auto r = autotune(paths() + " --simulate-gpu '" + kH100 + "'", "COMFYUI_ATTENTION_MECHANISM=xformers");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Selected Mechanism: xformers")) << r.out;
  EXPECT_TRUE(contains(r.out, "Decided by:         override")) << r.out;
}

TEST_F(Cli, SourcingOurOwnSettingsIsNotAnOverride) {
  // Boot once with an override, source the result, boot again: the second boot decides afresh.
  ASSERT_EQ(autotune(paths() + " --simulate-gpu '" + kH100 + "'", "COMFYUI_ATTENTION_MECHANISM=xformers").exit_code, 0);
  const auto r = testing::run_command(
      "env -i PATH=\"$PATH\" /bin/sh -c '. \"" + (dir / "env_settings").string() + "\" && AUTOTUNE_NVML_LIBRARY=/none \"" +
          AUTOTUNE_BINARY + "\" " + paths() + " --simulate-gpu \"" + kH100 + "\"'",
      dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Selected Mechanism: flash3")) << r.out;
  EXPECT_TRUE(contains(r.out, "AUTOTUNE_WRITTEN_MECHANISM")) << r.out;
}

TEST_F(Cli, QuietPrintsWarningsOnly) {
  const auto r = autotune(paths() + " -q --simulate-gpu '" + kH100 + "'", "COMFYUI_ATTENTION_MECHANISM=bogus");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, "warning: COMFYUI_ATTENTION_MECHANISM='bogus'")) << r.err;
}

TEST_F(Cli, UnwritableSettingsExitsOne) {
  write_file(dir / "file", "");
  const auto r = autotune(paths(dir / "file/.env_settings") + " --simulate-gpu '" + kH100 + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "Warning:")) << r.out;
  EXPECT_TRUE(contains(r.out, "Selected Mechanism: flash3")) << r.out;
}

TEST_F(Cli, NoGpuStillConfigures) {
  const auto r = autotune(paths());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "no NVIDIA GPU detected: the driver reports 0 devices")) << r.out;
  EXPECT_TRUE(contains(r.out, "Selected Mechanism: pytorch")) << r.out;
}

TEST_F(Cli, ReportOnAnEmptyCache) {
  const auto r = autotune(paths() + " --report --simulate-gpu '" + kH100 + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "GPU NVIDIA H100 80GB HBM3 (compute 9.0), driver 580.159.04, torch 2.11.0+cu130")) << r.out;
  EXPECT_TRUE(contains(r.out, "No measurements cached")) << r.out;
  EXPECT_FALSE(fs::exists(dir / "env_settings")) << "--report must not configure";
}

TEST_F(Cli, ReportOnASeededCache) {
  {
    auto opened = Cache::open(dir / "local/cache.sqlite");  // this pod's own cache file
    ASSERT_NE(opened.cache, nullptr);
    // The key the CLI computes: this GPU and venv, the fixture catalogue, the harness version.
    const Fingerprint fp = read_fingerprint(kVenvs / "full");
    const CacheKey key = make_cache_key(parse_simulated_gpus(kH100).front(), fp,
                                        catalogue_version(load_workloads(kWorkloads.string(), "default")),
                                        kHarnessVersion);
    const auto put = [&](const CacheKey& k, const char* backend, const char* shape, Status status, double ms) {
      Measurement m;
      m.backend = backend;
      m.backend_version = backend_version(backend, fp);
      m.shape = shape;
      m.status = status;
      m.median_ms = ms;
      m.samples = 50;
      if (status != Status::ok) m.reason = "worker died: SIGSEGV";
      opened.cache->put_measurement(k, m);
    };
    put(key, "sdpa_cudnn", "flux-1024", Status::ok, 0.397);
    put(key, "flash3", "flux-1024", Status::ok, 0.361);
    put(key, "sdpa_cudnn", "sd15-256-160", Status::ok, 0.0135);
    put(key, "flash3", "sd15-256-160", Status::crashed, 0);
    // Another GPU's rows must not appear.
    CacheKey other = key;
    other.gpu_name = "NVIDIA L40S";
    put(other, "xformers", "flux-1024", Status::ok, 9.876);
  }
  const auto r = autotune(paths() + " --report --simulate-gpu '" + kH100 + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "0.397")) << r.out;
  EXPECT_TRUE(contains(r.out, "0.361")) << r.out;
  EXPECT_TRUE(contains(r.out, "crashed")) << r.out;
  EXPECT_TRUE(contains(r.out, "worker died: SIGSEGV")) << r.out;
  EXPECT_FALSE(contains(r.out, "9.876")) << r.out;
  EXPECT_FALSE(contains(r.out, "No measurements cached")) << r.out;

  const auto json = autotune(paths() + " --report --format json --simulate-gpu '" + kH100 + "'");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NO_THROW(nlohmann::json::parse(json.out)) << json.out;
  EXPECT_TRUE(contains(json.out, "flux-1024")) << json.out;
}

}  // namespace
}  // namespace autotune
