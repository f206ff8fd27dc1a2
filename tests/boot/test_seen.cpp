// The shapes the ComfyUI node recorded (common/seen_shapes.h), validated and bucketed, and
// `autotune tune --seen` tuning only what no measurement covers, with the fake worker.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/boot/test_support.h"
#include "common/seen_shapes.h"

namespace autotune {
namespace {

using testing::CommandResult;
using testing::contains;
using testing::kVenvs;
using testing::read_file;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

const fs::path kWorkloads = fs::path(AUTOTUNE_FIXTURES) / "workloads/boot.json";

nlohmann::json shape(int b, int h, int d, long q, long kv, int calls = 30, const char* family = "WAN21") {
  return {{"batch", b}, {"heads", h}, {"head_dim", d}, {"q_len", q}, {"kv_len", kv}, {"layout", "blhd_flat"},
          {"dtype", "bfloat16"}, {"family", family}, {"calls_per_step", calls}};
}

std::string doc(std::initializer_list<nlohmann::json> shapes) {
  return nlohmann::json{{"schema", 1}, {"shapes", nlohmann::json::array_t(shapes)}}.dump();
}

Workload flux() {
  Workload w;
  w.id = "flux-1024";
  w.batch = 1;
  w.heads = 24;
  w.head_dim = 128;
  w.q_len = w.kv_len = 4352;
  return w;
}

TEST(SeenShapes, PathIsBesideTheDecisionAsTheNodeNamesIt) {
  EXPECT_EQ(seen_shapes_path("/w/venv/.attention_decision.json"), "/w/venv/.attention_decision.seen.json");
  EXPECT_EQ(seen_shapes_path("/w/.attention_decision.gpu3.json"), "/w/.attention_decision.gpu3.seen.json");
}

TEST(SeenShapes, ABadFileIsAWarningAndNoShapes) {
  for (const std::string text : {"{not json", "[]", R"({"schema": 2, "shapes": []})", R"({"schema": 1})"}) {
    const auto r = parse_seen_shapes(text, "f.json");
    EXPECT_TRUE(r.shapes.empty()) << text;
    ASSERT_EQ(r.warnings.size(), 1u) << text;
    EXPECT_TRUE(contains(r.warnings[0], "f.json")) << r.warnings[0];
  }
}

TEST(SeenShapes, ABadEntryIsSkippedWithItsFieldAndValueNamed) {
  auto bad_heads = shape(1, 40, 128, 32760, 32760);
  bad_heads["heads"] = -3;
  auto bad_layout = shape(1, 40, 128, 32760, 32760);
  bad_layout["layout"] = "nchw";
  auto bad_dtype = shape(1, 40, 128, 32760, 32760);
  bad_dtype["dtype"] = "int8";
  auto huge = shape(1, 40, 128, 32760, 32760);
  huge["q_len"] = 1e12;
  const auto r = parse_seen_shapes(doc({bad_heads, shape(1, 40, 128, 32760, 512), bad_layout, bad_dtype, huge, 7}),
                                   "f.json");
  ASSERT_EQ(r.shapes.size(), 1u);
  EXPECT_EQ(r.shapes[0].kv_len, 512);
  EXPECT_EQ(r.shapes[0].family, "WAN21");
  ASSERT_EQ(r.warnings.size(), 5u);
  EXPECT_TRUE(contains(r.warnings[0], "shapes[0].heads is -3")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[1], "shapes[2].layout")) << r.warnings[1];
  EXPECT_TRUE(contains(r.warnings[1], "nchw")) << r.warnings[1];
  EXPECT_TRUE(contains(r.warnings[2], "shapes[3].dtype is \"int8\"")) << r.warnings[2];
  EXPECT_TRUE(contains(r.warnings[3], "shapes[4].q_len")) << r.warnings[3];
  EXPECT_TRUE(contains(r.warnings[4], "shapes[5] is 7")) << r.warnings[4];
}

TEST(SeenShapes, AResolutionSweepTunesOneShapePerOctaveOfTokens) {
  // Wan 14B (40 heads x 128) at 480p, then 544p, 624p and 720p: 32,760, 42,840, 56,160, 75,600 tokens.
  std::vector<SeenShape> seen;
  for (long tokens : {32760L, 42840L, 56160L, 75600L})
    seen.push_back(parse_seen_shapes(doc({shape(1, 40, 128, tokens, tokens)}), "f").shapes.at(0));
  const auto w = seen_workloads({flux()}, seen);
  // 32,760 (2^15.0) takes its cell; 42,840 is in it (2^15.4); 56,160 (2^15.8) is the next cell but
  // within 2x of 32,760, so routed there; 75,600 is 2.3x away: a second shape.
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].id, "seen-wan21-1x40x128-q32760-kv32760");
  EXPECT_EQ(w[1].q_len, 75600);
  EXPECT_EQ(w[0].sets, std::vector<std::string>{"seen"});
  EXPECT_EQ(w[0].calls_per_step, 30);
  EXPECT_TRUE(contains(w[0].model, "recorded by the node")) << w[0].model;
}

