#include "common/gpu.h"

#include <ostream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace autotune {
namespace {

TEST(SimulatedGpu, ParsesEveryField) {
  const auto gpus = parse_simulated_gpus(
      " name=NVIDIA H100 80GB HBM3 ; CC=9.0; memory_mib=81559;driver=580.159.04;sms=132;cuda=13.0;uuid=GPU-1234 ");
  ASSERT_EQ(gpus.size(), 1u);
  const GpuInfo& g = gpus[0];
  EXPECT_EQ(g.index, 0);
  EXPECT_EQ(g.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(g.cc_major, 9);
  EXPECT_EQ(g.cc_minor, 0);
  EXPECT_EQ(g.compute_capability(), "9.0");
  EXPECT_EQ(g.memory_mib, 81559u);
  EXPECT_EQ(g.driver_version, "580.159.04");
  EXPECT_EQ(g.cuda_driver_version, "13.0");
  EXPECT_EQ(g.sm_count, 132);
  EXPECT_EQ(g.uuid, "GPU-1234");
  EXPECT_TRUE(g.simulated);
  EXPECT_FALSE(g.mig_enabled);
}

TEST(SimulatedGpu, OnlyNameAndCcAreRequired) {
  const auto gpus = parse_simulated_gpus("name=NVIDIA GeForce RTX 5090;cc=12.0");
  ASSERT_EQ(gpus.size(), 1u);
  EXPECT_EQ(gpus[0].compute_capability(), "12.0");
  EXPECT_EQ(gpus[0].sm_count, 0);
  EXPECT_EQ(gpus[0].memory_mib, 0u);
  EXPECT_EQ(gpus[0].uuid, "GPU-simulated-0");
}

TEST(SimulatedGpu, SeveralGpusAreNumberedInOrder) {
  const auto gpus = parse_simulated_gpus("name=A;cc=8.0 | name=B;cc=8.6|");
  ASSERT_EQ(gpus.size(), 2u);
  EXPECT_EQ(gpus[0].name, "A");
  EXPECT_EQ(gpus[1].name, "B");
  EXPECT_EQ(gpus[1].index, 1);
  EXPECT_EQ(gpus[1].uuid, "GPU-simulated-1");
}

// Each malformed spec throws std::invalid_argument whose message contains `needle`.
struct BadSpec {
  std::string spec;
  std::string needle;
};

// gtest_discover_tests puts the printed parameter into the ctest name; the spec's ';' and '|'
// would split a CMake list, and the default prints raw bytes.
void PrintTo(const BadSpec&, std::ostream* os) { *os << "bad spec"; }

class SimulatedGpuErrors : public ::testing::TestWithParam<BadSpec> {};

TEST_P(SimulatedGpuErrors, MessageNamesTheProblem) {
  const BadSpec& bad = GetParam();
  try {
    parse_simulated_gpus(bad.spec);
    FAIL() << "accepted '" << bad.spec << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(bad.needle), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Gpu, SimulatedGpuErrors,
    ::testing::Values(BadSpec{"", "spec is empty"}, BadSpec{" | ", "spec is empty"},
                      BadSpec{"cc=9.0", "has no name"},
                      BadSpec{"name=H100", "'H100' has no cc"},
                      BadSpec{"name=H100;cc=9", "cc '9' is not MAJOR.MINOR"},
                      BadSpec{"name=H100;cc=nine.0", "cc 'nine.0' is not MAJOR.MINOR"},
                      BadSpec{"name=H100;cc=0.0", "cc '0.0' is not MAJOR.MINOR"},
                      BadSpec{"name=H100;cc=9.x", "cc '9.x' is not MAJOR.MINOR"},
                      BadSpec{"name=H100;cc=9.0;memory_mib=lots", "memory_mib 'lots' is not a whole number"},
                      BadSpec{"name=H100;cc=9.0;memory_mib=-1", "memory_mib '-1' is not a whole number"},
                      BadSpec{"name=H100;cc=9.0;sms=13 2", "sms '13 2' is not a whole number"},
                      BadSpec{"name=H100;cc=9.0;vram=80", "unknown simulated GPU field 'vram' (valid: name, cc"},
                      BadSpec{"name=H100;cc=9.0;driver", "field 'driver' has no '='"},
                      BadSpec{"name=H100;cc=9.0|cc=8.0", "has no name"}));

TEST(SimulatedGpu, ErrorsShowTheExpectedForm) {
  try {
    parse_simulated_gpus("name=H100");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("expected e.g. 'name=NVIDIA H100 80GB HBM3;cc=9.0"), std::string::npos);
  }
}

std::vector<GpuInfo> four_gpus() {
  std::vector<GpuInfo> gpus(4);
  const char* uuids[] = {"GPU-aaaa1111-0000", "GPU-bbbb2222-0000", "GPU-bbbb3333-0000", "GPU-cccc4444-0000"};
  for (int i = 0; i < 4; ++i) {
    gpus[i].index = i;
    gpus[i].name = "gpu" + std::to_string(i);
    gpus[i].uuid = uuids[i];
  }
  gpus[3].mig_enabled = true;
  return gpus;
}

std::vector<int> indices(const std::vector<GpuInfo>& gpus) {
  std::vector<int> out;
  for (const auto& g : gpus) out.push_back(g.index);
  return out;
}

TEST(VisibleDevices, IndicesInTheGivenOrder) {
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "2,0")), (std::vector<int>{2, 0}));
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), " 1 , 3 ")), (std::vector<int>{1, 3}));
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "3")), (std::vector<int>{3}));
  // A repeated GPU hides every GPU, as CUDA (and torch's parser) do.
  EXPECT_TRUE(apply_visible_devices(four_gpus(), "1,2,1").empty());
  EXPECT_TRUE(apply_visible_devices(four_gpus(), "0,0").empty());
}

