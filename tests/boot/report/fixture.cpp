#include "tests/boot/report/fixture.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "common/environment.h"
#include "common/gpu.h"

namespace autotune::fixture {

namespace {

struct Row {
  double comfy, cudnn, flash, efficient, fa3, sage;  // ms; < 0: see h100_measurements
};

// DESIGN.md's H100 table where it has the shape; sdpa_comfy adds ComfyUI's reshape and host
// cost (about 0.156 ms per call back to back on small shapes). SDXL at 1024 tokens and Wan 1.3B
// are scaled by FLOPs from their neighbours.
const std::map<std::string, Row>& table() {
  static const std::map<std::string, Row> t{
      {"sd15-512-self-4096", {0.190, 0.175, 0.280, 0.556, 0.191, 0.513}},
      {"sd15-512-self-256", {0.156, 0.0135, 0.020, 0.018, -1, -1}},
      {"sdxl-1024-self-4096", {0.187, 0.189, 0.304, 0.693, 0.198, 0.277}},
      {"sdxl-1024-cross-4096", {0.156, 0.019, 0.028, 0.033, 0.075, 0.288}},
      {"sdxl-1024-self-1024", {0.156, 0.029, 0.045, 0.098, 0.031, 0.052}},
      {"sdxl-1024-cross-1024", {0.156, 0.012, 0.016, 0.018, 0.030, 0.110}},
      {"sd35l-1024", {0.921, 0.878, 1.186, 2.636, 0.741, 1.041}},
      {"flux-1024", {0.427, 0.397, 0.747, 1.385, 0.361, 0.506}},
      {"qwen-image-1328", {2.13, 2.03, 3.30, 6.56, 1.77, 1.98}},
      {"wan14b-720p-self", {207, 205, 331, 645, 172, 143}},
      {"wan13b-480p-self", {11.6, 11.5, 18.6, 36.3, 9.7, 8.05}},
      {"wan13b-480p-cross", {0.31, 0.30, 0.45, 0.80, 0.35, 0.40}},
      {"hunyuan-720p-129f", {301, 299, 492, 950, 249, 215}},
  };
  return t;
}

// Shapes DESIGN.md does not list: Flux's throughput per backend (TFLOP/s), a 0.156-ms floor
// for ComfyUI's path and 0.012 ms for the kernels.
Row scaled(const Workload& w) {
  const double flux_flops = 4.0 * 1 * 24 * 4352.0 * 4352.0 * 128;
  const Row& ref = table().at("flux-1024");
  const double k = w.flops() / flux_flops;
  const auto s = [&](double v, double floor) { return std::max(v * k, floor); };
  return {s(ref.comfy, 0.156), s(ref.cudnn, 0.012), s(ref.flash, 0.012), s(ref.efficient, 0.012),
          s(ref.fa3, 0.012), s(ref.sage, 0.012)};
}

}  // namespace

std::vector<Measurement> h100_measurements(const std::vector<Workload>& workloads) {
  std::vector<Measurement> out;
  for (const auto& w : workloads) {
    const auto it = table().find(w.id);
    const Row row = it != table().end() ? it->second : scaled(w);
    // q, k, v and the output in bf16; the reference slice is not counted.
    const auto mem = static_cast<std::int64_t>(2.0 * w.batch * w.heads * w.head_dim * (2 * w.q_len + 2 * w.kv_len));
    const auto add = [&](const std::string& backend, const std::string& version, double ms, double err, double host) {
      Measurement m;
      m.backend = backend;
      m.backend_version = version;
      m.shape = w.id;
      m.status = Status::ok;
      m.median_ms = ms;
      m.spread = 0.004 + 0.002 * static_cast<double>(out.size() % 5);
      m.host_ms = host;
      m.samples = 40;
      m.peak_mem_bytes = mem;
      m.rel_error = err;
      if (w.head_dim > 128 && backend == "flash3") {
        m = {backend, version, w.id, Status::crashed, "worker died: killed by signal 11 (SIGSEGV)", 0, 0, 0, 0, 0, 0};
      } else if (w.head_dim > 128 && backend == "sage") {
        m = {backend, version, w.id, Status::unsupported,
             "sageattn: head_dim " + std::to_string(w.head_dim) + " is not supported (at most 128)", 0, 0, 0, 0, 0, 0};
      }
      out.push_back(m);
    };
    add("sdpa_comfy", "2.11.0+cu130", row.comfy, 2.3e-3, 0.156);
    add("sdpa_cudnn", "2.11.0+cu130", row.cudnn, 2.3e-3, 0.021);
    add("sdpa_flash", "2.11.0+cu130", row.flash, 2.3e-3, 0.019);
    add("sdpa_efficient", "2.11.0+cu130", row.efficient, 2.2e-3, 0.019);
    add("flash3", "3.0.0b1", row.fa3, 2.3e-3, 0.034);
    add("sage", "2.2.0", row.sage, 3.8e-2, 0.048);
  }
  return out;
}

CacheKey h100_key(const std::string& set) {
  const auto gpus = parse_simulated_gpus(kH100Spec);
  const auto workloads = load_workloads(kWorkloads.string(), set);
  return make_cache_key(gpus.front(), read_fingerprint(kVenv), catalogue_version(workloads), kHarnessVersion);
}

void write_h100_cache(const std::filesystem::path& cache_path, const std::string& set) {
  auto opened = Cache::open(cache_path);
  if (!opened.cache) throw std::runtime_error("cannot open a cache at " + cache_path.string());
  const CacheKey key = h100_key(set);
  for (const auto& m : h100_measurements(load_workloads(kWorkloads.string(), set)))
    opened.cache->put_measurement(key, m);
}

}  // namespace autotune::fixture
