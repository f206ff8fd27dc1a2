// A line of the worker's stdout, as the tuning parent reads it: a process that any library
// prints into, and that may die mid-line. read_worker_line never throws.
#include "tests/fuzz/fuzz.h"
#include "boot/worker_line.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto line = autotune::read_worker_line(autotune::fuzz::text(data, size));
  if (line.kind == autotune::WorkerLine::Kind::result) FUZZ_CHECK(line.result.has_value());
  return 0;
}
