// A *.dist-info/METADATA or *.egg-info/PKG-INFO file: the Name and Version headers.
#include "tests/fuzz/fuzz.h"
#include "common/environment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = autotune::fuzz::text(data, size);
  const std::string name = autotune::normalise_package(autotune::metadata_field(text, "Name"));
  const std::string version = autotune::metadata_field(text, "Version");
  FUZZ_CHECK(name.size() <= size && version.size() <= size);
  return 0;
}
