// The tuning parent against a fake worker (tests/boot/tuning/fake_worker.py) that speaks the protocol
// and crashes, hangs, stalls or refuses on request: process isolation, deadlines, respawn, resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "cache/cache.h"
#include "tests/boot/test_support.h"
#include "boot/tuning.h"
#include "boot/worker_line.h"

namespace autotune {
namespace {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

Workload workload(const std::string& id) {
  Workload w;
  w.id = id;
  w.sets = {"default"};
  w.batch = 1;
  w.heads = 24;
  w.head_dim = 128;
  w.q_len = w.kv_len = 4352;
  w.calls_per_step = 10;
  return w;
}

class TuningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    jobs_ = dir_ / "jobs.jsonl";
    ::setenv("FAKE_WORKER_JOBS", jobs_.c_str(), 1);
    ::setenv("FAKE_WORKER_MODE", "normal", 1);
    ::setenv("FAKE_WORKER_MS", "sdpa_comfy=1.0,flash3=0.8", 1);
    env_.venv = dir_;
    env_.torch_version = "2.11.0+cu130";
    env_.packages = {{"torch", "2.11.0+cu130"}, {"flash_attn_3", "3.0.0b1"}};
    key_.gpu_name = "NVIDIA H100 80GB HBM3";
    key_.torch = env_.torch_version;
    options_.worker_argv = {FAKE_WORKER};
    options_.workloads = {workload("flux-1024"), workload("sdxl-1024")};
    options_.backends = {"sdpa_comfy", "flash3"};
    cache_ = Cache::open(dir_ / "cache.sqlite").cache;
    ASSERT_TRUE(cache_);
  }
  std::vector<nlohmann::json> jobs() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(jobs_);
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  const Measurement* row(const TuneOutcome& o, const std::string& backend, const std::string& shape) const {
    for (const auto& m : o.measurements)
      if (m.backend == backend && m.shape == shape) return &m;
    return nullptr;
  }

  testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
  fs::path jobs_;
  Fingerprint env_;
  CacheKey key_;
  TuneOptions options_;
  std::unique_ptr<Cache> cache_;
};

TEST_F(TuningTest, MeasuresEverythingStoresItAndDecides) {
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ASSERT_TRUE(o.decision) << o.reason;
  EXPECT_EQ(o.measured_now, 4);
  EXPECT_EQ(o.respawns, 0);
  EXPECT_EQ(o.decision->mechanism, Mechanism::flash3);  // 0.8 ms against 1.0 on every shape
  EXPECT_EQ(cache_->measurements(key_).size(), 4u);
  // Stored under the fingerprint's versions, not the worker's "9.9".
  EXPECT_EQ(row(o, "flash3", "flux-1024")->backend_version, "3.0.0b1");
  EXPECT_EQ(row(o, "sdpa_comfy", "flux-1024")->backend_version, "2.11.0+cu130");
  const auto job = jobs().at(0);
  EXPECT_EQ(job["protocol"], 1);
  EXPECT_EQ(job["workloads"].size(), 2u);
  EXPECT_TRUE(job["skip"].empty());
}

TEST_F(TuningTest, PythonBackendsImportedBesideTheNativeOnesArePlannedAndMeasured) {
  ::setenv("FAKE_WORKER_IMPORTING", "flash3", 1);
  std::vector<int> plans;
  options_.progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::plan) plans.push_back(e.planned);
  };
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ::unsetenv("FAKE_WORKER_IMPORTING");
  ASSERT_TRUE(o.decision) << o.reason;
  EXPECT_EQ(o.measured_now, 4);
  EXPECT_EQ(o.respawns, 0);
  EXPECT_EQ(o.decision->mechanism, Mechanism::flash3);
  EXPECT_EQ(jobs().at(0)["overlap_imports"], true);
  // The hello plans sdpa_comfy's two shapes; the "backends" event, after flux-1024's sdpa_comfy,
  // adds flash3's two: 1 + 2 still to come.
  EXPECT_EQ(plans, (std::vector<int>{2, 3}));
}

