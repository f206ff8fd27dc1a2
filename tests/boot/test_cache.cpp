#include "cache/cache.h"
#include "cache/records.h"

#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "tests/boot/test_support.h"

namespace autotune {
namespace {

using testing::contains;
using testing::read_file;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

CacheKey h100_key() {
  GpuInfo gpu;
  gpu.name = "NVIDIA H100 80GB HBM3";
  gpu.cc_major = 9;
  gpu.sm_count = 132;
  gpu.memory_mib = 81559;
  gpu.driver_version = "580.159.04";
  Fingerprint env;
  env.torch_version = "2.11.0+cu130";
  env.torch_cuda = "13.0";
  return make_cache_key(gpu, env, "w1", "h1");
}

Measurement measurement(const std::string& backend, const std::string& shape, double ms) {
  Measurement m;
  m.backend = backend;
  m.backend_version = "2.11.0+cu130";
  m.shape = shape;
  m.status = Status::ok;
  m.median_ms = ms;
  m.spread = 0.01;
  m.host_ms = 0.15;
  m.samples = 100;
  m.peak_mem_bytes = 6'000'000'000;
  m.rel_error = 2.3e-3;
  return m;
}

Decision sage_decision() {
  Decision d;
  d.mechanism = Mechanism::sage;
  d.source = Source::tuning;
  d.reason = "measured: sage fastest on wan_720p";
  d.default_backend = "sdpa_cudnn";
  d.routes = {{"wan_720p", 1, 40, 128, 75600, 75600, "sage", 143.0},
              {"flux_1024", 1, 24, 128, 4352, 4352, "flash3", 0.361}};
  return d;
}

class CacheTest : public ::testing::Test {
 protected:
  TempDir dir;
  fs::path path = dir / "cache.sqlite";

  std::unique_ptr<Cache> open_clean() {
    auto opened = Cache::open(path);
    EXPECT_TRUE(opened.warnings.empty()) << opened.warnings.front();
    EXPECT_NE(opened.cache, nullptr);
    return std::move(opened.cache);
  }

  // The file at `path` is set aside with a warning naming `tag`; the set-aside file holds `original`;
  // a new, usable cache replaces it.
  void expect_set_aside(const std::string& tag, const std::string& original, std::string* warning = nullptr) {
    auto opened = Cache::open(path);
    ASSERT_EQ(opened.warnings.size(), 1u);
    if (warning) *warning = opened.warnings[0];
    EXPECT_TRUE(contains(opened.warnings[0], "set aside as")) << opened.warnings[0];
    EXPECT_TRUE(contains(opened.warnings[0], path.string() + "." + tag + "-")) << opened.warnings[0];
    ASSERT_NE(opened.cache, nullptr);

    std::vector<fs::path> aside;
    for (const auto& e : fs::directory_iterator(dir.path()))
      if (contains(e.path().filename().string(), "cache.sqlite." + tag + "-")) aside.push_back(e.path());
    ASSERT_EQ(aside.size(), 1u) << testing::list_dir(dir.path());
    EXPECT_EQ(read_file(aside[0]), original) << "the set-aside file must keep the original bytes";

    opened.cache->put_decision(h100_key(), "", sage_decision());
    EXPECT_EQ(opened.cache->decision(h100_key(), "")->mechanism, Mechanism::sage);
  }
};

TEST_F(CacheTest, NewFileGetsOurSchema) {
  open_clean();
  SQLite::Database db(path.string());
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), Cache::kSchemaVersion);
  EXPECT_EQ(db.execAndGet("PRAGMA application_id").getInt(), Cache::kApplicationId);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "delete");  // no WAL on network volumes
}

// The schema's migration spells the key's columns out (it is history); they must be the key's
// fields, in its order, after `id` and `key`.
TEST_F(CacheTest, TheEnvironmentsTableHasTheKeysFields) {
  open_clean();
  SQLite::Database db(path.string());
  SQLite::Statement q(db, "SELECT name FROM pragma_table_info('environments') ORDER BY cid");
  std::string columns;
  while (q.executeStep()) {
    const std::string name = q.getColumn(0).getString();
    if (name != "id" && name != "key" && name != "created_at") columns += (columns.empty() ? "" : ", ") + name;
  }
  EXPECT_EQ(columns, CacheKey::columns());
  EXPECT_EQ(CacheKey::field_count(), 9);
}

Decision balanced_decision() {
  Decision d = sage_decision();
  d.routes[0].exact_backend = "flash3";
  d.quality = {"balanced", 2, 30, 761.9, 700.6, 1};
  return d;
}

