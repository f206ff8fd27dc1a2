#include "boot.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "cache/fleet.h"
#include "cache/lease.h"
#include "cache/published.h"

#include "tuner/arch_table.h"
#include "tuner/boot/outputs.h"
#include "tuner/override.h"

namespace autotune {
namespace fs = std::filesystem;

fs::path env_settings_path(const BootOptions& o) {
  return o.env_settings.empty() ? o.venv / ".env_settings" : o.env_settings;
}

fs::path decision_file_path(const BootOptions& o) {
  return o.decision_file.empty() ? o.venv / ".attention_decision.json" : o.decision_file;
}

namespace {

Decision from_table(const GpuInfo* gpu, const Fingerprint& env, const std::string& why_not_tuned) {
  const TableChoice choice = table_choice(gpu, env);
  Decision d;
  d.mechanism = choice.mechanism;
  d.source = Source::table;
  d.reason = why_not_tuned.empty() ? choice.reason : why_not_tuned + "; " + choice.reason;
  d.default_backend = default_backend_of(choice.mechanism);
  return d;
}

// The cache step: a hit (this pod's file or a published one) returns the stored decision; a miss
// takes the key's lease and tunes, or, while another pod holds the lease, waits for its published
// decision up to wait_for_fleet. cache/README.md has the design.
std::optional<Decision> decide_from_measurements(const BootOptions& o, const GpuInfo& gpu, BootResult& r,
                                                 std::string& why_not) {
  using Clock = std::chrono::steady_clock;
  const bool fleet = !o.shared_dir.empty();
  // A fresh pod with a fleet has no local file yet; creating one costs a few fsyncs (about 20 ms
  // on the CI disk), so a hit from the published files does not create it: tuning does.
  Cache::Opened opened;
  std::error_code exists_ec;
  const auto open_local = [&] {
    if (opened.cache) return;
    opened = Cache::open(o.cache_path);
    r.warnings.insert(r.warnings.end(), opened.warnings.begin(), opened.warnings.end());
  };
  if (!fleet || fs::exists(o.cache_path, exists_ec)) open_local();
  const CacheKey key = make_cache_key(gpu, r.env, o.workloads_version, o.harness_version);
  const std::string backends = backends_signature(r.env);
  // Polling repeats the same warnings (a newer-schema file skipped); report each once.
  std::vector<std::string> seen;
  const auto lookup = [&]() {
    std::vector<std::string> w;
    auto hit = fleet_decision(opened.cache.get(), o.shared_dir, key, backends, r.env, w);
    for (auto& line : w)
      if (std::find(seen.begin(), seen.end(), line) == seen.end()) {
        seen.push_back(line);
        r.warnings.push_back(line);
      }
    return hit;
  };
  if (auto hit = lookup()) return hit;
  if (!o.tuner) {
    why_not = "no tuning result cached for this GPU and software, and " + o.tuning_off_reason;
    return std::nullopt;
  }

  std::unique_ptr<Lease> lease;
  if (fleet) {
    const auto deadline = Clock::now() + o.wait_for_fleet;
    for (;;) {
      auto attempt = Lease::try_acquire(leases_dir(o.shared_dir), lease_name(key, backends), o.lease_ttl);
      if (attempt.lease) {
        lease = std::move(attempt.lease);
        break;
      }
      if (!attempt.error.empty()) {
        r.warnings.push_back(attempt.error + "; tuning without asking the other pods");
        break;
      }
      const auto now = Clock::now();
      if (now >= deadline) {
        why_not = (attempt.holder ? attempt.holder->describe() : std::string("another pod")) +
                  " is tuning this GPU and software; waited " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(o.wait_for_fleet).count()) +
                  " s for its result, which the next boot will use";
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(o.fleet_poll, deadline - now));
      if (auto hit = lookup()) return hit;
    }
    // The previous holder may have published and released between our look and our lease.
    if (lease) {
      if (auto hit = lookup()) return hit;
      lease->keep_alive();
    }
    // Resume from what the fleet has measured for this key (a run cut off by its budget elsewhere).
    open_local();
    if (opened.cache) {
      ReadReport read = read_published(published_dir(o.shared_dir), key, &r.env);
      for (auto& w : read.warnings)
        if (std::find(seen.begin(), seen.end(), w) == seen.end()) r.warnings.push_back(w);
      try {
        opened.cache->merge_in(read.records);
      } catch (const std::exception& e) {
        r.warnings.push_back("could not copy the fleet's measurements into " + o.cache_path.string() + ": " + e.what());
      }
    }
  }

  open_local();
  auto tuned = o.tuner(gpu, r.env, opened.cache.get(), key, r.warnings);
  if (tuned && opened.cache) {
    // A failed cache write costs the next boot a re-tune, not this boot its decision.
    try {
      opened.cache->put_decision(key, backends, *tuned);
    } catch (const std::exception& e) {
      r.warnings.push_back("could not store the decision in " + o.cache_path.string() + ": " + e.what());
    }
  }
  // Publish before releasing the lease, so a pod that takes it next finds the result. Partial
  // measurements are published too: the next tuner resumes from them.
  if (fleet && opened.cache) {
    auto w = publish_key(*opened.cache, o.shared_dir, key);
    r.warnings.insert(r.warnings.end(), w.begin(), w.end());
  }
  if (lease) lease->release();
  if (!tuned) {
    why_not = "tuning did not decide";
    return std::nullopt;
  }
  return tuned;
}

}  // namespace

BootResult run_boot(const BootOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  BootResult r;
  r.detection = detect_gpus(o.detect);
  r.env = read_fingerprint(o.venv);
  r.warnings = r.env.warnings;
  const GpuInfo* gpu = r.gpu();
  r.architecture = gpu ? std::string(arch_row(gpu->cc_major, gpu->cc_minor).architecture) : "none";

  const Override over = parse_override(o.override_value, o.written_marker, r.env, gpu);
  if (over.mechanism) {
    r.decision = {*over.mechanism, Source::override_, over.message, default_backend_of(*over.mechanism), {}};
  } else {
    if (!over.message.empty()) r.warnings.push_back(over.message);
    std::string why_not;
    std::optional<Decision> measured;
    if (gpu) measured = decide_from_measurements(o, *gpu, r, why_not);
    r.decision = measured ? *measured : from_table(gpu, r.env, why_not);
  }

  r.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const fs::path settings = env_settings_path(o);
  const fs::path decision = decision_file_path(o);
  if (auto e = atomic_write(decision, decision_json(r).dump(2) + "\n")) r.warnings.push_back(*e);
  else r.written.push_back(decision);
  if (auto e = atomic_write(settings, render_env_settings(r, decision))) r.warnings.push_back(*e);
  else r.written.push_back(settings);
  r.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace autotune
