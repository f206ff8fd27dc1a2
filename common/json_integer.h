// An integer read from outside JSON (a worker's line, a job, an export, a lease, a catalogue).
// nlohmann's get<int>() casts a float or a too-large number, which is undefined behaviour for
// values out of range (UBSan, tests/fuzz/fuzz_workloads: "2.22222e+91 is outside the range of
// representable values of type 'int'"). This refuses them, naming the field and the value.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace autotune {

// Throws std::invalid_argument for a number that is not a whole number in Int's range, and
// nlohmann::json::type_error for a value that is not a number.
template <typename Int>
Int json_integer(const nlohmann::json& v, const std::string& field) {
  using L = std::numeric_limits<Int>;
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() <= static_cast<std::uint64_t>(L::max())) return static_cast<Int>(v.get<std::uint64_t>());
  } else if (v.is_number_integer()) {
    const std::int64_t x = v.get<std::int64_t>();
    if ((!L::is_signed && x >= 0 && static_cast<std::uint64_t>(x) <= static_cast<std::uint64_t>(L::max())) ||
        (L::is_signed && x >= static_cast<std::int64_t>(L::min()) && x <= static_cast<std::int64_t>(L::max())))
      return static_cast<Int>(x);
  } else if (v.is_number_float()) {
    const double x = v.get<double>();
    // L::max() + 1 is a power of two, exact as a double; max() itself may round up.
    const double limit = std::ldexp(1.0, L::digits);
    if (x == std::floor(x) && x >= static_cast<double>(L::min()) && x < limit) return static_cast<Int>(x);
  } else {
    return v.get<Int>();  // throws the type error
  }
  throw std::invalid_argument("field '" + field + "' must be an integer in range, not " + v.dump());
}

// The integer at `key`, `fallback` when absent or null.
template <typename Int>
Int json_integer(const nlohmann::json& j, const char* key, Int fallback) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : json_integer<Int>(*it, key);
}

}  // namespace autotune
