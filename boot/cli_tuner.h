// The tuner the `autotune` command gives the boot: tune() with the worker beside autotune and a
// progress display on stderr (one status line on a terminal; with several GPU models tuning at
// once, plain lines tagged with the GPU).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "boot/boot.h"
#include "common/policy.h"
#include "common/workload.h"

namespace autotune {

struct CliTunerSettings {
  std::filesystem::path worker;        // autotune-bench
  std::vector<Workload> workloads;     // the set, and the recorded shapes it does not cover
  std::vector<std::string> backends;   // --backends; empty: all
  std::chrono::milliseconds budget{120000};
  PolicyOptions policy;                // quantized backends excluded, quality level, budgets
  std::filesystem::path local_dir;     // the pod's own directory: the worker logs go there
  // The decision file ComfyUI's node reads: its prompt marker beside it (common/prompt_marker.h)
  // pauses the tune while a prompt runs. Empty: the tune never pauses.
  std::filesystem::path decision_file;
  bool quiet = false;
};

// Sets options.tuner and options.on_groups (which tells the tuner whether several models tune at
// once, before any tuning starts).
void install_cli_tuner(BootOptions& options, CliTunerSettings settings);

}  // namespace autotune
