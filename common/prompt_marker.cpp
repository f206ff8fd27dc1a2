#include "prompt_marker.h"

#include <signal.h>

#include <cerrno>
#include <fstream>

namespace autotune {

std::filesystem::path prompt_marker_path(const std::filesystem::path& decision_file) {
  std::filesystem::path p = decision_file;
  return p.replace_extension(".busy");
}

bool prompt_running(const std::filesystem::path& marker, std::string* why) {
  std::ifstream f(marker);
  if (!f) return false;  // no prompt runs (the usual case): nothing to say
  long long pid = 0;
  if (!(f >> pid) || pid <= 0) {
    if (why) *why = "unreadable prompt marker " + marker.string() + " (no pid on its first line): ignored";
    return false;
  }
  // kill(pid, 0) asks whether the process exists; EPERM: it does, under another user.
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) {
    if (why) *why = "prompt marker " + marker.string() + " names pid " + std::to_string(pid) + ", which is gone: ignored";
    return false;
  }
  if (why) *why = "a ComfyUI prompt runs (pid " + std::to_string(pid) + ", " + marker.string() + ")";
  return true;
}

PromptGate::PromptGate(std::filesystem::path marker, std::chrono::milliseconds max_pause, const Clock& clock,
                       std::function<void(bool, const std::string&)> on_pause, std::chrono::milliseconds poll)
    : marker_(std::move(marker)), max_pause_(max_pause), poll_(poll), clock_(clock), on_pause_(std::move(on_pause)) {}

std::chrono::milliseconds PromptGate::wait() {
  using std::chrono::milliseconds;
  if (marker_.empty() || paused_ >= max_pause_) return milliseconds(0);
  std::string why;
  if (!prompt_running(marker_, &why)) return milliseconds(0);
  const auto start = clock_.now();
  if (on_pause_) on_pause_(true, why);
  std::string ended = "the prompt ended";
  for (;;) {
    const auto waited = std::chrono::duration_cast<milliseconds>(clock_.now() - start);
    if (paused_ + waited >= max_pause_) {
      ended = "paused " + std::to_string(max_pause_.count() / 1000) + " s in all: going on beside the prompt";
      break;
    }
    clock_.sleep_for(poll_);
    if (!prompt_running(marker_, nullptr)) break;
  }
  const auto waited = std::chrono::duration_cast<milliseconds>(clock_.now() - start);
  paused_ += waited;
  if (on_pause_) on_pause_(false, ended);
  return waited;
}

}  // namespace autotune
