// autotune: configures ComfyUI's attention at pod start. Parses the command line into options and
// dispatches to a command: the boot (boot_command.h), detect, report, cache.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cache/commands.h"
#include "boot/boot.h"
#include "boot/boot_command.h"
#include "boot/cli_tuner.h"
#include "boot/detect_command.h"
#include "boot/exit_codes.h"
#include "boot/report_command.h"
#include "boot/tuning.h"
#include "common/quality.h"
#include "common/seen_shapes.h"
#include "common/workload.h"

namespace {

using autotune::kUsage;

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

std::filesystem::path self_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : exe.parent_path();
}

// The first of `candidates` that exists, or empty.
std::filesystem::path first_existing(const std::vector<std::filesystem::path>& candidates) {
  std::error_code ec;
  for (const auto& c : candidates)
    if (!c.empty() && std::filesystem::exists(c, ec)) return c;
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"autotune: picks the fastest attention backend for ComfyUI on this GPU and configures it.\n"
               "Without a subcommand it runs the boot flow: detect the GPU, fingerprint the ComfyUI venv,\n"
               "honour COMFYUI_ATTENTION_MECHANISM, use a cached tuning result or the static table, and write\n"
               ".env_settings and the decision file."};
  autotune::BootOptions o;
  std::string venv = "/workspace/venv";
  std::string comfyui;
  std::string cache_dir = "/workspace/.autotune";
  std::string local_dir = "/var/tmp/comfyui-attention-autotune";
  double wait_for_fleet_s = 30;
  std::string env_settings, decision_file, simulate;
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string worker, workloads_dir, workload_set = "default", format = "text";
  std::vector<std::string> backends;
  double budget_s = 120;
  bool want_report = false, quiet = false, json = false, boot_json = false, no_tune = false, exclude_quantized = false;

  app.add_option("--venv", venv, "ComfyUI virtual environment to fingerprint")->envname("AUTOTUNE_VENV")->capture_default_str();
  app.add_option("--comfyui", comfyui,
                 "ComfyUI folder whose comfy/ops.py says which SDPA kernels its PyTorch path runs "
                 "[unset: ComfyUI a125cd84's cuDNN-first order is assumed]")
      ->envname("AUTOTUNE_COMFYUI_DIR");
  app.add_option("--cache-dir", cache_dir, "Directory of the measurement cache")->envname("AUTOTUNE_CACHE_DIR")->capture_default_str();
  app.add_option("--local-dir", local_dir,
                 "This pod's own cache directory, on local disk, never on a network volume (cache/README.md)")
      ->envname("AUTOTUNE_LOCAL_DIR")->capture_default_str();
  app.add_option("--wait-for-fleet", wait_for_fleet_s,
                 "Seconds to wait for another pod that is tuning the same GPU and software before the static table "
                 "decides (0: do not wait)")
      ->envname("AUTOTUNE_WAIT_FOR_FLEET")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--env-settings", env_settings, "Where to write the shell settings [default: <venv>/.env_settings]")
      ->envname("AUTOTUNE_ENV_SETTINGS");
  app.add_option("--decision-file", decision_file,
                 "Where to write the JSON decision [default: <venv>/.attention_decision.json]");
  app.add_option("--simulate-gpu", simulate,
                 "Pretend this GPU is present, e.g. 'name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04'")
      ->envname("AUTOTUNE_SIMULATE_GPU");
  app.add_option("--nvml-library", nvml_library, "NVML library to load")->envname("AUTOTUNE_NVML_LIBRARY")->capture_default_str();
  app.add_option("--worker", worker, "Benchmark worker [default: autotune-bench beside this program]")
      ->envname("AUTOTUNE_WORKER");
  app.add_option("--workloads", workloads_dir, "Workload catalogue, a directory or file [default: the installed workloads/]")
      ->envname("AUTOTUNE_WORKLOADS");
  app.add_option("--set", workload_set, "Workload set to tune")->envname("AUTOTUNE_SET")->capture_default_str();
  app.add_option("--backends", backends, "Only these benchmark adapters (e.g. sdpa_cudnn,flash3) [default: all]")
      ->delimiter(',');
  app.add_option("--budget", budget_s, "Seconds tuning may take before the static table decides")
      ->envname("AUTOTUNE_BUDGET")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--no-tune", no_tune, "Never start the worker: cache or static table only");
  app.add_flag("--exclude-quantized", exclude_quantized, "Never pick 8-bit backends (sage)")
      ->envname("AUTOTUNE_EXCLUDE_QUANTIZED");
  std::string quality = "balanced";
  app.add_option("--quality", quality,
                 "exact: never 8-bit; balanced: 8-bit within each model family's error budget "
                 "(workloads/*.json \"quality\"), exact on the first and last steps; fast: 8-bit within a loose bound")
      ->envname("AUTOTUNE_QUALITY")
      ->check(CLI::IsMember({"exact", "balanced", "fast"}));
  // One variable for both sides: the node reads it too, over the decision's count
  // (comfyui_node/decision.py EXACT_STEPS_ENV).
  int exact_steps = autotune::QualityBudgets{}.exact_steps;
  app.add_option("--exact-steps", exact_steps,
                 "balanced: exact attention on this many first and last sampling steps (0: none)")
      ->envname("AUTOTUNE_EXACT_STEPS")
      ->check(CLI::Range(0, autotune::kMaxExactSteps));
  app.add_flag("--report", want_report, "Show what the cache holds for this GPU and software, then exit");
  app.add_option("--format", format, "Report format")
      ->check(CLI::IsMember({"text", "csv", "markdown", "json", "html"}))
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "Print warnings only: no progress, no summary block");
  app.add_flag("--json", boot_json,
               "Print one JSON document on stdout (the decision file's content plus boot_ms and written); "
               "logs go to stderr. With --report: the same as --format json");
  bool seen = false;
  std::string seen_file;
  app.add_flag("--seen", seen,
               "Also tune the shapes the ComfyUI node recorded (beside the decision file) that no measured shape "
               "covers; only what is missing is measured");
  app.add_option("--seen-file", seen_file, "Recorded shapes [default: the decision file's name with .seen.json]");
  auto* tune_cmd = app.add_subcommand("tune", "The boot flow; with --seen, the recorded shapes too (for the "
                                              "background, e.g. from pod_start.sh)");
  tune_cmd->add_flag("--seen", seen, "Also tune the shapes the ComfyUI node recorded");
  tune_cmd->fallthrough();
  auto* detect_cmd = app.add_subcommand("detect", "Show the GPUs and the venv's attention libraries, then exit");
  detect_cmd->add_flag("--json", json, "Print one JSON document");
  detect_cmd->fallthrough();  // `autotune detect --venv X --simulate-gpu Y`: the boot's options apply
  detect_cmd->footer("Takes autotune's --venv, --simulate-gpu and --nvml-library (and their AUTOTUNE_* variables)\n"
                     "and honours CUDA_VISIBLE_DEVICES. Exit codes: 0 printed (also with no GPU), 2 usage error.");
  // `autotune cache ...`: cache/commands.h; exit codes there (0 done, 1 problems found, 2 usage).
  auto* cache_cmd = app.add_subcommand("cache", "Inspect and maintain the cache (cache/README.md)")->require_subcommand(1);
  std::string cache_key, cache_file = "-";
  int prune_min_age_s = 3600;
  bool prune_dry_run = false;
  auto* cache_list = cache_cmd->add_subcommand("list", "Keys in the cache (this pod's and the fleet's), with counts");
  cache_list->add_flag("--json", json, "Print one JSON document");
  auto* cache_show = cache_cmd->add_subcommand("show", "Records of one key [default: this GPU and venv]");
  cache_show->add_option("--key", cache_key, "Key hash (or a prefix) from `autotune cache list`");
  cache_show->add_flag("--json", json, "Print the records as an export document");
  auto* cache_verify = cache_cmd->add_subcommand("verify", "Check every file under the cache dirs; set aside what is damaged");
  cache_verify->add_flag("--json", json, "Print one JSON document");
  auto* cache_prune = cache_cmd->add_subcommand("prune", "Compact each key's published files into one; remove old temporaries and leases");
  cache_prune->add_option("--min-age", prune_min_age_s, "Seconds a temporary or an expired lease must be old to go")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cache_prune->add_flag("--dry-run", prune_dry_run, "Say what would be removed; change nothing");
  auto* cache_export = cache_cmd->add_subcommand("export", "Write every record (merged) as JSON");
  cache_export->add_option("-o,--output", cache_file, "File to write ('-': stdout)")->capture_default_str();
  auto* cache_import = cache_cmd->add_subcommand("import", "Read an export into this pod's cache and publish it to the fleet");
  cache_import->add_option("file", cache_file, "Export document ('-': stdin)")->required();
  // The top-level options (--cache-dir, --local-dir, --simulate-gpu, ...) may follow the subcommand.
  cache_cmd->fallthrough();
  for (auto* sub : {cache_list, cache_show, cache_verify, cache_prune, cache_export, cache_import}) sub->fallthrough();
  app.footer("Environment: COMFYUI_ATTENTION_MECHANISM=" + autotune::mechanism_names("|") +
             "|auto overrides the choice; CUDA_VISIBLE_DEVICES is honoured.\n"
             "Progress: one updating line while tuning when stderr is a terminal, plain lines otherwise.\n"
             "\n"
             "Exit codes (README.md, Exit codes):\n"
             "  0  configured: .env_settings and the decision file were written. Also when no usable GPU\n"
             "     was found or tuning could not finish and the static table decided: ComfyUI is set up\n"
             "     either way; the decision's \"source\" (see --json) says cache, tuning, table or override.\n"
             "     --report, detect: the report or listing was printed.\n"
             "  1  a decision was made but .env_settings could not be written (read-only venv, full disk).\n"
             "  2  usage error: unknown flag or subcommand, bad --format, bad --simulate-gpu, unknown --set,\n"
             "     unreadable --workloads, missing --worker. Nothing was written.\n"
             "  autotune cache ...: 0 done, 1 problems found, 2 usage error.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }

  o.venv = venv;
  o.comfyui = comfyui;
  o.cache_path = std::filesystem::path(local_dir) / "cache.sqlite";
  o.shared_dir = cache_dir;
  o.wait_for_fleet = std::chrono::milliseconds(static_cast<long long>(wait_for_fleet_s * 1000));
  o.env_settings = env_settings;
  o.decision_file = decision_file;
  if (!simulate.empty()) o.detect.simulate = simulate;
  o.detect.nvml_library = nvml_library;
  o.detect.cuda_visible_devices = env("CUDA_VISIBLE_DEVICES");
  o.override_value = env("COMFYUI_ATTENTION_MECHANISM");
  o.written_marker = env("AUTOTUNE_WRITTEN_MECHANISM");
  o.harness_version = autotune::kHarnessVersion;

  // Workloads: needed for the cache key even on a cache hit (editing a shape re-tunes).
  const std::filesystem::path catalogue =
      workloads_dir.empty() ? first_existing({self_dir() / "../share/comfyui-attention-autotune/workloads",
                                              std::filesystem::path(AUTOTUNE_SOURCE_DIR) / "workloads"})
                            : std::filesystem::path(workloads_dir);
  std::vector<autotune::Workload> workloads;
  autotune::QualityBudgets budgets;
  const autotune::Quality quality_level = autotune::parse_quality(quality);
  std::string tuning_off;
  try {
    workloads = autotune::load_workloads(catalogue.string(), workload_set);
    budgets = autotune::load_quality_budgets(catalogue.string());
    budgets.exact_steps = exact_steps;
    o.workloads_version = autotune::catalogue_version(workloads);
  } catch (const std::exception& e) {
    if (!workloads_dir.empty() || workload_set != "default") {  // what the user named is wrong
      std::cerr << "autotune: " << e.what() << "\n";
      return kUsage;
    }
    tuning_off = std::string("no workload catalogue: ") + e.what();
    o.workloads_version = "none";
  }
  if (seen) {
    // Outside input: a bad file costs its shapes (warnings), never the boot.
    const auto path = seen_file.empty() ? autotune::seen_shapes_path(autotune::decision_file_path(o))
                                        : std::filesystem::path(seen_file);
    auto read = autotune::read_seen_shapes(path);
    for (const auto& w : read.warnings) std::cerr << "warning: " << w << "\n";
    o.seen_workloads = autotune::seen_workloads(workloads, read.shapes);
    if (!quiet && !read.shapes.empty())
      std::cerr << "autotune: " << read.shapes.size() << " shape(s) recorded in " << path.string() << ", "
                << o.seen_workloads.size() << " not covered by the workload set\n";
    workloads.insert(workloads.end(), o.seen_workloads.begin(), o.seen_workloads.end());
  }
  autotune::PolicyOptions policy;
  policy.exclude_quantized = exclude_quantized;
  policy.quality = quality_level;
  policy.budgets = budgets;
  o.policy = policy.signature();
  const std::filesystem::path worker_path =
      worker.empty() ? first_existing({self_dir() / "autotune-bench", self_dir() / "../worker/autotune-bench"})
                     : std::filesystem::path(worker);
  if (!worker.empty() && !std::filesystem::exists(worker_path)) {
    std::cerr << "autotune: --worker " << worker << " does not exist\n";
    return kUsage;
  }
  if (worker_path.empty()) tuning_off = "the benchmark worker autotune-bench is not installed beside autotune";
  if (no_tune) tuning_off = "tuning is off (--no-tune)";
  if (tuning_off.empty()) {
    autotune::CliTunerSettings t;
    t.worker = worker_path;
    t.workloads = workloads;
    t.backends = backends;
    t.budget = std::chrono::milliseconds(static_cast<long long>(budget_s * 1000));
    t.policy = policy;
    t.local_dir = local_dir;
    t.decision_file = autotune::decision_file_path(o);
    t.quiet = quiet;
    autotune::install_cli_tuner(o, std::move(t));
  } else {
    o.tuning_off_reason = tuning_off;
  }

  try {
    if (*detect_cmd) return autotune::detect_command(o, json, std::cout, std::cerr);
    if (*cache_cmd) {
      const autotune::CacheCommandContext c{o.shared_dir, o.cache_path, std::cout, std::cerr};
      if (*cache_list) return autotune::cache_list(c, json);
      if (*cache_verify) return autotune::cache_verify(c, json);
      if (*cache_prune) return autotune::cache_prune(c, std::chrono::seconds(prune_min_age_s), prune_dry_run);
      if (*cache_export) return autotune::cache_export(c, cache_file);
      if (*cache_import) return autotune::cache_import(c, cache_file);
      std::optional<autotune::CacheKey> current;
      if (cache_key.empty()) {
        const auto detection = autotune::detect_gpus(o.detect);
        if (!detection.gpus.empty())
          current = autotune::make_cache_key(detection.gpus.front(), autotune::read_fingerprint(o.venv, o.comfyui),
                                             o.workloads_version, o.harness_version);
      }
      return autotune::cache_show(c, cache_key, current, json);
    }
    if (want_report)
      return autotune::report_command(o, workloads, workload_set, boot_json ? "json" : format, policy, std::cout,
                                      std::cerr);
    return autotune::boot_command(o, {boot_json, quiet}, std::cout, std::cerr);
  } catch (const std::invalid_argument& e) {
    std::cerr << "autotune: " << e.what() << "\n";
    return kUsage;
  }
}
