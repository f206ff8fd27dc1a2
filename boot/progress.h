// What a person sees while tuning runs: on a terminal, one status line rewritten in place
// ("[12/40] sage on flux-1024  0:12 elapsed, 1:48 of budget left"); in a log file, one plain line
// per measurement; with --quiet, warnings only. A small class fed with events, with the clock
// and the kind of output injected, so its tests need neither a terminal nor time to pass.
#pragma once

#include <chrono>
#include <functional>
#include <ostream>
#include <string>

#include "common/measurement.h"

namespace autotune {

// Sent by tune() (boot/tuning.h) beside its log lines.
struct ProgressEvent {
  enum class Kind {
    plan,    // a worker said hello: `planned` measurements are still to make in this run
    start,   // the worker began `backend` on `shape`
    result,  // a measurement was stored (ok or not, a timeout or a crash included)
  };
  Kind kind = Kind::plan;
  int planned = 0;
  std::string backend;
  std::string shape;
  Status status = Status::ok;
  double median_ms = 0;
  std::string reason;
};

enum class Display {
  terminal,  // one status line, rewritten with '\r'; warnings above it
  lines,     // plain lines, one per measurement, for logs and pipes
  quiet,     // warnings only (--quiet)
};

// A terminal only when stderr is one and TERM is not "dumb"; quiet wins over both.
Display choose_display(bool stderr_is_tty, const char* term, bool quiet);

class Progress {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `width`: the terminal's columns; the status line is cut to fit so '\r' can overwrite it.
  Progress(std::ostream& out, Display display, std::chrono::milliseconds budget,
           Clock clock = [] { return std::chrono::steady_clock::now(); }, std::size_t width = 100);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void event(const ProgressEvent& e);
  // One of tune()'s log lines. Lines that start with "warning:", "timeout:" or "crash:" are
  // warnings and always shown. Once events arrive, "measured ..." lines are dropped: the
  // result events say the same with the count and the time.
  void log(const std::string& line);
  // Clears the status line, so what is printed next starts on a clean line.
  void finish();

  // "[12/40] sage on flux-1024  0:12 elapsed, 1:48 of budget left"
  std::string status() const;
  int done() const { return done_; }
  int total() const { return total_; }

 private:
  std::string clock_text() const;
  void draw();
  void print_line(const std::string& line);

  std::ostream& out_;
  Display display_;
  std::chrono::milliseconds budget_;
  Clock clock_;
  std::size_t width_;
  std::chrono::steady_clock::time_point start_;
  int done_ = 0;
  int total_ = 0;  // 0 until the first plan
  bool events_ = false;
  bool drawn_ = false;
  std::string current_;  // "sage on flux-1024", while it runs
  std::string last_;     // the last one that finished
};

// "1:05" for 65 s, "1:02:03" past an hour; negative durations read as 0:00.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace autotune
