#include "worker_line.h"

#include <nlohmann/json.hpp>

#include "common/worker_protocol.h"

namespace autotune {
namespace {

using json = nlohmann::json;

// The string at `key`, `fallback` when absent; throws json::type_error when it is another type.
std::string text(const json& j, const char* key, const std::string& fallback) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<std::string>();
}

bool flag(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && !it->is_null() && it->get<bool>();
}

std::vector<WorkerLine::Backend> listed(const json& j) {
  std::vector<WorkerLine::Backend> out;
  const auto it = j.find("backends");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) throw std::invalid_argument("\"backends\" is not a list");
  for (const auto& b : *it) {
    if (!b.is_object()) throw std::invalid_argument("a \"backends\" entry is not an object");
    out.push_back({text(b, "backend", "?"), flag(b, "installed"), flag(b, "excluded"), text(b, "reason", "")});
  }
  return out;
}

}  // namespace

WorkerLine read_worker_line(const std::string& line) {
  WorkerLine out;
  json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object()) return out;  // not_protocol (a discarded parse reads as such too)
  try {
    out.event = text(event, "event", "");
    using K = WorkerLine::Kind;
    using protocol::Event;
    const auto kind = protocol::parse_event(out.event);
    if (!kind) {
      out.kind = K::unknown;
      return out;
    }
    switch (*kind) {
      case Event::hello: {
        out.kind = K::hello;
        const auto it = event.find("importing");
        out.importing = it != event.end() && it->is_array() && !it->empty();
        out.listed = listed(event);
        break;
      }
      case Event::import:
      case Event::warm:
      case Event::warmed:
        out.kind = *kind == Event::import ? K::import : *kind == Event::warm ? K::warm : K::warmed;
        out.backend = text(event, "backend", "?");
        break;
      case Event::backends:
        out.kind = K::backends;
        out.listed = listed(event);
        break;
      case Event::start:
      case Event::sample:
        out.kind = *kind == Event::start ? K::start : K::sample;
        out.backend = text(event, "backend", "");
        out.shape = text(event, "shape", "");
        break;
      case Event::result: {
        out.kind = K::result;
        out.result = event.get<Measurement>();
        const auto it = event.find("sm_clock_mhz");
        if (it != event.end() && it->is_number()) out.sm_clock_mhz = it->get<double>();
        break;
      }
      case Event::done:
        out.kind = K::done;
        break;
      case Event::fatal:
        out.kind = K::fatal;
        out.backend = text(event, "backend", "?");
        out.shape = text(event, "shape", "?");
        out.message = text(event, "message", "");
        break;
      case Event::error:
        out.kind = K::error;
        out.message = text(event, "message", line);
        break;
      case Event::paused:
      case Event::resumed:
        out.kind = *kind == Event::paused ? K::paused : K::resumed;
        out.message = text(event, "why", "");
        break;
    }
  } catch (const std::exception& e) {
    WorkerLine bad;
    bad.kind = WorkerLine::Kind::malformed;
    bad.event = out.event;
    bad.problem = e.what();
    return bad;
  }
  return out;
}

}  // namespace autotune
