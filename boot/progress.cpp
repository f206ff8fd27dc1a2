#include "progress.h"

#include <cstdio>
#include <cstring>

namespace autotune {

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool is_warning(const std::string& line) {
  return starts_with(line, "warning:") || starts_with(line, "timeout:") || starts_with(line, "crash:");
}

// The first line of a reason, at most `n` characters: a Python traceback must not flood a log.
std::string first_line(const std::string& s, std::size_t n) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() <= n ? line : line.substr(0, n - 3) + "...";
}

}  // namespace

Display choose_display(bool stderr_is_tty, const char* term, bool quiet) {
  if (quiet) return Display::quiet;
  if (stderr_is_tty && !(term && std::strcmp(term, "dumb") == 0)) return Display::terminal;
  return Display::lines;
}

std::string format_duration(std::chrono::milliseconds d) {
  const long long s = d.count() > 0 ? d.count() / 1000 : 0;
  char buffer[32];
  if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buffer, sizeof buffer, "%lld:%02lld", s / 60, s % 60);
  return buffer;
}

Progress::Progress(std::ostream& out, Display display, std::chrono::milliseconds budget, Clock clock,
                   std::size_t width)
    : out_(out), display_(display), budget_(budget), clock_(std::move(clock)), width_(width < 20 ? 20 : width),
      start_(clock_()) {}

Progress::~Progress() { finish(); }

std::string Progress::clock_text() const {
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_() - start_);
  return format_duration(elapsed) + " elapsed, " + format_duration(budget_ - elapsed) + " of budget left";
}

std::string Progress::status() const {
  const std::string count =
      "[" + std::to_string(done_) + "/" + (total_ ? std::to_string(total_) : std::string("?")) + "]";
  const std::string what = !current_.empty() ? current_ : !last_.empty() ? last_ + " done" : "starting the worker";
  return count + " " + what + "  " + clock_text();
}

void Progress::draw() {
  if (display_ != Display::terminal) return;
  std::string line = status();
  if (line.size() >= width_) line = line.substr(0, width_ - 1);  // the last column would wrap on some terminals
  out_ << '\r' << line << "\x1b[K" << std::flush;                // \x1b[K: erase the rest of the old line
  drawn_ = true;
}

void Progress::print_line(const std::string& line) {
  if (display_ == Display::terminal && drawn_) out_ << "\r\x1b[K";
  out_ << "autotune: " << line << "\n";
  if (display_ == Display::terminal) draw();
  else out_ << std::flush;
}

void Progress::event(const ProgressEvent& e) {
  events_ = true;
  switch (e.kind) {
    case ProgressEvent::Kind::plan:
      total_ = done_ + e.planned;
      if (display_ == Display::lines)
        print_line("measuring " + std::to_string(e.planned) + " (backend, shape) pairs; budget " +
                   format_duration(budget_));
      draw();
      break;
    case ProgressEvent::Kind::start:
      current_ = e.backend + " on " + e.shape;
      draw();
      break;
    case ProgressEvent::Kind::result: {
      ++done_;
      if (total_ < done_) total_ = done_;
      current_.clear();
      last_ = e.backend + " on " + e.shape;
      if (display_ == Display::lines) {
        char ms[32];
        std::snprintf(ms, sizeof ms, e.median_ms < 1 ? "%.4f ms" : "%.3f ms", e.median_ms);
        const std::string outcome = e.status == Status::ok ? "ok " + std::string(ms)
                                    : std::string(to_string(e.status)) +
                                          (e.reason.empty() ? "" : " (" + first_line(e.reason, 160) + ")");
        print_line("[" + std::to_string(done_) + "/" + std::to_string(total_) + "] " + e.backend + " on " + e.shape +
                   ": " + outcome + "  " + clock_text());
      }
      draw();
      break;
    }
  }
}

void Progress::log(const std::string& line) {
  if (is_warning(line)) {
    print_line(line);
    return;
  }
  if (display_ == Display::quiet) return;
  // On a terminal the status line shows the count; plain results would scroll it away.
  if ((events_ || display_ == Display::terminal) && starts_with(line, "measured ")) return;
  print_line(line);
}

void Progress::finish() {
  if (display_ == Display::terminal && drawn_) out_ << "\r\x1b[K" << std::flush;
  drawn_ = false;
}

}  // namespace autotune
