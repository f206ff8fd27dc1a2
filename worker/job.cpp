#include "worker/job.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

namespace autotune::bench {

std::string_view to_string(DType d) {
  switch (d) {
    case DType::bf16: return "bf16";
    case DType::fp16: return "fp16";
    case DType::fp32: return "fp32";
  }
  throw std::logic_error("DType value out of range");
}

DType parse_dtype(std::string_view s) {
  if (s == "bf16") return DType::bf16;
  if (s == "fp16") return DType::fp16;
  if (s == "fp32") return DType::fp32;
  throw std::invalid_argument("job: unknown dtype '" + std::string(s) +
                              "' (expected one of: bf16, fp16, fp32)");
}

namespace {
BackendInfo parse_python_backend(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("job: python_backends entry must be an object");
  BackendInfo b;
  b.kind = BackendKind::python;
  b.id = j.at("id").get<std::string>();
  b.module = j.at("module").get<std::string>();
  b.function = j.at("function").get<std::string>();
  const std::string layout = j.value("layout", "blhd");
  if (layout == "blhd")
    b.kernel_layout = KernelLayout::blhd;
  else if (layout == "bhld")
    b.kernel_layout = KernelLayout::bhld;
  else
    throw std::invalid_argument("job: python backend '" + b.id + "': unknown layout '" + layout +
                                "' (expected one of: blhd, bhld)");
  b.tolerance = j.value("tolerance", 1e-2);
  b.quantized = j.value("quantized", false);
  b.variant_of = j.value("variant_of", std::string());  // a kernel of another entry's library
  b.description = "job-supplied: " + b.module + "." + b.function;
  if (b.id.empty() || b.module.empty() || b.function.empty())
    throw std::invalid_argument("job: python backend needs non-empty id, module and function");
  if (find_builtin(b.id))
    throw std::invalid_argument("job: python backend id '" + b.id + "' clashes with a built-in");
  if (!(b.tolerance > 0))
    throw std::invalid_argument("job: python backend '" + b.id + "': tolerance must be positive");
  return b;
}

// An integer field in lo..hi, or `fallback` where the job has none.
int bounded_int(const nlohmann::json& j, const char* key, int fallback, int lo, int hi) {
  if (!j.contains(key)) return fallback;
  if (!j[key].is_number_integer())
    throw std::invalid_argument(std::string("job: ") + key + " " + j[key].dump() + " is not an integer");
  const auto v = j[key].get<long long>();
  if (v < lo || v > hi)
    throw std::invalid_argument(std::string("job: ") + key + " " + std::to_string(v) + " outside " +
                                std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(v);
}
}  // namespace

Job parse_job(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("job must be a JSON object");
  Job job;
  try {
    job.protocol = json_integer<int>(j, "protocol", kProtocolVersion);
    if (job.protocol != kProtocolVersion)
      throw std::invalid_argument("job: protocol " + std::to_string(job.protocol) +
                                  " not supported (this worker speaks " +
                                  std::to_string(kProtocolVersion) + ")");
    job.device = json_integer<int>(j, "device", 0);
    job.dtype = parse_dtype(j.value("dtype", "bf16"));
    job.python_paths = j.value("python_paths", std::vector<std::string>{});
    job.exclude_quantized = j.value("exclude_quantized", false);
    job.every_kernel = j.value("every_kernel", false);
    job.compute_capability = j.value("compute_capability", std::string());
    job.max_seconds_per_measurement = j.value("max_seconds_per_measurement", 2.0);
    if (!(job.max_seconds_per_measurement > 0))
      throw std::invalid_argument("job: max_seconds_per_measurement must be positive");
    job.settle_ms = j.value("settle_ms", job.settle_ms);
    if (!(job.settle_ms >= 0 && job.settle_ms <= 1000))
      throw std::invalid_argument("job: settle_ms " + j["settle_ms"].dump() + " outside 0..1000");
    job.turn_ms = j.value("turn_ms", job.turn_ms);
    if (!(job.turn_ms >= 0 && job.turn_ms <= 10000))
      throw std::invalid_argument("job: turn_ms " + j["turn_ms"].dump() + " outside 0..10000");
    job.queue_depth = bounded_int(j, "queue_depth", job.queue_depth, 1, 16);
    job.cpu = j.value("cpu", false);
    job.overlap_imports = j.value("overlap_imports", false);
    job.prompt_marker = j.value("prompt_marker", std::string());
    job.max_pause_s = j.value("max_pause_s", job.max_pause_s);
    if (!(job.max_pause_s >= 0 && job.max_pause_s <= 86400))
      throw std::invalid_argument("job: max_pause_s " + j["max_pause_s"].dump() + " outside 0..86400");
    if (!j.contains("workloads") || !j["workloads"].is_array() || j["workloads"].empty())
      throw std::invalid_argument("job: 'workloads' must be a non-empty array");
    std::set<std::string> ids;
    for (const auto& w : j["workloads"]) {
      job.workloads.push_back(w.get<Workload>());
      if (!ids.insert(job.workloads.back().id).second)
        throw std::invalid_argument("job: duplicate workload id '" + job.workloads.back().id + "'");
    }
    const auto names = j.value("backends", std::vector<std::string>{});
    std::vector<BackendInfo> extra;
    for (const auto& pb : j.value("python_backends", nlohmann::json::array()))
      extra.push_back(parse_python_backend(pb));
    if (names.empty()) {
      job.backends = builtin_backends();
    } else {
      for (const auto& name : names) {
        if (auto b = find_builtin(name)) {
          job.backends.push_back(*b);
          continue;
        }
        bool is_extra = false;
        for (const auto& e : extra) is_extra |= e.id == name;
        if (!is_extra)
          throw std::invalid_argument("job: unknown backend '" + name +
                                      "' (valid: " + builtin_backend_names() +
                                      ", or an id from python_backends)");
      }
    }
    // Job-supplied python backends always run (they exist for tests and experiments).
    for (auto& e : extra) job.backends.push_back(std::move(e));
    if (j.contains("comfyui_sdpa")) job.comfyui_sdpa = j["comfyui_sdpa"].get<ComfySdpa>();
    for (const auto& s : j.value("skip", nlohmann::json::array()))
      job.skip.emplace(s.at("backend").get<std::string>(), s.at("shape").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("job: malformed field: ") + e.what());
  }
  return job;
}

}  // namespace autotune::bench
