// The ComfyUI virtual environment's fingerprint, read from its files. Importing torch to ask
// would take 4-6 s on the H100 machine (DESIGN.md); reading a few metadata files takes
// well under a millisecond.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/comfyui_sdpa.h"

namespace autotune {

// The distributions that matter for attention, by their normalised distribution names.
// flash_attn_3 also stands for a bare flash_attn_interface module (FA3 built from source).
inline const std::vector<std::string> kTrackedPackages{
    "torch", "flash_attn", "flash_attn_3", "sageattention", "xformers", "triton"};

struct Fingerprint {
  std::filesystem::path venv;
  std::filesystem::path site_packages;  // empty when not found
  std::string python_version;           // "3.12.3", or "3.12" from the lib folder name
  std::string torch_version;            // "2.11.0+cu130"
  std::string torch_cuda;               // "13.0"; empty for a CPU build
  std::map<std::string, std::string> packages;  // installed tracked packages -> version
  // What the installed ComfyUI's PyTorch path runs (comfyui_sdpa.h); nullopt where no ComfyUI
  // folder was given or its comfy/ops.py could not be read (a warning says which).
  std::optional<ComfySdpa> comfyui_sdpa;
  std::vector<std::string> warnings;

  bool installed(const std::string& package) const { return packages.count(package) != 0; }
};

// Never throws: a missing or odd venv yields a fingerprint with warnings saying what was missing.
// `comfyui`: the ComfyUI folder whose comfy/ops.py says what its PyTorch path runs; empty: none.
Fingerprint read_fingerprint(const std::filesystem::path& venv, const std::filesystem::path& comfyui = {});

// Parses torch/version.py: `__version__ = '2.11.0+cu130'` and `cuda: Optional[str] = '13.0'`
// (or `cuda = None`). Returns the value of `name`, or nullopt.
std::optional<std::string> python_assignment(const std::string& source, const std::string& name);

// The venv's files as text, each parsed on its own (read_fingerprint reads the files; these are
// the parsers, outside input, fuzzed by tests/fuzz):
// pyvenv.cfg's Python version, "3.12.3" from `version = 3.12.3` (venv) or `version_info =
// 3.12.3.final.0` (uv, virtualenv); empty when neither is there.
std::string pyvenv_python_version(const std::string& pyvenv_cfg);
// The value of a "Key: value" header of a METADATA / PKG-INFO file; empty when absent.
std::string metadata_field(const std::string& metadata, std::string_view key);

// Distribution name normalised the way PEP 503/427 do for file names: lower case, runs of
// '-', '_' and '.' become '_'. "Flash-Attn" -> "flash_attn".
std::string normalise_package(const std::string& name);

}  // namespace autotune
