#include "cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <type_traits>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "cache/records.h"
#include "common/atomic_file.h"
#include "common/text.h"

namespace autotune {
namespace fs = std::filesystem;

namespace {

// Index i migrates a file from schema version i to i + 1. Append; never edit a shipped step.
const std::vector<const char*> kMigrations{
    R"sql(
CREATE TABLE environments(
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  gpu_name TEXT NOT NULL, compute_capability TEXT NOT NULL, sm_count INTEGER NOT NULL,
  memory_mib INTEGER NOT NULL, driver TEXT NOT NULL, cuda_runtime TEXT NOT NULL, torch TEXT NOT NULL,
  workloads_version TEXT NOT NULL, harness_version TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE measurements(
  env_id INTEGER NOT NULL REFERENCES environments(id),
  backend TEXT NOT NULL, backend_version TEXT NOT NULL, shape TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT NOT NULL,
  median_ms REAL NOT NULL, spread REAL NOT NULL, host_ms REAL NOT NULL, samples INTEGER NOT NULL,
  peak_mem_bytes INTEGER NOT NULL, rel_error REAL NOT NULL, measured_at TEXT NOT NULL,
  PRIMARY KEY(env_id, backend, backend_version, shape));
CREATE TABLE decisions(
  env_id INTEGER NOT NULL REFERENCES environments(id),
  backends TEXT NOT NULL,
  mechanism TEXT NOT NULL, reason TEXT NOT NULL, default_backend TEXT NOT NULL,
  routes TEXT NOT NULL, decided_at TEXT NOT NULL,
  PRIMARY KEY(env_id, backends));
)sql",
    // 1 -> 2: the decision's quality account (common/decision.h), which the node's step-aware
    // routing reads (exact_steps). Older files' decisions read as an empty account.
    R"sql(
ALTER TABLE decisions ADD COLUMN quality TEXT NOT NULL DEFAULT '{}';
)sql",
};

// Why the file at `db` cannot be used, or empty; `state` says which kind of problem. Brings an
// older schema up to date unless `read_only`.
std::string check_file(SQLite::Database& db, bool read_only, FileState& state) {
  state = FileState::corrupt;
  // quick_check reads every page: it is what catches truncation and torn writes. On a cache of a
  // few hundred rows it costs well under a millisecond (results/boot-benchmark.md).
  const std::string check = db.execAndGet("PRAGMA quick_check").getString();
  if (check != "ok") return "corrupt (quick_check: " + check + ")";
  const int version = db.execAndGet("PRAGMA user_version").getInt();
  const int app_id = db.execAndGet("PRAGMA application_id").getInt();
  const int tables = db.execAndGet("SELECT count(*) FROM sqlite_master").getInt();
  if (app_id != Cache::kApplicationId && (app_id != 0 || version != 0 || tables != 0)) {
    state = FileState::foreign;
    return "foreign (an SQLite file this tool did not create: application_id " + std::to_string(app_id) + ")";
  }
  if (version > Cache::kSchemaVersion) {
    state = FileState::newer;
    return "newer schema " + std::to_string(version) + " than this tool's " + std::to_string(Cache::kSchemaVersion);
  }
  // Read-only (another pod's published file), an older schema is read as it is (read_records);
  // version 0 is a file whose creation never finished.
  if (version == 0 && read_only) return "schema 0 (incomplete file)";
  state = FileState::ok;
  if (version < Cache::kSchemaVersion && !read_only) {
    // Two processes may create the same file at once: take the write lock first, then read the
    // version again, so the second one finds the first one's schema instead of re-creating it.
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    const int now = db.execAndGet("PRAGMA user_version").getInt();
    for (int v = now; v < Cache::kSchemaVersion; ++v) db.exec(kMigrations[static_cast<std::size_t>(v)]);
    db.exec("PRAGMA application_id = " + std::to_string(Cache::kApplicationId));
    db.exec("PRAGMA user_version = " + std::to_string(Cache::kSchemaVersion));
    transaction.commit();
  }
  return {};
}

std::unique_ptr<SQLite::Database> open_database(const fs::path& path) {
  // DELETE journal, not WAL: WAL does not work over network file systems (sqlite.org), and the
  // cache may live on a RunPod network volume.
  auto db = std::make_unique<SQLite::Database>(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, 2000);
  db->exec("PRAGMA journal_mode = DELETE");
  return db;
}

// The key's fields from CacheKey::columns(), starting at column `first`.
CacheKey key_of(SQLite::Statement& q, int first) {
  CacheKey k;
  int i = first;
  CacheKey::fields(k, [&](const char*, const char*, auto& field) {
    using T = std::decay_t<decltype(field)>;
    const auto column = q.getColumn(i++);
    if constexpr (std::is_same_v<T, std::string>) field = column.getString();
    else if constexpr (std::is_same_v<T, int>) field = column.getInt();
    else field = static_cast<T>(column.getInt64());
  });
  return k;
}

// The 11 columns backend, backend_version, shape, status, reason, median_ms, spread, host_ms,
// samples, peak_mem_bytes, rel_error from `first` on. Throws std::invalid_argument for a status
// this tool does not know (a newer tool wrote it).
Measurement measurement_of(SQLite::Statement& q, int first) {
  Measurement m;
  m.backend = q.getColumn(first).getString();
  m.backend_version = q.getColumn(first + 1).getString();
  m.shape = q.getColumn(first + 2).getString();
  m.status = parse_status(q.getColumn(first + 3).getString());
  m.reason = q.getColumn(first + 4).getString();
  m.median_ms = q.getColumn(first + 5).getDouble();
  m.spread = q.getColumn(first + 6).getDouble();
  m.host_ms = q.getColumn(first + 7).getDouble();
  m.samples = q.getColumn(first + 8).getInt();
  m.peak_mem_bytes = q.getColumn(first + 9).getInt64();
  m.rel_error = q.getColumn(first + 10).getDouble();
  return m;
}

constexpr const char* kMeasurementColumns =
    "backend, backend_version, shape, status, reason, median_ms, spread, host_ms, samples, peak_mem_bytes, rel_error";

// The 5 columns mechanism, reason, default_backend, routes, quality from `first` on. nullopt for a
// mechanism this tool does not know (a newer tool wrote it); throws if routes or quality is not
// valid JSON.
std::optional<Decision> decision_of(SQLite::Statement& q, int first) {
  const auto mechanism = parse_mechanism(q.getColumn(first).getString());
  if (!mechanism) return std::nullopt;
  Decision d;
  d.mechanism = *mechanism;
  d.source = Source::cache;
  d.reason = q.getColumn(first + 1).getString();
  d.default_backend = q.getColumn(first + 2).getString();
  d.routes = nlohmann::json::parse(q.getColumn(first + 3).getString()).get<std::vector<Route>>();
  d.quality = nlohmann::json::parse(q.getColumn(first + 4).getString()).get<QualityAccount>();
  return d;
}


// Reads every record (or those of one key) from a checked file, of this schema or an older one
// (a column added since reads as its default). A row this tool cannot parse (a status or
// mechanism it does not know) is left out: a newer tool wrote it.
RecordSet read_records(SQLite::Database& db, const std::optional<CacheKey>& only) {
  RecordSet out;
  const int version = db.execAndGet("PRAGMA user_version").getInt();
  const std::string where = only ? " WHERE e.key = ?" : "";
  {
    const int k = CacheKey::field_count();
    SQLite::Statement q(db, "SELECT " + CacheKey::columns("e.") +
                                ", m.backend, m.backend_version, m.shape, m.status, m.reason, m.median_ms, m.spread, "
                                "m.host_ms, m.samples, m.peak_mem_bytes, m.rel_error, m.measured_at "
                                "FROM measurements m JOIN environments e ON e.id = m.env_id" + where);
    if (only) q.bind(1, only->canonical());
    while (q.executeStep()) {
      MeasurementRecord r;
      r.key = key_of(q, 0);
      try {
        r.m = measurement_of(q, k);
      } catch (const std::invalid_argument&) {
        continue;
      }
      r.measured_at = normalise_timestamp(q.getColumn(k + 11).getString());
      out.add(std::move(r));
    }
  }
  const int k = CacheKey::field_count();
  SQLite::Statement q(db, "SELECT " + CacheKey::columns("e.") +
                              ", d.backends, d.mechanism, d.reason, d.default_backend, d.routes, " +
                              (version >= 2 ? "d.quality" : "'{}'") + ", d.decided_at "
                              "FROM decisions d JOIN environments e ON e.id = d.env_id" + where);
  if (only) q.bind(1, only->canonical());
  while (q.executeStep()) {
    DecisionRecord r;
    r.key = key_of(q, 0);
    r.backends = q.getColumn(k).getString();
    try {
      auto d = decision_of(q, k + 1);
      if (!d) continue;
      r.decision = std::move(*d);
    } catch (const std::exception&) {
      continue;
    }
    r.decided_at = normalise_timestamp(q.getColumn(k + 6).getString());
    out.add(std::move(r));
  }
  return out;
}

std::int64_t insert_env(SQLite::Database& db, const CacheKey& k) {
  std::string places;
  for (int i = 0; i < CacheKey::field_count(); ++i) places += "?,";
  SQLite::Statement q(db, "INSERT INTO environments(key, " + CacheKey::columns() + ", created_at) VALUES(?," + places +
                              "?)");
  int i = 1;
  q.bind(i++, k.canonical());
  CacheKey::fields(k, [&](const char*, const char*, const auto& field) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, int>) q.bind(i++, field);
    else q.bind(i++, static_cast<std::int64_t>(field));
  });
  q.bind(i, now_timestamp());
  q.exec();
  return db.getLastInsertRowid();
}

