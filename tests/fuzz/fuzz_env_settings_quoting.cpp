// .env_settings values are single-quoted for a POSIX shell (shell_quote): whatever a reason or a
// path holds, the shell must read back exactly that one word. The reader below is the POSIX
// rule for the characters shell_quote emits: '...' is literal, \' outside quotes is a quote.
#include <optional>

#include "tests/fuzz/fuzz.h"
#include "common/text.h"

namespace {
std::optional<std::string> shell_word(const std::string& s) {
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '\'') quoted = false;
      else out += c;
    } else if (c == '\'') {
      quoted = true;
    } else if (c == '\\' && i + 1 < s.size() && s[i + 1] == '\'') {
      out += '\'';
      ++i;
    } else {
      return std::nullopt;  // an unquoted character: the shell would interpret it
    }
  }
  if (quoted) return std::nullopt;
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string value = autotune::fuzz::text(data, size);
  const auto back = shell_word(autotune::shell_quote(value));
  FUZZ_CHECK(back && *back == value);
  return 0;
}
