// The cache as a fleet sees it: this pod's local SQLite file plus the files pods published to the
// shared directory, merged by the rule of records.h, with records that cannot apply here left out.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "cache/records.h"

namespace autotune {

inline std::filesystem::path published_dir(const std::filesystem::path& shared) { return shared / "published"; }
inline std::filesystem::path leases_dir(const std::filesystem::path& shared) { return shared / "leases"; }

// More published files than this for one key get compacted into one: by the tuner that
// publishes (inline: tuning takes seconds anyway), or, for a boot that finds them, by a detached
// process after the boot (compact_detached), so that the boot does not wait for it.
inline constexpr int kCompactAbove = 8;

// The lease name for a (key, backends) pair: one tuning per pair.
std::string lease_name(const CacheKey& key, const std::string& backends);

// The decision for (key, backends): the local file's and the published files' copies, merged,
// validated against `env`. `shared` empty: the local file only. Sets `*compact` (when given) if
// the key has more than kCompactAbove published files; compacting them is the caller's to start.
std::optional<Decision> fleet_decision(Cache* local, const std::filesystem::path& shared, const CacheKey& key,
                                       const std::string& backends, const Fingerprint& env,
                                       std::vector<std::string>& warnings, bool* compact = nullptr);

// Compacts the published files of each key hash in `key_hashes` (prune() of published.h) in a
// detached process (double fork, new session, no output), and returns at once; false when the
// process could not be started. Call it from a process with one thread: the child runs SQLite.
// Nothing waits for it: it leaves the files as prune() would, or, killed, as a killed prune would.
// It starts after `delay`, at nice 19: it reads every file of the key, which on 2 shared cores
// made the boots beside it slower (a MooseFS boot measured right after another's compaction began
// took 2.08x; results/moosefs-2026-12-03.md), and the pod starts ComfyUI right after its boot.
inline constexpr std::chrono::milliseconds kCompactDelay{1000};
bool compact_detached(const std::filesystem::path& shared, const std::vector<std::string>& key_hashes,
                      std::chrono::milliseconds delay = kCompactDelay);

// Everything: the local file (if any) and every published file, merged; impossible records left
// out (no venv check: a fleet's records may be for other venvs).
RecordSet fleet_records(Cache* local, const std::filesystem::path& shared, std::vector<std::string>& warnings,
                        const std::optional<CacheKey>& only = std::nullopt);

// Publishes the local file's records of `key` to the shared directory, and compacts the key's
// published files when there are more than `compact_above`. Returns warnings; never throws
// (a failed publish costs other pods a re-tune, not this boot its decision).
std::vector<std::string> publish_key(Cache& local, const std::filesystem::path& shared, const CacheKey& key,
                                     int compact_above = kCompactAbove);

}  // namespace autotune
