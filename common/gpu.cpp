#include "gpu.h"

#include <algorithm>

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>

#include "common/text.h"

namespace autotune {

std::string GpuInfo::compute_capability() const {
  return std::to_string(cc_major) + "." + std::to_string(cc_minor);
}

namespace {

GpuInfo parse_one_simulated(std::string_view spec, int index) {
  GpuInfo gpu;
  gpu.index = index;
  gpu.simulated = true;
  const std::string form =
      " (expected e.g. 'name=NVIDIA H100 80GB HBM3;cc=9.0;memory_mib=81559;driver=580.159.04;sms=132')";
  for (std::string_view field : split(spec, ';')) {
    field = trim(field);
    if (field.empty()) continue;
    const auto eq = field.find('=');
    if (eq == std::string_view::npos)
      throw std::invalid_argument("simulated GPU field '" + std::string(field) + "' has no '='" + form);
    const std::string key = lower(trim(field.substr(0, eq)));
    const std::string value(trim(field.substr(eq + 1)));
    if (key == "name") {
      gpu.name = value;
    } else if (key == "cc") {
      const auto dot = value.find('.');
      const auto major = dot == std::string::npos ? std::nullopt : parse_int(value.substr(0, dot));
      const auto minor = dot == std::string::npos ? std::nullopt : parse_int(value.substr(dot + 1));
      if (!major || !minor || *major <= 0 || *minor < 0)
        throw std::invalid_argument("simulated GPU cc '" + value + "' is not MAJOR.MINOR" + form);
      gpu.cc_major = *major;
      gpu.cc_minor = *minor;
    } else if (key == "memory_mib" || key == "sms") {
      const auto n = parse_int(value);
      if (!n || *n < 0)
        throw std::invalid_argument("simulated GPU " + key + " '" + value + "' is not a whole number" + form);
      if (key == "sms") gpu.sm_count = static_cast<int>(*n);
      else gpu.memory_mib = static_cast<std::uint64_t>(*n);
    } else if (key == "driver") {
      gpu.driver_version = value;
    } else if (key == "cuda") {
      gpu.cuda_driver_version = value;
    } else if (key == "uuid") {
      gpu.uuid = value;
    } else {
      throw std::invalid_argument("unknown simulated GPU field '" + key +
                                  "' (valid: name, cc, memory_mib, sms, driver, cuda, uuid)");
    }
  }
  if (gpu.name.empty()) throw std::invalid_argument("simulated GPU has no name" + form);
  if (gpu.cc_major == 0) throw std::invalid_argument("simulated GPU '" + gpu.name + "' has no cc" + form);
  if (gpu.uuid.empty()) gpu.uuid = "GPU-simulated-" + std::to_string(index);
  return gpu;
}

// The few NVML declarations we use, from nvml.h; declared here so that building needs no
// CUDA headers and running needs no NVML.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;

class Nvml {
 public:
  explicit Nvml(const std::string& library) {
    handle_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* e = dlerror();
      error_ = "cannot load " + library + ": " + (e ? e : "unknown error");
      return;
    }
    const bool ok = load(init_, "nvmlInit_v2") && load(shutdown_, "nvmlShutdown") &&
                    load(error_string_, "nvmlErrorString") &&
                    load(driver_version_, "nvmlSystemGetDriverVersion") &&
                    load(count_, "nvmlDeviceGetCount_v2") &&
                    load(by_index_, "nvmlDeviceGetHandleByIndex_v2") &&
                    load(name_, "nvmlDeviceGetName") && load(uuid_, "nvmlDeviceGetUUID") &&
                    load(capability_, "nvmlDeviceGetCudaComputeCapability") &&
                    load(memory_, "nvmlDeviceGetMemoryInfo");
    if (!ok) return;
    // Optional: older drivers lack some of these; their fields stay unknown.
    cuda_version_ = reinterpret_cast<decltype(cuda_version_)>(dlsym(handle_, "nvmlSystemGetCudaDriverVersion_v2"));
    if (!cuda_version_)
      cuda_version_ = reinterpret_cast<decltype(cuda_version_)>(dlsym(handle_, "nvmlSystemGetCudaDriverVersion"));
    mig_mode_ = reinterpret_cast<decltype(mig_mode_)>(dlsym(handle_, "nvmlDeviceGetMigMode"));
    cores_ = reinterpret_cast<decltype(cores_)>(dlsym(handle_, "nvmlDeviceGetNumGpuCores"));
    const nvmlReturn_t rc = init_();
    if (rc != NVML_SUCCESS) {
      error_ = "nvmlInit failed: " + describe(rc);
      return;
    }
    initialised_ = true;
  }
  ~Nvml() {
    if (initialised_) shutdown_();
    if (handle_) dlclose(handle_);
  }
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  const std::string& error() const { return error_; }

