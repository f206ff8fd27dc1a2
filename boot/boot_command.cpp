#include "boot_command.h"

#include <algorithm>
#include <fstream>

#include "cache/fleet.h"
#include "boot/exit_codes.h"
#include "boot/outputs.h"

namespace autotune {

nlohmann::json boot_json_document(const BootResult& result, const BootOptions& o) {
  nlohmann::json doc;
  const auto decision_file = decision_file_path(o);
  if (std::find(result.written.begin(), result.written.end(), decision_file) != result.written.end()) {
    std::ifstream in(decision_file);
    doc = nlohmann::json::parse(in, nullptr, false);
  }
  if (!doc.is_object()) doc = decision_json(result);
  doc["boot_ms"] = result.elapsed_ms;
  nlohmann::json written = nlohmann::json::array();
  for (const auto& p : result.written) written.push_back(p.string());
  doc["written"] = written;
  return doc;
}

int boot_command(const BootOptions& o, BootPrint print, std::ostream& out, std::ostream& err) {
  const auto result = run_boot(o);
  if (print.json) out << boot_json_document(result, o).dump(2) << "\n" << std::flush;
  if (!print.quiet) (print.json ? err : out) << render_summary(result) << std::flush;
  else
    for (const auto& w : result.warnings) err << "warning: " << w << "\n";
  // After the outputs and the summary: the pod starts ComfyUI without waiting for this.
  out.flush();
  err.flush();
  if (!compact_detached(o.shared_dir, result.compact))
    err << "warning: could not start compacting the published files in " << o.shared_dir.string()
        << "; `autotune cache prune` will\n";
  const bool settings_written =
      std::find(result.written.begin(), result.written.end(), env_settings_path(o)) != result.written.end();
  return settings_written ? kConfigured : kNotWritten;
}

}  // namespace autotune
