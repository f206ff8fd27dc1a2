// The measurement cache: SQLite through SQLiteCpp, schema versioned. One file per cache; a file
// that is damaged, foreign or of a newer schema is set aside (renamed, never deleted) and a new
// one is started, so the boot always goes on.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/decision.h"
#include "common/environment.h"
#include "common/gpu.h"
#include "common/measurement.h"

namespace SQLite {
class Database;
}

namespace autotune {

struct RecordSet;
struct MeasurementRecord;
struct DecisionRecord;

// What a measurement depends on, besides the backend's own version (which is on each row, so
// upgrading one library re-tunes only that library). DESIGN.md, Cache.
struct CacheKey {
  std::string gpu_name;
  std::string compute_capability;
  int sm_count = 0;
  std::uint64_t memory_mib = 0;
  std::string driver;
  std::string cuda_runtime;  // torch's CUDA
  std::string torch;
  std::string workloads_version;
  std::string harness_version;

  std::string canonical() const;  // one line, stable: the primary key

  // The nine fields, once, each with its name (the environments table's column, the export's
  // JSON member) and its label in canonical(). canonical(), the rows written and read back and
  // the export walk this list; the schema's first migration spells the columns out as history,
  // and a test checks it against this list. `visit(name, label, field)`.
  template <class Key, class Visit>
  static void fields(Key& k, Visit&& visit) {
    visit("gpu_name", "gpu", k.gpu_name);
    visit("compute_capability", "cc", k.compute_capability);
    visit("sm_count", "sms", k.sm_count);
    visit("memory_mib", "mem", k.memory_mib);
    visit("driver", "driver", k.driver);
    visit("cuda_runtime", "cuda", k.cuda_runtime);
    visit("torch", "torch", k.torch);
    visit("workloads_version", "workloads", k.workloads_version);
    visit("harness_version", "harness", k.harness_version);
  }
  // The fields' names, joined by ", ", each after `prefix` ("e." in a join).
  static std::string columns(const std::string& prefix = "");
  static int field_count();
};

CacheKey make_cache_key(const GpuInfo& gpu, const Fingerprint& env, const std::string& workloads_version,
                        const std::string& harness_version);

// The installed attention libraries and their versions, torch excluded (it is in the key):
// "flash_attn=2.7.4,sageattention=2.2.0". A decision is valid only for the set it was made with.
std::string backends_signature(const Fingerprint& env);

class Cache {
 public:
  static constexpr int kSchemaVersion = 2;
  static constexpr int kApplicationId = 0x41415455;  // "AATU", marks our files

  struct Opened {
    std::unique_ptr<Cache> cache;       // null only if no usable file could be made at all
    std::vector<std::string> warnings;  // one per file set aside, and why
  };
  // Opens or creates `path` (and its directory). Never throws.
  static Opened open(const std::filesystem::path& path);

  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Inserts or replaces the row for (key, backend, backend_version, shape). Throws SQLite::Exception.
  void put_measurement(const CacheKey& key, const Measurement& m);
  std::vector<Measurement> measurements(const CacheKey& key) const;

  void put_decision(const CacheKey& key, const std::string& backends, const Decision& d);
  std::optional<Decision> decision(const CacheKey& key, const std::string& backends) const;

  std::vector<CacheKey> keys() const;

  // Every record with its timestamps, or those of one key (cache/records.h).
  RecordSet records(const std::optional<CacheKey>& only = std::nullopt) const;
  // Stores each record of `incoming` that is new here or wins over the copy held (the merge rule
  // of records.h), in one transaction; returns how many were written. Throws SQLite::Exception.
  int merge_in(const RecordSet& incoming);

 private:
  Cache(std::filesystem::path path, std::unique_ptr<SQLite::Database> db);
  std::optional<std::int64_t> find_env(const CacheKey& key) const;
  std::int64_t ensure_env(const CacheKey& key);
  void write(const MeasurementRecord& r);
  void write(const DecisionRecord& r);

  std::filesystem::path path_;
  std::unique_ptr<SQLite::Database> db_;
};

// A cache file read without locks: opened read-only as immutable (SQLite then takes no lock and
// keeps no journal), which is right for published files because nobody writes them after their
// rename. `state` says why the records could not be read.
enum class FileState { ok, missing, corrupt, foreign, newer };
std::string_view to_string(FileState s);
struct Snapshot {
  FileState state = FileState::ok;
  std::string problem;  // empty when ok
  std::unique_ptr<RecordSet> records;  // set when ok
};
Snapshot read_snapshot(const std::filesystem::path& path, const std::optional<CacheKey>& only = std::nullopt);

// Writes `records` into a new file at `path` (which must not exist) with the current schema, and
// fsyncs it. No journal: the file is a temporary until its caller renames it. Throws.
void write_snapshot(const std::filesystem::path& path, const RecordSet& records);

// Renames `path` to `path.<tag>-<UTC time>[-n]` and returns the new name. Throws filesystem_error.
std::filesystem::path set_aside(const std::filesystem::path& path, const std::string& tag);

}  // namespace autotune
