#include "latency.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cache/cache.h"
#include "cache/fleet.h"
#include "cache/lease.h"
#include "cache/published.h"
#include "common/stats.h"

namespace autotune {
namespace fs = std::filesystem;

namespace {

using Steady = std::chrono::steady_clock;

// The lease a boot takes: 60 s, refreshed by keep_alive every 20 s (never within one cycle here).
constexpr std::chrono::milliseconds kTtl{60000};

CacheKey latency_key() {
  CacheKey k;
  k.gpu_name = "NVIDIA H100 80GB HBM3";
  k.compute_capability = "9.0";
  k.sm_count = 132;
  k.memory_mib = 81559;
  k.driver = "580.159.04";
  k.cuda_runtime = "13.0";
  k.torch = "2.11.0+cu130";
  k.workloads_version = "latency";
  k.harness_version = "latency";
  return k;
}

Fingerprint latency_env() {
  Fingerprint env;
  env.torch_version = "2.11.0+cu130";
  env.torch_cuda = "13.0";
  env.packages = {{"torch", "2.11.0+cu130"}, {"flash_attn_3", "3.0.0b1"}};
  return env;
}

// What a tune of two backends on two shapes leaves in the pod's local file.
void tune(Cache& local, const CacheKey& key, const std::string& backends) {
  for (const char* backend : {"sdpa_comfy", "flash3"})
    for (const char* shape : {"flux-1024", "sdxl-1024"}) {
      Measurement m;
      m.backend = backend;
      m.backend_version = std::string(backend) == "flash3" ? "3.0.0b1" : "2.11.0+cu130";
      m.shape = shape;
      m.status = Status::ok;
      m.median_ms = std::string(backend) == "flash3" ? 0.8 : 1.0;
      m.samples = 10;
      local.put_measurement(key, m);
    }
  Decision d;
  d.mechanism = Mechanism::flash3;
  d.default_backend = default_backend_of(Mechanism::flash3);
  d.reason = "latency";
  local.put_decision(key, backends, d);
}

double ms_since(Steady::time_point t) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t).count();
}

struct Timed {
  std::unique_ptr<Cache> local;
  std::vector<double> publish, lease, read;
};

}  // namespace

int measure_latencies(int n, const fs::path& local_dir, const std::vector<LatencyPlace>& places) {
  const CacheKey key = latency_key();
  const Fingerprint env = latency_env();
  const std::string backends = backends_signature(env);
  const std::string lease = lease_name(key, backends);
  std::vector<Timed> timed(places.size());
  for (std::size_t p = 0; p < places.size(); ++p) {
    auto opened = Cache::open(local_dir / std::to_string(p) / "cache.sqlite");
    if (!opened.cache) {
      std::cerr << "cannot open a local cache in " << local_dir << "\n";
      return 1;
    }
    tune(*opened.cache, key, backends);
    timed[p].local = std::move(opened.cache);
    // The file every read finds.
    const auto w = publish_key(*timed[p].local, places[p].shared / "read", key);
    if (!w.empty()) {
      std::cerr << places[p].name << ": " << w.front() << "\n";
      return 1;
    }
  }
  const auto fail = [&](std::size_t p, const std::string& what) {
    std::cerr << places[p].name << ": " << what << "\n";
    return 1;
  };
  for (int i = 0; i < n; ++i) {
    std::vector<std::size_t> order;
    for (std::size_t p = 0; p < places.size(); ++p) order.push_back(i % 2 ? places.size() - 1 - p : p);
    for (std::size_t p : order) {
      const fs::path shared = places[p].shared / "publish";
      const auto t = Steady::now();
      const auto w = publish_key(*timed[p].local, shared, key);
      timed[p].publish.push_back(ms_since(t));
      if (!w.empty()) return fail(p, w.front());
      for (const auto& f : list_published(published_dir(shared))) fs::remove(f.path);
    }
    for (std::size_t p : order) {
      const auto t = Steady::now();
      auto a = Lease::try_acquire(leases_dir(places[p].shared / "lease"), lease, kTtl);
      if (!a.lease) return fail(p, "no lease: " + (a.error.empty() ? std::string("held by another") : a.error));
      a.lease->keep_alive();
      a.lease->release();
      timed[p].lease.push_back(ms_since(t));
    }
    for (std::size_t p : order) {
      std::vector<std::string> warnings;
      const auto t = Steady::now();
      const auto d = fleet_decision(nullptr, places[p].shared / "read", key, backends, env, warnings);
      timed[p].read.push_back(ms_since(t));
      if (!d || d->mechanism != Mechanism::flash3 || !warnings.empty())
        return fail(p, "read found no decision" + (warnings.empty() ? std::string() : ": " + warnings.front()));
    }
  }
  for (std::size_t p = 0; p < places.size(); ++p)
    for (const auto& [what, xs] : {std::pair{"publish", &timed[p].publish}, std::pair{"lease", &timed[p].lease},
                                  std::pair{"read", &timed[p].read}})
      std::printf("latency %s %s: median %.2f ms, p90 %.2f ms (n %zu)\n", places[p].name.c_str(), what,
                  stats::median(*xs), stats::quantile(*xs, 0.9), xs->size());
  return 0;
}

}  // namespace autotune
