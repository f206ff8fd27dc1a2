#include "clock.h"

#include <thread>

namespace autotune {

namespace {

class RealClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t epoch_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void sleep_for(std::chrono::milliseconds d) const override { std::this_thread::sleep_for(d); }
};

}  // namespace

const Clock& real_clock() {
  static const RealClock clock;
  return clock;
}

ManualClock::ManualClock() : start_(real_clock().now()), start_epoch_ms_(real_clock().epoch_ms()) {}

}  // namespace autotune
