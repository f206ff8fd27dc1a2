#include "common/comfyui_sdpa.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace autotune {

namespace {

const std::vector<std::string>& kernel_names() {
  static const std::vector<std::string> names{"CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"};
  return names;
}

// "1024 * 128" -> 131072; 0 when it is not a product of integers.
std::int64_t product(const std::string& expr) {
  std::int64_t v = 1;
  std::stringstream in(expr);
  std::string term;
  bool any = false;
  while (std::getline(in, term, '*')) {
    term.erase(std::remove_if(term.begin(), term.end(), ::isspace), term.end());
    if (term.empty() || term.size() > 12 || !std::all_of(term.begin(), term.end(), ::isdigit)) return 0;
    v *= std::stoll(term);
    if (v > (std::int64_t{1} << 40)) return 0;
    any = true;
  }
  return any ? v : 0;
}

}  // namespace

std::string ComfySdpa::signature() const {
  if (order.empty()) return "torch";
  std::string s;
  for (const auto& k : order) s += (s.empty() ? "" : ">") + k;
  if (min_elements > 0) s += " below " + std::to_string(min_elements) + ": torch";
  return s;
}

ComfySdpa comfyui_a125cd84_sdpa() {
  return {{"CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"}, 0,
          "assumed: ComfyUI a125cd84's order (no ComfyUI folder read)"};
}

std::optional<ComfySdpa> parse_comfyui_ops(std::string_view text) {
  const std::string ops(text);
  const auto list_at = ops.find("SDPA_BACKEND_PRIORITY = [");
  if (list_at == std::string::npos) return std::nullopt;
  const auto list_end = ops.find(']', list_at);
  if (list_end == std::string::npos) return std::nullopt;
  ComfySdpa s;
  const std::string list = ops.substr(list_at, list_end - list_at);
  static const std::regex member(R"(SDPBackend\.([A-Z_]+))");
  for (std::sregex_iterator it(list.begin(), list.end(), member), end; it != end; ++it) s.order.push_back((*it)[1]);
  static const std::regex insert(R"(SDPA_BACKEND_PRIORITY\.insert\(\s*0\s*,\s*SDPBackend\.([A-Z_]+)\s*\))");
  std::smatch m;
  if (std::regex_search(ops, m, insert)) s.order.insert(s.order.begin(), m[1]);
  for (const auto& k : s.order)
    if (std::find(kernel_names().begin(), kernel_names().end(), k) == kernel_names().end()) return std::nullopt;
  if (s.order.empty()) return std::nullopt;
  // The condition the list is set under: on Windows only, Linux pods run torch's own order.
  const auto guard = ops.rfind("if torch.cuda.is_available()", list_at);
  if (guard != std::string::npos) {
    const std::string line = ops.substr(guard, ops.find('\n', guard) - guard);
    if (line.find("WINDOWS") != std::string::npos) {
      s.order.clear();
      s.source = "comfy/ops.py sets its priority on Windows only";
      return s;
    }
  }
  static const std::regex small(R"(q\.nelement\(\)\s*<\s*([0-9 *]+):)");
  if (std::regex_search(ops, m, small)) s.min_elements = product(m[1]);
  s.source = "comfy/ops.py";
  return s;
}

std::optional<ComfySdpa> read_comfyui_sdpa(const std::string& comfyui_dir, std::string* why) {
  const std::string path = comfyui_dir + "/comfy/ops.py";
  std::ifstream in(path);
  if (!in) {
    *why = "cannot read " + path;
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto s = parse_comfyui_ops(text.str());
  if (!s) {
    *why = path + " sets no SDPA priority this version of autotune recognises";
    return std::nullopt;
  }
  s->source = path + (s->order.empty() ? " (priority on Windows only)" : "");
  return s;
}

void to_json(nlohmann::json& j, const ComfySdpa& s) {
  j = {{"order", s.order}, {"min_elements", s.min_elements}};
  if (!s.source.empty()) j["source"] = s.source;
}

void from_json(const nlohmann::json& j, ComfySdpa& s) {
  if (!j.is_object()) throw std::invalid_argument("comfyui_sdpa: expected an object, got " + j.dump());
  s = {};
  const auto& order = j.at("order");
  if (!order.is_array()) throw std::invalid_argument("comfyui_sdpa.order: expected a list, got " + order.dump());
  for (const auto& k : order) {
    const std::string name = k.is_string() ? k.get<std::string>() : k.dump();
    if (std::find(kernel_names().begin(), kernel_names().end(), name) == kernel_names().end())
      throw std::invalid_argument("comfyui_sdpa.order: unknown kernel '" + name +
                                  "' (expected CUDNN_ATTENTION, FLASH_ATTENTION, EFFICIENT_ATTENTION or MATH)");
    s.order.push_back(name);
  }
  const auto& min = j.value("min_elements", nlohmann::json(0));
  if (!min.is_number_integer() || min.get<long long>() < 0)
    throw std::invalid_argument("comfyui_sdpa.min_elements: expected a count, got " + min.dump());
  s.min_elements = min.get<std::int64_t>();
  s.source = j.value("source", std::string());
}

}  // namespace autotune
