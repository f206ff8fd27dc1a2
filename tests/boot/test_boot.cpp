// The boot flow end to end: simulated GPU + fixture venv -> decision -> files on disk.
#include "boot/boot.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cache/fleet.h"
#include "tests/boot/test_support.h"

namespace autotune {
namespace {

using testing::contains;
using testing::kH100;
using testing::kVenvs;
using testing::read_file;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

const char* kRtx5090 = "name=NVIDIA GeForce RTX 5090;cc=12.0;memory_mib=32607;driver=580.95.05;sms=170";

bool has_warning(const BootResult& r, const std::string& text) {
  for (const auto& w : r.warnings)
    if (contains(w, text)) return true;
  return false;
}

class Boot : public ::testing::Test {
 protected:
  TempDir dir;
  BootOptions options;

  void SetUp() override {
    options.venv = kVenvs / "full";
    options.cache_path = dir / "cache/cache.sqlite";
    options.env_settings = dir / "out/.env_settings";
    options.decision_file = dir / "out/decision.json";
    options.detect.simulate = kH100;
    options.workloads_version = "w1";
    options.harness_version = "h1";
  }

  // The key and backends signature the boot will compute for these options.
  std::pair<CacheKey, std::string> key_of_boot() const {
    const GpuInfo gpu = parse_simulated_gpus(*options.detect.simulate).front();
    const Fingerprint env = read_fingerprint(options.venv);
    return {make_cache_key(gpu, env, options.workloads_version, options.harness_version), backends_signature(env)};
  }

  nlohmann::json decision_file() const { return nlohmann::json::parse(read_file(options.decision_file)); }
};

TEST_F(Boot, TableDecisionWrittenToBothFiles) {
  options.tuning_off_reason = "tuning is off for this test";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_EQ(r.decision.default_backend, "flash3");
  EXPECT_TRUE(contains(r.decision.reason, "no tuning result cached for this GPU and software, and tuning is off for this test")) << r.decision.reason;
  EXPECT_TRUE(contains(r.decision.reason, "static table, Hopper (9.0)")) << r.decision.reason;
  EXPECT_EQ(r.architecture, "Hopper");
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  EXPECT_EQ(r.written, (std::vector<fs::path>{options.decision_file, options.env_settings}));
  EXPECT_GT(r.elapsed_ms, 0);

  EXPECT_TRUE(contains(read_file(options.env_settings), "export COMFYUI_ATTENTION_MECHANISM=flash3\n"));
  const auto j = decision_file();
  EXPECT_EQ(j.at("mechanism"), "flash3");
  EXPECT_EQ(j.at("source"), "table");
  EXPECT_EQ(j.at("environment").at("torch"), "2.11.0+cu130");
  EXPECT_EQ(j.at("gpu").at("name"), "NVIDIA H100 80GB HBM3");
}

TEST_F(Boot, DefaultOutputPathsAreInTheVenv) {
  // Copy the fixture venv: the default paths write into it.
  fs::copy(kVenvs / "uv", dir / "venv", fs::copy_options::recursive);
  options.venv = dir / "venv";
  options.env_settings.clear();
  options.decision_file.clear();
  const BootResult r = run_boot(options);
  EXPECT_TRUE(fs::exists(dir / "venv/.env_settings"));
  EXPECT_TRUE(fs::exists(dir / "venv/.attention_decision.json"));
  EXPECT_TRUE(contains(read_file(dir / "venv/.env_settings"),
                       "export COMFYUI_ATTENTION_DECISION='" + (dir / "venv/.attention_decision.json").string() + "'"));
  // The uv venv has a bare FA3 module: flash3 on Hopper.
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  // Its xformers metadata has no Version: the fingerprint's warning reaches the boot's.
  EXPECT_TRUE(has_warning(r, "has no Version"));
}

TEST_F(Boot, Blackwell12WithSageInstalledPicksSage) {
  options.detect.simulate = kRtx5090;
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.mechanism, Mechanism::sage);
  EXPECT_EQ(r.architecture, "Blackwell");
  EXPECT_TRUE(contains(read_file(options.env_settings), "export COMFYUI_ATTENTION_ARGS='--use-sage-attention --disable-xformers'"));
}

TEST_F(Boot, OverrideDecides) {
  options.override_value = " Sage\n";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.mechanism, Mechanism::sage);
  EXPECT_EQ(r.decision.source, Source::override_);
  EXPECT_EQ(decision_file().at("source"), "override");
  EXPECT_FALSE(fs::exists(options.cache_path)) << "an override needs no cache";
}

TEST_F(Boot, BadOverrideWarnsAndFallsBack) {
  options.override_value = "turbo";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_TRUE(has_warning(r, "COMFYUI_ATTENTION_MECHANISM='turbo': unknown mechanism"));
  EXPECT_TRUE(contains(decision_file().at("warnings").dump(), "turbo"));
}

