// Time as an input. Leases, the boot's wait for another pod, the tuning budget and the worker's
// deadlines read the time through a Clock, so that a test advances a ManualClock instead of
// sleeping until a lease expires or a budget runs out.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace autotune {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic: deadlines and budgets within this process.
  virtual time_point now() const = 0;
  // Unix epoch in ms: what pods sharing a lease directory compare (each holder's own clock).
  virtual std::int64_t epoch_ms() const = 0;
  // Waits between two polls of something another process changes.
  virtual void sleep_for(std::chrono::milliseconds d) const = 0;
};

// The machine's clocks: steady_clock, system_clock, std::this_thread::sleep_for.
const Clock& real_clock();

// A clock that moves only when told: advance(), or sleep_for(), which returns at once having
// moved it. Starts at the real clocks' readings; safe to read and advance from several threads.
class ManualClock final : public Clock {
 public:
  ManualClock();
  time_point now() const override { return start_ + std::chrono::milliseconds(offset_ms_.load()); }
  std::int64_t epoch_ms() const override { return start_epoch_ms_ + offset_ms_.load(); }
  void sleep_for(std::chrono::milliseconds d) const override { offset_ms_ += d.count(); }
  void advance(std::chrono::milliseconds d) { offset_ms_ += d.count(); }

 private:
  time_point start_;
  std::int64_t start_epoch_ms_;
  mutable std::atomic<std::int64_t> offset_ms_{0};
};

}  // namespace autotune
