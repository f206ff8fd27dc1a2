// Cache records as values, the rule that decides which of two copies of a record wins, and the
// checks a record from another pod must pass before it is used. Pure: no files, no clock
// (except now_timestamp), tested with synthetic records (tests/cache/test_records.cpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cache/cache.h"

namespace autotune {

struct MeasurementRecord {
  CacheKey key;
  Measurement m;
  std::string measured_at;  // normalised UTC timestamp, "2026-11-25T12:00:00.123Z"
};

struct DecisionRecord {
  CacheKey key;
  std::string backends;  // backends_signature() the decision was made with; "; " and the policy's (BootOptions::policy)
  Decision decision;
  std::string decided_at;
};

// A record's identity: two records with the same identity are copies of one record, and the
// merge rule keeps one of them.
//   measurement: (key, backend, backend_version, shape)
//   decision:    (key, backends)
std::string identity(const MeasurementRecord& r);
std::string identity(const DecisionRecord& r);

// The merge rule: true when `a` replaces `b` (same identity). A total order, so the winner does
// not depend on the order in which files are read.
//
// Measurements. Statuses fall into three classes:
//   decisive failures  rejected, crashed, unsupported: a property of the GPU and the software
//                      (NaN output, a kernel that kills the process, a head_dim with no kernel)
//   ok
//   transient failures oom, failed, timeout, not_installed: may come from the pod (memory used by
//                      something else, a busy host, a broken import), not from the key
// A decisive failure beats ok, and ok beats a transient failure: trusting a wrong "ok" costs a
// crash or a black image, trusting a wrong failure costs only a slower backend. Within a class
// the newer measured_at wins; then more samples; then the lower median; then the full record's
// text, so that a tie still resolves the same way everywhere.
//
// Decisions: the newer decided_at wins; then the record's text.
bool wins(const MeasurementRecord& a, const MeasurementRecord& b);
bool wins(const DecisionRecord& a, const DecisionRecord& b);

// Every decision record in `records`, identity and full text, in identity order: equal texts, equal
// decisions (published.h names files by its hash). Empty when `records` holds no decision.
struct RecordSet;
std::string decisions_text(const RecordSet& records);

// Records keyed by identity, each the winner of every copy added.
struct RecordSet {
  std::map<std::string, MeasurementRecord> measurements;
  std::map<std::string, DecisionRecord> decisions;

  // Each returns true when the record was new or replaced the copy held.
  bool add(MeasurementRecord r);
  bool add(DecisionRecord r);
  void merge(const RecordSet& other);
  // Every identity of `other` is here (its copy may have lost to this one).
  bool covers(const RecordSet& other) const;
  std::size_t size() const { return measurements.size() + decisions.size(); }
  bool empty() const { return size() == 0; }
  // Records of one key only.
  RecordSet only(const CacheKey& key) const;
  std::vector<CacheKey> keys() const;
  // The latest decided_at or measured_at held; empty when none.
  std::string latest() const;
};

// Why a measurement cannot be true, or nullopt: NaN or infinite numbers, an ok result with zero
// or negative latency or no samples, negative memory.
std::optional<std::string> impossible(const Measurement& m);
// Why a record does not apply to this venv, or nullopt: its backend's library is not installed
// here (a not_installed row says exactly that, so it passes).
std::optional<std::string> not_installed_here(const Measurement& m, const Fingerprint& env);
std::optional<std::string> not_installed_here(const Decision& d, const Fingerprint& env);
std::optional<std::string> impossible(const Decision& d);

// Removes from `records` what is impossible or, when `env` is given, claims a backend that is not
// installed here. One warning per call naming `source`, the count and the first reason.
void drop_invalid(RecordSet& records, const Fingerprint* env, const std::string& source,
                  std::vector<std::string>& warnings);

// "2026-11-25T12:00:00.123Z", UTC, now.
std::string now_timestamp();
// Brings "2026-11-25T12:00:00Z" to millisecond form, so that timestamps compare as strings.
std::string normalise_timestamp(const std::string& t);

// Export format: {"format": "comfyui-attention-autotune-cache", "version": 1, "exported_at",
// "measurements": [{"key": {...}, <Measurement fields>, "measured_at"}],
// "decisions": [{"key": {...}, "backends", "mechanism", "reason", "default_backend", "routes",
// "decided_at"}]}.
inline constexpr const char* kExportFormat = "comfyui-attention-autotune-cache";
inline constexpr int kExportVersion = 1;
nlohmann::json to_export_json(const RecordSet& records);
// Throws std::invalid_argument naming what is wrong with the document as a whole (format,
// version, not an object). A record that is malformed or impossible is left out with a warning
// that names it.
RecordSet from_export_json(const nlohmann::json& doc, std::vector<std::string>& warnings);

nlohmann::json key_json(const CacheKey& k);
CacheKey key_from_json(const nlohmann::json& j);  // throws nlohmann::json::exception

}  // namespace autotune
