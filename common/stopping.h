// When to stop sampling one measurement: nvbench's "stdrel" rule, as a small class fed with
// numbers so that its tests need no GPU (STYLE.md: feed 10 identical samples, expect finished).
#pragma once

#include <string_view>
#include <vector>

namespace autotune {

struct StoppingParams {
  int min_samples = 10;      // nvbench's minimum
  // Time before "converged" may stop it: in the worker, the time in the backend's turns, so a
  // turn's settle (100 ms, calls of 0.1 ms and more) already covers it.
  double min_time_s = 0.02;
  // Relative standard deviation of the samples at which the estimate counts as converged.
  // nvbench uses 0.5%; batches of back-to-back calls on the H100 usually get there in tens of ms.
  double max_noise = 0.005;
  double max_time_s = 2.0;   // hard cap, reached first by calls of 100+ ms (video shapes)
  // Noise that stops improving: over the last `stall_window` samples it moved by less than
  // `stall_tolerance` of its value. More samples would not make the median more trustworthy.
  int stall_window = 10;
  double stall_tolerance = 0.05;
  // Out of the race: a median this many times another backend's on the same shape, after this
  // many samples. It cannot win the shape, and in a mechanism's sum over shapes a few percent on
  // that term moves little; such backends (the math kernel, split and sub-quadratic attention on
  // a video shape) would otherwise take their whole time cap.
  double outpaced_ratio = 2.0;
  int outpaced_min_samples = 3;
  // Far out of the race: this many times another's median, in the warm-up and in the first
  // sample alike, stops after that one sample. Two readings, so that one slow sample (a pause of
  // the host) cannot stop a contender. The math kernel, split and sub-quadratic attention are
  // 4-23x the best on the default set's larger shapes (H200, 2026-12-01), and three of their
  // samples took about 4 s of a cold tune; the worker also skips their settle (harness.cpp).
  double outpaced_far_ratio = 4.0;
};

enum class StopReason { none, converged, noise_stalled, time_cap, outpaced };
std::string_view to_string(StopReason r);

class StoppingCriterion {
 public:
  explicit StoppingCriterion(StoppingParams params = {}) : p_(params) {}

  // One sample (any unit) taken when `elapsed_s` seconds of sampling had passed.
  void add(double sample, double elapsed_s);
  // Stops with `outpaced` when one of the rules above holds against `best_other_ms` (another
  // backend's median on the same shape, in the samples' unit); `warm_up` is this backend's
  // warm-up estimate in that unit, 0 for none. Returns whether it stopped.
  bool outpaced_by(double best_other_ms, double warm_up = 0);
  // The samples after this belong to a new turn (the samples before the first call: to one).
  void next_turn() { new_turn_ = !samples_.empty(); }
  int turns() const { return turns_; }  // turns with samples
  bool finished() const { return reason_ != StopReason::none; }
  StopReason reason() const { return reason_; }
  double noise() const { return noise_.empty() ? 0 : noise_.back(); }
  const std::vector<double>& samples() const { return samples_; }
  const StoppingParams& params() const { return p_; }

 private:
  StoppingParams p_;
  std::vector<double> samples_;
  std::vector<double> noise_;  // rel_stddev after each sample
  int turns_ = 0;              // turns with samples
  bool new_turn_ = false;
  StopReason reason_ = StopReason::none;
};

}  // namespace autotune
