// The worker's job, one JSON line on its stdin, as autotune-bench reads it: a bad job is
// std::invalid_argument (the worker answers with an "error" event) or a JSON error.
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz.h"
#include "worker/job.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto doc = nlohmann::json::parse(autotune::fuzz::text(data, size), nullptr, false);
  if (doc.is_discarded()) return 0;
  try {
    const auto job = autotune::bench::parse_job(doc);
    FUZZ_CHECK(job.protocol == autotune::bench::kProtocolVersion);
  } catch (const std::invalid_argument&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
