#include "boot.h"

#include <chrono>

#include <nlohmann/json.hpp>

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

// The cache step: a hit returns the stored decision; a miss runs the tuner, if any.
std::optional<Decision> decide_from_measurements(const BootOptions& o, const GpuInfo& gpu, BootResult& r,
                                                 std::string& why_not) {
  auto opened = Cache::open(o.cache_path);
  r.warnings.insert(r.warnings.end(), opened.warnings.begin(), opened.warnings.end());
  const CacheKey key = make_cache_key(gpu, r.env, o.workloads_version, o.harness_version);
  const std::string backends = backends_signature(r.env);
  if (opened.cache) {
    try {
      if (auto hit = opened.cache->decision(key, backends)) return hit;
    } catch (const std::exception& e) {
      r.warnings.push_back("cache lookup in " + o.cache_path.string() + " failed: " + e.what());
    }
  }
  if (!o.tuner) {
    why_not = "no tuning result cached for this GPU and software, and " + o.tuning_off_reason;
    return std::nullopt;
  }
  auto tuned = o.tuner(gpu, r.env, opened.cache.get(), key, r.warnings);
  if (!tuned) {
    why_not = "tuning did not decide";
    return std::nullopt;
  }
  if (opened.cache) {
    // A failed cache write costs the next boot a re-tune, not this boot its decision.
    try {
      opened.cache->put_decision(key, backends, *tuned);
    } catch (const std::exception& e) {
      r.warnings.push_back("could not store the decision in " + o.cache_path.string() + ": " + e.what());
    }
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