TEST_F(TuningTest, ACrashWhileImportingIsBlamedOnNothingAndTheNextWorkerImportsFirst) {
  ::setenv("FAKE_WORKER_IMPORTING", "flash3", 1);
  ::setenv("FAKE_WORKER_MODE", "crash-importing", 1);
  std::vector<std::string> lines;
  options_.log = [&](const std::string& line) { lines.push_back(line); };
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ::unsetenv("FAKE_WORKER_IMPORTING");
  EXPECT_EQ(o.respawns, 1);
  const auto all = jobs();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]["overlap_imports"], false);
  EXPECT_TRUE(all[1]["skip"].empty());  // sdpa_comfy on flux-1024 was running, not at fault
  ASSERT_NE(row(o, "sdpa_comfy", "flux-1024"), nullptr);
  EXPECT_EQ(row(o, "sdpa_comfy", "flux-1024")->status, Status::ok);
  EXPECT_EQ(o.measurements.size(), 4u);
  EXPECT_NE(std::find(lines.begin(), lines.end(),
                      "the worker ended (signal 11 (Segmentation fault)) while it imported its Python backends beside "
                      "sdpa_comfy on flux-1024; nothing blamed; the next worker imports them first"),
            lines.end());
}

TEST_F(TuningTest, APoisonedContextWhileImportingIsStillBlamedOnItsMeasurement) {
  ::setenv("FAKE_WORKER_IMPORTING", "flash3", 1);
  ::setenv("FAKE_WORKER_MODE", "fatal:sdpa_comfy:flux-1024", 1);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ::unsetenv("FAKE_WORKER_IMPORTING");
  EXPECT_EQ(o.respawns, 1);
  EXPECT_EQ(row(o, "sdpa_comfy", "flux-1024")->status, Status::failed);
  EXPECT_EQ(jobs().at(1)["overlap_imports"], true);  // the worker said why it ended
  EXPECT_EQ(o.measurements.size(), 4u);
}

TEST_F(TuningTest, ACrashInAnAnnouncedImportIsBlamedOnItsBackendAndItIsLeftOut) {
  ::setenv("FAKE_WORKER_IMPORTING", "flash3", 1);
  ::setenv("FAKE_WORKER_MODE", "crash-import:flash3", 1);
  options_.job_extra = {{"overlap_imports", false}};  // the imports first, as after an unclear crash
  std::vector<std::string> lines;
  options_.log = [&](const std::string& line) { lines.push_back(line); };
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ::unsetenv("FAKE_WORKER_IMPORTING");
  EXPECT_EQ(o.respawns, 1);
  for (const char* shape : {"flux-1024", "sdxl-1024"}) {
    ASSERT_NE(row(o, "flash3", shape), nullptr) << shape;
    EXPECT_EQ(row(o, "flash3", shape)->status, Status::crashed);
    EXPECT_NE(row(o, "flash3", shape)->reason.find("while it imported the library"), std::string::npos);
    EXPECT_EQ(row(o, "sdpa_comfy", shape)->status, Status::ok);
  }
  EXPECT_EQ(jobs().at(1)["skip"].size(), 2u);  // flash3 on both shapes: not imported again
  EXPECT_NE(std::find(lines.begin(), lines.end(),
                      "crash: the worker died (signal 11 (Segmentation fault)) while it imported flash3; "
                      "the next worker leaves it out"),
            lines.end());
  // Its import took the worker down: it would take ComfyUI down too.
  ASSERT_TRUE(o.decision) << o.reason;
  EXPECT_EQ(o.decision->mechanism, Mechanism::pytorch);
  for (const auto& l : lines) EXPECT_EQ(l.find("backend flash3 not installed"), std::string::npos) << l;
}

