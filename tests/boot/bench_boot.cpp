// The cache-hit boot, the path every pod start takes once tuning has run: detect the GPU,
// fingerprint the venv, find the decision in the cache, write .env_settings and the decision file.
// Target: well under 20 ms (a pod's start must not wait on it); results in
// results/boot-benchmark.md.
#include <stdlib.h>

#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "cache/fleet.h"
#include "boot/boot.h"
#include "boot/outputs.h"

namespace {

namespace fs = std::filesystem;
using namespace autotune;

const fs::path kVenv = fs::path(AUTOTUNE_FIXTURES) / "venvs/full";
const char* kH100 = "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132";

// A scratch directory holding a cache with the decision for `options` already in it, as the CLI
// sees it: this pod's local file, and the same records published to the shared directory.
enum class Hit { local, published_only };

class Scene {
 public:
  // `rows` extra measurements make the cache file the size of a tuned one (quick_check reads every page).
  // Hit::published_only: another pod tuned; this pod's local file does not exist yet.
  explicit Scene(bool nvml, int rows = 0, Hit hit = Hit::local) {
    std::string pattern = (fs::temp_directory_path() / "autotune-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    options.venv = kVenv;
    options.cache_path = dir_ / "tuner-pod/cache.sqlite";
    options.shared_dir = dir_ / "shared";
    options.env_settings = dir_ / "out/.env_settings";
    options.decision_file = dir_ / "out/decision.json";
    options.workloads_version = "w1";
    options.harness_version = "h1";
    if (nvml) {
      setenv("FAKE_NVML_MODE", "one_gpu", 1);
      options.detect.nvml_library = FAKE_NVML_PATH;
    } else {
      options.detect.simulate = kH100;
    }
    const Detection detection = detect_gpus(options.detect);
    const Fingerprint env = read_fingerprint(options.venv);
    key = make_cache_key(detection.gpus.at(0), env, options.workloads_version, options.harness_version);
    backends = backends_signature(env);
    Decision d;
    d.mechanism = Mechanism::pytorch;
    d.reason = "seeded";
    d.default_backend = "sdpa_cudnn";
    d.routes = {{"flux_1024", 1, 24, 128, 4352, 4352, "flash3", 0.361}};
    auto cache = std::move(Cache::open(options.cache_path).cache);
    cache->put_decision(key, backends, d);
    for (int i = 0; i < rows; ++i) {
      Measurement m;
      m.backend = i % 2 ? "sdpa_cudnn" : "flash3";
      m.shape = "shape-" + std::to_string(i / 2);
      m.status = Status::ok;
      m.median_ms = 0.1 * i;
      cache->put_measurement(key, m);
    }
    for (const auto& w : publish_key(*cache, options.shared_dir, key)) throw std::runtime_error(w);
    if (hit == Hit::published_only) options.cache_path = dir_ / "this-pod/cache.sqlite";
  }
  ~Scene() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    unsetenv("FAKE_NVML_MODE");
  }

  BootOptions options;
  CacheKey key;
  std::string backends;

 private:
  fs::path dir_;
};

void run_cache_hit(benchmark::State& state, bool nvml, Hit hit = Hit::local) {
  Scene scene(nvml, 0, hit);
  for (auto _ : state) {
    const BootResult r = run_boot(scene.options);
    if (r.decision.source != Source::cache || r.written.size() != 2) {
      state.SkipWithError("not a cache hit with both files written");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
}

void BM_CacheHitBoot_Simulated(benchmark::State& state) { run_cache_hit(state, false); }
void BM_CacheHitBoot_FakeNvml(benchmark::State& state) { run_cache_hit(state, true); }
void BM_CacheHitBoot_PublishedOnly(benchmark::State& state) { run_cache_hit(state, false, Hit::published_only); }

// The parts, to see where the time goes.
void BM_DetectSimulated(benchmark::State& state) {
  DetectOptions o;
  o.simulate = kH100;
  for (auto _ : state) benchmark::DoNotOptimize(detect_gpus(o));
}

void BM_DetectFakeNvml(benchmark::State& state) {
  setenv("FAKE_NVML_MODE", "one_gpu", 1);
  DetectOptions o;
  o.nvml_library = FAKE_NVML_PATH;
  for (auto _ : state) benchmark::DoNotOptimize(detect_gpus(o));
  unsetenv("FAKE_NVML_MODE");
}

void BM_Fingerprint(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(read_fingerprint(kVenv));
}

void BM_CacheOpenAndLookup(benchmark::State& state) {
  Scene scene(false, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto opened = Cache::open(scene.options.cache_path);
    auto hit = opened.cache->decision(scene.key, scene.backends);
    if (!hit) {
      state.SkipWithError("cache miss");
      break;
    }
    benchmark::DoNotOptimize(hit);
  }
}

void BM_WriteOutputs(benchmark::State& state) {
  Scene scene(false);
  const BootResult r = run_boot(scene.options);
  const std::string json = decision_json(r).dump(2);
  const std::string settings = render_env_settings(r, scene.options.decision_file);
  for (auto _ : state) {
    if (atomic_write(scene.options.decision_file, json) || atomic_write(scene.options.env_settings, settings)) {
      state.SkipWithError("write failed");
      break;
    }
  }
}

BENCHMARK(BM_CacheHitBoot_Simulated)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CacheHitBoot_FakeNvml)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CacheHitBoot_PublishedOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DetectSimulated)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DetectFakeNvml)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Fingerprint)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CacheOpenAndLookup)->Arg(0)->Arg(500)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_WriteOutputs)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
