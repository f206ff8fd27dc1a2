#include "published.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>
#include <stdexcept>

#include "common/atomic_file.h"

namespace autotune {
namespace fs = std::filesystem;

namespace {

std::uint64_t random64() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          (static_cast<std::uint64_t>(::getpid()) << 32) ^
                                          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  return rng();
}

std::string hex(std::uint64_t v, int digits) {
  static const char* d = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = d[v & 15];
  return out;
}

// Parses "pub-<hash16>-<stamp>-<rest>.sqlite", and the decisions suffix of <rest> when it has one
// ("<pod>-<pid>-<random>-n" or "...-d<stamp20>_<digest16>"; a random part is hex, so never "n" or
// with a '_').
std::optional<PublishedFile> parse_name(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.size() < 30 || name.compare(0, 4, "pub-") != 0) return std::nullopt;
  if (name.size() < 7 || name.compare(name.size() - 7, 7, ".sqlite") != 0) return std::nullopt;
  const std::string hash = name.substr(4, 16);
  if (name[20] != '-') return std::nullopt;
  const auto end = name.find('-', 21);
  if (end == std::string::npos) return std::nullopt;
  PublishedFile f{path, hash, name.substr(21, end - 21), false, {}, {}};
  const std::string rest = name.substr(end + 1, name.size() - 7 - end - 1);
  if (std::count(rest.begin(), rest.end(), '-') < 3) return f;  // <pod>-<pid>-<random>-<suffix>
  const std::string suffix = rest.substr(rest.rfind('-') + 1);
  if (suffix == "n") {
    f.described = true;
  } else if (suffix.size() == 1 + 20 + 1 + 16 && suffix[0] == 'd' && suffix[21] == '_') {
    f.described = true;
    f.newest_decision = suffix.substr(1, 20);
    f.decisions_digest = suffix.substr(22);
  }
  return f;
}

std::string set_aside_tag(FileState s) {
  return s == FileState::foreign ? "foreign" : "corrupt";
}

// Reads one file into `report`; returns its records when usable.
std::unique_ptr<RecordSet> read_one(const PublishedFile& f, const std::optional<CacheKey>& key, ReadReport& report,
                                    const Fingerprint* env = nullptr) {
  Snapshot s = read_snapshot(f.path, key);
  if (s.state == FileState::ok) {
    report.read.push_back(f.path);
    if (env) drop_invalid(*s.records, env, "published file " + f.path.filename().string(), report.warnings);
    return std::move(s.records);
  }
  if (s.state == FileState::missing) return nullptr;  // pruned or set aside by another pod meanwhile
  if (s.state == FileState::newer) {
    report.warnings.push_back("published file " + f.path.string() + " has a " + s.problem +
                              "; skipped and kept for the newer autotune that wrote it");
    return nullptr;
  }
  try {
    const fs::path moved = set_aside(f.path, set_aside_tag(s.state));
    report.set_aside.push_back(moved);
    report.warnings.push_back("published file " + f.path.string() + " is " + s.problem + "; set aside as " +
                              moved.filename().string());
  } catch (const fs::filesystem_error& e) {
    // ENOENT: another pod set it aside or pruned it first: its warning, not ours. The rename's
    // own error, not a later fs::exists: a client's entry cache (MooseFS, mfsentrycacheto) can
    // still find a name that another client renamed away (tests/cache/moosefs_behaviour.py).
    if (e.code() != std::errc::no_such_file_or_directory)
      report.warnings.push_back("published file " + f.path.string() + " is " + s.problem +
                                " and could not be set aside (" + e.what() + "); skipped");
  } catch (const std::exception& e) {
    report.warnings.push_back("published file " + f.path.string() + " is " + s.problem +
                              " and could not be set aside (" + e.what() + "); skipped");
  }
  return nullptr;
}

}  // namespace

std::string hash_text(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return hex(h, 16);
}

std::string key_hash(const CacheKey& key) { return hash_text(key.canonical()); }

std::string pod_id() {
  std::string id;
  if (const char* v = std::getenv("RUNPOD_POD_ID"); v && *v) id = v;
  if (id.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) id = host;
  }
  std::string out;
  for (char c : id)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.') out += c;
  if (out.size() > 40) out.resize(40);
  return out.empty() ? "pod" : out;
}

std::string compact_stamp(const std::string& timestamp) {
  std::string out;
  for (char c : normalise_timestamp(timestamp))
    if (c != '-' && c != ':') out += c;
  return out;
}

std::string describe_decisions(const RecordSet& records) {
  std::string newest;
  for (const auto& [id, r] : records.decisions) newest = std::max(newest, r.decided_at);
  if (newest.empty()) return "n";
  return "d" + compact_stamp(newest) + "_" + hash_text(decisions_text(records));
}

std::vector<PublishedFile> list_published(const fs::path& dir, const std::string& hash) {
  std::vector<PublishedFile> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto f = parse_name(it->path());
    if (f && (hash.empty() || f->key_hash == hash)) out.push_back(std::move(*f));
  }
  std::sort(out.begin(), out.end(), [](const PublishedFile& a, const PublishedFile& b) {
    return a.stamp != b.stamp ? a.stamp > b.stamp : a.path > b.path;
  });
  return out;
}

