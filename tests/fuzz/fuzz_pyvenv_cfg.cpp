// pyvenv.cfg, as read_fingerprint reads it.
#include "tests/fuzz/fuzz.h"
#include "common/environment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string version = autotune::pyvenv_python_version(autotune::fuzz::text(data, size));
  FUZZ_CHECK(version.size() <= size);
  return 0;
}
