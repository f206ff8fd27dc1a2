#include <gtest/gtest.h>

#include "common/clock.h"

namespace autotune {
namespace {

using std::chrono::milliseconds;

TEST(ManualClock, MovesOnlyWhenAdvancedOrSlept) {
  ManualClock clock;
  const auto t0 = clock.now();
  const auto e0 = clock.epoch_ms();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(milliseconds(250));
  clock.sleep_for(milliseconds(50));  // returns at once, having moved the clock
  EXPECT_EQ(clock.now() - t0, milliseconds(300));
  EXPECT_EQ(clock.epoch_ms() - e0, 300);
}

TEST(RealClock, EpochIsNearTheSystemClock) {
  const auto sys = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  EXPECT_NEAR(static_cast<double>(real_clock().epoch_ms()), static_cast<double>(sys.count()), 5000.0);
}

}  // namespace
}  // namespace autotune
