// Progress display, with an injected clock and a string stream for stderr: no terminal, no waiting.
#include <gtest/gtest.h>

#include <sstream>

#include "boot/progress.h"

namespace autotune {
namespace {

using namespace std::chrono_literals;
using Kind = ProgressEvent::Kind;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  Progress::Clock fn() {
    return [this] { return now; };
  }
};

ProgressEvent plan(int n) { return {Kind::plan, n, {}, {}, Status::ok, 0, {}}; }
ProgressEvent start(const std::string& b, const std::string& s) { return {Kind::start, 0, b, s, Status::ok, 0, {}}; }
ProgressEvent result(const std::string& b, const std::string& s, Status st = Status::ok, double ms = 0.5,
                     const std::string& reason = "") {
  return {Kind::result, 0, b, s, st, ms, reason};
}

TEST(Progress, DisplayFollowsTheTerminalAndQuiet) {
  EXPECT_EQ(choose_display(true, "xterm-256color", false), Display::terminal);
  EXPECT_EQ(choose_display(true, "dumb", false), Display::lines);
  EXPECT_EQ(choose_display(true, nullptr, false), Display::terminal);
  EXPECT_EQ(choose_display(false, "xterm", false), Display::lines);
  EXPECT_EQ(choose_display(true, "xterm", true), Display::quiet);
  EXPECT_EQ(choose_display(false, "xterm", true), Display::quiet);
}

TEST(Progress, DurationFormat) {
  EXPECT_EQ(format_duration(0ms), "0:00");
  EXPECT_EQ(format_duration(65s), "1:05");
  EXPECT_EQ(format_duration(3723s), "1:02:03");
  EXPECT_EQ(format_duration(-5s), "0:00");
}

TEST(Progress, TerminalRewritesOneLineWithCountElapsedAndBudget) {
  std::ostringstream err;
  FakeClock clock;
  Progress p(err, Display::terminal, 120s, clock.fn(), 100);
  p.event(plan(4));
  p.event(start("sage", "flux-1024"));
  clock.now += 12s;
  EXPECT_EQ(p.status(), "[0/4] sage on flux-1024  0:12 elapsed, 1:48 of budget left");
  p.event(result("sage", "flux-1024"));
  p.log("measured sage on flux-1024: ok 0.506 ms");  // said by the status line, not printed
  EXPECT_EQ(p.done(), 1);
  EXPECT_EQ(p.status(), "[1/4] sage on flux-1024 done  0:12 elapsed, 1:48 of budget left");
  p.event(start("flash3", "sd15-512-self-256"));
  p.log("crash: the worker died (signal 11) during flash3 on sd15-512-self-256");
  p.finish();
  const std::string out = err.str();
  EXPECT_EQ(out.find('\n'), out.find("autotune: crash:") + std::string("autotune: crash: the worker died (signal 11) during flash3 on sd15-512-self-256").size())
      << "the only newline ends the warning";
  EXPECT_TRUE(contains(out, "\r[1/4] flash3 on sd15-512-self-256")) << out;
  EXPECT_TRUE(contains(out, "\x1b[K"));
  EXPECT_FALSE(contains(out, "measured sage")) << out;
  EXPECT_EQ(out.substr(out.size() - 4), "\r\x1b[K") << "finish clears the status line";
}

TEST(Progress, TerminalLineIsCutToTheWidth) {
  std::ostringstream err;
  FakeClock clock;
  Progress p(err, Display::terminal, 120s, clock.fn(), 40);
  p.event(start("a_backend_with_a_long_name", "a-shape-with-an-even-longer-name-than-that"));
  const std::string out = err.str();
  const std::size_t begin = out.rfind('\r') + 1, end = out.find("\x1b[K", begin);
  EXPECT_LT(end - begin, 40u);
}

TEST(Progress, LinesForLogsOnePerMeasurement) {
  std::ostringstream err;
  FakeClock clock;
  Progress p(err, Display::lines, 60s, clock.fn());
  p.log("resuming: 3 measurements already cached");
  p.event(plan(2));
  p.event(start("sdpa_cudnn", "flux-1024"));
  clock.now += 2s;
  p.event(result("sdpa_cudnn", "flux-1024", Status::ok, 0.397));
  p.log("measured sdpa_cudnn on flux-1024: ok 0.397 ms");
  p.event(result("sage", "sd15-512-self-256", Status::unsupported, 0, "head_dim 160\nTraceback ..."));
  p.finish();
  const std::string out = err.str();
  EXPECT_FALSE(contains(out, "\r")) << out;
  EXPECT_TRUE(contains(out, "autotune: resuming: 3 measurements already cached\n")) << out;
  EXPECT_TRUE(contains(out, "autotune: measuring 2 (backend, shape) pairs; budget 1:00\n")) << out;
  EXPECT_TRUE(contains(out, "autotune: [1/2] sdpa_cudnn on flux-1024: ok 0.3970 ms  0:02 elapsed, 0:58 of budget left\n"))
      << out;
  EXPECT_TRUE(contains(out, "autotune: [2/2] sage on sd15-512-self-256: unsupported (head_dim 160)")) << out;
  EXPECT_FALSE(contains(out, "measured sdpa_cudnn")) << "the result event replaces the log line";
}

TEST(Progress, LinesWithoutEventsPassTheLogThrough) {
  std::ostringstream err;
  FakeClock clock;
  Progress p(err, Display::lines, 60s, clock.fn());
  p.log("measured sdpa_cudnn on flux-1024: ok 0.397 ms");
  EXPECT_EQ(err.str(), "autotune: measured sdpa_cudnn on flux-1024: ok 0.397 ms\n");
}

TEST(Progress, QuietPrintsWarningsOnly) {
  std::ostringstream err;
  FakeClock clock;
  Progress p(err, Display::quiet, 60s, clock.fn());
  p.event(plan(2));
  p.event(start("sage", "flux-1024"));
  p.log("resuming: 3 measurements already cached");
  p.log("backend xformers not installed: No module named 'xformers'");
  p.event(result("sage", "flux-1024"));
  p.log("timeout: sage on wan took over 30000 ms; worker killed");
  p.log("warning: could not store sage/flux-1024 in the cache: disk full");
  p.finish();
  EXPECT_EQ(err.str(),
            "autotune: timeout: sage on wan took over 30000 ms; worker killed\n"
            "autotune: warning: could not store sage/flux-1024 in the cache: disk full\n");
}

TEST(Progress, RespawnReplansWithoutLosingTheCount) {
  std::ostringstream err;
  FakeClock clock;
  Progress p(err, Display::lines, 60s, clock.fn());
  p.event(plan(3));
  p.event(result("a", "x"));
  p.event(result("b", "x", Status::crashed));
  p.event(plan(1));  // the new worker's hello: one pair left
  EXPECT_EQ(p.total(), 3);
  p.event(result("c", "x"));
  EXPECT_EQ(p.done(), 3);
}

}  // namespace
}  // namespace autotune