TEST_F(TuningTest, AHangInAnAnnouncedImportIsATimeoutOfItsBackend) {
  ::setenv("FAKE_WORKER_IMPORTING", "flash3", 1);
  ::setenv("FAKE_WORKER_MODE", "hang-import:flash3", 1);
  options_.job_extra = {{"overlap_imports", false}};
  // Long enough for the hello of a Python stand-in on a loaded 2-core CI machine: the same
  // deadline covers the worker's start (a CI run read 0 respawns at 500 ms: the hello was late).
  options_.start_deadline = milliseconds(3000);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ::unsetenv("FAKE_WORKER_IMPORTING");
  EXPECT_EQ(o.respawns, 1) << o.reason;
  for (const char* shape : {"flux-1024", "sdxl-1024"}) {
    ASSERT_NE(row(o, "flash3", shape), nullptr) << shape;
    EXPECT_EQ(row(o, "flash3", shape)->status, Status::timeout);
    ASSERT_NE(row(o, "sdpa_comfy", shape), nullptr) << shape;
    EXPECT_EQ(row(o, "sdpa_comfy", shape)->status, Status::ok);
  }
  EXPECT_TRUE(o.decision);
}

// A library whose warm-up call hangs or crashes (the real worker warms each Python library up
// beside the native measurements on a GPU): once nothing else runs, the announced warm-up takes
// the blame for every shape of its backend, after the measurement deadline, not the start one.
TEST_F(TuningTest, AWarmUpThatHangsOrCrashesIsItsBackendsFailure) {
  ::setenv("FAKE_WORKER_IMPORTING", "flash3", 1);
  options_.start_deadline = milliseconds(60000);
  options_.measurement_deadline = milliseconds(2000);
  for (const auto& [mode, status] : {std::pair{"hang-warm:flash3", Status::timeout},
                                     std::pair{"crash-warm:flash3", Status::crashed}}) {
    ::setenv("FAKE_WORKER_MODE", mode, 1);
    const auto t0 = std::chrono::steady_clock::now();
    const TuneOutcome o = tune(options_, env_, nullptr, key_);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30)) << mode;
    EXPECT_EQ(o.respawns, 1) << mode;
    for (const char* shape : {"flux-1024", "sdxl-1024"}) {
      ASSERT_NE(row(o, "flash3", shape), nullptr) << mode << " " << shape;
      EXPECT_EQ(row(o, "flash3", shape)->status, status) << mode;
      EXPECT_NE(row(o, "flash3", shape)->reason.find("warm-up"), std::string::npos) << row(o, "flash3", shape)->reason;
    }
    EXPECT_TRUE(o.decision) << mode << ": " << o.reason;
  }
  ::unsetenv("FAKE_WORKER_IMPORTING");
}

TEST_F(TuningTest, ImportsWithNothingBesideThemHaveTheStartDeadline) {
  ::setenv("FAKE_WORKER_IMPORTING", "flash3", 1);
  ::setenv("FAKE_WORKER_MODE", "slow-import:1", 1);
  options_.measurement_deadline = milliseconds(300);
  options_.start_deadline = milliseconds(10000);
  const TuneOutcome slow = tune(options_, env_, cache_.get(), key_);
  EXPECT_EQ(slow.respawns, 0);
  EXPECT_EQ(slow.measured_now, 4);

  // An overlapped import (or a library's warm-up call) that hangs once the native measurements
  // are done: the start deadline, nothing blamed, and the next worker imports first (the fake
  // one hangs only when overlapped) and finishes.
  ::setenv("FAKE_WORKER_MODE", "hang-import", 1);
  options_.start_deadline = milliseconds(3000);  // as above: the hello must come before it
  std::vector<std::string> lines;
  options_.log = [&](const std::string& line) { lines.push_back(line); };
  const TuneOutcome hung = tune(options_, env_, nullptr, key_);
  ::unsetenv("FAKE_WORKER_IMPORTING");
  EXPECT_TRUE(hung.decision) << hung.reason;
  EXPECT_EQ(hung.respawns, 1);
  EXPECT_NE(std::find_if(lines.begin(), lines.end(),
                         [](const std::string& l) {
                           return l.find("said nothing for 3000 ms while it imported its Python backends") !=
                                  std::string::npos;
                         }),
            lines.end());
}