fs::path publish(const fs::path& dir, const RecordSet& records) {
  const auto keys = records.keys();
  if (keys.size() != 1) throw std::invalid_argument("publish: a published file holds one key, not " + std::to_string(keys.size()));
  fs::create_directories(dir);
  const std::string unique = pod_id() + "-" + std::to_string(::getpid()) + "-" + hex(random64(), 8);
  const fs::path tmp = dir / (".tmp-" + unique + ".sqlite");
  try {
    write_snapshot(tmp, records);
    // The stamp is taken after the file is complete and is no earlier than anything inside it.
    const std::string stamp = compact_stamp(std::max(now_timestamp(), records.latest()));
    const fs::path target =
        dir / ("pub-" + key_hash(keys.front()) + "-" + stamp + "-" + unique + "-" + describe_decisions(records) + ".sqlite");
    if (auto error = rename_synced(tmp, target)) throw std::runtime_error(*error);  // unique name: replaces nothing
    return target;
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

ReadReport read_published(const fs::path& dir, const std::optional<CacheKey>& key, const Fingerprint* env) {
  ReadReport report;
  const auto files = list_published(dir, key ? key_hash(*key) : std::string());
  report.files_seen = static_cast<int>(files.size());
  for (const auto& f : files)
    if (auto records = read_one(f, key, report, env)) report.records.merge(*records);
  return report;
}

ReadReport lookup_decision(const fs::path& dir, const CacheKey& key, const std::string& backends,
                           const Fingerprint* env) {
  ReadReport report;
  DecisionRecord probe;
  probe.key = key;
  probe.backends = backends;
  const std::string id = identity(probe);
  const auto files = list_published(dir, key_hash(key));
  report.files_seen = static_cast<int>(files.size());
  // Each file's bound: no decision inside is newer. A described name gives its newest decision
  // (none: the file is not opened); an older name only its stamp.
  std::vector<std::pair<std::string, const PublishedFile*>> bounded;
  for (const auto& f : files) {
    if (!f.described) bounded.emplace_back(f.stamp, &f);
    else if (!f.newest_decision.empty()) bounded.emplace_back(f.newest_decision, &f);
  }
  std::stable_sort(bounded.begin(), bounded.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string best_at;
  std::set<std::string> digests_read;
  for (const auto& [bound, f] : bounded) {
    // Newest first: a file whose bound is before the best decision found cannot hold a newer one.
    if (!best_at.empty() && bound < compact_stamp(best_at)) break;
    // The same decisions as a file already read (copies a later tuner republished): nothing new.
    if (f->described && digests_read.count(f->decisions_digest)) continue;
    auto records = read_one(*f, key, report, env);
    if (!records) continue;
    if (f->described) digests_read.insert(f->decisions_digest);
    report.records.merge(*records);
    if (auto it = report.records.decisions.find(id); it != report.records.decisions.end())
      best_at = it->second.decided_at;
  }
  return report;
}

PruneReport prune(const fs::path& dir, const PruneOptions& o, const std::string& only_hash) {
  PruneReport report;
  std::map<std::string, std::vector<PublishedFile>> groups;
  for (auto& f : list_published(dir, only_hash)) groups[f.key_hash].push_back(std::move(f));
  for (auto& [hash, files] : groups) {
    if (files.size() < 2) continue;
    ReadReport read;
    std::vector<std::pair<PublishedFile, RecordSet>> inputs;
    RecordSet merged;
    for (const auto& f : files)
      if (auto records = read_one(f, std::nullopt, read)) {
        merged.merge(*records);
        inputs.emplace_back(f, std::move(*records));
      }
    report.warnings.insert(report.warnings.end(), read.warnings.begin(), read.warnings.end());
    if (inputs.size() < 2 || merged.keys().size() != 1) {
      if (merged.keys().size() > 1)
        report.warnings.push_back("files named for key hash " + hash + " hold several keys; left as they are");
      continue;
    }
    if (o.dry_run) {
      for (const auto& [f, r] : inputs) report.removed.push_back(f.path);
      continue;
    }
    fs::path compacted;
    try {
      compacted = publish(dir, merged);
    } catch (const std::exception& e) {
      report.warnings.push_back("could not write a compacted file for key hash " + hash + ": " + e.what());
      continue;
    }
    // Read back what was published before deleting anything it replaces.
    Snapshot check = read_snapshot(compacted);
    if (check.state != FileState::ok || !check.records->covers(merged)) {
      report.warnings.push_back("compacted file " + compacted.string() + " did not read back (" + check.problem +
                                "); inputs kept");
      continue;
    }
    report.written.push_back(compacted);
    for (const auto& [f, records] : inputs) {
      if (!check.records->covers(records)) continue;
      std::error_code ec;
      if (fs::remove(f.path, ec)) report.removed.push_back(f.path);
    }
    sync_dir(dir);
  }
  // Temporaries: a publish killed before its rename. Old ones only: a young one may be in progress.
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, 5, ".tmp-") != 0) continue;
    std::error_code ec2;
    const auto mtime = fs::last_write_time(it->path(), ec2);
    if (ec2 || now - mtime < o.min_age) continue;
    if (o.dry_run || fs::remove(it->path(), ec2)) report.removed.push_back(it->path());
  }
  return report;
}

}  // namespace autotune
