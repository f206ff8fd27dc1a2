#include "fleet.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/published.h"

namespace autotune {
namespace fs = std::filesystem;

std::string lease_name(const CacheKey& key, const std::string& backends) {
  return key_hash(key) + "-" + hash_text(backends);
}

std::optional<Decision> fleet_decision(Cache* local, const fs::path& shared, const CacheKey& key,
                                       const std::string& backends, const Fingerprint& env,
                                       std::vector<std::string>& warnings, bool* compact) {
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
    ReadReport read = lookup_decision(published_dir(shared), key, backends, &env);
    warnings.insert(warnings.end(), read.warnings.begin(), read.warnings.end());
    // Tuners compact after publishing; a key whose files piled up anyway (prune never ran, a
    // tuner killed, several venvs) is compacted after the boot that finds them, off its path:
    // compacting 100 files inline made that boot 11x a 1-file boot (results/cache-torture.md).
    if (compact && read.files_seen > kCompactAbove) *compact = true;
    read.records.measurements.clear();
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
    drop_invalid(read.records, nullptr, "published files", warnings);  // impossible values only
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

bool compact_detached(const fs::path& shared, const std::vector<std::string>& key_hashes,
                      std::chrono::milliseconds delay) {
  if (key_hashes.empty()) return true;
  const pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    // The child starts the compactor and exits at once, so the boot reaps it now and the
    // compactor, orphaned, belongs to init: the boot leaves no zombie and waits for nothing.
    ::setsid();
    const pid_t compactor = ::fork();
    if (compactor != 0) ::_exit(compactor < 0 ? 1 : 0);
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    if (::nice(19) < 0) {
    }
    if (delay.count() > 0) ::usleep(static_cast<useconds_t>(delay.count()) * 1000);
    try {
      for (const auto& hash : key_hashes) prune(published_dir(shared), PruneOptions{}, hash);
    } catch (...) {
    }
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace autotune