void expect_balanced_account(const Decision& d) {
  EXPECT_EQ(d.quality.level, "balanced");
  EXPECT_EQ(d.quality.exact_steps, 2);  // what the node's step-aware routing reads
  EXPECT_EQ(d.quality.steps, 30);
  EXPECT_DOUBLE_EQ(d.quality.exact_step_ms, 761.9);
  EXPECT_DOUBLE_EQ(d.quality.step_ms, 700.6);
  EXPECT_EQ(d.quality.quantized_routes, 1);
  EXPECT_EQ(d.routes.at(0).exact_backend, "flash3");
}

// A cache hit is every boot after the first, and every pod after the first in a fleet: the
// decision must come back with its quality account, or balanced would run 8-bit on every step.
TEST_F(CacheTest, ADecisionKeepsItsQualityAccountInTheFileAndInAPublishedCopy) {
  auto cache = open_clean();
  cache->put_decision(h100_key(), "flash_attn_3=3.0.0", balanced_decision());
  expect_balanced_account(*cache->decision(h100_key(), "flash_attn_3=3.0.0"));
  const fs::path published = dir / "published.sqlite";
  write_snapshot(published, cache->records(h100_key()));
  const Snapshot s = read_snapshot(published);
  ASSERT_EQ(s.state, FileState::ok) << s.problem;
  ASSERT_EQ(s.records->decisions.size(), 1u);
  expect_balanced_account(s.records->decisions.begin()->second.decision);
}

// A file of schema 1, before the quality account: this pod's own is brought up to date, and a
// published one (read-only) is read as it is; its decisions read with an empty account, none is
// set aside or lost.
TEST_F(CacheTest, ASchemaOneFileIsReadAndItsDecisionsKept) {
  open_clean()->put_decision(h100_key(), "", sage_decision());
  {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec("ALTER TABLE decisions DROP COLUMN quality");  // schema 1 exactly
    db.exec("PRAGMA user_version = 1");
  }
  const fs::path published = dir / "published-v1.sqlite";
  fs::copy_file(path, published);
  const Snapshot s = read_snapshot(published);
  ASSERT_EQ(s.state, FileState::ok) << s.problem;
  ASSERT_EQ(s.records->decisions.size(), 1u);
  EXPECT_EQ(s.records->decisions.begin()->second.decision.mechanism, Mechanism::sage);
  EXPECT_EQ(s.records->decisions.begin()->second.decision.quality.level, "");

  auto cache = open_clean();  // no warning, nothing set aside
  const auto d = cache->decision(h100_key(), "");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->mechanism, Mechanism::sage);
  EXPECT_EQ(d->quality.level, "");
  cache->put_decision(h100_key(), "b", balanced_decision());
  expect_balanced_account(*cache->decision(h100_key(), "b"));
  SQLite::Database db(path.string());
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), Cache::kSchemaVersion);
}

TEST(CacheKey, CanonicalNamesEveryFieldInItsFixedForm) {
  // The primary key of every cache in the fleet: a change here re-tunes every pod.
  CacheKey k{"NVIDIA H100 80GB HBM3", "9.0", 132, 81559, "580.159.04", "13.0", "2.11.0+cu130", "wl", "harness-6"};
  EXPECT_EQ(k.canonical(),
            "gpu=NVIDIA H100 80GB HBM3|cc=9.0|sms=132|mem=81559|driver=580.159.04|cuda=13.0|torch=2.11.0+cu130"
            "|workloads=wl|harness=harness-6");
}

TEST_F(CacheTest, CreatesMissingDirectories) {
  path = dir / "a/b/cache.sqlite";
  open_clean();
  EXPECT_TRUE(fs::exists(path));
}

