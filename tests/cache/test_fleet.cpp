// The fleet cache without a GPU: the merge rule, record checks, export/import, publishing and
// reading, pruning, leases (contention, take-over of an abandoned lease), and the boot against a
// shared directory holding every kind of damaged file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

#include "cache/fleet.h"
#include "cache/lease.h"
#include "cache/published.h"
#include "cache/records.h"
#include "tests/boot/test_support.h"
#include "boot/boot.h"

namespace autotune {
namespace {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

CacheKey key(const std::string& driver = "580.159.04") {
  CacheKey k;
  k.gpu_name = "NVIDIA H100 80GB HBM3";
  k.compute_capability = "9.0";
  k.sm_count = 132;
  k.memory_mib = 81559;
  k.driver = driver;
  k.cuda_runtime = "13.0";
  k.torch = "2.11.0+cu130";
  k.workloads_version = "wl";
  k.harness_version = "h";
  return k;
}

MeasurementRecord mrec(Status s, double ms, const std::string& at, int samples = 10) {
  MeasurementRecord r;
  r.key = key();
  r.m.backend = "flash3";
  r.m.backend_version = "3.0.0b1";
  r.m.shape = "flux-1024";
  r.m.status = s;
  r.m.median_ms = ms;
  r.m.samples = samples;
  r.measured_at = at;
  return r;
}

DecisionRecord drec(Mechanism m, const std::string& at, const CacheKey& k = key()) {
  DecisionRecord r;
  r.key = k;
  r.backends = "flash_attn_3=3.0.0b1";
  r.decision.mechanism = m;
  r.decision.default_backend = default_backend_of(m);
  r.decision.reason = "test";
  r.decided_at = at;
  return r;
}

class Dir : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

// --- the merge rule --------------------------------------------------------------------------

TEST(MergeRule, DecisiveFailureBeatsOkBeatsTransientFailure) {
  const auto ok = mrec(Status::ok, 0.36, "2026-11-25T10:00:00.000Z");
  EXPECT_TRUE(wins(mrec(Status::crashed, 0, "2026-11-25T09:00:00.000Z"), ok));
  EXPECT_TRUE(wins(mrec(Status::rejected, 0, "2026-11-25T09:00:00.000Z"), ok));
  EXPECT_TRUE(wins(mrec(Status::unsupported, 0, "2026-11-25T09:00:00.000Z"), ok));
  EXPECT_TRUE(wins(ok, mrec(Status::timeout, 0, "2026-11-25T11:00:00.000Z")));  // newer, but transient
  EXPECT_TRUE(wins(ok, mrec(Status::oom, 0, "2026-11-25T11:00:00.000Z")));
  EXPECT_TRUE(wins(ok, mrec(Status::failed, 0, "2026-11-25T11:00:00.000Z")));
}

TEST(MergeRule, WithinAClassNewerThenMoreSamplesThenLowerMedian) {
  EXPECT_TRUE(wins(mrec(Status::ok, 0.40, "2026-11-25T10:00:00.001Z"), mrec(Status::ok, 0.36, "2026-11-25T10:00:00.000Z")));
  EXPECT_TRUE(wins(mrec(Status::ok, 0.40, "2026-11-25T10:00:00.000Z", 20), mrec(Status::ok, 0.36, "2026-11-25T10:00:00.000Z", 10)));
  EXPECT_TRUE(wins(mrec(Status::ok, 0.36, "2026-11-25T10:00:00.000Z"), mrec(Status::ok, 0.40, "2026-11-25T10:00:00.000Z")));
}

TEST(MergeRule, OrderOfReadingDoesNotMatter) {
  std::vector<MeasurementRecord> copies{mrec(Status::ok, 0.40, "2026-11-25T10:00:00.000Z"),
                                        mrec(Status::timeout, 0, "2026-11-25T12:00:00.000Z"),
                                        mrec(Status::ok, 0.38, "2026-11-25T11:00:00.000Z"),
                                        mrec(Status::ok, 0.37, "2026-11-25T11:00:00.000Z")};
  RecordSet forward, backward;
  for (const auto& c : copies) forward.add(c);
  for (auto it = copies.rbegin(); it != copies.rend(); ++it) backward.add(*it);
  ASSERT_EQ(forward.measurements.size(), 1u);
  EXPECT_DOUBLE_EQ(forward.measurements.begin()->second.m.median_ms, 0.37);
  EXPECT_DOUBLE_EQ(backward.measurements.begin()->second.m.median_ms, 0.37);
}

TEST(MergeRule, NewerDecisionWins) {
  RecordSet s;
  s.add(drec(Mechanism::flash3, "2026-11-25T10:00:00.000Z"));
  s.add(drec(Mechanism::sage, "2026-11-25T09:00:00.000Z"));
  ASSERT_EQ(s.decisions.size(), 1u);
  EXPECT_EQ(s.decisions.begin()->second.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(normalise_timestamp("2026-11-25T10:00:00Z"), "2026-11-25T10:00:00.000Z");
}

// --- checks on records -----------------------------------------------------------------------

TEST(RecordChecks, ImpossibleValues) {
  EXPECT_TRUE(impossible(mrec(Status::ok, 0, "t").m));
  EXPECT_TRUE(impossible(mrec(Status::ok, -1, "t").m));
  EXPECT_TRUE(impossible(mrec(Status::ok, std::nan(""), "t").m));
  EXPECT_TRUE(impossible(mrec(Status::ok, 1, "t", 0).m));
  EXPECT_FALSE(impossible(mrec(Status::ok, 0.36, "t").m));
  EXPECT_FALSE(impossible(mrec(Status::crashed, 0, "t", 0).m));
  // NaN output: rejected with kNonFiniteError and no samples is true; the same error on an ok is not.
  auto nan_output = mrec(Status::rejected, 0, "t", 0);
  nan_output.m.rel_error = kNonFiniteError;
  EXPECT_FALSE(impossible(nan_output.m));
  nan_output.m.status = Status::ok;
  nan_output.m.median_ms = 1;
  nan_output.m.samples = 10;
  EXPECT_EQ(impossible(nan_output.m).value_or(""), "a negative value (rel_error -1.000000)");
}

// Every status, as the worker and the parent write them, survives the cache and an export.
TEST(RecordChecks, RecordsOfEveryStatusRoundTripWithoutWarnings) {
  RecordSet set;
  for (Status s : {Status::ok, Status::rejected, Status::unsupported, Status::not_installed, Status::oom,
                   Status::failed, Status::crashed, Status::timeout}) {
    auto r = s == Status::ok ? mrec(s, 0.36, "2026-11-25T10:00:00.000Z") : mrec(s, 0, "2026-11-25T10:00:00.000Z", 0);
    r.m.backend = "b_" + std::string(to_string(s));
    if (s == Status::rejected) r.m.rel_error = kNonFiniteError;
    set.add(r);
  }
  std::vector<std::string> warnings;
  const RecordSet back = from_export_json(nlohmann::json::parse(to_export_json(set).dump()), warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(back.measurements.size(), 8u);
  drop_invalid(set, nullptr, "test", warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(set.measurements.size(), 8u);
}

TEST(RecordChecks, BackendNotInstalledHere) {
  Fingerprint env;
  env.packages = {{"torch", "2.11.0+cu130"}};
  auto r = mrec(Status::ok, 0.36, "t");
  EXPECT_TRUE(not_installed_here(r.m, env));
  r.m.status = Status::not_installed;  // says so itself
  EXPECT_FALSE(not_installed_here(r.m, env));
  EXPECT_TRUE(not_installed_here(drec(Mechanism::sage, "t").decision, env));
  EXPECT_FALSE(not_installed_here(drec(Mechanism::pytorch, "t").decision, env));
  RecordSet s;
  s.add(mrec(Status::ok, 0.36, "t"));
  s.add(drec(Mechanism::flash3, "t"));
  std::vector<std::string> warnings;
  drop_invalid(s, &env, "file X", warnings);
  EXPECT_TRUE(s.empty());
  ASSERT_EQ(warnings.size(), 1u);  // one warning per source, not per record
  EXPECT_NE(warnings[0].find("file X"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("flash_attn_3"), std::string::npos) << warnings[0];
}

TEST(Export, RoundTripAndBadDocuments) {
  RecordSet s;
  s.add(mrec(Status::ok, 0.36, "2026-11-25T10:00:00.000Z"));
  auto d = drec(Mechanism::flash3, "2026-11-25T10:00:00.000Z");
  d.decision.quality = {"balanced", 1, 30, 761.9, 700.6, 1};
  s.add(d);
  std::vector<std::string> warnings;
  const RecordSet back = from_export_json(to_export_json(s), warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(back.covers(s) && s.covers(back));
  EXPECT_EQ(decisions_text(back), decisions_text(s));  // the quality account included
  EXPECT_EQ(back.decisions.begin()->second.decision.quality.exact_steps, 1);
  // An export from before the account: read with an empty one.
  auto old = to_export_json(s);
  old["decisions"][0].erase("quality");
  EXPECT_EQ(from_export_json(old, warnings).decisions.begin()->second.decision.quality.level, "");
  EXPECT_TRUE(warnings.empty());
  // An account that cannot be: the decision is left out with a warning naming it.
  auto bad = to_export_json(s);
  bad["decisions"][0]["quality"]["exact_steps"] = 5000;
  EXPECT_TRUE(from_export_json(bad, warnings).decisions.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("exact_steps 5000"), std::string::npos) << warnings[0];
  warnings.clear();
  EXPECT_THROW(from_export_json(nlohmann::json::array(), warnings), std::invalid_argument);
  EXPECT_THROW(from_export_json({{"format", "other"}}, warnings), std::invalid_argument);
  EXPECT_THROW(from_export_json({{"format", 7}}, warnings), std::invalid_argument);  // found by fuzz_cache_export
  EXPECT_THROW(from_export_json({{"format", kExportFormat}, {"version", 99}}, warnings), std::invalid_argument);
  auto doc = to_export_json(s);
  doc["measurements"][0]["median_ms"] = -1;
  doc["decisions"][0]["mechanism"] = "warp";
  const RecordSet partial = from_export_json(doc, warnings);
  EXPECT_TRUE(partial.empty());
  EXPECT_EQ(warnings.size(), 2u);
}

// --- published files -------------------------------------------------------------------------

RecordSet one_key(const std::string& at = "2026-11-25T10:00:00.000Z", Mechanism m = Mechanism::flash3) {
  RecordSet s;
  auto r = mrec(Status::ok, 0.36, at);
  s.add(r);
  s.add(drec(m, at));
  return s;
}

TEST_F(Dir, PublishThenReadWithoutLocks) {
  const fs::path pub = dir_ / "published";
  const fs::path file = publish(pub, one_key());
  EXPECT_EQ(file.filename().string().rfind("pub-" + key_hash(key()) + "-", 0), 0u) << file;
  // Read-only directory and file: a reader never writes, not even a lock or a journal.
  fs::permissions(file, fs::perms::owner_read);
  fs::permissions(pub, fs::perms::owner_read | fs::perms::owner_exec);
  ReadReport r = read_published(pub, key());
  fs::permissions(pub, fs::perms::owner_all);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_TRUE(read_published(pub, key("other")).records.empty());  // other keys' files are not opened
  EXPECT_THROW(publish(pub, RecordSet{}), std::invalid_argument);
}

TEST_F(Dir, LookupTakesTheNewestDecisionAcrossFiles) {
  const fs::path pub = dir_ / "published";
  publish(pub, one_key("2026-11-25T10:00:00.000Z", Mechanism::sage));
  publish(pub, one_key("2026-11-25T11:00:00.000Z", Mechanism::flash3));
  publish(pub, one_key("2026-11-25T09:00:00.000Z", Mechanism::pytorch));
  ReadReport r = lookup_decision(pub, key(), "flash_attn_3=3.0.0b1");
  ASSERT_EQ(r.records.decisions.size(), 1u);
  EXPECT_EQ(r.records.decisions.begin()->second.decision.mechanism, Mechanism::flash3);
}

TEST_F(Dir, NamesSayWhatDecisionsAFileHolds) {
  const fs::path pub = dir_ / "published";
  RecordSet measurements_only;
  measurements_only.add(mrec(Status::ok, 0.36, "2026-11-25T10:00:00.000Z"));
  const fs::path none = publish(pub, measurements_only);
  const fs::path with = publish(pub, one_key("2026-11-25T11:00:00.000Z"));
  EXPECT_NE(none.filename().string().find("-n.sqlite"), std::string::npos) << none;
  const std::string expected = "-d20261125T110000.000Z_" + hash_text(decisions_text(one_key("2026-11-25T11:00:00.000Z")));
  EXPECT_NE(with.filename().string().find(expected + ".sqlite"), std::string::npos) << with;
  for (const auto& f : list_published(pub)) {
    EXPECT_TRUE(f.described) << f.path;
    EXPECT_EQ(f.newest_decision.empty(), f.path == none) << f.path;
  }
  // A name from before the suffix (or a pod id with dashes but no suffix) is not described.
  std::ofstream(pub / ("pub-" + key_hash(key()) + "-20261125T090000.000Z-pod-12-0badcafe.sqlite")) << "x";
  int undescribed = 0;
  for (const auto& f : list_published(pub)) undescribed += !f.described;
  EXPECT_EQ(undescribed, 1);
}

TEST_F(Dir, LookupOpensNeitherMeasurementsOnlyFilesNorCopiesOfOneDecisionSet) {
  const fs::path pub = dir_ / "published";
  const RecordSet decided = one_key("2026-11-25T10:00:00.000Z", Mechanism::flash3);
  for (int i = 0; i < 50; ++i) publish(pub, decided);  // republished copies: one digest
  for (int i = 0; i < 50; ++i) {
    RecordSet partial;  // a tuner's partial publishes, newer but without a decision
    auto r = mrec(Status::ok, 0.3, "2026-11-25T12:00:00.000Z");
    r.m.shape = "shape" + std::to_string(i);
    partial.add(r);
    publish(pub, partial);
  }
  ReadReport r = lookup_decision(pub, key(), "flash_attn_3=3.0.0b1");
  EXPECT_EQ(r.files_seen, 100);
  EXPECT_EQ(r.read.size(), 1u);
  ASSERT_EQ(r.records.decisions.size(), 1u);
  EXPECT_EQ(r.records.decisions.begin()->second.decision.mechanism, Mechanism::flash3);
  // A different decision made in the same millisecond has another digest: it is read, and the
  // merge rule (not the reading order) picks the winner, as with every file read.
  const fs::path other = publish(pub, one_key("2026-11-25T10:00:00.000Z", Mechanism::sage));
  r = lookup_decision(pub, key(), "flash_attn_3=3.0.0b1");
  EXPECT_EQ(r.read.size(), 2u);
  RecordSet both = decided;
  both.merge(one_key("2026-11-25T10:00:00.000Z", Mechanism::sage));
  EXPECT_EQ(r.records.decisions.begin()->second.decision.mechanism,
            both.decisions.begin()->second.decision.mechanism);
  // A newer decision in a file stamped later is found however many older copies there are.
  publish(pub, one_key("2026-11-25T13:00:00.000Z", Mechanism::pytorch));
  r = lookup_decision(pub, key(), "flash_attn_3=3.0.0b1");
  EXPECT_EQ(r.read.size(), 1u);
  EXPECT_EQ(r.records.decisions.begin()->second.decision.mechanism, Mechanism::pytorch);
}

TEST_F(Dir, FleetDecisionAsksForCompactionInsteadOfCompacting) {
  const fs::path shared = dir_ / "shared";
  for (int i = 0; i < kCompactAbove + 1; ++i) publish(published_dir(shared), one_key());
  Fingerprint env;
  env.packages = {{"flash_attn_3", "3.0.0b1"}, {"torch", "2.11.0+cu130"}};
  std::vector<std::string> warnings;
  bool compact = false;
  const auto d = fleet_decision(nullptr, shared, key(), "flash_attn_3=3.0.0b1", env, warnings, &compact);
  ASSERT_TRUE(d) << ::testing::PrintToString(warnings);
  EXPECT_TRUE(compact);
  EXPECT_EQ(list_published(published_dir(shared)).size(), static_cast<std::size_t>(kCompactAbove + 1));
  // The detached compactor leaves one file; the caller does not wait for it, so the test does.
  ASSERT_TRUE(compact_detached(shared, {key_hash(key())}, milliseconds(0)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (list_published(published_dir(shared)).size() != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(list_published(published_dir(shared)).size(), 1u);
  EXPECT_TRUE(read_published(published_dir(shared)).records.covers(one_key()));
  compact = false;
  fleet_decision(nullptr, shared, key(), "flash_attn_3=3.0.0b1", env, warnings, &compact);
  EXPECT_FALSE(compact);
}

TEST_F(Dir, PruneCompactsAndNeverDropsARecord) {
  const fs::path pub = dir_ / "published";
  RecordSet all;
  for (int i = 0; i < 5; ++i) {
    RecordSet s;
    auto r = mrec(Status::ok, 0.3 + i, "2026-11-25T10:00:0" + std::to_string(i) + ".000Z");
    r.m.shape = "shape" + std::to_string(i);
    s.add(r);
    all.add(r);
    publish(pub, s);
  }
  std::ofstream(pub / ".tmp-old.sqlite") << "half a file";
  fs::last_write_time(pub / ".tmp-old.sqlite", fs::file_time_type::clock::now() - std::chrono::hours(2));
  std::ofstream(pub / ".tmp-young.sqlite") << "a publish in progress";
  const PruneReport p = prune(pub, PruneOptions{});
  EXPECT_TRUE(p.warnings.empty());
  EXPECT_EQ(p.written.size(), 1u);
  EXPECT_EQ(list_published(pub).size(), 1u);
  EXPECT_TRUE(read_published(pub).records.covers(all));
  EXPECT_FALSE(fs::exists(pub / ".tmp-old.sqlite"));
  EXPECT_TRUE(fs::exists(pub / ".tmp-young.sqlite"));
}

// --- leases ----------------------------------------------------------------------------------

TEST_F(Dir, OneHolderAtATime) {
  auto a = Lease::try_acquire(dir_, "k", milliseconds(60000));
  ASSERT_TRUE(a.lease) << a.error;
  auto b = Lease::try_acquire(dir_, "k", milliseconds(60000));
  EXPECT_FALSE(b.lease);
  ASSERT_TRUE(b.holder);
  EXPECT_EQ(b.holder->pid, ::getpid());
  EXPECT_TRUE(a.lease->refresh());
  a.lease->release();
  EXPECT_TRUE(Lease::try_acquire(dir_, "k", milliseconds(60000)).lease);
}

TEST_F(Dir, AbandonedLeaseExpiresAndIsTakenOverOnce) {
  ManualClock clock;
  auto dead = Lease::try_acquire(dir_, "k", milliseconds(200), clock);
  ASSERT_TRUE(dead.lease);
  // A killed pod: its file stays, nobody refreshes it. Never destroyed, so it never releases;
  // held by a static pointer (no destructor at exit) so that LeakSanitizer (build-sanitize) sees
  // it reachable, not leaked.
  static Lease* abandoned = nullptr;
  abandoned = dead.lease.release();
  EXPECT_FALSE(Lease::try_acquire(dir_, "k", milliseconds(200), clock).lease);
  clock.advance(milliseconds(300));
  // 16 threads race for the expired lease: exactly one wins.
  std::atomic<int> winners{0};
  std::vector<std::unique_ptr<Lease>> held(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      auto a = Lease::try_acquire(dir_, "k", milliseconds(60000), clock);
      if (a.lease) ++winners, held[static_cast<std::size_t>(i)] = std::move(a.lease);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_FALSE(abandoned->refresh());  // the old holder learns it lost the lease
}

// --- the boot against a shared directory ------------------------------------------------------

class FleetBoot : public Dir {
 protected:
  void SetUp() override {
    Dir::SetUp();
    o_.venv = fs::path(AUTOTUNE_TEST_DATA) / "venv";
    o_.cache_path = dir_ / "local" / "cache.sqlite";
    o_.shared_dir = dir_ / "shared";
    o_.env_settings = dir_ / "env";
    o_.decision_file = dir_ / "decision.json";
    o_.detect.simulate = "name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04";
    o_.workloads_version = "wl";
    o_.harness_version = "h";
    o_.wait_for_fleet = milliseconds(0);
    o_.tuner = [this](const GpuInfo&, const Fingerprint&, Cache* cache, const CacheKey& k,
                      std::vector<std::string>&) -> std::optional<Decision> {
      ++tunings_;
      tuned_key_ = k;
      Measurement m;
      m.backend = "flash3";
      m.backend_version = "3.0.0b1";
      m.shape = "flux-1024";
      m.status = Status::ok;
      m.median_ms = 0.36;
      m.samples = 10;
      if (cache) cache->put_measurement(k, m);
      return Decision{Mechanism::flash3, Source::tuning, "tuned", "flash3", {}};
    };
  }
  // The key this venv and simulated GPU boot with.
  CacheKey boot_key() {
    BootOptions probe = o_;
    probe.shared_dir.clear();
    probe.cache_path = dir_ / "probe.sqlite";
    run_boot(probe);
    return tuned_key_;
  }
  // A file named for this boot's key (so the boot opens it), with `bytes` as content.
  fs::path plant(const std::string& name_tail, const std::string& bytes) {
    const fs::path p = published_dir(o_.shared_dir) / ("pub-" + key_hash(key_) + "-29990101T000000.000Z-" + name_tail + ".sqlite");
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  std::string bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  BootOptions o_;
  int tunings_ = 0;
  CacheKey tuned_key_, key_;
};

TEST_F(FleetBoot, TunesOncePublishesAndTheNextPodHits) {
  const BootResult first = run_boot(o_);
  EXPECT_EQ(first.decision.source, Source::tuning);
  EXPECT_EQ(tunings_, 1);
  EXPECT_EQ(list_published(published_dir(o_.shared_dir)).size(), 1u);
  EXPECT_TRUE(lease_generations(leases_dir(o_.shared_dir), lease_name(tuned_key_, "flash_attn_3=3.0.0b1")).empty());
  BootOptions next = o_;
  next.cache_path = dir_ / "other-pod" / "cache.sqlite";
  const BootResult second = run_boot(next);
  EXPECT_EQ(second.decision.source, Source::cache);
  EXPECT_EQ(second.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(tunings_, 1);
  EXPECT_FALSE(fs::exists(next.cache_path)) << "a hit from the fleet creates no local file";
}

TEST_F(FleetBoot, WaitsForTheHolderThenUsesTheTable) {
  key_ = boot_key();
  tunings_ = 0;
  auto held = Lease::try_acquire(leases_dir(o_.shared_dir), lease_name(key_, "flash_attn_3=3.0.0b1"), milliseconds(60000));
  ASSERT_TRUE(held.lease);
  // 300 ms of waiting, in polls of 50 ms, on a clock that the polls' sleeps advance.
  ManualClock clock;
  o_.clock = &clock;
  o_.wait_for_fleet = milliseconds(300);
  o_.fleet_poll = milliseconds(50);
  const BootResult r = run_boot(o_);
  EXPECT_EQ(tunings_, 0);
  EXPECT_EQ(r.decision.source, Source::table);
  EXPECT_NE(r.decision.reason.find("is tuning this GPU"), std::string::npos) << r.decision.reason;
  // The holder publishes; the next boot picks it up.
  RecordSet s;
  s.add(drec(Mechanism::flash3, now_timestamp(), key_));
  publish(published_dir(o_.shared_dir), s);
  held.lease->release();
  EXPECT_EQ(run_boot(o_).decision.source, Source::cache);
}

TEST_F(FleetBoot, EveryKindOfDamagedFileIsSetAsideAndTheBootDecides) {
  key_ = boot_key();
  tunings_ = 0;
  // A good file with the decision, and damaged ones named for the same key.
  RecordSet good;
  good.add(drec(Mechanism::flash3, "2026-11-25T10:00:00.000Z", key_));
  const fs::path good_file = publish(published_dir(o_.shared_dir), good);
  const std::string good_bytes = bytes_of(good_file);

  plant("truncated", good_bytes.substr(0, good_bytes.size() / 2));
  std::string corrupt = good_bytes;
  for (std::size_t i = 4096; i < corrupt.size() && i < 4096 + 600; ++i) corrupt[i] = static_cast<char>(0xA5);
  plant("corrupt", corrupt);
  plant("empty", "");
  plant("garbage", "this is not an SQLite file at all, just text on the volume\n");
  const fs::path foreign = plant("foreign", "");
  fs::remove(foreign);
  {
    SQLite::Database db(foreign.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA application_id = 1234; CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('hello');");
  }
  const fs::path newer = plant("newer", good_bytes);
  {
    SQLite::Database db(newer.string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 99");
  }
  // Records that must be ignored: sage is not installed in this venv; an ok with zero latency.
  RecordSet bad;
  bad.add(drec(Mechanism::sage, "2999-01-01T00:00:00.000Z", key_));
  auto zero = mrec(Status::ok, 0, "2999-01-01T00:00:00.000Z");
  zero.key = key_;
  bad.add(zero);
  publish(published_dir(o_.shared_dir), bad);

  const BootResult r = run_boot(o_);
  EXPECT_EQ(r.decision.source, Source::cache);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(tunings_, 0);
  int set_aside_warnings = 0;
  for (const auto& w : r.warnings) set_aside_warnings += w.find("set aside as") != std::string::npos;
  EXPECT_EQ(set_aside_warnings, 5) << ::testing::PrintToString(r.warnings);  // one each; newer is kept
  bool ignored = false, kept_newer = false;
  for (const auto& w : r.warnings) {
    ignored |= w.find("ignored 2 records") != std::string::npos;  // the zero latency and the sage decision
    kept_newer |= w.find("newer schema") != std::string::npos && w.find("kept") != std::string::npos;
  }
  EXPECT_TRUE(ignored) << ::testing::PrintToString(r.warnings);
  EXPECT_TRUE(kept_newer) << ::testing::PrintToString(r.warnings);
  // Renamed, never deleted: 7 files for the key were planted or published, 2 remain readable
  // plus the newer one kept; 5 set aside, all still on disk.
  int aside = 0;
  for (const auto& e : fs::directory_iterator(published_dir(o_.shared_dir)))
    aside += e.path().filename().string().find(".sqlite.") != std::string::npos;
  EXPECT_EQ(aside, 5);
  EXPECT_EQ(list_published(published_dir(o_.shared_dir), key_hash(key_)).size(), 3u);

  // A damaged local file too: set aside, and the boot still decides from the fleet.
  fs::create_directories(o_.cache_path.parent_path());
  std::ofstream(o_.cache_path) << "garbage";
  const BootResult again = run_boot(o_);
  EXPECT_EQ(again.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(again.decision.source, Source::cache);
}

TEST_F(FleetBoot, OnlyDamagedFilesMeansTuning) {
  key_ = boot_key();
  tunings_ = 0;
  plant("garbage", "not a database");
  const BootResult r = run_boot(o_);
  EXPECT_EQ(r.decision.source, Source::tuning);
  EXPECT_EQ(r.decision.mechanism, Mechanism::flash3);
  EXPECT_EQ(tunings_, 1);
}

}  // namespace
}  // namespace autotune
