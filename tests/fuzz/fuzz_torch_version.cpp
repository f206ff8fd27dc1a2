// torch/version.py: `__version__` and `cuda`, read without importing torch.
#include "tests/fuzz/fuzz.h"
#include "common/environment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = autotune::fuzz::text(data, size);
  for (const char* name : {"__version__", "cuda"})
    if (const auto v = autotune::python_assignment(text, name)) FUZZ_CHECK(v->size() <= size);
  return 0;
}