TEST_F(CacheTest, MeasurementsRoundTrip) {
  {
    auto cache = open_clean();
    cache->put_measurement(h100_key(), measurement("sdpa_cudnn", "flux_1024", 0.397));
    Measurement failed = measurement("flash3", "sd15_256_160", 0);
    failed.status = Status::crashed;
    failed.reason = "worker died: SIGSEGV";
    cache->put_measurement(h100_key(), failed);
  }
  auto cache = open_clean();  // reopened: the rows are on disk
  const auto rows = cache->measurements(h100_key());
  ASSERT_EQ(rows.size(), 2u);
  // Ordered by shape, then backend.
  EXPECT_EQ(rows[0].shape, "flux_1024");
  EXPECT_EQ(rows[0].backend, "sdpa_cudnn");
  EXPECT_EQ(rows[0].backend_version, "2.11.0+cu130");
  EXPECT_EQ(rows[0].status, Status::ok);
  EXPECT_DOUBLE_EQ(rows[0].median_ms, 0.397);
  EXPECT_DOUBLE_EQ(rows[0].spread, 0.01);
  EXPECT_DOUBLE_EQ(rows[0].host_ms, 0.15);
  EXPECT_EQ(rows[0].samples, 100);
  EXPECT_EQ(rows[0].peak_mem_bytes, 6'000'000'000);
  EXPECT_DOUBLE_EQ(rows[0].rel_error, 2.3e-3);
  EXPECT_EQ(rows[1].shape, "sd15_256_160");
  EXPECT_EQ(rows[1].status, Status::crashed);
  EXPECT_EQ(rows[1].reason, "worker died: SIGSEGV");
}

TEST_F(CacheTest, SameBackendVersionAndShapeReplaces) {
  auto cache = open_clean();
  cache->put_measurement(h100_key(), measurement("sage", "wan_720p", 150));
  cache->put_measurement(h100_key(), measurement("sage", "wan_720p", 143));
  Measurement upgraded = measurement("sage", "wan_720p", 120);
  upgraded.backend_version = "2.3.0";  // a new library version is a new row
  cache->put_measurement(h100_key(), upgraded);
  const auto rows = cache->measurements(h100_key());
  ASSERT_EQ(rows.size(), 2u);
  std::map<std::string, double> by_version;
  for (const auto& r : rows) by_version[r.backend_version] = r.median_ms;
  EXPECT_DOUBLE_EQ(by_version.at("2.11.0+cu130"), 143);
  EXPECT_DOUBLE_EQ(by_version.at("2.3.0"), 120);
}

TEST_F(CacheTest, DecisionRoundTrip) {
  const std::string backends = "flash_attn_3=3.0.0b1,sageattention=2.2.0";
  open_clean()->put_decision(h100_key(), backends, sage_decision());
  const auto got = open_clean()->decision(h100_key(), backends);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->mechanism, Mechanism::sage);
  EXPECT_EQ(got->source, Source::cache);  // whoever made it, it now comes from the cache
  EXPECT_EQ(got->reason, "measured: sage fastest on wan_720p");
  EXPECT_EQ(got->default_backend, "sdpa_cudnn");
  ASSERT_EQ(got->routes.size(), 2u);
  EXPECT_EQ(got->routes[1].workload, "flux_1024");
  EXPECT_EQ(got->routes[1].backend, "flash3");
  EXPECT_EQ(got->routes[1].q_len, 4352);
  EXPECT_DOUBLE_EQ(got->routes[0].median_ms, 143.0);
}

TEST_F(CacheTest, KeySeparation) {
  auto cache = open_clean();
  const CacheKey key = h100_key();
  cache->put_decision(key, "sageattention=2.2.0", sage_decision());
  cache->put_measurement(key, measurement("sage", "wan_720p", 143));

  CacheKey new_driver = key;
  new_driver.driver = "590.10";
  CacheKey new_torch = key;
  new_torch.torch = "2.12.0+cu130";
  CacheKey new_workloads = key;
  new_workloads.workloads_version = "w2";
  for (const CacheKey& other : {new_driver, new_torch, new_workloads}) {
    EXPECT_NE(other.canonical(), key.canonical());
    EXPECT_FALSE(cache->decision(other, "sageattention=2.2.0").has_value()) << other.canonical();
    EXPECT_TRUE(cache->measurements(other).empty()) << other.canonical();
  }
  // Upgrading one library changes the backends signature: the decision no longer applies.
  EXPECT_FALSE(cache->decision(key, "sageattention=2.3.0").has_value());
  EXPECT_TRUE(cache->decision(key, "sageattention=2.2.0").has_value());
  EXPECT_EQ(cache->keys().size(), 1u);  // lookups create nothing
}

TEST_F(CacheTest, KeysListWhatWasStored) {
  auto cache = open_clean();
  CacheKey other = h100_key();
  other.gpu_name = "NVIDIA L40S";
  other.compute_capability = "8.9";
  cache->put_measurement(h100_key(), measurement("sage", "wan_720p", 143));
  cache->put_measurement(other, measurement("sage", "wan_720p", 300));
  const auto keys = cache->keys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].canonical(), h100_key().canonical());
  EXPECT_EQ(keys[1].gpu_name, "NVIDIA L40S");
  EXPECT_EQ(keys[1].memory_mib, 81559u);
}

TEST(CacheKeyTest, BuiltFromGpuAndEnvironment) {
  const CacheKey key = h100_key();
  EXPECT_EQ(key.canonical(),
            "gpu=NVIDIA H100 80GB HBM3|cc=9.0|sms=132|mem=81559|driver=580.159.04|cuda=13.0|"
            "torch=2.11.0+cu130|workloads=w1|harness=h1");
}

