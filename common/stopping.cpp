#include "stopping.h"

#include <cmath>
#include <stdexcept>

#include "stats.h"

namespace autotune {

std::string_view to_string(StopReason r) {
  switch (r) {
    case StopReason::none: return "none";
    case StopReason::converged: return "converged";
    case StopReason::noise_stalled: return "noise_stalled";
    case StopReason::time_cap: return "time_cap";
    case StopReason::outpaced: return "outpaced";
  }
  throw std::logic_error("StopReason value out of range");
}

void StoppingCriterion::add(double sample, double elapsed_s) {
  if (finished()) return;
  if (samples_.empty() || new_turn_) ++turns_;
  new_turn_ = false;
  samples_.push_back(sample);
  noise_.push_back(stats::rel_stddev(samples_));
  const int n = static_cast<int>(samples_.size());
  if (elapsed_s >= p_.max_time_s) {
    reason_ = StopReason::time_cap;
    return;
  }
  if (n < p_.min_samples || elapsed_s < p_.min_time_s) return;
  const double now = noise_.back();
  if (now <= p_.max_noise) {
    reason_ = StopReason::converged;
    return;
  }
  if (n >= p_.min_samples + p_.stall_window) {
    const double then = noise_[noise_.size() - 1 - static_cast<std::size_t>(p_.stall_window)];
    if (std::fabs(now - then) <= p_.stall_tolerance * then) reason_ = StopReason::noise_stalled;
  }
}

bool StoppingCriterion::outpaced_by(double best_other_ms, double warm_up) {
  if (finished() || samples_.empty() || !(best_other_ms > 0)) return false;
  const double median = stats::median(samples_);
  const bool out = static_cast<int>(samples_.size()) >= p_.outpaced_min_samples && median > p_.outpaced_ratio * best_other_ms;
  const double far = p_.outpaced_far_ratio * best_other_ms;
  if (!out && !(warm_up > far && median > far)) return false;
  reason_ = StopReason::outpaced;
  return true;
}

}  // namespace autotune
