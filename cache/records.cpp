#include "records.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <set>
#include <tuple>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

#include "common/mechanism.h"
#include "common/quality.h"

namespace autotune {

namespace {

// 2 decisive failure, 1 ok, 0 transient failure (records.h, the merge rule).
int status_class(Status s) {
  switch (s) {
    case Status::rejected:
    case Status::crashed:
    case Status::unsupported:
      return 2;
    case Status::ok:
      return 1;
    case Status::oom:
    case Status::failed:
    case Status::timeout:
    case Status::not_installed:
      return 0;
  }
  return 0;
}

std::string text_of(const MeasurementRecord& r) {
  nlohmann::json j = r.m;
  j["measured_at"] = r.measured_at;
  return j.dump();
}

std::string text_of(const DecisionRecord& r) {
  return nlohmann::json{{"mechanism", std::string(to_string(r.decision.mechanism))},
                        {"reason", r.decision.reason},
                        {"default_backend", r.decision.default_backend},
                        {"routes", r.decision.routes},
                        {"quality", r.decision.quality},
                        {"decided_at", r.decided_at}}
      .dump();
}

bool finite(double x) { return std::isfinite(x); }

}  // namespace

std::string identity(const MeasurementRecord& r) {
  return r.key.canonical() + "\n" + r.m.backend + "\n" + r.m.backend_version + "\n" + r.m.shape;
}

std::string identity(const DecisionRecord& r) { return r.key.canonical() + "\n" + r.backends; }

bool wins(const MeasurementRecord& a, const MeasurementRecord& b) {
  const int ca = status_class(a.m.status), cb = status_class(b.m.status);
  if (ca != cb) return ca > cb;
  if (a.measured_at != b.measured_at) return a.measured_at > b.measured_at;
  if (a.m.samples != b.m.samples) return a.m.samples > b.m.samples;
  if (a.m.median_ms != b.m.median_ms) return a.m.median_ms < b.m.median_ms;
  return text_of(a) > text_of(b);
}

std::string decisions_text(const RecordSet& records) {
  std::string all;
  for (const auto& [id, r] : records.decisions) all += id + "\n" + text_of(r) + "\n";  // std::map: sorted
  return all;
}

bool wins(const DecisionRecord& a, const DecisionRecord& b) {
  if (a.decided_at != b.decided_at) return a.decided_at > b.decided_at;
  return text_of(a) > text_of(b);
}

namespace {
// Keeps `r` under its identity unless the record already there wins.
template <class Record>
bool add_to(std::map<std::string, Record>& records, Record r) {
  const std::string id = identity(r);
  auto it = records.find(id);
  if (it == records.end()) {
    records.emplace(id, std::move(r));
    return true;
  }
  if (!wins(r, it->second)) return false;
  it->second = std::move(r);
  return true;
}
}  // namespace

bool RecordSet::add(MeasurementRecord r) { return add_to(measurements, std::move(r)); }

bool RecordSet::add(DecisionRecord r) { return add_to(decisions, std::move(r)); }

void RecordSet::merge(const RecordSet& other) {
  for (const auto& [id, r] : other.measurements) add(r);
  for (const auto& [id, r] : other.decisions) add(r);
}

bool RecordSet::covers(const RecordSet& other) const {
  for (const auto& [id, r] : other.measurements)
    if (!measurements.count(id)) return false;
  for (const auto& [id, r] : other.decisions)
    if (!decisions.count(id)) return false;
  return true;
}

RecordSet RecordSet::only(const CacheKey& key) const {
  RecordSet out;
  const std::string canonical = key.canonical();
  for (const auto& [id, r] : measurements)
    if (r.key.canonical() == canonical) out.measurements.emplace(id, r);
  for (const auto& [id, r] : decisions)
    if (r.key.canonical() == canonical) out.decisions.emplace(id, r);
  return out;
}

std::vector<CacheKey> RecordSet::keys() const {
  std::map<std::string, CacheKey> by;
  for (const auto& [id, r] : measurements) by.emplace(r.key.canonical(), r.key);
  for (const auto& [id, r] : decisions) by.emplace(r.key.canonical(), r.key);
  std::vector<CacheKey> out;
  for (auto& [c, k] : by) out.push_back(k);
  return out;
}

std::string RecordSet::latest() const {
  std::string out;
  for (const auto& [id, r] : measurements) out = std::max(out, r.measured_at);
  for (const auto& [id, r] : decisions) out = std::max(out, r.decided_at);
  return out;
}

std::optional<std::string> impossible(const Measurement& m) {
  if (m.backend.empty() || m.shape.empty()) return std::string("no backend or shape");
  if (!finite(m.median_ms) || !finite(m.spread) || !finite(m.host_ms) || !finite(m.rel_error))
    return "a number that is NaN or infinite (median_ms " + std::to_string(m.median_ms) + ", rel_error " +
           std::to_string(m.rel_error) + ")";
  // A rejection for NaN or Inf output carries kNonFiniteError: the one negative value that is true.
  const bool non_finite_rejection = m.status == Status::rejected && m.rel_error == kNonFiniteError;
  for (const auto& [name, value] : {std::pair<const char*, double>{"median_ms", m.median_ms},
                                    {"spread", m.spread},
                                    {"host_ms", m.host_ms},
                                    {"samples", static_cast<double>(m.samples)},
                                    {"peak_mem_bytes", static_cast<double>(m.peak_mem_bytes)},
                                    {"rel_error", non_finite_rejection ? 0.0 : m.rel_error}})
    if (value < 0) return "a negative value (" + std::string(name) + " " + std::to_string(value) + ")";
  if (m.status == Status::ok && m.median_ms <= 0) return "status ok with latency " + std::to_string(m.median_ms) + " ms";
  if (m.status == Status::ok && m.samples <= 0) return std::string("status ok with no samples");
  return std::nullopt;
}

std::optional<std::string> impossible(const Decision& d) {
  for (const auto& r : d.routes)
    if (!finite(r.median_ms) || r.median_ms < 0)
      return "route " + r.workload + " has latency " + std::to_string(r.median_ms) + " ms";
  const QualityAccount& q = d.quality;
  for (const double ms : {q.exact_step_ms, q.step_ms})
    if (!finite(ms) || ms < 0) return "the quality account has a step of " + std::to_string(ms) + " ms";
  if (q.exact_steps < 0 || q.exact_steps > kMaxExactSteps || q.steps < 0 || q.quantized_routes < 0)
    return "the quality account has exact_steps " + std::to_string(q.exact_steps) + ", steps " +
           std::to_string(q.steps) + ", quantized_routes " + std::to_string(q.quantized_routes);
  return std::nullopt;
}

namespace {
std::optional<std::string> backend_missing(const std::string& backend, const Fingerprint& env) {
  const auto mechanism = mechanism_of_backend(backend);
  if (!mechanism) return std::nullopt;  // an adapter with no tracked library
  const std::string package(required_package(*mechanism));
  if (env.installed(package)) return std::nullopt;
  return "backend " + backend + " needs " + package + ", which is not installed in " + env.venv.string();
}
}  // namespace

std::optional<std::string> not_installed_here(const Measurement& m, const Fingerprint& env) {
  if (m.status == Status::not_installed) return std::nullopt;
  return backend_missing(m.backend, env);
}

std::optional<std::string> not_installed_here(const Decision& d, const Fingerprint& env) {
  if (auto why = backend_missing(d.default_backend.empty() ? std::string(to_string(d.mechanism)) : d.default_backend, env))
    return why;
  for (const auto& r : d.routes)
    if (auto why = backend_missing(r.backend, env)) return why;
  return std::nullopt;
}

void drop_invalid(RecordSet& records, const Fingerprint* env, const std::string& source,
                  std::vector<std::string>& warnings) {
  int dropped = 0;
  std::string first;
  const auto note = [&](const std::string& what, const std::string& why) {
    if (dropped++ == 0) first = what + ": " + why;
  };
  for (auto it = records.measurements.begin(); it != records.measurements.end();) {
    const Measurement& m = it->second.m;
    auto why = impossible(m);
    if (!why && env) why = not_installed_here(m, *env);
    if (why) {
      note(m.backend + " on " + m.shape, *why);
      it = records.measurements.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = records.decisions.begin(); it != records.decisions.end();) {
    const Decision& d = it->second.decision;
    auto why = impossible(d);
    if (!why && env) why = not_installed_here(d, *env);
    if (why) {
      note("decision " + std::string(to_string(d.mechanism)), *why);
      it = records.decisions.erase(it);
    } else {
      ++it;
    }
  }
  if (dropped)
    warnings.push_back("ignored " + std::to_string(dropped) + " record" + (dropped > 1 ? "s" : "") + " from " + source +
                       " (" + first + (dropped > 1 ? "; and others" : "") + ")");
}

std::string now_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof buffer - n, ".%03dZ", static_cast<int>(ms));
  return buffer;
}

