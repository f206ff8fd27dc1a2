#include "fleet.h"

#include "cache/published.h"

namespace autotune {
namespace fs = std::filesystem;

std::string lease_name(const CacheKey& key, const std::string& backends) {
  return key_hash(key) + "-" + hash_text(backends);
}

void drop_invalid(RecordSet& records, const Fingerprint* env, const std::string& source,
                  std::vector<std::string>& warnings) {
  int dropped = 0;
  std::string first;
  const auto note = [&](const std::string& what, const std::string& why) {
    if (dropped++ == 0) first = what + ": " + why;
  };
  for (auto it = records.measurements.begin(); it != records.measurements.end();) {
    const Measurement& m = it->second.m;
    auto why = impossible(m);
    if (!why && env) why = not_installed_here(m, *env);
    if (why) {
      note(m.backend + " on " + m.shape, *why);
      it = records.measurements.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = records.decisions.begin(); it != records.decisions.end();) {
    const Decision& d = it->second.decision;
    auto why = impossible(d);
    if (!why && env) why = not_installed_here(d, *env);
    if (why) {
      note("decision " + std::string(to_string(d.mechanism)), *why);
      it = records.decisions.erase(it);
    } else {
      ++it;
    }
  }
  if (dropped)
    warnings.push_back("ignored " + std::to_string(dropped) + " record" + (dropped > 1 ? "s" : "") + " from " + source +
                       " (" + first + (dropped > 1 ? "; and others" : "") + ")");
}

std::optional<Decision> fleet_decision(Cache* local, const fs::path& shared, const CacheKey& key,
                                       const std::string& backends, const Fingerprint& env,
                                       std::vector<std::string>& warnings) {
  RecordSet all;
  if (local) {
    try {
      RecordSet mine = local->records(key);
      mine.measurements.clear();  // only the decision is wanted here
      drop_invalid(mine, &env, local->path().string(), warnings);
      all.merge(mine);
    } catch (const std::exception& e) {
      warnings.push_back("cache lookup in " + local->path().string() + " failed: " + e.what());
    }
  }
  if (!shared.empty()) {
    ReadReport read = lookup_decision(published_dir(shared), key, backends);
    warnings.insert(warnings.end(), read.warnings.begin(), read.warnings.end());
    read.records.measurements.clear();
    drop_invalid(read.records, &env, "published files for this key", warnings);
    all.merge(read.records);
  }
  DecisionRecord probe;
  probe.key = key;
  probe.backends = backends;
  const auto it = all.decisions.find(identity(probe));
  if (it == all.decisions.end()) return std::nullopt;
  Decision d = it->second.decision;
  d.source = Source::cache;
  return d;
}

RecordSet fleet_records(Cache* local, const fs::path& shared, std::vector<std::string>& warnings,
                        const std::optional<CacheKey>& only) {
  RecordSet all;
  if (local) {
    try {
      all = local->records(only);
      drop_invalid(all, nullptr, local->path().string(), warnings);
    } catch (const std::exception& e) {
      warnings.push_back("cannot read " + local->path().string() + ": " + e.what());
    }
  }
  if (!shared.empty()) {
    ReadReport read = read_published(published_dir(shared), only);
    warnings.insert(warnings.end(), read.warnings.begin(), read.warnings.end());
    drop_invalid(read.records, nullptr, "published files", warnings);
    all.merge(read.records);
  }
  return all;
}

std::vector<std::string> publish_key(Cache& local, const fs::path& shared, const CacheKey& key, int compact_above) {
  std::vector<std::string> warnings;
  try {
    const RecordSet mine = local.records(key);
    if (mine.empty()) return warnings;
    publish(published_dir(shared), mine);
    if (static_cast<int>(list_published(published_dir(shared), key_hash(key)).size()) > compact_above) {
      PruneOptions o;
      const PruneReport p = prune(published_dir(shared), o, key_hash(key));
      warnings.insert(warnings.end(), p.warnings.begin(), p.warnings.end());
    }
  } catch (const std::exception& e) {
    warnings.push_back("could not publish this pod's results to " + published_dir(shared).string() + ": " + e.what() +
                       "; other pods will tune this GPU and software themselves");
  }
  return warnings;
}

}  // namespace autotune
