#include "boot/outputs.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/boot/test_support.h"

namespace autotune {
namespace {

using testing::contains;
using testing::list_dir;
using testing::read_file;
using testing::run_command;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

TEST(AtomicWrite, WritesContentAndLeavesNoTempFile) {
  TempDir dir;
  const fs::path file = dir / "settings";
  ASSERT_EQ(atomic_write(file, "first\n"), std::nullopt);
  EXPECT_EQ(read_file(file), "first\n");
  ASSERT_EQ(atomic_write(file, "second\n"), std::nullopt);
  EXPECT_EQ(read_file(file), "second\n");
  EXPECT_EQ(list_dir(dir.path()), "settings\n");
}

TEST(AtomicWrite, CreatesDirectories) {
  TempDir dir;
  const fs::path file = dir / "a/b/c/decision.json";
  ASSERT_EQ(atomic_write(file, "{}"), std::nullopt);
  EXPECT_EQ(read_file(file), "{}");
  EXPECT_EQ(list_dir(dir / "a/b/c"), "decision.json\n");
}

TEST(AtomicWrite, PathUnderARegularFileFails) {
  TempDir dir;
  write_file(dir / "plain", "keep me");
  const auto error = atomic_write(dir / "plain" / "settings", "x");
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(contains(*error, (dir / "plain").string())) << *error;
  EXPECT_EQ(read_file(dir / "plain"), "keep me");
  EXPECT_EQ(list_dir(dir.path()), "plain\n");
}

TEST(AtomicWrite, TargetIsADirectoryFailsAndCleansUp) {
  TempDir dir;
  fs::create_directory(dir / "settings");
  write_file(dir / "settings" / "inside", "keep me");
  const auto error = atomic_write(dir / "settings", "x");
  ASSERT_TRUE(error.has_value());
  EXPECT_TRUE(contains(*error, "cannot rename")) << *error;
  EXPECT_EQ(read_file(dir / "settings" / "inside"), "keep me");
  EXPECT_EQ(list_dir(dir.path()), "settings\n");  // the temp file is gone
}

TEST(AtomicWrite, FailedWriteKeepsTheOldFile) {
  // A file size limit makes write() fail part-way even for root (EFBIG), as a full disk would.
  // Done in a child so the limit cannot touch the test runner's own output.
  TempDir dir;
  const fs::path file = dir / ".env_settings";
  write_file(file, "export COMFYUI_ATTENTION_MECHANISM=sage\n");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    const auto error = atomic_write(file, std::string(64 * 1024, 'x'));
    _exit(error && error->find("cannot write") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "atomic_write did not report the failed write";
  EXPECT_EQ(read_file(file), "export COMFYUI_ATTENTION_MECHANISM=sage\n");
  EXPECT_EQ(list_dir(dir.path()), ".env_settings\n");
}

TEST(AtomicWrite, ReadOnlyDirectoryFailsAndKeepsTheOldFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions; FailedWriteKeepsTheOldFile covers the outcome";
  TempDir dir;
  const fs::path ro = dir / "ro";
  fs::create_directory(ro);
  write_file(ro / "settings", "old");
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  const auto error = atomic_write(ro / "settings", "new");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(read_file(ro / "settings"), "old");
}

BootResult h100_result() {
  BootResult r;
  GpuInfo g;
  g.name = "NVIDIA H100 80GB HBM3";
  g.uuid = "GPU-8f2c";
  g.cc_major = 9;
  g.sm_count = 132;
  g.memory_mib = 81559;
  g.driver_version = "580.159.04";
  g.cuda_driver_version = "13.0";
  g.simulated = true;
  r.detection.gpus = {g};
  r.detection.source = "simulated";
  r.env.venv = "/workspace/venv";
  r.env.python_version = "3.12.3";
  r.env.torch_version = "2.11.0+cu130";
  r.env.torch_cuda = "13.0";
  r.env.packages = {{"torch", "2.11.0+cu130"}, {"sageattention", "2.2.0"}};
  r.architecture = "Hopper";
  r.decision.mechanism = Mechanism::sage;
  r.decision.source = Source::override_;
  r.decision.reason = "it's the user's choice; $HOME `id` \"quoted\" \\ back";
  r.decision.default_backend = "sage";
  r.decision.routes = {{"wan_720p", 1, 40, 128, 75600, 75600, "sage", 143.0}};
  r.warnings = {"a warning"};
  r.elapsed_ms = 2.5;
  return r;
}

TEST(EnvSettings, IsValidShellWithTheExportedValues) {
  TempDir dir;
  const BootResult r = h100_result();
  const fs::path file = dir / ".env_settings";
  ASSERT_EQ(atomic_write(file, render_env_settings(r, "/workspace/venv/.attention_decision.json")), std::nullopt);
  // Source it with a POSIX shell in a clean environment and print what it exported.
  const auto run = run_command(
      "env -i /bin/sh -c '. \"$0\" && printf \"%s\\n\" \"$COMFYUI_ATTENTION_MECHANISM\" \"$COMFYUI_ATTENTION_ARGS\" "
      "\"$COMFYUI_ATTENTION_SOURCE\" \"$COMFYUI_ATTENTION_REASON\" \"$COMFYUI_ATTENTION_DECISION\" "
      "\"$AUTOTUNE_WRITTEN_MECHANISM\" && env | grep -c ^COMFYUI_ATTENTION_' " +
          file.string(),
      dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(run.out,
            "sage\n"
            "--use-sage-attention --disable-xformers\n"
            "override\n"
            "it's the user's choice; $HOME `id` \"quoted\" \\ back\n"
            "/workspace/venv/.attention_decision.json\n"
            "sage\n"
            "5\n");  // all five COMFYUI_ATTENTION_* are exported, not just set
}

TEST(EnvSettings, XformersHasNoArguments) {
  BootResult r = h100_result();
  r.decision.mechanism = Mechanism::xformers;
  const std::string text = render_env_settings(r, "/d.json");
  EXPECT_TRUE(contains(text, "export COMFYUI_ATTENTION_ARGS=''\n")) << text;
  EXPECT_TRUE(contains(text, "export AUTOTUNE_WRITTEN_MECHANISM=xformers\n")) << text;
}

TEST(DecisionJson, HasTheDocumentedFields) {
  const nlohmann::json j = nlohmann::json::parse(decision_json(h100_result()).dump());
  EXPECT_EQ(j.at("schema"), 1);
  EXPECT_EQ(j.at("tool_version"), AUTOTUNE_VERSION);
  EXPECT_EQ(j.at("decided_at").get<std::string>().size(), 20u);
  EXPECT_EQ(j.at("mechanism"), "sage");
  EXPECT_EQ(j.at("comfyui_args"), (nlohmann::json{"--use-sage-attention", "--disable-xformers"}));
  EXPECT_EQ(j.at("source"), "override");
  EXPECT_EQ(j.at("reason"), h100_result().decision.reason);
  EXPECT_EQ(j.at("default_backend"), "sage");
  EXPECT_EQ(j.at("warnings"), (nlohmann::json{"a warning"}));

  const auto& gpu = j.at("gpu");
  EXPECT_EQ(gpu.at("index"), 0);
  EXPECT_EQ(gpu.at("name"), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpu.at("uuid"), "GPU-8f2c");
  EXPECT_EQ(gpu.at("compute_capability"), "9.0");
  EXPECT_EQ(gpu.at("memory_mib"), 81559);
  EXPECT_EQ(gpu.at("sm_count"), 132);
  EXPECT_EQ(gpu.at("driver"), "580.159.04");
  EXPECT_EQ(gpu.at("simulated"), true);

  const auto& env = j.at("environment");
  EXPECT_EQ(env.at("venv"), "/workspace/venv");
  EXPECT_EQ(env.at("python"), "3.12.3");
  EXPECT_EQ(env.at("torch"), "2.11.0+cu130");
  EXPECT_EQ(env.at("torch_cuda"), "13.0");
  EXPECT_EQ(env.at("packages").at("sageattention"), "2.2.0");

  ASSERT_EQ(j.at("routes").size(), 1u);
  const Route route = j.at("routes")[0].get<Route>();
  EXPECT_EQ(route.workload, "wan_720p");
  EXPECT_EQ(route.backend, "sage");
  EXPECT_EQ(route.q_len, 75600);
}

TEST(DecisionJson, NoGpuIsNull) {
  BootResult r = h100_result();
  r.detection.gpus.clear();
  EXPECT_TRUE(decision_json(r).at("gpu").is_null());
}

TEST(Summary, NamesEverythingTheIssueAsksFor) {
  const std::string s = render_summary(h100_result());
  EXPECT_TRUE(contains(s, "GPU Configuration Summary")) << s;
  EXPECT_TRUE(contains(s, "Selected Mechanism: sage\n")) << s;
  EXPECT_TRUE(contains(s, "NVIDIA H100 80GB HBM3 (index 0, 81559 MiB, 132 SMs, simulated)")) << s;
  EXPECT_TRUE(contains(s, "Hopper, compute capability 9.0")) << s;
  EXPECT_TRUE(contains(s, "580.159.04 (CUDA 13.0)")) << s;
  EXPECT_TRUE(contains(s, "2.11.0+cu130, CUDA 13.0, Python 3.12.3")) << s;
  EXPECT_TRUE(contains(s, "sageattention 2.2.0")) << s;
  EXPECT_TRUE(contains(s, "not installed: flash_attn, flash_attn_3, xformers, triton")) << s;
  EXPECT_TRUE(contains(s, "--use-sage-attention --disable-xformers")) << s;
  EXPECT_TRUE(contains(s, "Decided by:")) << s;
  EXPECT_TRUE(contains(s, "override: it's the user's choice")) << s;
  EXPECT_TRUE(contains(s, "Warning:            a warning")) << s;
  EXPECT_TRUE(contains(s, "Boot time:          2.5 ms")) << s;
}

TEST(Summary, NoGpuShowsTheDetectionMessage) {
  BootResult r = h100_result();
  r.detection.gpus.clear();
  r.detection.message = "no NVIDIA GPU detected: cannot load libnvidia-ml.so.1";
  const std::string s = render_summary(r);
  EXPECT_TRUE(contains(s, "GPU:                no NVIDIA GPU detected: cannot load libnvidia-ml.so.1")) << s;
}

}  // namespace
}  // namespace autotune
