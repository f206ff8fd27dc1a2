// The tuning parent driving the real autotune-bench on the CPU (LibTorch and the embedded
// interpreter), with stand-in backends that crash, hang, return NaN, or crash in the middle of
// the sampling turns: process isolation, blame, respawn and the decision, for real.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "cache/cache.h"
#include "tests/boot/test_support.h"
#include "boot/tuning.h"

namespace autotune {
namespace {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

// The worker tests' tiny shape (tests/worker/test_worker.py), read as the catalogue is.
Workload tiny(const std::string& id, int q_len) {
  return nlohmann::json{{"id", id}, {"sets", {"default"}}, {"batch", 2},        {"heads", 2},
                        {"head_dim", 16}, {"q_len", q_len}, {"kv_len", 48}, {"layout", "blhd_flat"},
                        {"calls_per_step", 1}}
      .get<Workload>();
}

nlohmann::json python_backend(const std::string& id, const std::string& module) {
  return {{"id", id}, {"module", module}, {"function", "attn"}};
}

// A cache in a fresh directory, a venv whose site-packages are the stand-ins, the real worker on
// the CPU with two tiny shapes.
class RealWorker : public ::testing::Test {
 protected:
  void SetUp() override {
    cache = Cache::open(dir / "cache.sqlite").cache;
    ASSERT_TRUE(cache);
    env.venv = dir;
    env.site_packages = STANDINS;  // the worker's python_paths
    key.gpu_name = "cpu";
    o.worker_argv = {REAL_WORKER};
    o.workloads = {tiny("tiny-a", 64), tiny("tiny-b", 32)};
    o.worker_log = dir / "worker.log";
  }
  testing::TempDir tmp;
  const fs::path& dir = tmp.path();
  std::unique_ptr<Cache> cache;
  Fingerprint env;
  CacheKey key;
  TuneOptions o;
};

TEST_F(RealWorker, MisbehavingBackendsCostOnlyTheirOwnEntries) {
  o.backends = {"split", "quad"};
  o.job_extra = {{"cpu", true},
                 {"dtype", "fp32"},
                 {"python_backends",
                  {python_backend("t_ok", "standin_ok"), python_backend("t_nan", "standin_nan"),
                   python_backend("t_crash", "standin_crash"), python_backend("t_hang", "standin_hang"),
                   python_backend("t_turn_ok", "standin_turn_ok"),
                   python_backend("t_crash_in_turn", "standin_crash_in_turn")}}};
  o.max_seconds_per_measurement = 0.1;
  o.measurement_deadline = milliseconds(4000);
  const TuneOutcome out = tune(o, env, cache.get(), key);

  std::map<std::string, std::string> status;  // "backend/shape" -> status
  for (const auto& m : cache->measurements(key)) status[m.backend + "/" + m.shape] = to_string(m.status);
  const std::map<std::string, std::string> want{
      {"split", "ok"},         {"quad", "ok"},         {"t_ok", "ok"},       {"t_turn_ok", "ok"},
      {"t_nan", "rejected"},   {"t_crash", "crashed"}, {"t_hang", "timeout"},
      {"t_crash_in_turn", "crashed"},  // in a sampling turn, not in its start
  };
  std::map<std::string, std::string> expected;
  for (const char* shape : {"tiny-a", "tiny-b"})
    for (const auto& [backend, s] : want) expected[backend + "/" + shape] = s;
  EXPECT_EQ(status, expected);
  EXPECT_EQ(out.respawns, 3);  // each of three killers once: its second shape is not tried again
  ASSERT_TRUE(out.decision) << out.reason;
  EXPECT_TRUE(out.decision->mechanism == Mechanism::split || out.decision->mechanism == Mechanism::quad);
}

TEST_F(RealWorker, AnImportThatCrashesBesideANativeMeasurementIsNotBlamedOnIt) {
  o.backends = {"split"};
  o.job_extra = {{"cpu", true}, {"dtype", "fp32"}, {"python_backends", {python_backend("t_boom", "standin_import_crash")}}};
  o.max_seconds_per_measurement = 0.5;
  std::vector<std::string> lines;
  o.log = [&](const std::string& line) { lines.push_back(line); };
  const TuneOutcome out = tune(o, env, cache.get(), key);

  // The first worker dies in the import, beside split's measurements: nothing is blamed, and the
  // next one imports first, announcing each import. It dies in t_boom's, which takes the blame on
  // both shapes; the third leaves t_boom out and finishes.
  EXPECT_EQ(out.respawns, 2);
  ASSERT_TRUE(out.decision) << out.reason;
  EXPECT_EQ(out.decision->mechanism, Mechanism::split);
  int unclear = 0, blamed = 0;
  for (const auto& l : lines) {
    unclear += l.find("while it imported its Python backends") != std::string::npos;
    blamed += l.find("while it imported t_boom; the next worker leaves it out") != std::string::npos;
  }
  EXPECT_EQ(unclear, 1);
  EXPECT_EQ(blamed, 1);
  std::map<std::string, std::string> status;  // "backend/shape" -> status
  for (const auto& m : cache->measurements(key)) status[m.backend + "/" + m.shape] = to_string(m.status);
  EXPECT_EQ(status, (std::map<std::string, std::string>{{"split/tiny-a", "ok"},
                                                        {"split/tiny-b", "ok"},
                                                        {"t_boom/tiny-a", "crashed"},
                                                        {"t_boom/tiny-b", "crashed"}}));
}

}  // namespace
}  // namespace autotune
