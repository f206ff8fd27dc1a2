// NVML detection through the real dlopen path, against tests/boot/fake_nvml.c.
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "tests/boot/test_support.h"
#include "common/gpu.h"

namespace autotune {
namespace {

using testing::contains;

class Nvml : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("FAKE_NVML_MODE"); }
  void TearDown() override { unsetenv("FAKE_NVML_MODE"); }

  static Detection detect(const char* mode, std::optional<std::string> visible = std::nullopt) {
    setenv("FAKE_NVML_MODE", mode, 1);
    DetectOptions o;
    o.nvml_library = FAKE_NVML_PATH;
    o.cuda_visible_devices = std::move(visible);
    return detect_gpus(o);
  }
};

TEST_F(Nvml, TwoGpus) {
  const Detection d = detect("two_gpus");
  EXPECT_EQ(d.source, "nvml");
  EXPECT_EQ(d.message, "");
  ASSERT_EQ(d.gpus.size(), 2u);

  const GpuInfo& h100 = d.gpus[0];
  EXPECT_EQ(h100.index, 0);
  EXPECT_EQ(h100.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(h100.uuid, "GPU-8f2c0e4a-5b1d-4c3e-9a7f-0123456789ab");
  EXPECT_EQ(h100.compute_capability(), "9.0");
  EXPECT_EQ(h100.memory_mib, 81559u);
  EXPECT_EQ(h100.driver_version, "580.159.04");
  EXPECT_EQ(h100.cuda_driver_version, "13.0");
  EXPECT_EQ(h100.sm_count, 132);  // 16896 cores / 128 per SM
  EXPECT_FALSE(h100.mig_enabled);
  EXPECT_FALSE(h100.simulated);

  const GpuInfo& a100 = d.gpus[1];
  EXPECT_EQ(a100.index, 1);
  EXPECT_EQ(a100.compute_capability(), "8.0");
  EXPECT_EQ(a100.sm_count, 108);  // GA100 has 64 cores per SM: 6912 / 64
  EXPECT_EQ(a100.memory_mib, 81920u);
  EXPECT_TRUE(a100.mig_enabled);
}

TEST_F(Nvml, EveryInitIsShutDown) {
  // Keep the library loaded across detections so its counter survives dlclose.
  void* handle = dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto sessions = reinterpret_cast<int (*)()>(dlsym(handle, "fake_nvml_open_sessions"));
  ASSERT_NE(sessions, nullptr);
  detect("two_gpus");
  detect("no_gpus");
  EXPECT_EQ(sessions(), 0);
  dlclose(handle);
}

TEST_F(Nvml, CudaVisibleDevicesFilters) {
  const Detection reordered = detect("two_gpus", "1,0");
  ASSERT_EQ(reordered.gpus.size(), 2u);
  EXPECT_EQ(reordered.gpus[0].name, "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(reordered.gpus[0].index, 1);  // NVML's index, not CUDA's renumbering

  const Detection by_uuid = detect("two_gpus", "GPU-8f2c");
  ASSERT_EQ(by_uuid.gpus.size(), 1u);
  EXPECT_EQ(by_uuid.gpus[0].name, "NVIDIA H100 80GB HBM3");

  const Detection hidden = detect("two_gpus", "");
  EXPECT_TRUE(hidden.gpus.empty());
  EXPECT_TRUE(contains(hidden.message, "CUDA_VISIBLE_DEVICES='' matches none of the 2 GPUs")) << hidden.message;

  const Detection bad = detect("two_gpus", "5");
  EXPECT_TRUE(bad.gpus.empty());
  EXPECT_TRUE(contains(bad.message, "CUDA_VISIBLE_DEVICES='5'")) << bad.message;
}

TEST_F(Nvml, NoGpusIsANormalOutcome) {
  const Detection d = detect("no_gpus");
  EXPECT_TRUE(d.gpus.empty());
  EXPECT_EQ(d.message, "no NVIDIA GPU detected: the driver reports 0 devices");
}

TEST_F(Nvml, InitFailureIsExplained) {
  const Detection d = detect("init_fails");
  EXPECT_TRUE(d.gpus.empty());
  EXPECT_EQ(d.message, "no NVIDIA GPU detected: nvmlInit failed: Driver Not Loaded (9)");
}

TEST_F(Nvml, MissingLibraryIsExplained) {
  DetectOptions o;
  o.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  const Detection d = detect_gpus(o);
  EXPECT_TRUE(d.gpus.empty());
  EXPECT_EQ(d.source, "nvml");
  EXPECT_TRUE(contains(d.message, "no NVIDIA GPU detected: cannot load /nonexistent/libnvidia-ml.so.1")) << d.message;
}

TEST_F(Nvml, LibraryWithoutNvmlSymbolsIsExplained) {
  // libc loads fine but is not NVML.
  DetectOptions o;
  o.nvml_library = "libc.so.6";
  const Detection d = detect_gpus(o);
  EXPECT_TRUE(d.gpus.empty());
  EXPECT_EQ(d.message, "no NVIDIA GPU detected: NVML library lacks nvmlInit_v2");
}

}  // namespace
}  // namespace autotune
