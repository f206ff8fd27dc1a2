#include "boot.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cache/fleet.h"
#include "cache/lease.h"
#include "cache/published.h"

#include "common/arch_table.h"
#include "boot/outputs.h"
#include "boot/tuning.h"
#include "common/override.h"
#include "common/policy.h"

namespace autotune {
namespace fs = std::filesystem;

fs::path env_settings_path(const BootOptions& o) {
  return o.env_settings.empty() ? o.venv / ".env_settings" : o.env_settings;
}

fs::path decision_file_path(const BootOptions& o) {
  return o.decision_file.empty() ? o.venv / ".attention_decision.json" : o.decision_file;
}

namespace {

Decision from_table(const GpuInfo* gpu, const Fingerprint& env, const std::string& why_not_tuned,
                    const std::map<Mechanism, std::string>& broken = {}) {
  const TableChoice choice = table_choice(gpu, env, broken);
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
// This pod's local file, as the threads of a multi-GPU boot share it (one thread per GPU model,
// each with its own connection). The cache's writes take SQLite's write lock up front
// (IMMEDIATE), so concurrent writers wait on the busy timeout instead of failing; `mutex` also
// keeps the writes made from here, the first open of a fresh file included, one at a time.
struct LocalFile {
  std::mutex mutex;
  std::vector<std::string> compact;  // key hashes whose published files want compacting
};

// `env` is shared read-only between threads; `warnings` is the caller's own.
std::optional<Decision> decide_from_measurements(const BootOptions& o, const GpuInfo& gpu, const Fingerprint& env,
                                                 std::vector<std::string>& warnings, LocalFile& local,
                                                 std::string& why_not, std::map<Mechanism, std::string>& broken) {
  const Clock& clock = *o.clock;
  const bool fleet = !o.shared_dir.empty();
  // A fresh pod with a fleet has no local file yet; creating one costs a few fsyncs (about 20 ms
  // on the CI disk), so a hit from the published files does not create it: tuning does.
  Cache::Opened opened;
  std::error_code exists_ec;
  const auto open_local = [&] {
    if (opened.cache) return;
    const std::lock_guard<std::mutex> lock(local.mutex);
    opened = Cache::open(o.cache_path);
    warnings.insert(warnings.end(), opened.warnings.begin(), opened.warnings.end());
  };
  if (!fleet || fs::exists(o.cache_path, exists_ec)) open_local();
  const CacheKey key = make_cache_key(gpu, env, o.workloads_version, o.harness_version);
  const std::string backends = backends_signature(env) + (o.policy.empty() ? "" : "; " + o.policy);
  // Polling repeats the same warnings (a newer-schema file skipped); report each once.
  std::vector<std::string> seen;
  const auto lookup = [&]() {
    std::vector<std::string> w;
    bool compact = false;
    auto hit = fleet_decision(opened.cache.get(), o.shared_dir, key, backends, env, w, &compact);
    if (compact) {
      const std::lock_guard<std::mutex> lock(local.mutex);
      if (std::find(local.compact.begin(), local.compact.end(), key_hash(key)) == local.compact.end())
        local.compact.push_back(key_hash(key));
    }
    for (auto& line : w)
      if (std::find(seen.begin(), seen.end(), line) == seen.end()) {
        seen.push_back(line);
        warnings.push_back(line);
      }
    return hit;
  };
  // No decision: what this environment's measurements (this pod's and the fleet's, current
  // library versions) show broken, so that the table does not pick it (the table once
  // picked flash3 on the H200 after this very run measured its output wrong on every shape).
  const auto undecided = [&](std::string why) -> std::optional<Decision> {
    why_not = std::move(why);
    std::vector<std::string> w;
    std::vector<Measurement> current;
    for (auto& [id, r] : fleet_records(opened.cache.get(), o.shared_dir, w, key).measurements) {
      const std::string v = backend_version(r.m.backend, env);
      if (v.empty() || v == r.m.backend_version) current.push_back(std::move(r.m));
    }
    for (auto& line : w)
      if (std::find(seen.begin(), seen.end(), line) == seen.end()) warnings.push_back(line);
    broken = broken_mechanisms(current);
    return std::nullopt;
  };
  // With recorded shapes, a hit counts only when its decision routes every one of them (a route
  // names its workload); otherwise the tune runs, and resumes from what the cache holds under this
  // key, so it measures only the shapes (and backends) missing. A route, not a measurement, is the
  // test: a tune cut off by its budget leaves rows for a shape but no decision that routes it.
  const auto covered_hit = [&]() -> std::optional<Decision> {
    auto hit = lookup();
    if (!hit || !o.tuner) return hit;
    std::set<std::string> routed;
    for (const auto& r : hit->routes) routed.insert(r.workload);
    for (const auto& s : o.seen_workloads)
      if (!routed.count(s.id)) return std::nullopt;
    return hit;
  };
  if (auto hit = covered_hit()) return hit;
  if (!o.tuner) return undecided("no tuning result cached for this GPU and software, and " + o.tuning_off_reason);

  std::unique_ptr<Lease> lease;
  if (fleet) {
    const auto deadline = clock.now() + o.wait_for_fleet;
    for (;;) {
      auto attempt = Lease::try_acquire(leases_dir(o.shared_dir), lease_name(key, backends), o.lease_ttl, clock);
      if (attempt.lease) {
        lease = std::move(attempt.lease);
        break;
      }
      if (!attempt.error.empty()) {
        warnings.push_back(attempt.error + "; tuning without asking the other pods");
        break;
      }
      const auto now = clock.now();
      if (now >= deadline) {
        return undecided((attempt.holder ? attempt.holder->describe(clock.epoch_ms()) : std::string("another pod")) +
                         " is tuning this GPU and software; waited " +
                         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(o.wait_for_fleet).count()) +
                         " s for its result, which the next boot will use");
      }
      clock.sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(
          std::min<Clock::time_point::duration>(o.fleet_poll, deadline - now)));
      if (auto hit = covered_hit()) return hit;
    }
    // The previous holder may have published and released between our look and our lease.
    if (lease) {
      if (auto hit = covered_hit()) return hit;
      lease->keep_alive();
    }
    // Resume from what the fleet has measured for this key (a run cut off by its budget elsewhere).
    open_local();
    if (opened.cache) {
      ReadReport read = read_published(published_dir(o.shared_dir), key, &env);
      for (auto& w : read.warnings)
        if (std::find(seen.begin(), seen.end(), w) == seen.end()) warnings.push_back(w);
      try {
        const std::lock_guard<std::mutex> lock(local.mutex);
        opened.cache->merge_in(read.records);
      } catch (const std::exception& e) {
        warnings.push_back("could not copy the fleet's measurements into " + o.cache_path.string() + ": " + e.what());
      }
    }
  }