std::string normalise_timestamp(const std::string& t) {
  // "YYYY-MM-DDTHH:MM:SSZ" (20 characters, what the first schema wrote) -> ".000Z"
  if (t.size() == 20 && t.back() == 'Z') return t.substr(0, 19) + ".000Z";
  return t;
}

nlohmann::json key_json(const CacheKey& k) {
  nlohmann::json j = nlohmann::json::object();
  CacheKey::fields(k, [&](const char* name, const char*, const auto& field) { j[name] = field; });
  return j;
}

CacheKey key_from_json(const nlohmann::json& j) {
  CacheKey k;
  CacheKey::fields(k, [&](const char* name, const char*, auto& field) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::string>) field = j.at(name).get<std::string>();
    else field = json_integer<T>(j.at(name), name);
  });
  return k;
}

nlohmann::json to_export_json(const RecordSet& records) {
  nlohmann::json ms = nlohmann::json::array(), ds = nlohmann::json::array();
  for (const auto& [id, r] : records.measurements) {
    nlohmann::json j = r.m;
    j["key"] = key_json(r.key);
    j["measured_at"] = r.measured_at;
    ms.push_back(std::move(j));
  }
  for (const auto& [id, r] : records.decisions)
    ds.push_back({{"key", key_json(r.key)},
                  {"backends", r.backends},
                  {"mechanism", std::string(to_string(r.decision.mechanism))},
                  {"reason", r.decision.reason},
                  {"default_backend", r.decision.default_backend},
                  {"routes", r.decision.routes},
                  {"quality", r.decision.quality},
                  {"decided_at", r.decided_at}});
  return {{"format", kExportFormat},
          {"version", kExportVersion},
          {"exported_at", now_timestamp()},
          {"measurements", ms},
          {"decisions", ds}};
}

