#include "worker/settle.h"

#include <gtest/gtest.h>

namespace autotune::bench {
namespace {

TEST(Settle, ADeviceBoundCallFillsTheSettleWithDeviceTime) {
  EXPECT_EQ(settle_calls(100, 2.0, 0.04), 50);   // Qwen-Image on cuDNN: 2 ms a call
  EXPECT_EQ(settle_calls(100, 0.16, 0.04), 625);  // SDXL's 4096-token self-attention
}

TEST(Settle, AHostBoundCallIsCountedByItsHostTime) {
  // FA3 on SD1.5's 64-token shape (H200): 0.0081 ms on the device, 0.126 ms to issue. By its
  // device time it was 12,346 calls, 1.6 s of host time a turn.
  EXPECT_EQ(settle_calls(100, 0.0081, 0.126), 794);
}

TEST(Settle, NoneWithoutASettleAndAtLeastOneWithOne) {
  EXPECT_EQ(settle_calls(0, 1.0, 0.1), 0);
  EXPECT_EQ(settle_calls(100, 500.0, 0.1), 1);
  EXPECT_EQ(settle_calls(100, 0, 0), 100000);  // no estimate at all: bounded by 1 µs a call
}

}  // namespace
}  // namespace autotune::bench
