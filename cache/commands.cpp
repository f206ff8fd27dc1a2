#include "commands.h"

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cache/fleet.h"
#include "cache/lease.h"
#include "cache/published.h"
#include "cache/records.h"

namespace autotune {
namespace fs = std::filesystem;

namespace {

constexpr int kOk = 0, kProblems = 1, kUsage = 2;

void print_warnings(const CacheCommandContext& c, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) c.err << "warning: " << w << "\n";
}

std::unique_ptr<Cache> open_local(const CacheCommandContext& c, std::vector<std::string>& warnings) {
  auto opened = Cache::open(c.local_path);
  warnings.insert(warnings.end(), opened.warnings.begin(), opened.warnings.end());
  return std::move(opened.cache);
}

std::string describe(const CacheKey& k) {
  return k.gpu_name + ", cc " + k.compute_capability + ", driver " + k.driver + ", torch " + k.torch +
         (k.cuda_runtime.empty() ? "" : " (CUDA " + k.cuda_runtime + ")") + ", workloads " + k.workloads_version;
}

std::string fmt_ms(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}

}  // namespace

int cache_list(const CacheCommandContext& c, bool json) {
  std::vector<std::string> warnings;
  auto local = open_local(c, warnings);
  const RecordSet all = fleet_records(local.get(), c.shared_dir, warnings);
  print_warnings(c, warnings);
  std::map<std::string, std::pair<int, int>> counts;  // canonical -> (measurements, decisions)
  for (const auto& [id, r] : all.measurements) ++counts[r.key.canonical()].first;
  for (const auto& [id, r] : all.decisions) ++counts[r.key.canonical()].second;
  const int files = static_cast<int>(list_published(published_dir(c.shared_dir)).size());
  if (json) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& k : all.keys()) {
      nlohmann::json j = key_json(k);
      j["hash"] = key_hash(k);
      j["measurements"] = counts[k.canonical()].first;
      j["decisions"] = counts[k.canonical()].second;
      keys.push_back(j);
    }
    c.out << nlohmann::json{{"local", c.local_path.string()},
                            {"published_dir", published_dir(c.shared_dir).string()},
                            {"published_files", files},
                            {"keys", keys}}
                 .dump(2)
          << "\n";
    return kOk;
  }
  c.out << "local " << c.local_path.string() << "; " << files << " published file" << (files == 1 ? "" : "s") << " in "
        << published_dir(c.shared_dir).string() << "\n";
  if (all.empty()) c.out << "no records\n";
  for (const auto& k : all.keys()) {
    const auto [m, d] = counts[k.canonical()];
    c.out << key_hash(k) << "  " << describe(k) << "  " << m << " measurement" << (m == 1 ? "" : "s") << ", " << d
          << " decision" << (d == 1 ? "" : "s") << "\n";
  }
  return kOk;
}

int cache_show(const CacheCommandContext& c, const std::string& key, const std::optional<CacheKey>& current,
               bool json) {
  std::vector<std::string> warnings;
  auto local = open_local(c, warnings);
  RecordSet all = fleet_records(local.get(), c.shared_dir, warnings);
  print_warnings(c, warnings);
  std::vector<CacheKey> chosen;
  if (key.empty()) {
    if (!current) {
      c.err << "autotune cache show: no GPU detected, so there is no current key; name one with --key "
               "(a hash from `autotune cache list`)\n";
      return kUsage;
    }
    chosen.push_back(*current);
  } else {
    for (const auto& k : all.keys())
      if (k.canonical() == key || key_hash(k).compare(0, key.size(), key) == 0) chosen.push_back(k);
    if (chosen.empty()) {
      c.err << "autotune cache show: --key '" << key << "' matches no key in the cache; `autotune cache list` shows them\n";
      return kUsage;
    }
    if (chosen.size() > 1 && key.size() < 16) {
      c.err << "autotune cache show: --key '" << key << "' matches " << chosen.size() << " keys; give more digits\n";
      return kUsage;
    }
  }
  RecordSet shown;
  for (const auto& k : chosen) shown.merge(all.only(k));
  if (json) {
    c.out << to_export_json(shown).dump(2) << "\n";
    return kOk;
  }
  for (const auto& k : chosen) {
    const RecordSet mine = all.only(k);
    c.out << key_hash(k) << "  " << describe(k) << "\n";
    if (mine.empty()) c.out << "  no records for this key\n";
    for (const auto& [id, r] : mine.decisions)
      c.out << "  decision " << to_string(r.decision.mechanism) << " for [" << r.backends << "] at " << r.decided_at
            << ": " << r.decision.reason << "\n";
    for (const auto& [id, r] : mine.measurements)
      c.out << "  " << r.m.shape << "  " << r.m.backend << " " << r.m.backend_version << "  " << to_string(r.m.status)
            << (r.m.status == Status::ok ? "  " + fmt_ms(r.m.median_ms) + " ms (" + std::to_string(r.m.samples) + " samples)"
                                         : "  " + r.m.reason)
            << "  " << r.measured_at << "\n";
  }
  return kOk;
}