TEST_F(TuningTest, TheLogSaysAtWhichClockEachMeasurementRan) {
  std::vector<std::string> lines;
  options_.log = [&](const std::string& line) { lines.push_back(line); };
  ASSERT_TRUE(tune(options_, env_, cache_.get(), key_).decision);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "measured flash3 on flux-1024: ok 0.800000 ms at 1755 MHz"),
            lines.end());
}

// The broken-libraries venv: every attention library misbehaves on every shape of the default
// set. Each costs one deadline or one respawn, the good ones are measured, tuning decides.
// Deadlines and budget as the boot's defaults (30 s per measurement: the hang costs one of them).
TEST_F(TuningTest, FourBrokenLibrariesCostOneTryEachAndTuningStillDecides) {
  ::setenv("FAKE_WORKER_BROKEN", "flash2=hang,sage=crash,xformers=nan,flash3=wrong_shape", 1);
  ::setenv("FAKE_WORKER_MS", "sdpa_comfy=1.0,sdpa_cudnn=0.9", 1);
  options_ = TuneOptions{};
  options_.worker_argv = {FAKE_WORKER};
  options_.workloads = load_workloads(std::string(AUTOTUNE_SOURCE_DIR) + "/workloads", "default");
  options_.backends = {"sdpa_comfy", "sdpa_cudnn", "flash2", "sage", "xformers", "flash3"};
  env_.packages = {{"torch", "2.11.0+cu130"}, {"flash_attn", "2.8.3"}, {"sageattention", "2.2.0"},
                   {"xformers", "0.0.33"}, {"flash_attn_3", "3.0.0b1"}};
  std::vector<std::string> lines;
  options_.log = [&](const std::string& line) { lines.push_back(line); };
  const auto start = std::chrono::steady_clock::now();
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::unsetenv("FAKE_WORKER_BROKEN");
  std::cerr << "four broken libraries, " << options_.workloads.size() << " shapes: tuned in " << seconds << " s, "
            << o.respawns << " respawns\n";

  ASSERT_TRUE(o.decision) << o.reason;
  EXPECT_EQ(o.decision->source, Source::tuning);
  EXPECT_EQ(o.decision->mechanism, Mechanism::pytorch);
  EXPECT_FALSE(o.budget_exhausted);
  EXPECT_LT(seconds, 100);
  EXPECT_LT(seconds, options_.budget.count() / 1000.0);
  EXPECT_EQ(o.respawns, 2);  // one for the hang, one for the crash
  ASSERT_GE(options_.workloads.size(), 9u);
  const std::map<std::string, Status> expected{{"flash2", Status::timeout},   {"sage", Status::crashed},
                                               {"xformers", Status::rejected}, {"flash3", Status::rejected},
                                               {"sdpa_comfy", Status::ok},     {"sdpa_cudnn", Status::ok}};
  for (const auto& w : options_.workloads)
    for (const auto& [backend, status] : expected) {
      const Measurement* m = row(o, backend, w.id);
      ASSERT_NE(m, nullptr) << backend << " " << w.id;
      EXPECT_EQ(m->status, status) << backend << " " << w.id << ": " << m->reason;
    }
  // The stored rows are read back whole: a resumed tune measures nothing again.
  EXPECT_EQ(cache_->measurements(key_).size(), expected.size() * options_.workloads.size());
  // Said once per broken library, naming the shape that showed it.
  const auto count = [&](const std::string& prefix) {
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
  };
  EXPECT_EQ(count("skipping flash2 on its " + std::to_string(options_.workloads.size() - 1) + " other shape(s): it hung on "), 1);
  EXPECT_EQ(count("skipping sage on its " + std::to_string(options_.workloads.size() - 1) +
                  " other shape(s): it crashed the worker on "),
            1);
  EXPECT_EQ(count("skipping"), 2);

  // The next tune of this environment resumes: nothing to measure, the same pick.
  const TuneOutcome again = tune(options_, env_, cache_.get(), key_);
  ASSERT_TRUE(again.decision) << again.reason;
  EXPECT_EQ(again.decision->mechanism, Mechanism::pytorch);
  EXPECT_EQ(again.measured_now, 0);
  EXPECT_EQ(again.respawns, 0);
}

