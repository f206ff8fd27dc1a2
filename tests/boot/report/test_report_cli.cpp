// The `autotune` executable: help, exit codes, --json, --quiet, progress and every --report
// format, run as a user runs it. Reports read the H100 FIXTURE (synthetic; tests/boot/report/fixture.h).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/boot/report/fixture.h"

namespace autotune {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Outcome {
  int code = -1;
  std::string out, err;
};

class ReportCli : public ::testing::Test {
 protected:
  fs::path dir;

  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "autotune-report-XXXXXX").string();
    ASSERT_TRUE(mkdtemp(pattern.data()));
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // A clean environment: no override, no real GPU (a missing NVML), no user settings.
  Outcome autotune(const std::string& args, const std::string& env = "") {
    const std::string command =
        "env -u COMFYUI_ATTENTION_MECHANISM -u AUTOTUNE_WRITTEN_MECHANISM -u AUTOTUNE_SIMULATE_GPU "
        "-u AUTOTUNE_VENV -u AUTOTUNE_CACHE_DIR -u AUTOTUNE_LOCAL_DIR -u AUTOTUNE_BUDGET -u CUDA_VISIBLE_DEVICES "
        "-u AUTOTUNE_WORKER -u AUTOTUNE_SET -u AUTOTUNE_WORKLOADS "
        "AUTOTUNE_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 " +
        env + " '" AUTOTUNE_BINARY "' " + args + " >'" + (dir / "stdout").string() + "' 2>'" +
        (dir / "stderr").string() + "'";
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "stdout"), slurp(dir / "stderr")};
  }

  std::string paths() const {
    return "--venv '" + fixture::kVenv.string() + "' --cache-dir '" + (dir / "shared").string() + "' --local-dir '" +
           (dir / "local").string() + "' --env-settings '" + (dir / "env_settings").string() +
           "' --decision-file '" + (dir / "decision.json").string() + "'";
  }
  std::string h100() const { return " --simulate-gpu '" + fixture::kH100Spec + "'"; }
  void write_fixture() { fixture::write_h100_cache(dir / "local" / "cache.sqlite", "default"); }
};

// --- help -------------------------------------------------------------------------------------

TEST_F(ReportCli, HelpListsEveryFlagTheFormatsAndTheExitCodes) {
  const auto r = autotune("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* flag : {"--venv", "--cache-dir", "--env-settings", "--decision-file", "--simulate-gpu",
                           "--nvml-library", "--worker", "--workloads", "--set", "--backends", "--budget", "--no-tune",
                           "--exclude-quantized", "--report", "--format", "--quiet", "--json", "detect"})
    EXPECT_TRUE(contains(r.out, flag)) << flag << "\n" << r.out;
  EXPECT_TRUE(contains(r.out, "html")) << r.out;
  EXPECT_TRUE(contains(r.out, "Exit codes")) << r.out;
  EXPECT_TRUE(contains(r.out, "0  configured")) << r.out;
  EXPECT_TRUE(contains(r.out, "1  a decision was made but .env_settings could not be written")) << r.out;
  EXPECT_TRUE(contains(r.out, "2  usage error")) << r.out;
  EXPECT_TRUE(contains(r.out, "COMFYUI_ATTENTION_MECHANISM")) << r.out;
}

TEST_F(ReportCli, DetectHelp) {
  const auto r = autotune("detect --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "--json")) << r.out;
  EXPECT_TRUE(contains(r.out, "attention libraries")) << r.out;
  EXPECT_TRUE(contains(r.out, "--simulate-gpu")) << r.out;
  EXPECT_TRUE(contains(r.out, "Exit codes")) << r.out;
}

// What detect's help promises: the boot's options work after the subcommand.
TEST_F(ReportCli, DetectTakesTheBootOptionsAfterTheSubcommand) {
  const auto r = autotune("detect --json --venv '" + fixture::kVenv.string() + "'" + h100());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("gpus").at(0).at("name"), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(j.at("torch"), "2.11.0+cu130");
}

// The exit-code table in the help is the one the README documents.
TEST_F(ReportCli, ExitCodeDocMatchesTheHelp) {
  const std::string doc = slurp(fs::path(AUTOTUNE_SOURCE_DIR) / "README.md");
  ASSERT_FALSE(doc.empty());
  for (const char* line : {"| 0 |", "| 1 |", "| 2 |"}) EXPECT_TRUE(contains(doc, line)) << line;
  EXPECT_TRUE(contains(doc, "no usable GPU")) << doc;
}

// --- exit codes ---------------------------------------------------------------------------------

TEST_F(ReportCli, ConfiguredIsZero) {
  const auto r = autotune(paths() + h100() + " --no-tune");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "env_settings"));
}

TEST_F(ReportCli, NoUsableGpuStillConfiguresAndIsZero) {
  const auto r = autotune(paths() + " --no-tune --json");
  EXPECT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("source"), "table");
  EXPECT_TRUE(j.at("gpu").is_null());
  EXPECT_TRUE(fs::exists(dir / "env_settings"));
}

