// The decision file as C++ reads it: `autotune --json` reads the written file back (anything
// that is not a JSON object is replaced), and its routes are the form the cache stores and
// reads (decisions.routes). A bad route is a JSON error or std::invalid_argument (an integer out
// of range, common/json_integer.h), which the cache's readers catch; never a crash.
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cache/records.h"
#include "tests/fuzz/fuzz.h"
#include "common/decision.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto doc = nlohmann::json::parse(autotune::fuzz::text(data, size), nullptr, false);
  if (!doc.is_object()) return 0;
  try {
    autotune::Decision d;
    d.routes = doc.at("routes").get<std::vector<autotune::Route>>();
    (void)autotune::impossible(d);
    FUZZ_CHECK(nlohmann::json(d.routes).get<std::vector<autotune::Route>>().size() == d.routes.size());
  } catch (const nlohmann::json::exception&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
