// The worker protocol's event types, once: the worker (autotune-bench) writes these names in each
// line's "event" field and the parent (boot/worker_line.cpp) reads them. What each carries
// is in worker/README.md. Pure and header-only, so both executables share it.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace autotune::protocol {

enum class Event { hello, import, backends, warm, warmed, start, sample, result, done, fatal, error, paused, resumed };

inline constexpr std::array<std::pair<Event, std::string_view>, 13> kEvents{{
    {Event::hello, "hello"},        // first line: versions, device, the backends and their state
    {Event::import, "import"},      // a Python backend's import begins (imports first)
    {Event::backends, "backends"},  // the Python backends once imported
    {Event::warm, "warm"},          // a Python backend's warm-up call begins
    {Event::warmed, "warmed"},      // and ended
    {Event::start, "start"},        // a backend's first call on a shape
    {Event::sample, "sample"},      // a turn of another backend's samples
    {Event::result, "result"},      // one measurement
    {Event::done, "done"},          // the job is finished, exit 0
    {Event::fatal, "fatal"},        // the CUDA context is gone, exit 3
    {Event::error, "error"},        // the job was refused, exit 2
    {Event::paused, "paused"},      // a ComfyUI prompt runs (the job's prompt_marker): it waits
    {Event::resumed, "resumed"},    // and goes on
}};

constexpr std::string_view event_name(Event e) {
  for (const auto& [event, name] : kEvents)
    if (event == e) return name;
  return {};
}

constexpr std::optional<Event> parse_event(std::string_view name) {
  for (const auto& [event, n] : kEvents)
    if (n == name) return event;
  return std::nullopt;
}

}  // namespace autotune::protocol
