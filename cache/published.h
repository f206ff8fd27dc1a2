// The shared directory of a fleet (<cache-dir>/published/): complete, immutable snapshot files
// that pods publish with an atomic rename and read without locks. cache/README.md has the design
// and its failure analysis.
//
// File names: pub-<key hash>-<stamp>-<pod>-<pid>-<random>.sqlite, where <key hash> is the FNV-1a
// hash of the CacheKey the file holds (one key per file, so a boot opens only its own key's
// files) and <stamp> ("20261125T120000.123Z") is no earlier than any timestamp inside the file,
// so a reader that wants only the newest decision can stop early. Temporaries start with ".tmp-";
// files set aside get a suffix after ".sqlite"; readers look at neither.
//
// Names end with what the file holds of decisions: "-n" for none (a tuner's
// partial publish), or "-d<stamp>_<digest>" with the newest decided_at inside and a hash of all
// its decision records. A boot wants one decision; with these it opens no measurements-only
// file, stops at the first file whose newest decision is older than the best found, and opens
// one file of each set of identical decisions. A pile of 100 files of one key then costs a boot
// about one file's read, not 100 (results/moosefs-2026-12-03.md). Names without the suffix
// (older autotunes) are read as before, bounded by their stamp; older readers ignore it.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cache/records.h"

namespace autotune {

// 16 hex digits: FNV-1a 64 of key.canonical(); hash_text of any text.
std::string key_hash(const CacheKey& key);
std::string hash_text(const std::string& text);
// RUNPOD_POD_ID, else the host name; reduced to [A-Za-z0-9_.] for file names.
std::string pod_id();
// "20261125T120000.123Z" from "2026-11-25T12:00:00.123Z".
std::string compact_stamp(const std::string& timestamp);

struct PublishedFile {
  std::filesystem::path path;
  std::string key_hash;
  std::string stamp;  // compact form
  // From the name's suffix: false for names without one (they may hold anything up to `stamp`).
  bool described = false;
  std::string newest_decision;  // compact stamp of the newest decided_at inside; empty: none
  std::string decisions_digest;  // hash_text(decisions_text(records)); empty: none
};

// The name's suffix for `records`: "n" or "d<stamp>_<digest>" (without the leading '-').
std::string describe_decisions(const RecordSet& records);

// Published files, newest stamp first; those of one key hash only when `hash` is not empty.
std::vector<PublishedFile> list_published(const std::filesystem::path& dir, const std::string& hash = {});

// Writes the records of one key as a new file in `dir` (temp file in the same directory, fsync,
// rename to a unique name, fsync of the directory). Returns the new file's path. Throws.
std::filesystem::path publish(const std::filesystem::path& dir, const RecordSet& records);

// What reading published files found. Damaged files are set aside (renamed, never deleted), one
// warning each; files of a newer schema are left in place (a newer autotune in the same fleet
// wrote them) and skipped with a warning.
struct ReadReport {
  RecordSet records;
  std::vector<std::string> warnings;
  std::vector<std::filesystem::path> set_aside;  // new names
  std::vector<std::filesystem::path> read;       // files whose records are in `records`
  int files_seen = 0;
};

// Reads and merges every published file (of one key when `key` is given).
// With `env`, each file's records that cannot apply here are left out before merging (one
// warning per file), so that an invalid newer copy never hides a valid older one.
ReadReport read_published(const std::filesystem::path& dir, const std::optional<CacheKey>& key = std::nullopt,
                          const Fingerprint* env = nullptr);

// The decision for (key, backends) by the merge rule, reading the key's files newest first and
// stopping once no older file can hold a newer decision.
ReadReport lookup_decision(const std::filesystem::path& dir, const CacheKey& key, const std::string& backends,
                           const Fingerprint* env = nullptr);

struct PruneOptions {
  // Temporaries and set-aside files are left alone until this old; a temporary younger than
  // this may belong to a publish in progress.
  std::chrono::seconds min_age{3600};
  bool dry_run = false;
};

struct PruneReport {
  std::vector<std::filesystem::path> written;  // compacted files
  std::vector<std::filesystem::path> removed;  // inputs covered by a compacted file, old temporaries
  std::vector<std::string> warnings;
};

// Compacts each key's files into one: merges them, publishes the result, reads it back, and only
// then deletes the inputs whose every record identity it holds. Inputs that vanished or could not
// be read are kept. Also removes temporaries older than min_age. Never deletes the last copy of a
// record: a file is deleted only after a verified file holding all its identities was published.
PruneReport prune(const std::filesystem::path& dir, const PruneOptions& options,
                  const std::string& only_hash = {});

}  // namespace autotune