// A crash or hang found in an earlier, cut-short run of this environment: not tried again.
TEST_F(TuningTest, ABackendThatCrashedInAnEarlierRunIsNotTriedAgain) {
  Measurement crashed;
  crashed.backend = "flash3";
  crashed.backend_version = "3.0.0b1";
  crashed.shape = "flux-1024";
  crashed.status = Status::crashed;
  crashed.reason = "worker died: signal 6 (Aborted)";
  cache_->put_measurement(key_, crashed);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ASSERT_TRUE(o.decision) << o.reason;
  EXPECT_EQ(row(o, "flash3", "sdxl-1024")->status, Status::crashed);
  EXPECT_EQ(row(o, "flash3", "sdxl-1024")->reason,
            "not tried: flash3 crashed the worker on flux-1024 in this environment");
  EXPECT_EQ(jobs().at(0)["skip"].size(), 2u);
  EXPECT_EQ(o.measured_now, 2);  // sdpa_comfy's two shapes
}

// Respawns that record something move the tune on; only fruitless ones count to the limit.
TEST_F(TuningTest, MoreBrokenLibrariesThanTheRespawnLimitStillDecide) {
  options_.max_respawns = 1;
  options_.measurement_deadline = milliseconds(500);
  ::setenv("FAKE_WORKER_BROKEN", "flash3=crash,flash2=hang,sage=crash", 1);
  options_.backends = {"sdpa_comfy", "flash3", "flash2", "sage"};
  env_.packages["flash_attn"] = "2.8.3";
  env_.packages["sageattention"] = "2.2.0";
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ::unsetenv("FAKE_WORKER_BROKEN");
  EXPECT_EQ(o.respawns, 3);
  ASSERT_TRUE(o.decision) << o.reason;
  EXPECT_EQ(o.decision->mechanism, Mechanism::pytorch);
}

TEST_F(TuningTest, ACrashIsBlamedOnItsMeasurementAndTheWorkerRespawns) {
  ::setenv("FAKE_WORKER_MODE", "crash:flash3:flux-1024", 1);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_EQ(o.respawns, 1);
  const Measurement* crashed = row(o, "flash3", "flux-1024");
  ASSERT_NE(crashed, nullptr);
  EXPECT_EQ(crashed->status, Status::crashed);
  EXPECT_NE(crashed->reason.find("signal 11"), std::string::npos) << crashed->reason;
  // The respawned worker is told to skip what is done, the crashing pair included.
  const auto all = jobs();
  ASSERT_EQ(all.size(), 2u);
  // The crash and flash3's other shape: sdpa_comfy/flux had started but its samples were still to come.
  EXPECT_EQ(row(o, "sdpa_comfy", "flux-1024")->status, Status::ok);
  EXPECT_EQ(row(o, "sdpa_comfy", "sdxl-1024")->status, Status::ok);
  // Not tried on its other shape: a library that crashed once costs one respawn per tune.
  EXPECT_EQ(row(o, "flash3", "sdxl-1024")->status, Status::crashed);
  EXPECT_EQ(all[1]["skip"].size(), 2u) << all[1]["skip"];
  // A crash would take ComfyUI down, so flash3 cannot be the global pick.
  ASSERT_TRUE(o.decision);
  EXPECT_EQ(o.decision->mechanism, Mechanism::pytorch);
}

TEST_F(TuningTest, ACrashDuringTheSamplingTurnsIsBlamedOnTheBackendSampled) {
  // Both backends of flux have started, flash3 last; the crash comes in sdpa_comfy's turn.
  ::setenv("FAKE_WORKER_MODE", "crash-sampling:sdpa_comfy:flux-1024", 1);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_EQ(o.respawns, 1);
  EXPECT_EQ(row(o, "sdpa_comfy", "flux-1024")->status, Status::crashed);
  EXPECT_EQ(row(o, "flash3", "flux-1024")->status, Status::ok);  // measured again by the fresh worker
  EXPECT_EQ(row(o, "sdpa_comfy", "sdxl-1024")->status, Status::crashed);  // not tried again
  EXPECT_EQ(o.measurements.size(), 4u);
  EXPECT_EQ(jobs().at(1)["skip"], nlohmann::json::parse(R"([{"backend":"sdpa_comfy","shape":"flux-1024"},
                                                            {"backend":"sdpa_comfy","shape":"sdxl-1024"}])"));
}

