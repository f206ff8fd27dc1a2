// Shared by the libFuzzer targets (tests/fuzz/README.md): each parses one kind of outside input.
// A target fails (abort) when a parser throws what its contract does not allow, or breaks a
// property the target checks; ASan and UBSan catch the rest.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace autotune::fuzz {
inline std::string text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }
}  // namespace autotune::fuzz

#define FUZZ_CHECK(cond)                                                           \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)