TEST(SeenShapes, AShapeTheWorkloadSetCoversIsNotTuned) {
  // Flux at 1152 px (5,184 tokens, 1.19x the set's 4,352) routes to flux-1024 already; Wan 1.3B
  // at 480p (32,760 tokens, 7.5x) does not.
  std::vector<SeenShape> seen = {parse_seen_shapes(doc({shape(1, 24, 128, 5184, 5184, 57, "Flux")}), "f").shapes.at(0),
                                 parse_seen_shapes(doc({shape(1, 12, 128, 32760, 32760)}), "f").shapes.at(0)};
  const auto w = seen_workloads({flux()}, seen);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].heads, 12);
}

TEST(SeenShapes, ShapesOfOneCellTakeTheLargestCallsPerStep) {
  std::vector<SeenShape> seen = {parse_seen_shapes(doc({shape(1, 40, 128, 32760, 32760, 30)}), "f").shapes.at(0),
                                 parse_seen_shapes(doc({shape(1, 40, 128, 36000, 36000, 40)}), "f").shapes.at(0)};
  const auto w = seen_workloads({}, seen);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].calls_per_step, 40);
}

class TuneSeen : public ::testing::Test {
 protected:
  TempDir dir;
  fs::path decision() const { return dir.path() / "decision.json"; }
  fs::path jobs() const { return dir.path() / "jobs.jsonl"; }

  CommandResult autotune(const std::string& sub) {
    const std::string command =
        "env -u COMFYUI_ATTENTION_MECHANISM -u AUTOTUNE_WRITTEN_MECHANISM -u AUTOTUNE_VENV -u AUTOTUNE_CACHE_DIR "
        "-u CUDA_VISIBLE_DEVICES FAKE_WORKER_MODE=normal FAKE_WORKER_MS=sdpa_comfy=1.0,flash3=0.8 "
        "FAKE_WORKER_JOBS='" + jobs().string() + "' '" AUTOTUNE_BINARY "' " + sub +
        " --simulate-gpu 'name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132'"
        " --venv '" + (kVenvs / "full").string() + "' --cache-dir '" + (dir.path() / "shared").string() +
        "' --local-dir '" + (dir.path() / "local").string() + "' --env-settings '" +
        (dir.path() / "env_settings").string() + "' --decision-file '" + decision().string() +
        "' --workloads '" + kWorkloads.string() + "' --worker '" FAKE_WORKER "' --backends sdpa_comfy,flash3 -q";
    return testing::run_command(command, dir.path());
  }
  std::vector<nlohmann::json> job_lines() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(jobs());
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  std::set<std::string> routed() const {
    std::set<std::string> out;
    const auto d = nlohmann::json::parse(read_file(decision()));
    for (const auto& r : d["routes"]) out.insert(r["workload"].get<std::string>());
    return out;
  }
};

