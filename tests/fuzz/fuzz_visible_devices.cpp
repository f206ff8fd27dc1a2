// CUDA_VISIBLE_DEVICES against four GPUs, one in MIG mode: never throws, never invents or repeats a GPU.
#include "tests/fuzz/fuzz.h"
#include "common/gpu.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto all = autotune::parse_simulated_gpus(
      "name=NVIDIA H100 80GB HBM3;cc=9.0;uuid=GPU-8f2c1111-0000-0000-0000-000000000000|"
      "name=NVIDIA H100 80GB HBM3;cc=9.0;uuid=GPU-8f2d2222-0000-0000-0000-000000000000|"
      "name=NVIDIA L40S;cc=8.9;uuid=GPU-1234|name=NVIDIA A100;cc=8.0");
  const auto visible = autotune::apply_visible_devices(all, autotune::fuzz::text(data, size));
  // Each visible GPU once, so never more than there are.
  FUZZ_CHECK(visible.size() <= all.size());
  for (std::size_t i = 0; i < visible.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(visible[i].index != visible[j].index);
  return 0;
}