RecordSet from_export_json(const nlohmann::json& doc, std::vector<std::string>& warnings) {
  if (!doc.is_object()) throw std::invalid_argument("not a JSON object; expected an `autotune cache export` document");
  const nlohmann::json format = doc.value("format", nlohmann::json(""));
  if (format != kExportFormat)
    throw std::invalid_argument("format is " + format.dump() + "; expected \"" + kExportFormat + "\"");
  const nlohmann::json version = doc.value("version", nlohmann::json());
  if (!version.is_number_integer() || version.get<int>() < 1 || version.get<int>() > kExportVersion)
    throw std::invalid_argument("version " + version.dump() + " is not supported; this tool reads version " +
                                std::to_string(kExportVersion));
  RecordSet out;
  const auto list = [&](const char* name) {
    const nlohmann::json l = doc.value(name, nlohmann::json::array());
    if (!l.is_array()) throw std::invalid_argument(std::string("'") + name + "' is not an array");
    return l;
  };
  int index = 0;
  for (const auto& j : list("measurements")) {
    const std::string where = "measurements[" + std::to_string(index++) + "]";
    try {
      MeasurementRecord r;
      r.key = key_from_json(j.at("key"));
      r.m = j.get<Measurement>();
      r.measured_at = normalise_timestamp(j.at("measured_at").get<std::string>());
      if (auto why = impossible(r.m)) {
        warnings.push_back(where + " (" + r.m.backend + " on " + r.m.shape + ") left out: " + *why);
        continue;
      }
      out.add(std::move(r));
    } catch (const std::exception& e) {
      warnings.push_back(where + " left out: " + e.what());
    }
  }
  index = 0;
  for (const auto& j : list("decisions")) {
    const std::string where = "decisions[" + std::to_string(index++) + "]";
    try {
      DecisionRecord r;
      r.key = key_from_json(j.at("key"));
      r.backends = j.at("backends").get<std::string>();
      const std::string mechanism = j.at("mechanism").get<std::string>();
      const auto m = parse_mechanism(mechanism);
      if (!m) {
        warnings.push_back(where + " left out: unknown mechanism '" + mechanism + "' (valid: " + mechanism_names(", ") + ")");
        continue;
      }
      r.decision.mechanism = *m;
      r.decision.source = Source::cache;
      r.decision.reason = j.value("reason", "");
      r.decision.default_backend = j.value("default_backend", default_backend_of(*m));
      r.decision.routes = j.value("routes", nlohmann::json::array()).get<std::vector<Route>>();
      r.decision.quality = j.value("quality", nlohmann::json::object()).get<QualityAccount>();
      r.decided_at = normalise_timestamp(j.at("decided_at").get<std::string>());
      if (auto why = impossible(r.decision)) {
        warnings.push_back(where + " left out: " + *why);
        continue;
      }
      out.add(std::move(r));
    } catch (const std::exception& e) {
      warnings.push_back(where + " left out: " + e.what());
    }
  }
  return out;
}

}  // namespace autotune
