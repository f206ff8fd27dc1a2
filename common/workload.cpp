#include "workload.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <type_traits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

namespace autotune {
namespace fs = std::filesystem;

std::string_view to_string(Layout l) {
  switch (l) {
    case Layout::bhld: return "bhld";
    case Layout::blhd_flat: return "blhd_flat";
  }
  throw std::logic_error("Layout value out of range");
}

Layout parse_layout(std::string_view s) {
  if (s == "bhld") return Layout::bhld;
  if (s == "blhd_flat") return Layout::blhd_flat;
  throw std::invalid_argument("unknown layout '" + std::string(s) +
                              "' (expected one of: bhld, blhd_flat)");
}

double Workload::flops() const {
  return 4.0 * batch * heads * static_cast<double>(q_len) * static_cast<double>(kv_len) * head_dim;
}

bool Workload::in_set(std::string_view set) const {
  return std::find(sets.begin(), sets.end(), set) != sets.end();
}

void to_json(nlohmann::json& j, const Workload& w) {
  j = nlohmann::json{{"id", w.id},
                     {"model", w.model},
                     {"family", w.family},
                     {"sets", w.sets},
                     {"batch", w.batch},
                     {"heads", w.heads},
                     {"head_dim", w.head_dim},
                     {"q_len", w.q_len},
                     {"kv_len", w.kv_len},
                     {"layout", std::string(to_string(w.layout))},
                     {"calls_per_step", w.calls_per_step}};
  if (!w.source.empty()) j["source"] = w.source;
}

namespace {
std::string where(const nlohmann::json& j) {
  if (j.is_object() && j.contains("id") && j["id"].is_string())
    return "workload '" + j["id"].get<std::string>() + "'";
  return "workload";
}

template <typename T>
T get_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) throw std::invalid_argument(where(j) + ": missing field '" + key + "'");
  try {
    if constexpr (std::is_integral_v<T>) return json_integer<T>(j.at(key), key);
    else return j.at(key).get<T>();
  } catch (const std::exception&) {
    throw std::invalid_argument(where(j) + ": field '" + key + "' has the wrong type (" +
                                j.at(key).dump() + ")");
  }
}

template <typename T>
void require_positive(const nlohmann::json& j, const char* key, T value) {
  if (value <= 0)
    throw std::invalid_argument(where(j) + ": field '" + key + "' must be positive, got " +
                                std::to_string(value));
}
}  // namespace

void from_json(const nlohmann::json& j, Workload& w) {
  if (!j.is_object()) throw std::invalid_argument("workload must be a JSON object, got " + j.dump());
  w.id = get_field<std::string>(j, "id");
  if (w.id.empty()) throw std::invalid_argument("workload: field 'id' is empty");
  w.model = j.value("model", "");
  w.family = j.value("family", "");
  w.sets = get_field<std::vector<std::string>>(j, "sets");
  w.batch = get_field<int>(j, "batch");
  w.heads = get_field<int>(j, "heads");
  w.head_dim = get_field<int>(j, "head_dim");
  w.q_len = get_field<std::int64_t>(j, "q_len");
  w.kv_len = get_field<std::int64_t>(j, "kv_len");
  w.calls_per_step = get_field<int>(j, "calls_per_step");
  require_positive(j, "batch", w.batch);
  require_positive(j, "heads", w.heads);
  require_positive(j, "head_dim", w.head_dim);
  require_positive(j, "q_len", w.q_len);
  require_positive(j, "kv_len", w.kv_len);
  require_positive(j, "calls_per_step", w.calls_per_step);
  try {
    w.layout = parse_layout(get_field<std::string>(j, "layout"));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where(j) + ": field 'layout': " + e.what());
  }
  w.source = j.value("source", "");
}

namespace {
std::vector<Workload> load_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read workload file " + path.string());
  return parse_catalogue(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
                         path.string());
}
}  // namespace

std::vector<Workload> parse_catalogue(const std::string& text, const std::string& name) {
  const fs::path path(name);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": not valid JSON: " + e.what());
  }
  const nlohmann::json* list = &doc;
  if (doc.is_object()) {
    if (!doc.contains("workloads"))
      throw std::runtime_error(path.string() + ": expected an array or an object with 'workloads'");
    list = &doc["workloads"];
  }
  if (!list->is_array())
    throw std::runtime_error(path.string() + ": 'workloads' must be an array");
  std::vector<Workload> out;
  for (const auto& item : *list) {
    try {
      out.push_back(item.get<Workload>());
    } catch (const std::exception& e) {
      throw std::runtime_error(path.string() + ": " + e.what());
    }
  }
  return out;
}

std::vector<fs::path> catalogue_files(const std::string& dir_or_file) {
  fs::path root(dir_or_file);
  std::vector<fs::path> files;
  if (fs::is_directory(root)) {
    for (const auto& entry : fs::directory_iterator(root))
      if (entry.is_regular_file() && entry.path().extension() == ".json")
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw std::runtime_error("no *.json workload files in " + root.string());
  } else if (fs::is_regular_file(root)) {
    files.push_back(root);
  } else {
    throw std::runtime_error("workload catalogue not found: " + root.string());
  }
  return files;
}

std::vector<Workload> load_catalogue(const std::string& dir_or_file) {
  std::vector<Workload> all;
  std::map<std::string, std::string> seen;  // id -> file
  for (const auto& file : catalogue_files(dir_or_file)) {
    for (auto& w : load_file(file)) {
      auto [it, fresh] = seen.emplace(w.id, file.string());
      if (!fresh)
        throw std::runtime_error(file.string() + ": duplicate workload id '" + w.id +
                                 "' (first in " + it->second + ")");
      all.push_back(std::move(w));
    }
  }
  return all;
}

std::vector<Workload> load_workloads(const std::string& dir_or_file, std::string_view set) {
  std::vector<Workload> all = load_catalogue(dir_or_file);
  std::vector<Workload> out;
  std::set<std::string> sets;
  for (auto& w : all) {
    sets.insert(w.sets.begin(), w.sets.end());
    if (w.in_set(set)) out.push_back(std::move(w));
  }
  if (out.empty()) {
    std::string valid;
    for (const auto& s : sets) valid += (valid.empty() ? "" : ", ") + s;
    throw std::runtime_error("no workload in set '" + std::string(set) + "' in " + dir_or_file +
                             " (sets there: " + valid + ")");
  }
  return out;
}

std::string catalogue_version(const std::vector<Workload>& workloads) {
  // FNV-1a 64: stable across platforms and compilers, unlike std::hash.
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto& w : workloads) {
    const std::string text = nlohmann::json(w).dump();
    for (unsigned char c : text) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // separator, so ["ab","c"] and ["a","bc"] differ
    h *= 1099511628211ULL;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "wl-%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace autotune
