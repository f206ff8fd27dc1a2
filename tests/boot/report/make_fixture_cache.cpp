// make_fixture_cache CACHE_FILE [SET]: writes the H100 FIXTURE (tests/boot/report/fixture.h; synthetic,
// not measured) into a cache file, so `autotune --report` can be run on it by scripts and tests.
#include <iostream>

#include "tests/boot/report/fixture.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: make_fixture_cache CACHE_FILE [SET]\n";
    return 2;
  }
  try {
    autotune::fixture::write_h100_cache(argv[1], argc == 3 ? argv[2] : "default");
  } catch (const std::exception& e) {
    std::cerr << "make_fixture_cache: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
