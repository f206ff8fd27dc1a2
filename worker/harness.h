// Timing, memory and numerics of one (backend, shape) measurement (DESIGN.md "Measuring").
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "common/measurement.h"
#include "common/stopping.h"
#include "common/workload.h"

namespace autotune::bench {

// Seconds from `t0` to now, on the steady clock.
double seconds_since(std::chrono::steady_clock::time_point t0);

// The device the worker measures on: CUDA (events on the current stream) or the CPU (CI path,
// wall clock; CPU ops are synchronous, so GPU time and host time coincide there).
class Device {
 public:
  Device(bool cpu, int index);
  const at::Device& device() const { return device_; }
  bool cuda() const { return device_.is_cuda(); }
  void sync() const;
  // Makes this the calling thread's current device (CUDA's is per thread); a no-op on the CPU.
  void use_here() const;
  struct Timer;  // events or wall clock
  // Keeps the GPU busy for about `ms` (a spin kernel), so that calls issued after it queue up
  // and run back to back whatever the host's launch cost. With `timer`, marks the spin's start
  // on it (Timer::hold_elapsed_ms). Returns the spin's length in SM clock cycles; 0 on the CPU.
  std::int64_t hold(double ms, Timer* timer = nullptr) const;
  double hold_cycles_per_ms() const { return cycles_per_ms_; }
  // Bytes the allocator holds for tensors now; peak since reset_peak().
  std::int64_t allocated() const;
  void reset_peak() const;
  std::int64_t peak() const;
  // Whether the device still runs work (after an illegal address the CUDA context is dead).
  bool healthy(std::string* why) const;

  std::unique_ptr<Timer> timer() const;

 private:
  at::Device device_;
  double cycles_per_ms_ = 0;
};

struct Device::Timer {
  virtual ~Timer() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual double elapsed_ms() = 0;  // waits for stop()
  // The GPU time from Device::hold's mark to start(), once elapsed_ms() has returned: the spin
  // alone, whose cycle count over it is the SM clock just before the timed calls. 0 on the CPU.
  virtual void mark_hold() {}
  virtual double hold_elapsed_ms() { return 0; }
  // Whether the device has reached start() (no wait). On the CPU calls run as they are issued,
  // so there is no queue to run dry: false.
  virtual bool started() { return false; }
};

// One backend bound to one shape, ready to issue calls.
class Runner {
 public:
  virtual ~Runner() = default;
  // Issues one call on input set `set` and drops the output (no synchronisation).
  virtual void issue(int set) = 0;
  // One call on input set `set` (a timed one or the activation-like one); its output as (B, Lq, H*D).
  virtual at::Tensor output(int set) = 0;
  virtual int input_sets() const = 0;
};

// q, k, v in the workload's layout: the timed sets, several when one fits in L2 (50 MB on the
// H100), since rotating them keeps repeated calls from measuring the cache; then one set that is
// only checked, never timed: the activation-like set (activation_like.h says why).
struct Inputs {
  std::vector<at::Tensor> q, k, v;
  int timed = 0;  // sets [0, timed) are timed; set `timed` is the activation-like one
};
Inputs make_inputs(const Workload& w, at::ScalarType dtype, const at::Device& device);

// Float32 reference for a slice of one input set's output: batch 0, the first heads and queries,
// full keys (DESIGN.md: a slice of heads and queries for huge shapes).
struct Reference {
  int set = 0;
  std::string name;  // "randn", "activation-like": for the rejection's reason
  int64_t heads = 0, queries = 0;
  at::Tensor out;  // (heads, queries, D) float32
  // The inputs' dtype's own error on this slice: attention computed plainly in that dtype, as
  // torch's math kernel does it (dtype_floor below). An exact kernel is not blamed for it.
  double floor = 0;
};
Reference make_reference(const Inputs& in, const Workload& w, int set = 0);
// One reference per checked set: randn (set 0) and the activation-like set.
std::vector<Reference> make_references(const Inputs& in, const Workload& w);

// The relative error of attention computed plainly in the inputs' dtype on the reference slice:
// q and k scaled by sqrt(scale), the logits, the probabilities and the output each rounded to
// the dtype (torch's _scaled_dot_product_attention_math), products accumulated in float32.
// 0 for float32 inputs.
double dtype_floor(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& ref_out);

// The bound a kernel's error on a checked set must meet: its own tolerance, or twice what its
// dtype alone costs on that set, whichever is looser (harness.cpp says why).
double checked_tolerance(double tolerance, double floor);

// Relative error ||out - ref|| / ||ref|| on the reference slice; NaN/Inf anywhere in `out`
// gives infinity.
double relative_error(const at::Tensor& out, const Reference& ref, const Workload& w);

// ok / oom / unsupported / failed from an exception message.
Status classify_error(const std::string& message);

struct MeasureOptions {
  double tolerance = 1e-2;
  // The inputs' dtype, which ComfyUI's next layer expects back: another is a wrong output.
  at::ScalarType dtype = at::kBFloat16;
  double max_seconds = 2.0;
  double target_batch_ms = 1.0;  // GPU time one sample covers (several calls back to back)
  int max_batch = 64;
  // At the start of each turn on the GPU, untimed calls of the same backend for about this long
  // (none where one call takes longer), so that the samples see the clock this backend holds when
  // it runs on its own, as in a sampling step. A power-capped card's clock follows its power
  // 25-100 ms late: on an H200 at 700 W, cuDNN on Qwen-Image read 1.85 ms for the first 50 ms
  // after idle or a lighter kernel and 2.09 ms from 100 ms on; flash read 3.72 ms for 25 ms after
  // cuDNN and 3.35 ms settled (results/h200-2026-12-01/README.md).
  double settle_ms = 100;
  // No settle for calls shorter than this (one call, synchronised, in the warm-up): such calls
  // are bound by the host's launches and keep the card far from its power cap.
  double settle_min_call_ms = 0.1;
  double turn_ms = 200;  // sampling time of one turn before the next backend's turn
  // Samples queued ahead of the one being read. Each sample used to wait for its own spin, which
  // idled the SMs for 10-20% of the sampling time: enough, at the cap, to raise the clock of the
  // samples above the clock of the same calls back to back. With samples in flight the calls run
  // back to back through a whole turn, as in a sampling step; a backend whose host cannot keep
  // the queue filled samples one at a time behind a spin instead.
  int queue_depth = 3;
  // The warm-up's length (at most 50 calls), and the stopping rule's outpaced ratios
  // (StoppingParams); worker.cpp tightens them for a library's kernels one by one.
  double warm_up_s = 0.03;
  double outpaced_ratio = StoppingParams{}.outpaced_ratio;
  double outpaced_far_ratio = StoppingParams{}.outpaced_far_ratio;
  // A call of at least heavy_call_ms (by its warm-up) converges from heavy_min_samples samples,
  // not StoppingParams' 10. Such calls are video self-attention, 50 ms to 1 s each on the H200,
  // one call a sample: 10 samples of the three contenders on HunyuanVideo and Wan 14B 720p took
  // 7.5 s each of the full set's 68.8 s (results/h200-2026-12-03-quality/tune-full), their time
  // cap (max_seconds) stopping them, not their noise. The rule still asks the noise to be
  // within 0.5% over those samples. Its first call and check, over outpaced_ratio times another
  // backend's, stop it after one sample (in Sampler::prepare, or its first turn's).
  double heavy_call_ms = 50;
  int heavy_min_samples = 5;
};

// One backend's measurement of one shape, taken in turns, so that the worker can interleave a
// shape's backends and a slow drift of the card's temperature and clock over seconds hits all of
// them alike; each turn settles first (MeasureOptions::settle_ms says why).
class Sampler {
 public:
  Sampler(Runner& runner, const Workload& w, const Device& dev, const MeasureOptions& opt);
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  ~Sampler();