TEST(CacheKeyTest, BackendsSignatureIsSortedAndExcludesTorch) {
  Fingerprint env;
  env.packages = {{"xformers", "0.0.33"}, {"torch", "2.11.0"}, {"flash_attn", "2.8.3"}};
  EXPECT_EQ(backends_signature(env), "flash_attn=2.8.3,xformers=0.0.33");
  EXPECT_EQ(backends_signature(Fingerprint{}), "");
}

TEST_F(CacheTest, EmptyFileIsMigrated) {
  write_file(path, "");
  auto cache = open_clean();
  cache->put_decision(h100_key(), "", sage_decision());
  EXPECT_TRUE(cache->decision(h100_key(), "").has_value());
  EXPECT_EQ(testing::list_dir(dir.path()), "cache.sqlite\n");
}

TEST_F(CacheTest, RandomBytesAreSetAside) {
  std::mt19937 rng(42);
  std::string noise(8192, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  write_file(path, noise);
  expect_set_aside("corrupt", noise);
}

TEST_F(CacheTest, TruncatedFileIsSetAside) {
  {
    auto cache = open_clean();
    // Enough rows for many pages, so half the file cuts through the b-trees.
    for (int i = 0; i < 400; ++i)
      cache->put_measurement(h100_key(), measurement("sdpa_cudnn", "shape_" + std::to_string(i), i * 0.01));
  }
  const std::string whole = read_file(path);
  ASSERT_GT(whole.size(), 16u * 4096) << "too few pages to truncate meaningfully";
  const std::string half = whole.substr(0, whole.size() / 2);
  write_file(path, half);
  expect_set_aside("corrupt", half);
}

TEST_F(CacheTest, ForeignSqliteFileIsSetAside) {
  {
    SQLite::Database other(path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT)");
    other.exec("INSERT INTO moz_places(url) VALUES('https://example.org')");
  }
  const std::string original = read_file(path);
  expect_set_aside("foreign", original);
}

TEST_F(CacheTest, NewerSchemaIsSetAside) {
  open_clean()->put_decision(h100_key(), "", sage_decision());
  {
    SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
  }
  std::string warning;
  expect_set_aside("newer", read_file(path), &warning);
  EXPECT_TRUE(contains(warning, "newer schema 99 than this tool's " + std::to_string(Cache::kSchemaVersion))) << warning;
}

TEST_F(CacheTest, WarningsSayWhatWasWrong) {
  write_file(path, std::string(4096, 'x'));
  std::string warning;
  expect_set_aside("corrupt", std::string(4096, 'x'), &warning);
  EXPECT_TRUE(contains(warning, "unreadable")) << warning;
}

TEST_F(CacheTest, SetAsideTakesTheJournalAlong) {
  // A rollback journal belongs to the old file; left behind, SQLite would replay it into the new one.
  write_file(path, "old database");
  write_file(dir / "cache.sqlite-journal", "old journal");
  const fs::path moved = set_aside(path, "corrupt");
  EXPECT_EQ(read_file(moved), "old database");
  EXPECT_EQ(read_file(moved.string() + "-journal"), "old journal");
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(dir / "cache.sqlite-journal"));
}

TEST_F(CacheTest, SetAsideNeverOverwritesAnEarlierOne) {
  write_file(path, "first");
  const fs::path a = set_aside(path, "corrupt");
  write_file(path, "second");
  const fs::path b = set_aside(path, "corrupt");
  EXPECT_NE(a, b);
  EXPECT_EQ(read_file(a), "first");
  EXPECT_EQ(read_file(b), "second");
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(CacheTest, UnusablePathMeansNoCacheAndAWarning) {
  write_file(dir / "plain-file", "not a directory");
  path = dir / "plain-file" / "cache.sqlite";
  auto opened = Cache::open(path);
  EXPECT_EQ(opened.cache, nullptr);
  ASSERT_EQ(opened.warnings.size(), 1u);
  EXPECT_TRUE(contains(opened.warnings[0], "cannot be used")) << opened.warnings[0];
  EXPECT_TRUE(contains(opened.warnings[0], "continuing without a cache")) << opened.warnings[0];
  EXPECT_EQ(read_file(dir / "plain-file"), "not a directory");
}

TEST_F(CacheTest, ReadOnlyDirectoryMeansNoCacheAndAWarning) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions; UnusablePathMeansNoCacheAndAWarning covers the outcome";
  const fs::path ro = dir / "ro";
  fs::create_directory(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  path = ro / "cache.sqlite";
  auto opened = Cache::open(path);
  EXPECT_EQ(opened.cache, nullptr);
  ASSERT_EQ(opened.warnings.size(), 1u);
  EXPECT_TRUE(contains(opened.warnings[0], "continuing without a cache")) << opened.warnings[0];
}

}  // namespace
}  // namespace autotune
