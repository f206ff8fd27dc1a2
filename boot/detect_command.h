// `autotune detect`: the GPUs as detected and the venv's fingerprint, as text or one JSON
// document, without deciding or writing anything.
#pragma once

#include <ostream>

#include "boot/boot.h"

namespace autotune {

// Returns kConfigured (also with no GPU). Fingerprint warnings go to `err`.
int detect_command(const BootOptions& options, bool json, std::ostream& out, std::ostream& err);

}  // namespace autotune
