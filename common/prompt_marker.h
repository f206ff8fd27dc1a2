// ComfyUI's running prompt, as autotune sees it: the node (comfyui_node/busy.py) writes a marker
// file beside the decision file when a prompt starts and removes it when the prompt ends. A tune
// that shares the GPU with ComfyUI waits between its turns while the marker says a prompt runs,
// so that the prompt does not pay for the tune (a ComfyUI default step of Wan 2.1 1.3B at 720p
// took 8.26 s beside a cold tune against 4.82 s alone on the H200) and the tune's samples are not
// taken beside the prompt's kernels.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "common/clock.h"

namespace autotune {

// `.attention_decision.json` -> `.attention_decision.busy`: the name busy.py's busy_path gives.
std::filesystem::path prompt_marker_path(const std::filesystem::path& decision_file);

// Whether the marker says a prompt runs now: the file exists and names a process that is alive.
// A marker left by a ComfyUI that died (its pid gone) or one that cannot be read says no, with
// `why` saying so (a stale marker must not hold a tune forever). `why` gets the holder otherwise.
bool prompt_running(const std::filesystem::path& marker, std::string* why);

// Waits while a prompt runs, polling every `poll`, at most `max_pause` over the gate's life (a
// prompt longer than that has the tune beside it rather than a pod that never tunes).
// `on_pause(true, why)` before it waits, `on_pause(false, why)` after. Returns the time it waited.
class PromptGate {
 public:
  PromptGate(std::filesystem::path marker, std::chrono::milliseconds max_pause, const Clock& clock,
             std::function<void(bool paused, const std::string& why)> on_pause,
             std::chrono::milliseconds poll = std::chrono::milliseconds(50));
  std::chrono::milliseconds wait();
  std::chrono::milliseconds paused() const { return paused_; }  // over the gate's life

 private:
  std::filesystem::path marker_;
  std::chrono::milliseconds max_pause_, poll_, paused_{0};
  const Clock& clock_;
  std::function<void(bool, const std::string&)> on_pause_;
};

}  // namespace autotune
