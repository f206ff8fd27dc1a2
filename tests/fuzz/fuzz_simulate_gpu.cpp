// --simulate-gpu / AUTOTUNE_SIMULATE_GPU: a usage error is std::invalid_argument, nothing else.
#include <stdexcept>

#include "tests/fuzz/fuzz.h"
#include "common/gpu.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    for (const auto& g : autotune::parse_simulated_gpus(autotune::fuzz::text(data, size))) FUZZ_CHECK(!g.name.empty());
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
