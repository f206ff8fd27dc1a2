// `autotune` and `autotune tune`: the boot (decide, then write the outputs), what it prints, and
// the compaction it leaves running after the pod can start ComfyUI.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "boot/boot.h"

namespace autotune {

// What the boot prints: the summary (or, quiet, only the warnings), and with json the document.
struct BootPrint {
  bool json = false;   // --json: the JSON document on stdout, the summary on stderr
  bool quiet = false;  // -q: no summary block, warnings only
};

// Runs run_boot(). stdout (`out`) carries the summary, or with print.json only the JSON
// document; everything else goes to `err`. Returns kConfigured when .env_settings was written,
// else kNotWritten. Throws std::invalid_argument for a malformed simulated-GPU spec.
int boot_command(const BootOptions& options, BootPrint print, std::ostream& out, std::ostream& err);

// `autotune --json`: the decision as written to the decision file (read back, so it is the same
// bytes' content), plus how long the boot took and what it wrote.
nlohmann::json boot_json_document(const BootResult& result, const BootOptions& options);

}  // namespace autotune
