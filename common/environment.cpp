#include "environment.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/text.h"

namespace autotune {
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}


// "python3.12" -> {3, 12}; compared as numbers, since "python3.9" sorts after "python3.12" as text.
std::vector<long long> python_folder_version(const std::string& folder) {
  std::vector<long long> out;
  for (std::string_view part : split(std::string_view(folder).substr(6), '.')) out.push_back(parse_int(part).value_or(-1));
  return out;
}

// lib/python3.X/site-packages, or lib64/...; the newest if there are several.
fs::path find_site_packages(const fs::path& venv) {
  fs::path best;
  for (const char* lib : {"lib", "lib64"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(venv / lib, ec)) {
      const std::string name = entry.path().filename().string();
      if (starts_with(name, "python") && fs::is_directory(entry.path() / "site-packages", ec) &&
          (best.empty() ||
           python_folder_version(name) > python_folder_version(best.parent_path().filename().string())))
        best = entry.path() / "site-packages";
    }
    if (!best.empty()) return best;
  }
  return best;
}

}  // namespace

std::string metadata_field(const std::string& text, std::string_view key) {
  for (std::string_view line : split(text, '\n')) {
    if (trim(line).empty()) break;  // headers end at the first blank line
    if (starts_with(line, key) && line.size() > key.size() && line[key.size()] == ':')
      return std::string(trim(line.substr(key.size() + 1)));
  }
  return {};
}

std::string pyvenv_python_version(const std::string& text) {
  for (std::string_view line : split(text, '\n')) {
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string key(trim(line.substr(0, eq)));
    std::string value(trim(line.substr(eq + 1)));
    // venv writes `version`, uv and virtualenv write `version_info` (3.12.3.final.0).
    if (key == "version" || key == "version_info") {
      const auto parts = split(value, '.');
      if (parts.size() >= 3) return std::string(parts[0]) + "." + std::string(parts[1]) + "." + std::string(parts[2]);
      return value;
    }
  }
  return {};
}

std::string normalise_package(const std::string& name) {
  std::string out;
  for (char c : lower(name)) {
    const bool sep = c == '-' || c == '_' || c == '.';
    if (sep) {
      if (out.empty() || out.back() != '_') out += '_';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> python_assignment(const std::string& source, const std::string& name) {
  for (std::string_view line : split(source, '\n')) {
    line = trim(line);
    if (!starts_with(line, name)) continue;
    std::string_view rest = trim(line.substr(name.size()));
    if (!rest.empty() && rest.front() == ':') {  // annotated: `cuda: Optional[str] = '13.0'`
      const auto eq = rest.find('=');
      if (eq == std::string_view::npos) continue;
      rest = rest.substr(eq);
    }
    if (rest.empty() || rest.front() != '=') continue;
    rest = trim(rest.substr(1));
    if (rest.size() >= 2 && (rest.front() == '\'' || rest.front() == '"')) {
      const auto close = rest.find(rest.front(), 1);
      if (close != std::string_view::npos) return std::string(rest.substr(1, close - 1));
    }
    return std::nullopt;  // None or an expression
  }
  return std::nullopt;
}

Fingerprint read_fingerprint(const fs::path& venv, const fs::path& comfyui) {
  Fingerprint fp;
  fp.venv = venv;
  if (!comfyui.empty()) {
    std::string why;
    fp.comfyui_sdpa = read_comfyui_sdpa(comfyui.string(), &why);
    if (!fp.comfyui_sdpa)
      fp.warnings.push_back(why + "; ComfyUI's PyTorch path is assumed to run " + comfyui_a125cd84_sdpa().signature());
  }
  std::error_code ec;
  if (!fs::is_directory(venv, ec)) {
    fp.warnings.push_back("ComfyUI venv " + venv.string() + " does not exist; no backends known");
    return fp;
  }
  fp.site_packages = find_site_packages(venv);
  if (fp.site_packages.empty()) {
    fp.warnings.push_back("no lib/python*/site-packages under " + venv.string() + "; no backends known");
    return fp;
  }
  fp.python_version = pyvenv_python_version(read_file(venv / "pyvenv.cfg"));
  if (fp.python_version.empty()) fp.python_version = fp.site_packages.parent_path().filename().string().substr(6);

  for (const auto& entry : fs::directory_iterator(fp.site_packages, ec)) {
    const std::string file = entry.path().filename().string();
    std::string metadata;
    if (file.size() > 10 && file.compare(file.size() - 10, 10, ".dist-info") == 0)
      metadata = read_file(entry.path() / "METADATA");
    else if (file.size() > 9 && file.compare(file.size() - 9, 9, ".egg-info") == 0)
      metadata = read_file(fs::is_directory(entry.path()) ? entry.path() / "PKG-INFO" : entry.path());
    else
      continue;
    const std::string name = normalise_package(metadata_field(metadata, "Name"));
    const std::string version = metadata_field(metadata, "Version");
    if (std::find(kTrackedPackages.begin(), kTrackedPackages.end(), name) == kTrackedPackages.end()) continue;
    if (version.empty()) {
      fp.warnings.push_back("metadata of " + file + " has no Version; ignoring it");
      continue;
    }
    fp.packages[name] = version;
  }

  // FA3 built from its sources can leave only the module, with no metadata of its own.
  if (!fp.installed("flash_attn_3") && (fs::exists(fp.site_packages / "flash_attn_interface.py", ec) ||
                                        fs::is_directory(fp.site_packages / "flash_attn_3", ec)))
    fp.packages["flash_attn_3"] = "unknown";

  const std::string version_py = read_file(fp.site_packages / "torch" / "version.py");
  if (!version_py.empty()) {
    fp.torch_version = python_assignment(version_py, "__version__").value_or("");
    fp.torch_cuda = python_assignment(version_py, "cuda").value_or("");
  }
  if (fp.torch_version.empty() && fp.installed("torch")) fp.torch_version = fp.packages["torch"];
  if (!fp.torch_version.empty()) fp.packages["torch"] = fp.torch_version;
  if (fp.torch_version.empty())
    fp.warnings.push_back("torch is not installed in " + fp.site_packages.string() + "; ComfyUI cannot run there");
  return fp;
}

}  // namespace autotune