  std::vector<GpuInfo> gpus() {
    std::vector<GpuInfo> out;
    unsigned count = 0;
    if (const auto rc = count_(&count); rc != NVML_SUCCESS) {
      error_ = "nvmlDeviceGetCount failed: " + describe(rc);
      return out;
    }
    char buffer[256] = {};
    std::string driver;
    if (driver_version_(buffer, sizeof buffer) == NVML_SUCCESS) driver = buffer;
    std::string cuda;
    int cuda_version = 0;
    if (cuda_version_ && cuda_version_(&cuda_version) == NVML_SUCCESS)
      cuda = std::to_string(cuda_version / 1000) + "." + std::to_string(cuda_version % 1000 / 10);
    for (unsigned i = 0; i < count; ++i) {
      nvmlDevice_t device = nullptr;
      if (by_index_(i, &device) != NVML_SUCCESS) continue;  // e.g. a GPU we lack permission for
      GpuInfo gpu;
      gpu.index = static_cast<int>(i);
      gpu.driver_version = driver;
      gpu.cuda_driver_version = cuda;
      if (name_(device, buffer, sizeof buffer) == NVML_SUCCESS) gpu.name = buffer;
      if (uuid_(device, buffer, sizeof buffer) == NVML_SUCCESS) gpu.uuid = buffer;
      capability_(device, &gpu.cc_major, &gpu.cc_minor);
      nvmlMemory_t memory{};
      if (memory_(device, &memory) == NVML_SUCCESS) gpu.memory_mib = memory.total >> 20;
      unsigned current = 0, pending = 0;
      if (mig_mode_ && mig_mode_(device, &current, &pending) == NVML_SUCCESS) gpu.mig_enabled = current == 1;
      // NVML has no SM count; it reports CUDA cores. Cores per SM: 64 on Volta, Turing and
      // GA100 (8.0), 128 on GA10x, Ada, Hopper and Blackwell (H100 SXM: 16896 / 132).
      unsigned cores = 0;
      if (cores_ && cores_(device, &cores) == NVML_SUCCESS && cores > 0) {
        const bool narrow = gpu.cc_major == 7 || (gpu.cc_major == 8 && gpu.cc_minor == 0);
        gpu.sm_count = static_cast<int>(cores / (narrow ? 64 : 128));
      }
      out.push_back(std::move(gpu));
    }
    return out;
  }

 private:
  template <class F>
  bool load(F& f, const char* symbol) {
    f = reinterpret_cast<F>(dlsym(handle_, symbol));
    if (!f) error_ = std::string("NVML library lacks ") + symbol;
    return f != nullptr;
  }
  std::string describe(nvmlReturn_t rc) const {
    const char* s = error_string_ ? error_string_(rc) : nullptr;
    return (s ? std::string(s) : std::string("error")) + " (" + std::to_string(rc) + ")";
  }