void insert_measurement(SQLite::Database& db, std::int64_t env, const MeasurementRecord& r) {
  SQLite::Statement q(db,
                      "INSERT OR REPLACE INTO measurements(env_id, backend, backend_version, shape, status, reason, "
                      "median_ms, spread, host_ms, samples, peak_mem_bytes, rel_error, measured_at) "
                      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
  q.bind(1, env);
  q.bind(2, r.m.backend);
  q.bind(3, r.m.backend_version);
  q.bind(4, r.m.shape);
  q.bind(5, std::string(to_string(r.m.status)));
  q.bind(6, r.m.reason);
  q.bind(7, r.m.median_ms);
  q.bind(8, r.m.spread);
  q.bind(9, r.m.host_ms);
  q.bind(10, r.m.samples);
  q.bind(11, static_cast<std::int64_t>(r.m.peak_mem_bytes));
  q.bind(12, r.m.rel_error);
  q.bind(13, r.measured_at);
  q.exec();
}

void insert_decision(SQLite::Database& db, std::int64_t env, const DecisionRecord& r) {
  SQLite::Statement q(db,
                      "INSERT OR REPLACE INTO decisions(env_id, backends, mechanism, reason, default_backend, routes, "
                      "quality, decided_at) VALUES(?,?,?,?,?,?,?,?)");
  q.bind(1, env);
  q.bind(2, r.backends);
  q.bind(3, std::string(to_string(r.decision.mechanism)));
  q.bind(4, r.decision.reason);
  q.bind(5, r.decision.default_backend);
  q.bind(6, nlohmann::json(r.decision.routes).dump());
  q.bind(7, nlohmann::json(r.decision.quality).dump());
  q.bind(8, r.decided_at);
  q.exec();
}


}  // namespace

