// A lease file in the shared directory, written by another pod.
#include "cache/lease.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (const auto lease = autotune::parse_lease(autotune::fuzz::text(data, size))) (void)lease->describe();
  return 0;
}
