#include "measurement.h"

#include <array>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

namespace autotune {
namespace {
constexpr std::array<std::pair<Status, std::string_view>, 8> kStatusNames{{
    {Status::ok, "ok"},
    {Status::rejected, "rejected"},
    {Status::unsupported, "unsupported"},
    {Status::not_installed, "not_installed"},
    {Status::oom, "oom"},
    {Status::failed, "failed"},
    {Status::crashed, "crashed"},
    {Status::timeout, "timeout"},
}};

}  // namespace

std::string_view to_string(Status s) {
  for (const auto& [value, name] : kStatusNames)
    if (value == s) return name;
  throw std::logic_error("Status value out of range");
}

Status parse_status(std::string_view s) {
  std::string valid;
  for (const auto& [value, name] : kStatusNames) {
    if (name == s) return value;
    valid += (valid.empty() ? "" : ", ") + std::string(name);
  }
  throw std::invalid_argument("unknown measurement status '" + std::string(s) +
                              "' (expected one of: " + valid + ")");
}

void to_json(nlohmann::json& j, const Measurement& m) {
  j = nlohmann::json{{"backend", m.backend},       {"backend_version", m.backend_version},
                     {"shape", m.shape},           {"status", std::string(to_string(m.status))},
                     {"reason", m.reason},         {"median_ms", m.median_ms},
                     {"spread", m.spread},         {"host_ms", m.host_ms},
                     {"samples", m.samples},       {"peak_mem_bytes", m.peak_mem_bytes},
                     {"rel_error", m.rel_error}};
}

void from_json(const nlohmann::json& j, Measurement& m) {
  m.backend = j.at("backend").get<std::string>();
  m.backend_version = j.value("backend_version", "");
  m.shape = j.at("shape").get<std::string>();
  m.status = parse_status(j.at("status").get<std::string>());
  m.reason = j.value("reason", "");
  m.median_ms = j.value("median_ms", 0.0);
  m.spread = j.value("spread", 0.0);
  m.host_ms = j.value("host_ms", 0.0);
  m.samples = json_integer<int>(j, "samples", 0);
  m.peak_mem_bytes = json_integer<std::int64_t>(j, "peak_mem_bytes", 0);
  m.rel_error = j.value("rel_error", 0.0);
}

}  // namespace autotune