  // First call and numerical check against each of `refs` (none: not checked): NaN, Inf or an
  // error above the tolerance on any set rejects; the result's rel_error is the worst set's.
  // Then peak memory and warm-up. False when the measurement ends there; result() says why.
  // `best_other_ms`: the fastest other backend's estimate() on this shape (0: none yet). A
  // backend far out of the race in its first call and again in its warm-up call
  // (StoppingParams::outpaced_far_ratio; for a heavy call, heavy_call_ms, already the race's
  // outpaced_ratio) finishes here, ok and `outpaced`, its warm-up call the one sample: the sample
  // its first turn would take.
  bool prepare(const std::vector<Reference>& refs, double best_other_ms = 0);
  // Per checked set, once prepare() has checked it: its name (Reference::name), the kernel's
  // relative error, the dtype's floor and the bound the error had to meet.
  struct Checked {
    std::string set;
    double error = 0, floor = 0, bound = 0;
  };
  const std::vector<Checked>& errors() const { return errors_; }
  // One turn: the settle calls, then timed samples (each a batch of calls, queue_depth of them in
  // flight) for turn_ms; false once the stopping rule is satisfied or a call failed. Its time cap
  // counts only the time spent in this sampler's own turns, settle included. `best_other_ms`:
  // the fastest other backend's median_so_far() on this shape, for the rule's `outpaced` (0: none
  // yet).
  bool turn(double best_other_ms = 0);
  bool finished() const { return finished_; }
  // Fills status, reason, rel_error, median_ms, spread, host_ms, samples, peak_mem_bytes.
  Measurement result() const;
  // Median of the samples so far once there are StoppingParams::outpaced_min_samples of them,
  // or the result's once finished ok; 0 otherwise.
  double median_so_far() const;
  // What one call costs on the device as far as known: median_so_far(), else the warm-up's
  // estimate; 0 before a successful prepare.
  double estimate_ms() const;
  // The stopping rule's reason ("converged", ...); empty unless the samples finished it.
  std::string stop_reason() const;
  // Median SM clock just before each sample that had a spin queued before it, MHz: a power-capped
  // card's clock moves with what ran before (an H100 at 700 W: 1320-1980 MHz), and a compute-bound
  // kernel's time with it. 0 where unknown (the CPU).
  double sm_clock_mhz() const;
  // Samples dropped because the device may have idled inside them (see queue_depth), and whether
  // the samples stayed queued ahead to the end (false: the host could not keep up, or queue_depth
  // is 1, and they were taken one at a time behind spins).
  int dropped() const;
  bool queued() const;
  int turns() const;  // turns with samples

 private:
  void fail(const std::exception& e);
  // Whether one unsettled sample may stop it as far out of the race (prepare's and turn()'s far
  // rule): a call of settle_min_call_ms or more whose host issues it in under half its device
  // time (turn() says why; on the CPU both are the wall time).
  bool judged_by_one_sample() const;
  void queue_sample(double hold_ms);  // one batch between its timer's events, behind a spin of hold_ms
  bool read_sample(double elapsed_s);  // the oldest queued one, waited for; false once finished
  void drop_queued();
  void finish_ok();  // the result from the samples
  void issue_next();  // one call, on the next input set in turn

  Runner& runner_;
  const Workload& w_;
  const Device& dev_;
  MeasureOptions opt_;
  Measurement m_;
  bool finished_ = false;
  std::vector<Checked> errors_;
  struct State;  // timers, queued samples, stopping rule, batch size, spin length, estimates
  std::unique_ptr<State> st_;
};

}  // namespace autotune::bench