TEST_F(Boot, OverrideOfAnUninstalledBackendWarns) {
  options.venv = kVenvs / "torch_only";
  options.override_value = "xformers";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.mechanism, Mechanism::pytorch);
  EXPECT_TRUE(has_warning(r, "xformers is not installed in " + (kVenvs / "torch_only").string()));
}

TEST_F(Boot, CacheHit) {
  Decision seeded;
  seeded.mechanism = Mechanism::pytorch;
  seeded.reason = "measured: cuDNN fastest for SDXL";
  seeded.default_backend = "sdpa_cudnn";
  seeded.routes = {{"flux_1024", 1, 24, 128, 4352, 4352, "flash3", 0.361}};
  {
    auto opened = Cache::open(options.cache_path);
    ASSERT_NE(opened.cache, nullptr);
    const auto [key, backends] = key_of_boot();
    opened.cache->put_decision(key, backends, seeded);
  }
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.source, Source::cache);
  EXPECT_EQ(r.decision.mechanism, Mechanism::pytorch);
  EXPECT_EQ(r.decision.reason, "measured: cuDNN fastest for SDXL");
  EXPECT_EQ(r.decision.default_backend, "sdpa_cudnn");
  ASSERT_EQ(r.decision.routes.size(), 1u);
  const auto j = decision_file();
  EXPECT_EQ(j.at("source"), "cache");
  EXPECT_EQ(j.at("default_backend"), "sdpa_cudnn");
  EXPECT_EQ(j.at("routes")[0].at("backend"), "flash3");
}

TEST_F(Boot, CachedDecisionForOtherLibraryVersionsIsAMiss) {
  {
    auto opened = Cache::open(options.cache_path);
    const auto [key, backends] = key_of_boot();
    Decision old;
    old.mechanism = Mechanism::sage;
    opened.cache->put_decision(key, "sageattention=2.1.0", old);
    ASSERT_NE(backends, "sageattention=2.1.0");
  }
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.source, Source::table);
}

TEST_F(Boot, TunerResultIsStoredAndHitNextTime) {
  int calls = 0;
  options.tuner = [&](const GpuInfo& gpu, const Fingerprint& env, Cache* cache, const CacheKey& key,
                      std::vector<std::string>&) -> std::optional<Decision> {
    ++calls;
    EXPECT_EQ(gpu.name, "NVIDIA H100 80GB HBM3");
    EXPECT_EQ(env.torch_version, "2.11.0+cu130");
    EXPECT_NE(cache, nullptr);
    EXPECT_EQ(key.canonical(), key_of_boot().first.canonical());
    Decision d;
    d.mechanism = Mechanism::sage;
    d.source = Source::tuning;
    d.reason = "measured: sage 143 ms on wan_720p";
    d.default_backend = "sdpa_cudnn";
    return d;
  };
  const BootResult first = run_boot(options);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(first.decision.source, Source::tuning);
  EXPECT_EQ(first.decision.mechanism, Mechanism::sage);
  EXPECT_EQ(decision_file().at("source"), "tuning");

  const BootResult second = run_boot(options);
  EXPECT_EQ(calls, 1) << "a cache hit must not tune again";
  EXPECT_EQ(second.decision.source, Source::cache);
  EXPECT_EQ(second.decision.mechanism, Mechanism::sage);
  EXPECT_EQ(second.decision.reason, "measured: sage 143 ms on wan_720p");
}

TEST_F(Boot, TunerThatCannotFinishFallsBackToTheTable) {
  options.tuner = [](const GpuInfo&, const Fingerprint&, Cache*, const CacheKey&,
                     std::vector<std::string>& warnings) -> std::optional<Decision> {
    warnings.push_back("tuning budget of 600 s spent");
    return std::nullopt;
  };
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_TRUE(contains(r.decision.reason, "tuning did not decide")) << r.decision.reason;
  EXPECT_TRUE(has_warning(r, "tuning budget of 600 s spent"));
}

// The table must not pick what this environment measured broken (on the H200 it picked flash3
// after the same run measured its output wrong on every shape); its reason says what it skipped
// and why.
TEST_F(Boot, TheTableSkipsWhatTuningMeasuredBroken) {
  options.tuner = [](const GpuInfo&, const Fingerprint& env, Cache* cache, const CacheKey& key,
                     std::vector<std::string>&) -> std::optional<Decision> {
    Measurement m;
    m.backend = "flash3";
    m.backend_version = env.packages.at("flash_attn_3");
    m.status = Status::rejected;
    m.reason = "returned shape [1, 4352, 1536], expected [1, 4352, 3072]";
    for (const char* shape : {"flux-1024", "sdxl-1024"}) {
      m.shape = shape;
      cache->put_measurement(key, m);
    }
    return std::nullopt;
  };
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_EQ(r.decision.mechanism, Mechanism::pytorch);
  EXPECT_TRUE(contains(r.decision.reason,
                       "skipped flash3 (measured rejected on 2 of 2 shapes (flux-1024: returned shape [1, 4352, 1536], "
                       "expected [1, 4352, 3072]))"))
      << r.decision.reason;

  // The next boot, tuning off, finds the rejection in the cache: the same pick, no warning.
  options.tuner = nullptr;
  const BootResult again = run_boot(options);
  EXPECT_EQ(again.decision.mechanism, Mechanism::pytorch);
  EXPECT_TRUE(contains(again.decision.reason, "skipped flash3 (measured rejected")) << again.decision.reason;
  EXPECT_TRUE(again.warnings.empty()) << again.warnings.front();
}