TEST(VisibleDevices, UuidPrefixes) {
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "GPU-cccc")), (std::vector<int>{3}));
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "GPU-bbbb3333,GPU-aaaa1111-0000")),
            (std::vector<int>{2, 0}));
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "1,GPU-cccc")), (std::vector<int>{1, 3}));
}

TEST(VisibleDevices, EmptyValueHidesEveryGpu) {
  EXPECT_TRUE(apply_visible_devices(four_gpus(), "").empty());
  EXPECT_TRUE(apply_visible_devices(four_gpus(), "  ").empty());
}

TEST(VisibleDevices, ListEndsAtTheFirstInvalidEntry) {
  // CUDA stops at an entry that matches nothing: "0,7,1" shows GPU 0 only, "-1" shows none.
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "0,7,1")), (std::vector<int>{0}));
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "2,GPU-ffff,1")), (std::vector<int>{2}));
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "1,banana,2")), (std::vector<int>{1}));
  EXPECT_TRUE(apply_visible_devices(four_gpus(), "-1").empty());
  EXPECT_TRUE(apply_visible_devices(four_gpus(), "4").empty());
}

TEST(VisibleDevices, MigEntryMatchesTheMigEnabledGpu) {
  EXPECT_EQ(indices(apply_visible_devices(four_gpus(), "MIG-9b1c6a6e-0000")), (std::vector<int>{3}));
  auto no_mig = four_gpus();
  no_mig[3].mig_enabled = false;
  EXPECT_TRUE(apply_visible_devices(no_mig, "MIG-9b1c6a6e-0000").empty());
}

TEST(DetectSimulated, HonoursCudaVisibleDevices) {
  DetectOptions o;
  o.simulate = "name=A;cc=8.0|name=B;cc=9.0|name=C;cc=8.9";
  Detection all = detect_gpus(o);
  EXPECT_EQ(all.source, "simulated");
  EXPECT_EQ(all.gpus.size(), 3u);
  EXPECT_EQ(all.message, "");

  o.cuda_visible_devices = "2,1";
  Detection some = detect_gpus(o);
  ASSERT_EQ(some.gpus.size(), 2u);
  EXPECT_EQ(some.gpus[0].name, "C");
  EXPECT_EQ(some.gpus[1].name, "B");

  o.cuda_visible_devices = "";
  Detection none = detect_gpus(o);
  EXPECT_TRUE(none.gpus.empty());
  EXPECT_NE(none.message.find("CUDA_VISIBLE_DEVICES='' matches none of the 3 GPUs"), std::string::npos)
      << none.message;
}

TEST(DetectSimulated, MalformedSpecThrows) {
  DetectOptions o;
  o.simulate = "name=A";
  EXPECT_THROW(detect_gpus(o), std::invalid_argument);
}

}  // namespace
}  // namespace autotune
