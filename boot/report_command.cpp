#include "report_command.h"

#include "cache/fleet.h"
#include "common/arch_table.h"
#include "boot/exit_codes.h"
#include "boot/report.h"
#include "boot/report_html.h"
#include "boot/tuning.h"
#include "common/text.h"

namespace autotune {

int report_command(const BootOptions& o, const std::vector<Workload>& workloads, const std::string& set,
                   const std::string& format, const PolicyOptions& policy, std::ostream& out, std::ostream& err) {
  const auto detection = detect_gpus(o.detect);
  if (detection.gpus.empty()) {
    err << "autotune --report: " << detection.message << "\n";
    return kConfigured;
  }
  const auto& gpu = detection.gpus.front();
  const auto fp = read_fingerprint(o.venv, o.comfyui);
  // This pod's file and the fleet's published ones, merged as a boot sees them.
  Cache::Opened opened;
  std::error_code ec;
  if (std::filesystem::exists(o.cache_path, ec)) opened = Cache::open(o.cache_path);
  std::vector<std::string> warnings = opened.warnings;
  const auto key = make_cache_key(gpu, fp, o.workloads_version, o.harness_version);
  const auto records = fleet_records(opened.cache.get(), o.shared_dir, warnings, key);
  for (const auto& w : warnings) err << "warning: " << w << "\n";
  std::vector<Measurement> rows;
  for (const auto& [id, record] : records.measurements)
    if (const auto v = backend_version(record.m.backend, fp); v.empty() || v == record.m.backend_version)
      rows.push_back(record.m);
  auto r = build_report(key, workloads, rows, comfyui_default(fp.installed("xformers")),
                        table_choice(&gpu, fp).mechanism, policy);
  r.python = fp.python_version;
  r.packages = fp.packages;
  r.workload_set = set;
  r.generated_at = utc_timestamp();
  if (format == "csv") out << render_csv(r);
  else if (format == "html") out << render_html(r);
  else if (format == "markdown") out << render_markdown(r);
  else if (format == "json") out << report_json(r).dump(2) << "\n";
  else out << render_text(r);
  return kConfigured;
}

}  // namespace autotune