TEST_F(TuningTest, AHangDuringTheSamplingTurnsIsATimeoutOfTheBackendSampled) {
  ::setenv("FAKE_WORKER_MODE", "hang-sampling:flash3:sdxl-1024", 1);
  options_.measurement_deadline = milliseconds(500);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_EQ(o.respawns, 1);
  EXPECT_EQ(row(o, "flash3", "sdxl-1024")->status, Status::timeout);
  EXPECT_EQ(row(o, "sdpa_comfy", "sdxl-1024")->status, Status::ok);
  EXPECT_EQ(row(o, "flash3", "flux-1024")->status, Status::ok);
}

TEST_F(TuningTest, AWorkerThatEndsAfterAPoisonedContextIsReplaced) {
  ::setenv("FAKE_WORKER_MODE", "fatal:flash3:flux-1024", 1);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_EQ(o.respawns, 1);
  EXPECT_EQ(row(o, "flash3", "flux-1024")->status, Status::failed);
  EXPECT_EQ(row(o, "flash3", "sdxl-1024")->status, Status::ok);  // measured by the fresh worker
  EXPECT_EQ(o.measurements.size(), 4u);
  EXPECT_TRUE(o.decision);
}

TEST_F(TuningTest, AHangIsKilledAtItsDeadlineAndRecordedAsTimeout) {
  ::setenv("FAKE_WORKER_MODE", "hang:sdpa_comfy:sdxl-1024", 1);
  options_.measurement_deadline = milliseconds(500);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_EQ(o.respawns, 1);
  ASSERT_NE(row(o, "sdpa_comfy", "sdxl-1024"), nullptr);
  EXPECT_EQ(row(o, "sdpa_comfy", "sdxl-1024")->status, Status::timeout);
  EXPECT_EQ(row(o, "flash3", "sdxl-1024")->status, Status::ok);
}

TEST_F(TuningTest, ABudgetCutShortResumesWithoutRedoingStoredWork) {
  // The first shape's two results come at once, the second's 10 s later; the 2 s budget is spent
  // (the clock advanced) after the first shape's second result, however slowly the worker starts.
  ::setenv("FAKE_WORKER_MODE", "slow-after-first:5", 1);
  ManualClock clock;
  options_.clock = &clock;
  options_.budget = milliseconds(2000);
  int results = 0;
  options_.progress = [&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::result && ++results == 2) clock.advance(milliseconds(2001));
  };
  const TuneOutcome first = tune(options_, env_, cache_.get(), key_);
  EXPECT_TRUE(first.budget_exhausted);
  EXPECT_FALSE(first.decision);
  EXPECT_EQ(first.measured_now, 2);
  EXPECT_NE(first.reason.find("resumes on the next boot"), std::string::npos) << first.reason;

  ::setenv("FAKE_WORKER_MODE", "normal", 1);
  options_.budget = milliseconds(60000);
  const TuneOutcome second = tune(options_, env_, cache_.get(), key_);
  ASSERT_TRUE(second.decision) << second.reason;
  EXPECT_EQ(first.measured_now + second.measured_now, 4);  // nothing measured twice
  EXPECT_EQ(jobs().back()["skip"].size(), static_cast<std::size_t>(first.measured_now));
}

