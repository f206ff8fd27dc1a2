// One line of the worker's standard output, as the parent reads it. The worker's stdout is shared
// with every library it imports, and a crashing process may print anything, so a line is outside
// input: reading one never throws, and whatever is not a well-formed event says why.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/measurement.h"

namespace autotune {

struct WorkerLine {
  enum class Kind {
    not_protocol,  // not a JSON object: a library printed to stdout
    malformed,     // a JSON object whose fields have the wrong types; `problem` says which
    unknown,       // an event this parent does not know (a newer worker): ignored
    hello, import, backends, start, sample, result, done, fatal, error,
    warm,    // a Python backend's warm-up call begins, beside the native measurements
    warmed,  // and ended
    paused,   // it waits while a ComfyUI prompt runs (`message`: why)
    resumed,  // and goes on (`message`: why)
  };
  struct Backend {  // an entry of hello's or backends' "backends" list
    std::string id;
    bool installed = false;
    bool excluded = false;
    std::string reason;
  };
  Kind kind = Kind::not_protocol;
  std::string event;                  // the "event" field when it is a string, also when malformed
  std::string backend, shape;         // import, warm, warmed, start, sample, fatal
  std::string message;                // fatal, error; paused, resumed: why
  std::vector<Backend> listed;        // hello, backends
  bool importing = false;             // hello: its Python backends are still importing
  std::optional<Measurement> result;  // result
  double sm_clock_mhz = 0;            // result: the worker's SM clock, 0 when unknown
  std::string problem;                // malformed: what is wrong
};

WorkerLine read_worker_line(const std::string& line);

}  // namespace autotune