std::string_view to_string(FileState s) {
  switch (s) {
    case FileState::ok: return "ok";
    case FileState::missing: return "missing";
    case FileState::corrupt: return "corrupt";
    case FileState::foreign: return "foreign";
    case FileState::newer: return "newer";
  }
  return "corrupt";
}

Snapshot read_snapshot(const fs::path& path, const std::optional<CacheKey>& only) {
  Snapshot s;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    s.state = FileState::missing;
    s.problem = "missing (" + ec.message() + ")";
    return s;
  }
  if (size == 0) {  // SQLite would treat it as an empty database
    s.state = FileState::corrupt;
    s.problem = "corrupt (empty file)";
    return s;
  }
  try {
    // immutable=1: no locks, no journal, no change detection; the file never changes after its rename.
    SQLite::Database db("file:" + path.string() + "?immutable=1", SQLite::OPEN_READONLY | SQLite::OPEN_URI);
    // Another pod's file on a shared volume is outside input: open it as SQLite advises for
    // untrusted databases (sqlite.org/security.html): defensive mode, so no SQL can corrupt the
    // file, and schema that is not trusted, so views and triggers it defines cannot call
    // functions with side effects.
    if (sqlite3_db_config(db.getHandle(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr) != SQLITE_OK ||
        sqlite3_db_config(db.getHandle(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot turn on SQLite's defensive mode");
    s.problem = check_file(db, true, s.state);
    if (!s.problem.empty()) return s;
    s.records = std::make_unique<RecordSet>(read_records(db, only));
  } catch (const std::exception& e) {
    s.state = fs::exists(path, ec) ? FileState::corrupt : FileState::missing;
    s.problem = std::string(s.state == FileState::missing ? "missing (" : "unreadable (") + e.what() + ")";
    s.records.reset();
  }
  return s;
}

void write_snapshot(const fs::path& path, const RecordSet& records) {
  {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    // A temporary until renamed: a crash leaves garbage that nobody reads, so no journal is needed.
    db.exec("PRAGMA journal_mode = OFF");
    db.exec("PRAGMA synchronous = OFF");  // the fsync below covers the whole file
    SQLite::Transaction t(db);
    for (const char* step : kMigrations) db.exec(step);
    db.exec("PRAGMA application_id = " + std::to_string(Cache::kApplicationId));
    db.exec("PRAGMA user_version = " + std::to_string(Cache::kSchemaVersion));
    std::map<std::string, std::int64_t> env_ids;
    const auto env = [&](const CacheKey& k) {
      const auto [it, added] = env_ids.try_emplace(k.canonical(), 0);
      if (added) it->second = insert_env(db, k);
      return it->second;
    };
    for (const auto& [id, r] : records.measurements) insert_measurement(db, env(r.key), r);
    for (const auto& [id, r] : records.decisions) insert_decision(db, env(r.key), r);
    t.commit();
  }
  if (auto error = sync_file(path)) throw std::runtime_error(*error);
}

std::string CacheKey::canonical() const {
  // "gpu=...|cc=...|sms=...|...": changing it re-keys every cache, so it re-tunes every pod.
  std::string out;
  fields(*this, [&](const char*, const char* label, const auto& field) {
    out += (out.empty() ? "" : "|") + std::string(label) + "=";
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) out += field;
    else out += std::to_string(field);
  });
  return out;
}

std::string CacheKey::columns(const std::string& prefix) {
  std::string out;
  CacheKey k;
  fields(k, [&](const char* name, const char*, const auto&) { out += (out.empty() ? "" : ", ") + prefix + name; });
  return out;
}

int CacheKey::field_count() {
  static const int count = [] {
    int n = 0;
    CacheKey k;
    fields(k, [&](const char*, const char*, const auto&) { ++n; });
    return n;
  }();
  return count;
}

CacheKey make_cache_key(const GpuInfo& gpu, const Fingerprint& env, const std::string& workloads_version,
                        const std::string& harness_version) {
  return {gpu.name,        gpu.compute_capability(), gpu.sm_count,     gpu.memory_mib, gpu.driver_version,
          env.torch_cuda,  env.torch_version,         workloads_version, harness_version};
}

std::string backends_signature(const Fingerprint& env) {
  std::string out;
  for (const auto& [name, version] : env.packages) {  // std::map: sorted, so stable
    if (name == "torch") continue;
    out += (out.empty() ? "" : ",") + name + "=" + version;
  }
  return out;
}

fs::path set_aside(const fs::path& path, const std::string& tag) {
  std::string stamp = utc_timestamp();
  for (char& c : stamp)
    if (c == ':') c = '-';
  fs::path target = path.string() + "." + tag + "-" + stamp;
  for (int n = 1; fs::exists(target); ++n) target = path.string() + "." + tag + "-" + stamp + "-" + std::to_string(n);
  fs::rename(path, target);
  // SQLite's rollback journal belongs to the file it was written for; leaving it would let
  // SQLite "recover" the new file from the old one's journal.
  const fs::path journal = path.string() + "-journal";
  std::error_code ec;
  if (fs::exists(journal, ec)) fs::rename(journal, target.string() + "-journal", ec);
  return target;
}

Cache::Opened Cache::open(const fs::path& path) {
  Opened result;
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  // Two attempts: the file as found, then a fresh one after setting the old one aside.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string problem;
    try {
      auto db = open_database(path);
      FileState state;
      problem = check_file(*db, false, state);
      if (problem.empty()) {
        result.cache.reset(new Cache(path, std::move(db)));
        return result;
      }
    } catch (const std::exception& e) {
      problem = std::string("unreadable (") + e.what() + ")";
    }
    if (attempt == 1 || !fs::exists(path, ec)) {
      result.warnings.push_back("cache " + path.string() + " cannot be used: " + problem +
                                "; continuing without a cache");
      return result;
    }
    try {
      const std::string tag = problem.rfind("newer", 0) == 0 ? "newer" : problem.rfind("foreign", 0) == 0 ? "foreign" : "corrupt";
      const fs::path moved = set_aside(path, tag);
      result.warnings.push_back("cache " + path.string() + " is " + problem + "; set aside as " +
                                moved.string() + " and starting a new one");
    } catch (const std::exception& e) {
      result.warnings.push_back("cache " + path.string() + " is " + problem + " and could not be set aside (" +
                                e.what() + "); continuing without a cache");
      return result;
    }
  }
  return result;
}

Cache::Cache(fs::path path, std::unique_ptr<SQLite::Database> db) : path_(std::move(path)), db_(std::move(db)) {}
Cache::~Cache() = default;

std::optional<std::int64_t> Cache::find_env(const CacheKey& key) const {
  SQLite::Statement q(*db_, "SELECT id FROM environments WHERE key = ?");
  q.bind(1, key.canonical());
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getInt64();
}

std::int64_t Cache::ensure_env(const CacheKey& key) {
  if (auto id = find_env(key)) return *id;
  return insert_env(*db_, key);
}

// Writers take the write lock up front (IMMEDIATE): a deferred transaction that reads and then
// writes while another connection commits gets "database is locked" at once, without waiting for
// the busy timeout (SQLite's deadlock avoidance), which lost rows when several GPUs tuned at once.
void Cache::put_measurement(const CacheKey& key, const Measurement& m) {
  SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  write(MeasurementRecord{key, m, now_timestamp()});
  transaction.commit();
}

std::vector<Measurement> Cache::measurements(const CacheKey& key) const {
  std::vector<Measurement> out;
  const auto env = find_env(key);
  if (!env) return out;
  SQLite::Statement q(*db_, std::string("SELECT ") + kMeasurementColumns +
                                " FROM measurements WHERE env_id = ? ORDER BY shape, backend");
  q.bind(1, *env);
  while (q.executeStep()) out.push_back(measurement_of(q, 0));
  return out;
}

void Cache::put_decision(const CacheKey& key, const std::string& backends, const Decision& d) {
  SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  write(DecisionRecord{key, backends, d, now_timestamp()});
  transaction.commit();
}

std::optional<Decision> Cache::decision(const CacheKey& key, const std::string& backends) const {
  const auto env = find_env(key);
  if (!env) return std::nullopt;
  SQLite::Statement q(*db_,
                      "SELECT mechanism, reason, default_backend, routes, quality FROM decisions WHERE env_id = ? AND backends = ?");
  q.bind(1, *env);
  q.bind(2, backends);
  if (!q.executeStep()) return std::nullopt;
  return decision_of(q, 0);  // nullopt: written by a tool that knew more mechanisms, re-decide
}

std::vector<CacheKey> Cache::keys() const {
  std::vector<CacheKey> out;
  SQLite::Statement q(*db_,
                      "SELECT " + CacheKey::columns() + " FROM environments ORDER BY id");
  while (q.executeStep()) out.push_back(key_of(q, 0));
  return out;
}

RecordSet Cache::records(const std::optional<CacheKey>& only) const { return read_records(*db_, only); }

void Cache::write(const MeasurementRecord& r) { insert_measurement(*db_, ensure_env(r.key), r); }

void Cache::write(const DecisionRecord& r) { insert_decision(*db_, ensure_env(r.key), r); }

int Cache::merge_in(const RecordSet& incoming) {
  SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
  RecordSet held = read_records(*db_, std::nullopt);
  int written = 0;
  for (const auto& [id, r] : incoming.measurements)
    if (held.add(r)) write(r), ++written;
  for (const auto& [id, r] : incoming.decisions)
    if (held.add(r)) write(r), ++written;
  transaction.commit();
  return written;
}

}  // namespace autotune