int cache_verify(const CacheCommandContext& c, bool json) {
  int damaged = 0, ok = 0, skipped = 0;
  nlohmann::json files = nlohmann::json::array();
  const auto note = [&](const fs::path& p, const std::string& state, const std::string& detail) {
    files.push_back({{"path", p.string()}, {"state", state}, {"detail", detail}});
    if (!json) c.out << state << "  " << p.string() << (detail.empty() ? "" : "  " + detail) << "\n";
  };
  // This pod's file: Cache::open sets a damaged one aside and starts a new one.
  {
    const bool existed = fs::exists(c.local_path);
    auto opened = Cache::open(c.local_path);
    if (!opened.warnings.empty()) {
      ++damaged;
      for (const auto& w : opened.warnings) note(c.local_path, "set-aside", w);
    } else if (existed) {
      std::vector<std::string> w;
      RecordSet r = opened.cache->records();
      drop_invalid(r, nullptr, c.local_path.string(), w);
      ++ok;
      note(c.local_path, w.empty() ? "ok" : "records-ignored", w.empty() ? std::to_string(r.size()) + " records" : w.front());
      if (!w.empty()) ++damaged;
    }
  }
  // Published files, each on its own so that the report names them.
  const fs::path pub = published_dir(c.shared_dir);
  for (const auto& f : list_published(pub)) {
    Snapshot s = read_snapshot(f.path);
    if (s.state == FileState::ok) {
      std::vector<std::string> w;
      drop_invalid(*s.records, nullptr, f.path.filename().string(), w);
      bool misnamed = false;
      for (const auto& k : s.records->keys()) misnamed |= key_hash(k) != f.key_hash;
      if (misnamed) w.push_back("holds a key whose hash is not " + f.key_hash + ": boots of that key will not read it");
      note(f.path, w.empty() ? "ok" : "records-ignored", w.empty() ? std::to_string(s.records->size()) + " records" : w.front());
      (w.empty() ? ok : damaged)++;
    } else if (s.state == FileState::missing) {
      continue;  // pruned meanwhile
    } else if (s.state == FileState::newer) {
      ++skipped;
      note(f.path, "kept", s.problem + " (a newer autotune wrote it)");
    } else {
      ++damaged;
      try {
        const fs::path moved = set_aside(f.path, s.state == FileState::foreign ? "foreign" : "corrupt");
        note(f.path, "set-aside", s.problem + "; now " + moved.filename().string());
      } catch (const std::exception& e) {
        note(f.path, "damaged", s.problem + "; could not set aside: " + e.what());
      }
    }
  }
  // Everything else under the cache directory: leases, temporaries, files set aside earlier.
  std::error_code ec;
  for (fs::recursive_directory_iterator it(c.shared_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const fs::path p = it->path();
    const std::string name = p.filename().string();
    if (p.parent_path() == pub && name.compare(0, 4, "pub-") == 0 && p.extension() == ".sqlite") continue;
    if (name.compare(0, 5, ".tmp-") == 0) {
      note(p, "temporary", "left by an interrupted publish; `autotune cache prune` removes it once old");
    } else if (name.find(".corrupt-") != std::string::npos || name.find(".foreign-") != std::string::npos ||
               name.find(".newer-") != std::string::npos) {
      note(p, "set-aside-earlier", "kept for inspection; safe to delete by hand");
    } else if (p.extension() == ".lease") {
      const auto info = read_lease(p);
      if (!info) {
        ++damaged;
        try {
          note(p, "set-aside", "unreadable lease; now " + set_aside(p, "corrupt").filename().string());
        } catch (const std::exception& e) {
          note(p, "damaged", std::string("unreadable lease; could not set aside: ") + e.what());
        }
      } else {
        note(p, info->expires_ms > epoch_ms() ? "lease" : "lease-expired", info->describe());
      }
    } else if (p.extension() == ".sqlite") {
      // Not a published file: the first schema's shared cache.sqlite, or something copied in.
      Snapshot s = read_snapshot(p);
      if (s.state == FileState::ok) {
        ++ok;
        note(p, "ok", std::to_string(s.records->size()) + " records (not read by boots: only published/ is; "
                      "`autotune cache import` takes an export)");
      } else {
        ++damaged;
        try {
          note(p, "set-aside", s.problem + "; now " + set_aside(p, s.state == FileState::foreign ? "foreign" : s.state == FileState::newer ? "newer" : "corrupt").filename().string());
        } catch (const std::exception& e) {
          note(p, "damaged", s.problem + "; could not set aside: " + e.what());
        }
      }
    } else {
      note(p, "other", "not a cache file; left alone");
    }
  }
  if (json)
    c.out << nlohmann::json{{"ok", ok}, {"damaged", damaged}, {"kept", skipped}, {"files", files}}.dump(2) << "\n";
  else
    c.out << ok << " file" << (ok == 1 ? "" : "s") << " ok, " << damaged << " with problems, " << skipped
          << " kept for a newer autotune\n";
  return damaged ? kProblems : kOk;
}

int cache_prune(const CacheCommandContext& c, std::chrono::seconds min_age, bool dry_run) {
  PruneOptions o;
  o.min_age = min_age;
  o.dry_run = dry_run;
  const std::size_t before = list_published(published_dir(c.shared_dir)).size();
  PruneReport r = prune(published_dir(c.shared_dir), o);
  // Leases whose holder stopped refreshing more than min_age ago: a killed pod's.
  std::error_code ec;
  for (fs::directory_iterator it(leases_dir(c.shared_dir), ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path p = it->path();
    const std::string name = p.filename().string();
    const auto info = p.extension() == ".lease" ? read_lease(p) : std::nullopt;
    bool old = false;
    if (info) {
      old = info->expires_ms + min_age.count() * 1000 < epoch_ms();
    } else if (name.compare(0, 5, ".tmp-") == 0) {
      std::error_code e2;
      old = fs::file_time_type::clock::now() - fs::last_write_time(p, e2) > min_age && !e2;
    }
    if (old && (dry_run || fs::remove(p, ec))) r.removed.push_back(p);
  }
  print_warnings(c, r.warnings);
  const std::size_t after = dry_run ? before : list_published(published_dir(c.shared_dir)).size();
  for (const auto& p : r.written) c.out << "wrote    " << p.string() << "\n";
  for (const auto& p : r.removed) c.out << (dry_run ? "would remove " : "removed  ") << p.string() << "\n";
  c.out << "published files: " << before << " before, " << after << " after\n";
  return r.warnings.empty() ? kOk : kProblems;
}

int cache_export(const CacheCommandContext& c, const std::string& path) {
  std::vector<std::string> warnings;
  auto local = open_local(c, warnings);
  const RecordSet all = fleet_records(local.get(), c.shared_dir, warnings);
  print_warnings(c, warnings);
  const std::string text = to_export_json(all).dump(1) + "\n";
  if (path.empty() || path == "-") {
    c.out << text;
  } else {
    std::ofstream f(path);
    if (!(f << text)) {
      c.err << "autotune cache export: cannot write --output " << path << "\n";
      return kProblems;
    }
    c.err << "exported " << all.measurements.size() << " measurements and " << all.decisions.size()
          << " decisions to " << path << "\n";
  }
  return kOk;
}

int cache_import(const CacheCommandContext& c, const std::string& path) {
  nlohmann::json doc;
  try {
    if (path == "-") {
      doc = nlohmann::json::parse(std::cin);
    } else {
      std::ifstream f(path);
      if (!f) {
        c.err << "autotune cache import: cannot read '" << path << "'\n";
        return kUsage;
      }
      doc = nlohmann::json::parse(f);
    }
  } catch (const std::exception& e) {
    c.err << "autotune cache import: '" << path << "' is not JSON: " << e.what() << "\n";
    return kUsage;
  }
  std::vector<std::string> warnings;
  RecordSet records;
  try {
    records = from_export_json(doc, warnings);
  } catch (const std::invalid_argument& e) {
    c.err << "autotune cache import: '" << path << "': " << e.what() << "\n";
    return kUsage;
  }
  const bool left_out = !warnings.empty();
  auto local = open_local(c, warnings);
  if (!local) {
    print_warnings(c, warnings);
    c.err << "autotune cache import: no usable local cache at " << c.local_path.string() << "\n";
    return kProblems;
  }
  int written = 0;
  try {
    written = local->merge_in(records);
  } catch (const std::exception& e) {
    print_warnings(c, warnings);
    c.err << "autotune cache import: cannot write " << c.local_path.string() << ": " << e.what() << "\n";
    return kProblems;
  }
  int published = 0;
  bool publish_failed = false;
  for (const auto& k : records.keys()) {
    const auto before = warnings.size();
    auto w = publish_key(*local, c.shared_dir, k);
    warnings.insert(warnings.end(), w.begin(), w.end());
    if (w.empty() || warnings.size() == before) ++published;
    else publish_failed = true;
  }
  print_warnings(c, warnings);
  c.out << "imported " << records.measurements.size() << " measurements and " << records.decisions.size()
        << " decisions (" << written << " new or newer than the local copy) for " << records.keys().size()
        << " key" << (records.keys().size() == 1 ? "" : "s") << "; published " << published << " file"
        << (published == 1 ? "" : "s") << " to " << published_dir(c.shared_dir).string() << "\n";
  return left_out || publish_failed ? kProblems : kOk;
}

}  // namespace autotune