TEST_F(TuneSeen, MeasuresOnlyTheRecordedShapesNoMeasurementCoversAndRoutesThem) {
  ASSERT_EQ(autotune("").exit_code, 0);  // the default set, tuned
  ASSERT_EQ(job_lines().size(), 1u);
  EXPECT_EQ(routed(), (std::set<std::string>{"flux-1024", "sd15-256-160"}));

  write_file(seen_shapes_path(decision()),
             doc({shape(1, 40, 128, 32760, 32760), shape(1, 24, 128, 5184, 5184, 57, "Flux")}));
  const auto r = autotune("tune --seen");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = job_lines();
  ASSERT_EQ(lines.size(), 2u) << r.err;
  // Every backend of the set's shapes is skipped: already in the cache under the same key.
  EXPECT_EQ(lines[1]["skip"].size(), 4u) << lines[1].dump();
  EXPECT_EQ(lines[1]["workloads"].size(), 3u);
  EXPECT_EQ(routed(), (std::set<std::string>{"flux-1024", "sd15-256-160", "seen-wan21-1x40x128-q32760-kv32760"}));
  const auto d = nlohmann::json::parse(read_file(decision()));
  EXPECT_EQ(d["source"], "tuning");

  // Covered now: no worker, the cached decision.
  ASSERT_EQ(autotune("tune --seen").exit_code, 0);
  EXPECT_EQ(job_lines().size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(read_file(decision()))["source"], "cache");
  EXPECT_EQ(routed().size(), 3u);

  // The report marks the shape that came from a real run.
  const auto report = autotune("--report --seen --format csv");
  EXPECT_TRUE(contains(report.out, "seen-wan21-1x40x128-q32760-kv32760")) << report.out;
  EXPECT_TRUE(contains(report.out, ",WAN21,")) << report.out;
}

// Not about recorded shapes: the same CLI run twice over one cache, under two quality levels.
TEST_F(TuneSeen, AQualityLevelNeverTakesTheDecisionCachedUnderAnother) {
  const auto level = [&] { return nlohmann::json::parse(read_file(decision()))["quality"]["level"]; };
  const auto source = [&] { return nlohmann::json::parse(read_file(decision()))["source"]; };
  ASSERT_EQ(autotune("").exit_code, 0);
  EXPECT_EQ(level(), "balanced");
  const auto tuned_account = nlohmann::json::parse(read_file(decision()))["quality"];
  // exact decides afresh from the cached measurements (a worker with nothing left to measure).
  const auto r = autotune("--quality exact");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(level(), "exact");
  EXPECT_EQ(source(), "tuning");
  ASSERT_EQ(job_lines().size(), 2u);
  EXPECT_EQ(job_lines()[1]["skip"].size(), 4u);
  EXPECT_EQ(job_lines()[1]["exclude_quantized"], true);
  // Each level's decision is kept beside the other's.
  ASSERT_EQ(autotune("--quality exact").exit_code, 0);
  EXPECT_EQ(source(), "cache");
  EXPECT_EQ(level(), "exact");
  ASSERT_EQ(autotune("").exit_code, 0);
  EXPECT_EQ(source(), "cache");
  EXPECT_EQ(level(), "balanced");
  // The hit carries the account the tune wrote (the node's step-aware routing reads it).
  EXPECT_EQ(nlohmann::json::parse(read_file(decision()))["quality"], tuned_account);
  // So is one made with other exact steps.
  ASSERT_EQ(autotune("--exact-steps 2").exit_code, 0);
  EXPECT_EQ(source(), "tuning");
  EXPECT_EQ(job_lines().size(), 3u);
}

TEST_F(TuneSeen, ABadRecordedFileNeverStopsTheBoot) {
  write_file(seen_shapes_path(decision()), "{\"schema\": 1, \"shapes\": [{\"batch\": \"one\"}]}");
  const auto r = autotune("tune --seen");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "shapes[0].batch is \"one\"")) << r.err;
  EXPECT_TRUE(fs::exists(decision()));
}

}  // namespace
}  // namespace autotune
