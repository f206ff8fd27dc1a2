// `autotune cache import FILE`: an export from another machine. A bad document is
// std::invalid_argument; a bad record is left out with a warning; what is kept is possible.
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cache/records.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto doc = nlohmann::json::parse(autotune::fuzz::text(data, size), nullptr, false);
  if (doc.is_discarded()) return 0;
  std::vector<std::string> warnings;
  try {
    const autotune::RecordSet records = autotune::from_export_json(doc, warnings);
    for (const auto& [id, r] : records.measurements) FUZZ_CHECK(!autotune::impossible(r.m));
    for (const auto& [id, r] : records.decisions) FUZZ_CHECK(!autotune::impossible(r.decision));
    // What was read writes out and reads back the same.
    std::vector<std::string> again;
    const autotune::RecordSet back = autotune::from_export_json(autotune::to_export_json(records), again);
    FUZZ_CHECK(again.empty() && back.size() == records.size());
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
