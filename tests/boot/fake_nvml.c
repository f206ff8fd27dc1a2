/* A stand-in for libnvidia-ml.so.1, so the tests exercise gpu.cpp's real dlopen/dlsym path
 * without a GPU. FAKE_NVML_MODE, read at nvmlInit_v2, picks what it reports:
 *   two_gpus (default)  GPU 0 H100 SXM (9.0, 16896 cores), GPU 1 A100 (8.0, 6912 cores, MIG on)
 *   one_gpu             GPU 0 only
 *   no_gpus             initialises, reports 0 devices
 *   init_fails          nvmlInit_v2 returns NVML_ERROR_DRIVER_NOT_LOADED (9)
 * fake_nvml_open_sessions() counts inits not yet shut down, so a test can check the pairing. */
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct {
  const char* name;
  const char* uuid;
  int major, minor;
  unsigned long long memory_bytes;
  unsigned cores;
  unsigned mig;
} fake_device;
typedef fake_device* nvmlDevice_t;
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;

enum { NVML_SUCCESS = 0, NVML_ERROR_UNINITIALIZED = 1, NVML_ERROR_INVALID_ARGUMENT = 2,
       NVML_ERROR_INSUFFICIENT_SIZE = 7, NVML_ERROR_DRIVER_NOT_LOADED = 9 };

static fake_device devices[] = {
    {"NVIDIA H100 80GB HBM3", "GPU-8f2c0e4a-5b1d-4c3e-9a7f-0123456789ab", 9, 0, 81559ULL << 20, 16896, 0},
    {"NVIDIA A100-SXM4-80GB", "GPU-1d9e7c2b-0a4f-4e8d-b6c5-ba9876543210", 8, 0, 81920ULL << 20, 6912, 1},
};
static unsigned device_count = 0;
static int sessions = 0;

int fake_nvml_open_sessions(void) { return sessions; }

static const char* mode(void) {
  const char* m = getenv("FAKE_NVML_MODE");
  return m && *m ? m : "two_gpus";
}

static nvmlReturn_t copy(char* out, unsigned length, const char* value) {
  if (strlen(value) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  strcpy(out, value);
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) {
  if (strcmp(mode(), "init_fails") == 0) return NVML_ERROR_DRIVER_NOT_LOADED;
  device_count = strcmp(mode(), "no_gpus") == 0 ? 0 : strcmp(mode(), "one_gpu") == 0 ? 1 : 2;
  ++sessions;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
  if (sessions == 0) return NVML_ERROR_UNINITIALIZED;
  --sessions;
  return NVML_SUCCESS;
}

const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned length) {
  if (sessions == 0) return NVML_ERROR_UNINITIALIZED;
  return copy(version, length, "580.159.04");
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  if (sessions == 0) return NVML_ERROR_UNINITIALIZED;
  *version = 13000;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned* count) {
  if (sessions == 0) return NVML_ERROR_UNINITIALIZED;
  *count = device_count;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  if (sessions == 0) return NVML_ERROR_UNINITIALIZED;
  if (index >= device_count) return NVML_ERROR_INVALID_ARGUMENT;
  *device = &devices[index];
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned length) {
  return copy(name, length, device->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned length) {
  return copy(uuid, length, device->uuid);
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major, int* minor) {
  *major = device->major;
  *minor = device->minor;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  memory->total = device->memory_bytes;
  memory->used = 512ULL << 20;
  memory->free = device->memory_bytes - memory->used;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned* current, unsigned* pending) {
  *current = device->mig;
  *pending = device->mig;
  return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t device, unsigned* cores) {
  *cores = device->cores;
  return NVML_SUCCESS;
}