TEST_F(ReportCli, UsageErrorsAreTwo) {
  for (const std::string args : {std::string("--frobnicate"), std::string("--report --format pdf"),
                                 paths() + " --simulate-gpu 'name=H100;cc=nine'", std::string("nosuchcommand"),
                                 paths() + " --set nosuchset", std::string("--budget -3")}) {
    const auto r = autotune(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << args;
    EXPECT_FALSE(fs::exists(dir / "env_settings")) << args;
  }
  EXPECT_TRUE(contains(autotune("--report --format pdf").err, "pdf"));
}

TEST_F(ReportCli, SettingsNotWritableIsOne) {
  // A regular file where a directory must be: unwritable even for root, which ignores modes.
  std::ofstream(dir / "file") << "x";
  const auto r = autotune("--venv '" + fixture::kVenv.string() + "' --local-dir '" + (dir / "local").string() +
                          "' --cache-dir '" + (dir / "shared").string() + "' --env-settings '" +
                          (dir / "file" / "env_settings").string() + "' --decision-file '" +
                          (dir / "decision.json").string() + "' --no-tune" + h100());
  EXPECT_EQ(r.code, 1) << r.out << r.err;
}

// --- --json and --quiet ---------------------------------------------------------------------------

TEST_F(ReportCli, JsonIsOneDocumentOnStdoutWithTheDecisionFileAndBootTime) {
  const auto r = autotune(paths() + h100() + " --no-tune --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);  // throws if stdout holds anything else
  const auto file = nlohmann::json::parse(slurp(dir / "decision.json"));
  for (const auto& [k, v] : file.items()) EXPECT_EQ(j.at(k), v) << k;
  EXPECT_TRUE(j.at("boot_ms").is_number());
  EXPECT_EQ(j.at("written").size(), 2u);
  EXPECT_TRUE(contains(r.err, "Selected Mechanism")) << "the summary goes to stderr: " << r.err;
}

TEST_F(ReportCli, QuietJsonPrintsOnlyTheDocument) {
  const auto r = autotune(paths() + h100() + " --no-tune --json --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;
  EXPECT_FALSE(contains(r.err, "Selected Mechanism")) << r.err;
}

TEST_F(ReportCli, QuietBootPrintsNothingOnSuccess) {
  const auto r = autotune(paths() + h100() + " --no-tune --quiet");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
}

// --- progress while tuning (not a terminal: plain lines) -------------------------------------------

TEST_F(ReportCli, TuningPrintsOneLinePerMeasurementWhenNotATerminal) {
  const auto r = autotune(paths() + h100() + " --worker '" FAKE_WORKER "' --backends sdpa_comfy,flash3 --budget 60",
                          "FAKE_WORKER_MS=sdpa_comfy=1.0,flash3=0.8");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(contains(r.err, "\r")) << r.err;
  EXPECT_TRUE(contains(r.err, "autotune: measuring ")) << r.err;
  EXPECT_TRUE(contains(r.err, "] flash3 on flux-1024: ok 0.8000 ms")) << r.err;
  EXPECT_TRUE(contains(r.err, "of budget left")) << r.err;
  const auto quiet = autotune(paths() + h100() + " --worker '" FAKE_WORKER "' --backends sdpa_comfy,flash3 --quiet",
                              "FAKE_WORKER_MS=sdpa_comfy=1.0,flash3=0.8");
  EXPECT_EQ(quiet.code, 0);
  EXPECT_FALSE(contains(quiet.err, "measur")) << quiet.err;
}

// --- --report -------------------------------------------------------------------------------------

TEST_F(ReportCli, ReportInEveryFormat) {
  write_fixture();
  const auto text = autotune("--report " + paths() + h100());
  ASSERT_EQ(text.code, 0) << text.err;
  std::istringstream lines(text.out);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
  EXPECT_TRUE(contains(text.out, "== flux ==")) << text.out;
  EXPECT_TRUE(contains(text.out, "Pick: ")) << text.out;

  const auto md = autotune("--report --format markdown " + paths() + h100());
  EXPECT_EQ(md.code, 0);
  EXPECT_TRUE(contains(md.out, "| flux-1024 (1, 24, 4352/4352, 128) |")) << md.out;

  const auto csv = autotune("--report --format csv " + paths() + h100());
  EXPECT_EQ(csv.code, 0);
  EXPECT_EQ(csv.out.rfind("shape,family,", 0), 0u);

  const auto json = autotune("--report --format json " + paths() + h100());
  ASSERT_EQ(json.code, 0);
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j.at("peak_bf16").at("tflops"), 989);
  EXPECT_EQ(j.at("packages").at("sageattention"), "2.2.0");
  EXPECT_EQ(nlohmann::json::parse(autotune("--report --json " + paths() + h100()).out).at("gpu"), j.at("gpu"));

  const auto html = autotune("--report --format html " + paths() + h100());
  ASSERT_EQ(html.code, 0);
  EXPECT_EQ(html.out.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(contains(html.out, "NVIDIA H100 80GB HBM3"));
  EXPECT_TRUE(contains(html.out, "<svg"));
}

TEST_F(ReportCli, ReportWithAnEmptyCacheSaysHowToTune) {
  const auto r = autotune("--report " + paths() + h100());
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "run `autotune` to tune")) << r.out;
}

}  // namespace
}  // namespace autotune
