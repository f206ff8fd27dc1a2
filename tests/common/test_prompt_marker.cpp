#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "common/prompt_marker.h"

namespace autotune {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class PromptMarkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("prompt_marker_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    marker_ = prompt_marker_path(dir_ / ".attention_decision.json");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(marker_) << text; }
  // A pid that no process has now: a child's, after it was reaped.
  static long long dead_pid() {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    int status = 0;
    ::waitpid(child, &status, 0);
    return child;
  }
  fs::path dir_, marker_;
};

// A clock whose sleeps move it and, at the n-th, remove the marker: the prompt ends while the
// gate waits.
class EndingClock final : public Clock {
 public:
  EndingClock(fs::path marker, int end_at) : marker_(std::move(marker)), end_at_(end_at) {}
  time_point now() const override { return inner_.now(); }
  std::int64_t epoch_ms() const override { return inner_.epoch_ms(); }
  void sleep_for(milliseconds d) const override {
    inner_.sleep_for(d);
    if (++sleeps == end_at_) fs::remove(marker_);
  }
  mutable int sleeps = 0;

 private:
  ManualClock inner_;
  fs::path marker_;
  int end_at_;
};

TEST_F(PromptMarkerTest, PathIsTheDecisionFilesWithBusyForItsExtension) {
  EXPECT_EQ(prompt_marker_path("/workspace/.attention_decision.json"), fs::path("/workspace/.attention_decision.busy"));
  EXPECT_EQ(prompt_marker_path("/w/.attention_decision.gpu1.json"), fs::path("/w/.attention_decision.gpu1.busy"));
}

TEST_F(PromptMarkerTest, RunningOnlyWhileTheMarkerNamesALiveProcess) {
  std::string why;
  EXPECT_FALSE(prompt_running(marker_, &why));
  EXPECT_EQ(why, "");  // no marker: the usual case says nothing

  write(std::to_string(::getpid()) + "\n1764770000.5\n");
  EXPECT_TRUE(prompt_running(marker_, &why));
  EXPECT_NE(why.find("pid " + std::to_string(::getpid())), std::string::npos) << why;

  const long long gone = dead_pid();
  write(std::to_string(gone) + "\n");
  EXPECT_FALSE(prompt_running(marker_, &why));
  EXPECT_NE(why.find(std::to_string(gone) + ", which is gone"), std::string::npos) << why;

  write("not a pid\n");
  EXPECT_FALSE(prompt_running(marker_, &why));
  EXPECT_NE(why.find("unreadable prompt marker"), std::string::npos) << why;
}

TEST_F(PromptMarkerTest, GateWaitsUntilThePromptEndsAndSaysSo) {
  write(std::to_string(::getpid()) + "\n");
  EndingClock clock(marker_, 7);
  std::vector<std::pair<bool, std::string>> calls;
  PromptGate gate(marker_, milliseconds(60000), clock,
                  [&](bool paused, const std::string& why) { calls.emplace_back(paused, why); }, milliseconds(50));
  EXPECT_EQ(gate.wait(), milliseconds(350));  // 7 polls of 50 ms, the marker gone at the 7th
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_TRUE(calls[0].first);
  EXPECT_NE(calls[0].second.find("a ComfyUI prompt runs"), std::string::npos) << calls[0].second;
  EXPECT_FALSE(calls[1].first);
  EXPECT_EQ(calls[1].second, "the prompt ended");
  EXPECT_EQ(gate.wait(), milliseconds(0));  // no marker: no wait, no call
  EXPECT_EQ(calls.size(), 2u);
  EXPECT_EQ(gate.paused(), milliseconds(350));
}

TEST_F(PromptMarkerTest, GatePausesAtMostItsBoundOverItsLife) {
  write(std::to_string(::getpid()) + "\n");  // a prompt that never ends
  ManualClock clock;
  std::vector<std::pair<bool, std::string>> calls;
  PromptGate gate(marker_, milliseconds(1000), clock,
                  [&](bool paused, const std::string& why) { calls.emplace_back(paused, why); }, milliseconds(50));
  EXPECT_EQ(gate.wait(), milliseconds(1000));
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_NE(calls[1].second.find("going on beside the prompt"), std::string::npos) << calls[1].second;
  EXPECT_EQ(gate.wait(), milliseconds(0));  // bound spent: the tune goes on
  EXPECT_EQ(calls.size(), 2u);
}

TEST_F(PromptMarkerTest, GateIgnoresAStaleMarker) {
  write(std::to_string(dead_pid()) + "\n");
  ManualClock clock;
  int calls = 0;
  PromptGate gate(marker_, milliseconds(1000), clock, [&](bool, const std::string&) { ++calls; });
  EXPECT_EQ(gate.wait(), milliseconds(0));
  EXPECT_EQ(calls, 0);
  PromptGate none({}, milliseconds(1000), clock, [&](bool, const std::string&) { ++calls; });
  EXPECT_EQ(none.wait(), milliseconds(0));  // no marker path: a tune with no decision file
}

}  // namespace
}  // namespace autotune