  open_local();
  auto tuned = o.tuner(gpu, env, opened.cache.get(), key, warnings);
  if (tuned && opened.cache) {
    // A failed cache write costs the next boot a re-tune, not this boot its decision.
    try {
      const std::lock_guard<std::mutex> lock(local.mutex);
      opened.cache->put_decision(key, backends, *tuned);
    } catch (const std::exception& e) {
      warnings.push_back("could not store the decision in " + o.cache_path.string() + ": " + e.what());
    }
  }
  // Publish before releasing the lease, so a pod that takes it next finds the result. Partial
  // measurements are published too: the next tuner resumes from them.
  if (fleet && opened.cache) {
    auto w = publish_key(*opened.cache, o.shared_dir, key);
    warnings.insert(warnings.end(), w.begin(), w.end());
  }
  if (lease) lease->release();
  if (!tuned) return undecided("tuning did not decide");
  return tuned;
}

// One model's decision: override, else cache or tuning, else the static table. `gpu` is null
// when no GPU is visible. Warnings go to `warnings`, which belongs to the caller's thread.
Decision decide_for_model(const BootOptions& o, const GpuInfo* gpu, const Fingerprint& env,
                          std::vector<std::string>& warnings, LocalFile& local) {
  const Override over = parse_override(o.override_value, o.written_marker, env, gpu);
  if (over.mechanism)
    return {*over.mechanism, Source::override_, over.message, default_backend_of(*over.mechanism), {}};
  if (!over.message.empty()) warnings.push_back(over.message);
  std::string why_not;
  std::map<Mechanism, std::string> broken;
  std::optional<Decision> measured;
  if (gpu) measured = decide_from_measurements(o, *gpu, env, warnings, local, why_not, broken);
  return measured ? *measured : from_table(gpu, env, why_not, broken);
}

// "GPU 0,1" for a group's members, by NVML index.
std::string members_label(const BootResult& r, const GpuGroup& group) {
  std::string out = "GPU ";
  for (std::size_t i = 0; i < group.members.size(); ++i)
    out += (i ? "," : "") + std::to_string(r.detection.gpus[group.members[i]].index);
  return out;
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Several GPU models: one thread per model, each deciding for its model's first visible GPU,
// all at the same time, so that tuning 2 models takes about as long as tuning 1. Each thread
// opens its own handle on the local file (an SQLite connection must not be shared between
// threads) and, with a fleet, takes its own key's lease.
void decide_in_parallel(const BootOptions& o, BootResult& r) {
  struct Outcome {
    Decision decision;
    std::vector<std::string> warnings;
    double ms = 0;
  };
  std::vector<Outcome> outcomes(r.groups.size());
  LocalFile local;
  std::vector<std::thread> threads;
  threads.reserve(r.groups.size());
  for (std::size_t g = 0; g < r.groups.size(); ++g) {
    threads.emplace_back([&, g] {
      const auto start = std::chrono::steady_clock::now();
      const GpuInfo& gpu = r.detection.gpus[r.groups[g].members.front()];
      Outcome& out = outcomes[g];
      // An exception must not leave the thread (std::terminate); the model gets the table.
      try {
        out.decision = decide_for_model(o, &gpu, r.env, out.warnings, local);
      } catch (const std::exception& e) {
        out.decision = from_table(&gpu, r.env, std::string("deciding failed: ") + e.what());
      } catch (...) {
        out.decision = from_table(&gpu, r.env, "deciding failed: unknown exception");
      }
      out.ms = ms_since(start);
    });
  }
  for (auto& t : threads) t.join();
  r.compact = local.compact;

  // Warnings every model gave alike (a bad override) once as they are; the others named by GPU.
  for (std::size_t g = 0; g < outcomes.size(); ++g) {
    for (const auto& w : outcomes[g].warnings) {
      bool everywhere = true;
      for (const auto& other : outcomes)
        everywhere = everywhere && std::find(other.warnings.begin(), other.warnings.end(), w) != other.warnings.end();
      std::string line = everywhere ? w : members_label(r, r.groups[g]) + " (" + r.groups[g].model.name + "): " + w;
      if (std::find(r.warnings.begin(), r.warnings.end(), line) == r.warnings.end()) r.warnings.push_back(line);
    }
  }
  for (std::size_t g = 0; g < r.groups.size(); ++g)
    for (const std::size_t position : r.groups[g].members) {
      const GpuInfo& gpu = r.detection.gpus[position];
      r.per_gpu[position] = {position, g, std::string(arch_row(gpu.cc_major, gpu.cc_minor).architecture),
                             outcomes[g].decision, outcomes[g].ms};
    }
  r.decision = r.per_gpu.front().decision;
}

}  // namespace

BootResult decide_boot(const BootOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  BootResult r;
  r.detection = detect_gpus(o.detect);
  r.env = read_fingerprint(o.venv, o.comfyui);
  r.warnings = r.env.warnings;
  const GpuInfo* gpu = r.gpu();
  r.architecture = gpu ? std::string(arch_row(gpu->cc_major, gpu->cc_minor).architecture) : "none";
  r.groups = group_by_model(r.detection.gpus);
  r.per_gpu.resize(r.detection.gpus.size());
  if (o.on_groups && !r.groups.empty()) o.on_groups(r.groups);

  if (r.groups.size() > 1) {
    decide_in_parallel(o, r);
  } else {
    // No GPU or one model: on this thread, as it always was; identical GPUs share the decision.
    const auto decide_start = std::chrono::steady_clock::now();
    LocalFile local;
    r.decision = decide_for_model(o, gpu, r.env, r.warnings, local);
    r.compact = local.compact;
    const double ms = ms_since(decide_start);
    for (std::size_t i = 0; i < r.per_gpu.size(); ++i) r.per_gpu[i] = {i, 0, r.architecture, r.decision, ms};
  }

  r.elapsed_ms = ms_since(start);
  return r;
}

BootResult run_boot(const BootOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  BootResult r = decide_boot(o);
  write_outputs(o, r);
  r.elapsed_ms = ms_since(start);
  return r;
}

}  // namespace autotune
