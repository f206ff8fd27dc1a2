// A workload catalogue file (workloads/*.json or --workloads): errors are std::runtime_error
// naming the file; whatever loads is valid (positive sizes, a layout).
#include <stdexcept>

#include "tests/fuzz/fuzz.h"
#include "common/workload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    for (const auto& w : autotune::parse_catalogue(autotune::fuzz::text(data, size), "fuzz.json"))
      FUZZ_CHECK(!w.id.empty() && w.batch > 0 && w.heads > 0 && w.head_dim > 0 && w.q_len > 0 && w.kv_len > 0 &&
                 w.calls_per_step > 0);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
