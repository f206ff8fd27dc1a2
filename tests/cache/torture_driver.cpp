// Publishes without end, for tests/cache/torture.py to kill at random moments: each round commits
// one measurement to the pod's local file, then publishes the pod's records, and every fifth round
// compacts the key's published files. It logs what is durable, after it is durable:
//   "L <shape>" once the local commit returned; "P <shape>" once a publish holding it was renamed.
// Usage: cache_torture_driver LOCAL_FILE SHARED_DIR LOG_FILE
//
// Or, to be killed during lease take-overs: cache_torture_driver --lease SHARED_DIR LOG_FILE TTL_MS
// takes one lease again and again (a killed holder's lease is taken over once it expires), holds
// it for up to TTL/4 with one refresh, and releases it. It logs, with the epoch ms of this host:
//   "A <token> <now> <expires>" once it holds the lease; "F <token> <expires>" after a refresh;
//   "R <token> <now>" before it releases; "E <message>" when the lease could not be used.
// A hold lasts from its "A" to its "R", or to its last expiry when it was killed; no two overlap.
//
// Or, for figures: cache_torture_driver --latency N LOCAL_DIR NAME=SHARED_DIR... times N publishes,
// lease cycles and reads in each place, interleaved (tests/cache/latency.h).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "cache/cache.h"
#include "cache/fleet.h"
#include "cache/lease.h"
#include "cache/published.h"
#include "tests/cache/latency.h"

namespace {

int lease_loop(const std::filesystem::path& shared, int log, std::chrono::milliseconds ttl) {
  using namespace autotune;
  const auto say = [&](const std::string& line) {
    const std::string l = line + "\n";
    if (::write(log, l.data(), l.size()) < 0) std::abort();
  };
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  for (;;) {
    auto a = Lease::try_acquire(leases_dir(shared), "torture", ttl);
    if (!a.error.empty()) say("E " + a.error);
    if (!a.lease) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 20));
      continue;
    }
    const auto info = read_lease(a.lease->path());
    const std::string token = info ? info->token : "?";
    say("A " + token + " " + std::to_string(epoch_ms()) + " " + std::to_string(info ? info->expires_ms : 0));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (ttl.count() / 8 + 1)));
    if (a.lease->refresh()) {
      const auto now = read_lease(a.lease->path());
      say("F " + token + " " + std::to_string(now ? now->expires_ms : 0));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (ttl.count() / 8 + 1)));
    say("R " + token + " " + std::to_string(epoch_ms()));
    a.lease->release();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--lease") {
    const int log = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return lease_loop(argv[2], log, std::chrono::milliseconds(std::stol(argv[4])));
  }
  if (argc >= 5 && std::string(argv[1]) == "--latency") {
    std::vector<autotune::LatencyPlace> places;
    for (int i = 4; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto eq = arg.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "--latency: expected NAME=SHARED_DIR, not '" << arg << "'\n";
        return 2;
      }
      places.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
    }
    return autotune::measure_latencies(std::stoi(argv[2]), argv[3], places);
  }
  if (argc != 4) {
    std::cerr << "usage: cache_torture_driver LOCAL_FILE SHARED_DIR LOG_FILE\n";
    return 2;
  }
  using namespace autotune;
  const int log = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const auto say = [&](const std::string& line) {
    const std::string l = line + "\n";
    if (::write(log, l.data(), l.size()) < 0) std::abort();
  };
  auto opened = Cache::open(argv[1]);
  for (const auto& w : opened.warnings) std::cerr << "warning: " << w << "\n";
  if (!opened.cache) return 1;
  CacheKey key;
  key.gpu_name = "NVIDIA H100 80GB HBM3";
  key.compute_capability = "9.0";
  key.torch = "2.11.0+cu130";
  key.workloads_version = "torture";
  for (int round = 0;; ++round) {
    Measurement m;
    m.backend = "sdpa_cudnn";
    m.backend_version = "2.11.0+cu130";
    m.shape = "s" + std::to_string(::getpid()) + "-" + std::to_string(round);
    m.status = Status::ok;
    m.median_ms = 0.1 + round * 0.001;
    m.samples = 10;
    opened.cache->put_measurement(key, m);
    say("L " + m.shape);
    const auto w = publish_key(*opened.cache, argv[2], key, /*compact_above=*/1000000);
    for (const auto& line : w) std::cerr << "warning: " << line << "\n";
    if (w.empty()) say("P " + m.shape);
    if (round % 5 == 4) {
      PruneOptions o;
      const auto r = prune(published_dir(argv[2]), o, key_hash(key));
      for (const auto& line : r.warnings) std::cerr << "warning: " << line << "\n";
    }
  }
}