// A rejection for NaN output (rel_error kNonFiniteError, no samples) is a true record: stored,
// read back and published without the "negative value" warning.
TEST_F(Boot, ANanRejectionIsKeptWithoutAWarning) {
  options.shared_dir = dir / "shared";
  options.tuner = [](const GpuInfo&, const Fingerprint& env, Cache* cache, const CacheKey& key,
                     std::vector<std::string>&) -> std::optional<Decision> {
    Measurement m;
    m.backend = "xformers";
    m.backend_version = env.packages.at("xformers");
    m.shape = "flux-1024";
    m.status = Status::rejected;
    m.reason = "output has NaN or Inf";
    m.rel_error = kNonFiniteError;
    cache->put_measurement(key, m);
    return std::nullopt;
  };
  const BootResult r = run_boot(options);
  for (const auto& w : r.warnings) ADD_FAILURE() << w;
  // Another pod, with nothing local, reads it from the published file, as it is.
  std::vector<std::string> warnings;
  const RecordSet fleet = fleet_records(nullptr, options.shared_dir, warnings, key_of_boot().first);
  for (const auto& w : warnings) ADD_FAILURE() << w;
  ASSERT_EQ(fleet.measurements.size(), 1u);
  const Measurement& m = fleet.measurements.begin()->second.m;
  EXPECT_EQ(m.status, Status::rejected);
  EXPECT_EQ(m.rel_error, kNonFiniteError);
  EXPECT_EQ(m.reason, "output has NaN or Inf");
}

TEST_F(Boot, CorruptCacheStillBoots) {
  fs::create_directories(options.cache_path.parent_path());
  write_file(options.cache_path, std::string(10000, '\x7f'));
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_TRUE(has_warning(r, "set aside as")) << ::testing::PrintToString(r.warnings);
  EXPECT_EQ(r.written.size(), 2u);
}

TEST_F(Boot, UnusableCacheLocationStillBoots) {
  write_file(dir / "file", "");
  options.cache_path = dir / "file/cache.sqlite";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_TRUE(has_warning(r, "continuing without a cache"));
  EXPECT_EQ(r.written.size(), 2u);
}

TEST_F(Boot, UnwritableEnvSettingsIsAWarning) {
  write_file(dir / "file", "");
  options.env_settings = dir / "file/.env_settings";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(r.written, (std::vector<fs::path>{options.decision_file}));
  EXPECT_TRUE(has_warning(r, (dir / "file").string()));
}

TEST_F(Boot, NoGpuMeansPytorch) {
  options.detect.simulate.reset();
  options.detect.nvml_library = (dir / "no-such-libnvidia-ml.so").string();
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.gpu(), nullptr);
  EXPECT_EQ(r.decision.mechanism, Mechanism::pytorch);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_EQ(r.architecture, "none");
  EXPECT_TRUE(decision_file().at("gpu").is_null());
}

TEST_F(Boot, FakeNvmlWithCudaVisibleDevices) {
  setenv("FAKE_NVML_MODE", "two_gpus", 1);
  options.detect.simulate.reset();
  options.detect.nvml_library = FAKE_NVML_PATH;
  options.detect.cuda_visible_devices = "1";  // the A100
  const BootResult r = run_boot(options);
  unsetenv("FAKE_NVML_MODE");
  ASSERT_NE(r.gpu(), nullptr);
  EXPECT_EQ(r.gpu()->name, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(r.architecture, "Ampere");
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash2);
}

TEST_F(Boot, MissingVenvBootsWithPytorchAndAWarning) {
  options.venv = dir / "no-venv";
  const BootResult r = run_boot(options);
  EXPECT_EQ(r.decision.mechanism, Mechanism::pytorch);
  EXPECT_TRUE(has_warning(r, "does not exist"));
}

TEST_F(Boot, MalformedSimulationThrows) {
  options.detect.simulate = "name=H100;cc=nine";
  EXPECT_THROW(run_boot(options), std::invalid_argument);
}

}  // namespace
}  // namespace autotune
