// autotune's exit codes (README.md, "Exit codes"); `autotune cache ...` has its own (cache/commands.h).
#pragma once

namespace autotune {

constexpr int kConfigured = 0;
constexpr int kNotWritten = 1;  // a decision was made but .env_settings could not be written
constexpr int kUsage = 2;

}  // namespace autotune