  void* handle_ = nullptr;
  bool initialised_ = false;
  std::string error_;
  nvmlReturn_t (*init_)() = nullptr;
  nvmlReturn_t (*shutdown_)() = nullptr;
  const char* (*error_string_)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*driver_version_)(char*, unsigned) = nullptr;
  nvmlReturn_t (*cuda_version_)(int*) = nullptr;
  nvmlReturn_t (*count_)(unsigned*) = nullptr;
  nvmlReturn_t (*by_index_)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name_)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*uuid_)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*capability_)(nvmlDevice_t, int*, int*) = nullptr;
  nvmlReturn_t (*memory_)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*mig_mode_)(nvmlDevice_t, unsigned*, unsigned*) = nullptr;
  nvmlReturn_t (*cores_)(nvmlDevice_t, unsigned*) = nullptr;
};

}  // namespace

std::vector<GpuInfo> parse_simulated_gpus(std::string_view spec) {
  std::vector<GpuInfo> gpus;
  for (std::string_view one : split(spec, '|'))
    if (!trim(one).empty()) gpus.push_back(parse_one_simulated(one, static_cast<int>(gpus.size())));
  if (gpus.empty()) throw std::invalid_argument("simulated GPU spec is empty");
  return gpus;
}

std::vector<GpuInfo> apply_visible_devices(const std::vector<GpuInfo>& all, std::string_view value) {
  std::vector<GpuInfo> out;
  for (std::string_view entry : split(value, ',')) {
    entry = trim(entry);
    const GpuInfo* match = nullptr;
    if (const auto n = parse_int(entry)) {
      for (const auto& gpu : all)
        if (gpu.index == *n) match = &gpu;
    } else if (starts_with(entry, "GPU-")) {
      for (const auto& gpu : all)
        if (starts_with(gpu.uuid, entry)) match = &gpu;
    } else if (starts_with(entry, "MIG-")) {
      // NVML's parent handles do not list MIG instance UUIDs; take the first MIG-enabled GPU.
      for (const auto& gpu : all)
        if (gpu.mig_enabled && !match) match = &gpu;
    }
    if (!match) break;
    // A GPU named twice hides them all: CUDA makes no device of a repeated ordinal, and
    // torch/cuda/__init__.py (_parse_visible_devices) says "Repeated ordinal results in empty
    // set". Kept, "1,1" gave GPU 1 twice: two decisions and two tunings of one GPU (found by
    // tests/fuzz/fuzz_visible_devices).
    // MIG entries all match their parent here, and CUDA enumerates one MIG instance per process
    // (NVIDIA's MIG user guide): a second one adds no GPU.
    const bool repeated = std::any_of(out.begin(), out.end(), [&](const GpuInfo& seen) {
      return seen.index == match->index && seen.uuid == match->uuid;
    });
    if (repeated && starts_with(entry, "MIG-")) break;
    if (repeated) return {};
    out.push_back(*match);
  }
  return out;
}

Detection detect_gpus(const DetectOptions& options) {
  Detection d;
  std::vector<GpuInfo> all;
  if (options.simulate) {
    d.source = "simulated";
    all = parse_simulated_gpus(*options.simulate);
  } else {
    d.source = "nvml";
    Nvml nvml(options.nvml_library);
    if (nvml.error().empty()) all = nvml.gpus();
    if (!nvml.error().empty()) {
      d.message = "no NVIDIA GPU detected: " + nvml.error();
      return d;
    }
  }
  d.gpus = options.cuda_visible_devices ? apply_visible_devices(all, *options.cuda_visible_devices) : all;
  if (d.gpus.empty()) {
    d.message = all.empty() ? "no NVIDIA GPU detected: the driver reports 0 devices"
                            : "no NVIDIA GPU visible: CUDA_VISIBLE_DEVICES='" +
                                  *options.cuda_visible_devices + "' matches none of the " +
                                  std::to_string(all.size()) + " GPUs";
  }
  return d;
}

}  // namespace autotune