TEST_F(TuningTest, TimeWaitingForAComfyUIPromptCountsAgainstNeitherTheBudgetNorADeadline) {
  // The worker waits 4 s (a prompt runs) with a measurement started: longer than the 1 s
  // measurement deadline and the 3 s budget, both of which the wait moves.
  ::setenv("FAKE_WORKER_MODE", "pause:4", 1);
  options_.prompt_marker = dir_ / ".attention_decision.busy";
  options_.max_pause = milliseconds(60000);
  options_.measurement_deadline = milliseconds(1000);
  options_.budget = milliseconds(3000);
  std::vector<std::string> lines;
  options_.log = [&](const std::string& l) { lines.push_back(l); };
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  ASSERT_TRUE(o.decision) << o.reason;
  EXPECT_FALSE(o.budget_exhausted);
  EXPECT_EQ(o.respawns, 0);
  EXPECT_EQ(o.measured_now, 4);
  EXPECT_GE(o.paused, milliseconds(3900));
  EXPECT_EQ(jobs().at(0)["prompt_marker"], options_.prompt_marker.string());
  EXPECT_EQ(jobs().at(0)["max_pause_s"], 60.0);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "paused: a ComfyUI prompt runs (pid 1, fake)"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "resumed: the prompt ended"), lines.end());
}

TEST_F(TuningTest, OnlyALevelThatCanPickEightBitAsksTheWorkerToMeasureIt) {
  // exact cannot pick an 8-bit kernel: the worker neither warms nor measures them (the Sage
  // warm-ups alone took 3.5-3.8 s of a cold tune on the H200).
  for (const auto& [level, exclude, expected] : {std::tuple{Quality::exact, false, true},
                                                 std::tuple{Quality::balanced, false, false},
                                                 std::tuple{Quality::fast, false, false},
                                                 std::tuple{Quality::fast, true, true}}) {
    options_.policy.quality = level;
    options_.policy.exclude_quantized = exclude;
    key_.driver = std::string(to_string(level)) + (exclude ? "-excluded" : "");  // measured afresh
    const std::size_t before = jobs().size();
    const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
    ASSERT_TRUE(o.decision) << o.reason;
    ASSERT_EQ(jobs().size(), before + 1);
    EXPECT_EQ(jobs().back()["exclude_quantized"], expected) << key_.driver;
  }
}

TEST_F(TuningTest, WithoutAPromptMarkerTheJobHasNone) {
  ASSERT_TRUE(tune(options_, env_, cache_.get(), key_).decision);
  EXPECT_FALSE(jobs().at(0).contains("prompt_marker"));
}

TEST_F(TuningTest, AnUpgradedLibraryIsRemeasuredAndOnlyThatLibrary) {
  ASSERT_TRUE(tune(options_, env_, cache_.get(), key_).decision);
  env_.packages["flash_attn_3"] = "3.0.1";
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_EQ(o.measured_now, 2);  // flash3 on both shapes; sdpa rows still current
  EXPECT_EQ(jobs().back()["skip"].size(), 2u);
}

TEST_F(TuningTest, TheWorkerIsPinnedToTheTunedGpuByUuid) {
  ::setenv("CUDA_VISIBLE_DEVICES", "1,0", 1);  // the user's numbering must not redirect the worker
  options_.gpu_uuid = "GPU-8f2c0000";
  options_.device = 1;
  tune(options_, env_, cache_.get(), key_);
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  const auto job = jobs().at(0);
  EXPECT_EQ(job["_seen_cuda_visible_devices"], "GPU-8f2c0000");
  EXPECT_EQ(job["device"], 0);
}

TEST_F(TuningTest, WithoutACacheResultsAreStillUsed) {
  const TuneOutcome o = tune(options_, env_, nullptr, key_);
  ASSERT_TRUE(o.decision);
  EXPECT_EQ(o.measurements.size(), 4u);
}

TEST_F(TuningTest, AWorkerThatCannotStartGivesAReason) {
  options_.worker_argv = {(dir_ / "no-such-worker").string()};
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_FALSE(o.decision);
  EXPECT_NE(o.reason.find("cannot start"), std::string::npos) << o.reason;
}

TEST_F(TuningTest, ASilentWorkerIsKilledAtTheStartDeadline) {
  ::setenv("FAKE_WORKER_MODE", "silent", 1);
  options_.start_deadline = milliseconds(500);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_FALSE(o.decision);
  EXPECT_NE(o.reason.find("after starting"), std::string::npos) << o.reason;
}

