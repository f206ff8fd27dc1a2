// Small string helpers shared by the parsers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autotune {

std::string_view trim(std::string_view s);
std::string lower(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
std::vector<std::string_view> split(std::string_view s, char separator);
// Whole string must be a base-10 integer.
std::optional<long long> parse_int(std::string_view s);
// Quotes for a POSIX shell: 'it'\''s'.
std::string shell_quote(std::string_view s);
// One number through a printf format: format_number("%.3f ms", 0.4162) == "0.416 ms".
std::string format_number(const char* format, double v);
// "2026-11-25T12:00:00Z", UTC, now.
std::string utc_timestamp();

}  // namespace autotune