TEST_F(TuningTest, ARefusedJobIsReported) {
  ::setenv("FAKE_WORKER_MODE", "refuse", 1);
  const TuneOutcome o = tune(options_, env_, cache_.get(), key_);
  EXPECT_FALSE(o.decision);
  EXPECT_NE(o.reason.find("unknown backend 'bogus'"), std::string::npos) << o.reason;
}

}  // namespace
}  // namespace autotune

namespace autotune {
namespace {

// The parent reads the worker's stdout, which any library may write to: no line throws.
TEST(WorkerLine, ReadsEventsAndNeverThrowsOnWhatALibraryPrints) {
  using K = WorkerLine::Kind;
  EXPECT_EQ(read_worker_line("a library printing to stdout").kind, K::not_protocol);
  EXPECT_EQ(read_worker_line("[1, 2]").kind, K::not_protocol);
  EXPECT_EQ(read_worker_line("{\"event\": \"start\"").kind, K::not_protocol);
  EXPECT_EQ(read_worker_line(R"({"event": "newer"})").kind, K::unknown);
  const WorkerLine start = read_worker_line(R"({"event": "start", "backend": "flash3", "shape": "flux-1024"})");
  EXPECT_EQ(start.kind, K::start);
  EXPECT_EQ(start.backend, "flash3");
  EXPECT_EQ(start.shape, "flux-1024");
  // Wrong types were exceptions out of tune(); now they are named.
  const WorkerLine bad = read_worker_line(R"({"event": 5})");
  EXPECT_EQ(bad.kind, K::malformed);
  EXPECT_NE(bad.problem.find("type must be string, but is number"), std::string::npos) << bad.problem;
  EXPECT_EQ(read_worker_line(R"({"event": "hello", "backends": [1]})").kind, K::malformed);
  const WorkerLine result = read_worker_line(R"({"event": "result", "backend": "b", "shape": "s", "status": "ok",
                                                 "median_ms": 1, "samples": 1e300})");
  EXPECT_EQ(result.kind, K::malformed);
  EXPECT_EQ(result.event, "result");
  EXPECT_NE(result.problem.find("'samples' must be an integer in range, not 1e+300"), std::string::npos)
      << result.problem;
  const WorkerLine hello = read_worker_line(
      R"({"event": "hello", "importing": ["sage"], "backends": [{"backend": "sdpa_comfy", "installed": true}]})");
  EXPECT_EQ(hello.kind, K::hello);
  EXPECT_TRUE(hello.importing);
  ASSERT_EQ(hello.listed.size(), 1u);
  EXPECT_TRUE(hello.listed[0].installed);
  const WorkerLine paused = read_worker_line(R"j({"event": "paused", "why": "a ComfyUI prompt runs (pid 7)"})j");
  EXPECT_EQ(paused.kind, K::paused);
  EXPECT_EQ(paused.message, "a ComfyUI prompt runs (pid 7)");
  EXPECT_EQ(read_worker_line(R"({"event": "resumed"})").kind, K::resumed);
  EXPECT_EQ(read_worker_line(R"({"event": "resumed", "why": 3})").kind, K::malformed);
}

TEST(BackendVersion, AnotherPriorityIsAnotherSdpaComfyVersion) {
  Fingerprint env;
  env.packages["torch"] = "2.11.0+cu130";
  EXPECT_EQ(backend_version("sdpa_comfy", env), "2.11.0+cu130");
  env.comfyui_sdpa = ComfySdpa{{"FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION", "MATH"}, 131072, "test"};
  EXPECT_EQ(backend_version("sdpa_comfy", env),
            "2.11.0+cu130 FLASH_ATTENTION>CUDNN_ATTENTION>EFFICIENT_ATTENTION>MATH below 131072: torch");
  EXPECT_EQ(backend_version("sdpa_cudnn", env), "2.11.0+cu130");
}

}  // namespace
}  // namespace autotune
