#include "worker/harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>

#ifdef AUTOTUNE_WITH_CUDA
#include <ATen/cuda/Sleep.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

#include "worker/activation_like.h"
#include "worker/settle.h"
#include "common/stats.h"

namespace autotune::bench {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

namespace {

using Clock = std::chrono::steady_clock;

#ifdef AUTOTUNE_WITH_CUDA
void cuda_check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}
#define CUDA_CHECK(expr) cuda_check((expr), #expr)

struct EventTimer : Device::Timer {
  cudaEvent_t a = nullptr, b = nullptr, h = nullptr;
  bool marked = false;
  EventTimer() {
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
    CUDA_CHECK(cudaEventCreate(&h));
  }
  ~EventTimer() override {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cudaEventDestroy(h);
  }
  void mark_hold() override {
    CUDA_CHECK(cudaEventRecord(h, c10::cuda::getCurrentCUDAStream().stream()));
    marked = true;
  }
  double hold_elapsed_ms() override {
    if (!marked) return 0;
    marked = false;
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, h, a));
    return ms;
  }
  // Events on the stream the backends run on: torch's current stream, which the embedded
  // Python's torch shares (one libtorch in the process).
  void start() override { CUDA_CHECK(cudaEventRecord(a, c10::cuda::getCurrentCUDAStream().stream())); }
  void stop() override { CUDA_CHECK(cudaEventRecord(b, c10::cuda::getCurrentCUDAStream().stream())); }
  double elapsed_ms() override {
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    return ms;
  }
  bool started() override {
    const cudaError_t err = cudaEventQuery(a);
    if (err == cudaErrorNotReady) return false;
    CUDA_CHECK(err);
    return true;
  }
};
#endif

struct WallTimer : Device::Timer {
  Clock::time_point a, b;
  void start() override { a = Clock::now(); }
  void stop() override { b = Clock::now(); }
  double elapsed_ms() override { return std::chrono::duration<double, std::milli>(b - a).count(); }
};

}  // namespace

Device::Device(bool cpu, int index) : device_(at::kCPU) {
  if (cpu) return;
#ifdef AUTOTUNE_WITH_CUDA
  int count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&count));
  if (index < 0 || index >= count)
    throw std::invalid_argument("device " + std::to_string(index) + " not present (" +
                                std::to_string(count) + " CUDA devices)");
  device_ = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(index));
  // Calibrate the spin kernel: it counts SM clock cycles, so cycles per ms follow the clock.
  at::empty({1}, at::TensorOptions().device(device_));  // creates the context
  EventTimer t;
  at::cuda::sleep(1000);
  t.start();
  const int64_t cycles = 20'000'000;
  at::cuda::sleep(cycles);
  t.stop();
  cycles_per_ms_ = cycles / std::max(t.elapsed_ms(), 1e-3);
#else
  (void)index;
  throw std::invalid_argument("this autotune-bench was built with a CPU-only LibTorch; "
                              "send \"cpu\": true or build against a CUDA LibTorch");
#endif
}

void Device::sync() const {
#ifdef AUTOTUNE_WITH_CUDA
  if (cuda()) CUDA_CHECK(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream().stream()));
#endif
}

void Device::use_here() const {
#ifdef AUTOTUNE_WITH_CUDA
  if (cuda()) c10::cuda::set_device(device_.index());
#endif
}

std::int64_t Device::hold(double ms, Timer* timer) const {
#ifdef AUTOTUNE_WITH_CUDA
  if (!cuda() || ms <= 0) return 0;
  const auto cycles = static_cast<int64_t>(ms * cycles_per_ms_);
  if (timer) {
    // A 20 us spin first: while it runs the host queues the mark and the long spin, so the GPU
    // reaches the mark with the long spin already waiting behind it, and the mark-to-start time
    // is the long spin alone, not a kernel launch's latency.
    at::cuda::sleep(static_cast<int64_t>(0.02 * cycles_per_ms_));
    timer->mark_hold();
  }
  at::cuda::sleep(cycles);
  return cycles;
#else
  (void)ms;
  (void)timer;
  return 0;
#endif
}

std::int64_t Device::allocated() const {
#ifdef AUTOTUNE_WITH_CUDA
  if (cuda()) return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index()).allocated_bytes[0].current;
#endif
  return 0;
}

void Device::reset_peak() const {
#ifdef AUTOTUNE_WITH_CUDA
  if (cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device_.index());
#endif
}

std::int64_t Device::peak() const {
#ifdef AUTOTUNE_WITH_CUDA
  if (cuda()) return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index()).allocated_bytes[0].peak;
#endif
  return 0;
}

bool Device::healthy(std::string* why) const {
  if (!cuda()) return true;
  try {
    auto t = at::ones({16}, at::TensorOptions().device(device_));
    (void)t.sum().item<float>();
    sync();
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

std::unique_ptr<Device::Timer> Device::timer() const {
#ifdef AUTOTUNE_WITH_CUDA
  if (cuda()) return std::make_unique<EventTimer>();
#endif
  return std::make_unique<WallTimer>();
}

Inputs make_inputs(const Workload& w, at::ScalarType dtype, const at::Device& device) {
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  auto shape = [&](int64_t len) -> std::vector<int64_t> {
    if (w.layout == Layout::bhld) return {w.batch, w.heads, len, w.head_dim};
    return {w.batch, len, static_cast<int64_t>(w.heads) * w.head_dim};
  };
  const double elem = static_cast<double>(c10::elementSize(dtype));
  const double set_bytes = elem * w.batch * w.heads * w.head_dim * (2.0 * w.q_len + 2.0 * w.kv_len);
  // Enough sets to cover four times the H100's 50 MB L2, at most 8. With one 107 MB set (Flux),
  // back-to-back calls found part of their inputs in L2: cuDNN read 4% faster than do_bench.
  const int sets = std::clamp(static_cast<int>(std::ceil(200e6 / set_bytes)), 1, 8);
  Inputs in;
  for (int i = 0; i < sets; ++i) {
    // Random normal inputs, never zeros (METHOD.md: zeros run faster than real data).
    in.q.push_back(at::randn(shape(w.q_len), opts));
    in.k.push_back(at::randn(shape(w.kv_len), opts));
    in.v.push_back(at::randn(shape(w.kv_len), opts));
  }
  in.timed = sets;
  QKV act = make_activation_like(w, dtype, device);
  in.q.push_back(std::move(act.q));
  in.k.push_back(std::move(act.k));
  in.v.push_back(std::move(act.v));
  return in;
}

namespace {
int64_t ref_queries(const Workload& w) { return std::min<int64_t>(w.q_len, 1024); }
int64_t ref_heads(const Workload& w) { return std::min<int64_t>(w.heads, 2); }

at::Tensor to_bhld(const at::Tensor& t, const Workload& w) {
  if (w.layout == Layout::bhld) return t;
  return t.view({t.size(0), t.size(1), w.heads, w.head_dim}).transpose(1, 2);
}
}  // namespace

Reference make_reference(const Inputs& in, const Workload& w, int set) {
  Reference r;
  r.set = set;
  r.name = set < in.timed || in.timed == 0 ? "randn" : "activation-like";
  r.heads = ref_heads(w);
  r.queries = ref_queries(w);
  const double scale = 1.0 / std::sqrt(static_cast<double>(w.head_dim));
  std::vector<at::Tensor> outs, qs, ks, vs;
  for (int64_t h = 0; h < r.heads; ++h) {  // one head at a time: 1024 x 118800 floats is 0.5 GB
    at::Tensor q = to_bhld(in.q[set], w).select(0, 0).select(0, h).slice(0, 0, r.queries);
    at::Tensor k = to_bhld(in.k[set], w).select(0, 0).select(0, h);
    at::Tensor v = to_bhld(in.v[set], w).select(0, 0).select(0, h);
    at::Tensor p = (at::matmul(q.to(at::kFloat), k.to(at::kFloat).transpose(0, 1)) * scale).softmax(-1);
    outs.push_back(at::matmul(p, v.to(at::kFloat)));
    qs.push_back(q);
    ks.push_back(k);
    vs.push_back(v);
  }
  r.out = at::stack(outs);
  r.floor = dtype_floor(at::stack(qs), at::stack(ks), at::stack(vs), r.out);
  return r;
}

double dtype_floor(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& ref_out) {
  const at::ScalarType dtype = q.scalar_type();
  if (dtype == at::kFloat || dtype == at::kDouble) return 0;
  // Rounded to the dtype, computed in float32: a bf16 matmul on the CPU is slow, and the
  // emulation reads the same on every device.
  const auto round = [dtype](const at::Tensor& t) { return t.to(dtype).to(at::kFloat); };
  const double s = std::sqrt(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  const at::Tensor qs = round(q.to(at::kFloat) * s), ks = round(k.to(at::kFloat) * s);
  const at::Tensor p = round(round(at::matmul(qs, ks.transpose(-2, -1))).softmax(-1));
  const at::Tensor out = round(at::matmul(p, v.to(at::kFloat)));
  const double den = ref_out.norm().item<double>();
  const double num = (out - ref_out).norm().item<double>();
  return den == 0 ? num : num / den;
}

// Why a floor, and why twice it. The activation-like set puts a bias of 10-100 on a few of K's
// channels and scales a few of Q's by 10 (activation_like.h): the logits carry a large term that
// is the same for every key, which exact softmax cancels, but a kernel that stores the logits in
// bf16 (torch's math kernel in torch 1.13, and under allow_fp16_bf16_reduction_math_sdp later)
// rounds each to 8 bits of mantissa first. That is the dtype's arithmetic, not a fault: measured
// on the CPU (D 40-160, 256-4096 keys), bf16 math reads 1.8e-2 to 3.2e-2 on this set against
// 4.8e-3 to 7.8e-3 on randn, while fused kernels that keep the logits in float32 read 1.7e-3 on
// both; the exact kernels' tolerance of 1e-2, set on randn, rejected the math kernel here. The
// emulation above reads 1.0-1.5x below torch's own bf16 math (its own rounding of the scaled q
// and k), so twice the floor keeps an exact kernel in (randn: 1e-2, the old bound; activation-
// like: 4e-2 to 6.5e-2). It does not open the set to what it is for: Sage's tolerance is already
// 6e-2, and a kernel that quantises K without smoothing it reads 0.37 (tests/worker/test_worker.py).
// A ratio to the floor instead (tolerance x floor / randn's floor) would scale Sage's 6e-2 by 4-6.
constexpr double kFloorHeadroom = 2;

double checked_tolerance(double tolerance, double floor) { return std::max(tolerance, kFloorHeadroom * floor); }

std::vector<Reference> make_references(const Inputs& in, const Workload& w) {
  std::vector<Reference> refs{make_reference(in, w, 0)};
  if (in.timed > 0 && static_cast<int>(in.q.size()) > in.timed) refs.push_back(make_reference(in, w, in.timed));
  return refs;
}

double relative_error(const at::Tensor& out, const Reference& ref, const Workload& w) {
  if (!at::isfinite(out).all().item<bool>()) return std::numeric_limits<double>::infinity();
  at::Tensor o = out.view({out.size(0), out.size(1), w.heads, w.head_dim})
                     .transpose(1, 2)
                     .select(0, 0)
                     .slice(0, 0, ref.heads)
                     .slice(1, 0, ref.queries)
                     .to(at::kFloat);
  const double num = (o - ref.out).norm().item<double>();
  const double den = ref.out.norm().item<double>();
  return den == 0 ? num : num / den;
}

Status classify_error(const std::string& m) {
  // torch: "CUDA out of memory", torch.OutOfMemoryError; ComfyUI split: "Not enough memory".
  if (m.find("out of memory") != std::string::npos || m.find("OutOfMemoryError") != std::string::npos ||
      m.find("Not enough memory") != std::string::npos)
    return Status::oom;
  // SDPA with only one kernel enabled that cannot take the shape/dtype/device: "No available
  // kernel" on CUDA, "No viable backend" on the CPU (torch 2.11).
  if (m.find("No available kernel") != std::string::npos || m.find("No viable backend") != std::string::npos)
    return Status::unsupported;
  return Status::failed;
}

namespace {
std::string first_lines(const std::string& s, int lines = 3) {
  // torch messages carry C++ backtraces; the first lines say what went wrong.
  std::size_t pos = 0;
  for (int i = 0; i < lines && pos != std::string::npos; ++i) pos = s.find('\n', pos + 1);
  std::string out = pos == std::string::npos ? s : s.substr(0, pos);
  if (out.size() > 600) out = out.substr(0, 600) + "...";
  return out;
}
}  // namespace

struct Sampler::State {
  std::unique_ptr<StoppingCriterion> crit;
  std::vector<std::unique_ptr<Device::Timer>> timers;  // one per queued sample: the queue's depth
  int next_timer = 0;
  struct Queued {
    Device::Timer* timer;
    std::int64_t hold_cycles;  // the spin queued before it, where there was one
    double host_ms;            // issuing its calls
    bool clean;                // the device had not reached it when all its calls were queued
  };
  std::deque<Queued> queued;  // oldest first
  double host_ms = 0;  // host time per call: the warm-up's issue time, each call on an idle device
  std::vector<double> clock_mhz;  // SM clock before each sample that had a spin, where known
  int batch = 1;
  double est_ms = 0;      // one call, synchronised, from the warm-up
  double gpu_est_ms = 0;  // one call's device time, from the warm-up
  int set = 0;            // input set of the next call
  double hold_ms = 0;     // spin before a sample that nothing queued covers
  bool one_at_a_time = false;  // the host could not keep samples queued ahead
  int unclean_queued = 0;       // dropped samples that had only the queue before them
  double sampling_s = 0;  // time spent in this sampler's turns: the time cap's clock
  int discarded = 0;
};

namespace {
// The spin before a turn's first sample after a settle: the settle keeps the device busy, and a
// spin this long reads the SM clock to 0.3% at 1.7 GHz.
constexpr double kClockSpinMs = 0.2;
// Queued samples the device caught up with before a backend samples one at a time: one such
// sample can be a pause of the host (Python's garbage collector), three are a host that is slower
// than the device.
constexpr int kUncleanBeforeOneAtATime = 3;
}  // namespace

Sampler::Sampler(Runner& runner, const Workload& w, const Device& dev, const MeasureOptions& opt)
    : runner_(runner), w_(w), dev_(dev), opt_(opt), st_(std::make_unique<State>()) {
  m_.shape = w.id;
}

Sampler::~Sampler() = default;

void Sampler::fail(const std::exception& e) {
  m_.reason = first_lines(e.what());
  m_.status = classify_error(m_.reason);
  st_->queued.clear();  // no wait: after a CUDA error the stream cannot be waited for
  finished_ = true;
}

bool Sampler::prepare(const std::vector<Reference>& refs, double best_other_ms) {
  try {
    // 1. First call (module loads, cuDNN plans), its peak memory over what the inputs hold,
    // shape and numerical check. One call only: a video shape costs hundreds of ms a call.
    dev_.sync();
    const std::int64_t base = dev_.allocated();
    dev_.reset_peak();
    const auto t_first = Clock::now();
    at::Tensor out = runner_.output(0);
    dev_.sync();
    const double first_ms = seconds_since(t_first) * 1e3;
    m_.peak_mem_bytes = std::max<std::int64_t>(0, dev_.peak() - base);
    const std::vector<int64_t> want{w_.batch, w_.q_len, static_cast<int64_t>(w_.heads) * w_.head_dim};
    if (out.sizes().vec() != want) {
      // Decisive: a wrong shape raises nothing in ComfyUI, which would not fall back.
      m_.status = Status::rejected;
      m_.reason = "returned shape " + std::string(c10::str(out.sizes())) + ", expected " +
                  std::string(c10::str(at::IntArrayRef(want)));
      finished_ = true;
      return false;
    }
    if (out.scalar_type() != opt_.dtype) {
      // Decisive too: ComfyUI passes the tensor on, whatever its dtype.
      m_.status = Status::rejected;
      m_.reason = std::string("returned dtype ") + c10::toString(out.scalar_type()) + ", expected " +
                  c10::toString(opt_.dtype);
      finished_ = true;
      return false;
    }
    // Every checked set, the first failure rejecting (activation_like.h: randn alone passes
    // kernels that fail on real activations). The randn set's output is the first call's. The
    // other set's call is timed like a warm-up call: a heavy one (MeasureOptions::heavy_call_ms)
    // is the warm-up's one call, and the warm-up below makes no other. On the H200's full set
    // that call took 0.15-0.95 s for each of nine backends on HunyuanVideo and Wan 14B 720p
    // (results/h200-2026-12-03-callC).
    for (int i = 0; i < std::max(opt_.queue_depth, 1); ++i) st_->timers.push_back(dev_.timer());
    Device::Timer& timer = *st_->timers[0];
    std::vector<double> warm, warm_issue, warm_gpu;
    auto t_warm = Clock::now();
    m_.rel_error = 0;
    for (const Reference& ref : refs) {
      if (ref.set != 0) {
        const auto t0 = Clock::now();
        timer.start();
        out = runner_.output(ref.set);
        const double issue_ms = seconds_since(t0) * 1e3;
        timer.stop();
        const double gpu_ms = timer.elapsed_ms();
        dev_.sync();
        if (gpu_ms >= opt_.heavy_call_ms) {
          t_warm = t0;
          warm = {seconds_since(t0) * 1e3};
          warm_issue = {issue_ms};
          warm_gpu = {gpu_ms};
        }
      }
      const double err = relative_error(out, ref, w_);
      const double bound = checked_tolerance(opt_.tolerance, ref.floor);
      errors_.push_back({ref.name, std::isfinite(err) ? err : kNonFiniteError, ref.floor, bound});
      if (!(err <= bound)) {
        m_.status = Status::rejected;
        m_.reason = std::isfinite(err) ? "relative error " + std::to_string(err) + " on the " + ref.name +
                                             " set above tolerance " + std::to_string(bound)
                                       : "output has NaN or Inf on the " + ref.name + " set";
        if (std::isfinite(err) && bound > opt_.tolerance)
          m_.reason += " (twice the dtype's own " + std::to_string(ref.floor) + ")";
        for (const Checked& c : errors_)
          if (c.set != ref.name) m_.reason += " (" + c.set + ": " + std::to_string(c.error) + ")";
        m_.rel_error = std::isfinite(err) ? err : kNonFiniteError;  // JSON has no infinity
        finished_ = true;
        return false;
      }
      m_.rel_error = std::max(m_.rel_error, err);
    }
    out = at::Tensor();
    // The time cap counts from the warm-up (a heavy call's: its check above), not the first
    // call, which builds cuDNN plans and loads modules (about 1 s for SD1.5's head_dim 160 on
    // the H100, which left one sample).
    // 2. Warm-up, synchronised per call: sizes the batches and the settle, and gives the host
    // time per call (issuing one call with nothing queued). A heavy call's is the check's above.
    if (warm.empty()) t_warm = Clock::now();
    while (warm.empty() || (seconds_since(t_warm) < opt_.warm_up_s && warm.size() < 50)) {
      const auto t0 = Clock::now();
      timer.start();
      runner_.issue(static_cast<int>(warm.size()) % runner_.input_sets());
      warm_issue.push_back(seconds_since(t0) * 1e3);
      timer.stop();
      warm_gpu.push_back(timer.elapsed_ms());
      dev_.sync();
      warm.push_back(seconds_since(t0) * 1e3);
      if (seconds_since(t_warm) > opt_.max_seconds) break;
    }
    const double est_ms = st_->est_ms = std::max(stats::median(warm), 1e-3);
    st_->gpu_est_ms = std::max(stats::median(warm_gpu), 1e-3);
    st_->host_ms = stats::median(warm_issue);
    st_->batch = std::clamp(static_cast<int>(std::lround(opt_.target_batch_ms / est_ms)), 1, opt_.max_batch);
    st_->hold_ms = 0.05 + 1.5 * st_->host_ms * st_->batch;
    StoppingParams sp;
    sp.max_time_s = std::max(opt_.max_seconds - seconds_since(t_warm), 1e-3);
    sp.outpaced_ratio = opt_.outpaced_ratio;
    sp.outpaced_far_ratio = opt_.outpaced_far_ratio;
    if (st_->gpu_est_ms >= opt_.heavy_call_ms) {
      // A heavy call's first call and its check are two readings of 50 ms or more each, more
      // device time than the 3 samples after which the race's ratio stops a lighter call, and
      // its samples would be single calls with no settle, read no steadier than these two. So
      // the race's ratio stops it here, not only the far rule's. On the H200's full set, cuDNN,
      // ComfyUI's SDPA and SDPA's flash kernel at 1.4-2.3x Sage took 3 samples each on
      // HunyuanVideo and Wan 14B 720p: 3.3 s and 2.2 s of their turns
      // (results/h200-2026-12-03-callD).
      sp.min_samples = opt_.heavy_min_samples;
      sp.outpaced_far_ratio = std::min(sp.outpaced_far_ratio, sp.outpaced_ratio);
    }
    st_->crit = std::make_unique<StoppingCriterion>(sp);
    // Far out of the race already: a heavy call whose first call (an upper bound: it also loads
    // and plans) and whose one warm-up call both took outpaced_far_ratio times another backend's
    // estimate. The warm-up call, timed by the device, is the one sample; the turn's confirming
    // sample (turn()) would repeat it. On the H200's full set this is the math kernel, split and
    // sub-quadratic attention on the video shapes: 0.65-1.4 s a call each.
    if (warm.size() == 1 && best_other_ms > 0 && judged_by_one_sample()) {
      st_->crit->add(st_->gpu_est_ms, 0);
      if (st_->crit->outpaced_by(best_other_ms, first_ms)) {
        finish_ok();
        return true;
      }
      st_->crit = std::make_unique<StoppingCriterion>(sp);  // not far: the samples start afresh
    }
    return true;
  } catch (const std::exception& e) {
    fail(e);
    return false;
  }
}

bool Sampler::judged_by_one_sample() const {
  return st_->est_ms >= opt_.settle_min_call_ms && (!dev_.cuda() || st_->host_ms < 0.5 * st_->gpu_est_ms);
}

void Sampler::queue_sample(double hold_ms) {
  // 3. Each sample is `batch` calls back to back between two events. Queued behind the samples
  // before it, or behind a spin kernel where nothing of this backend is queued, so that host
  // launch cost cannot leave gaps: the device time of the calls as they run in a sampling step.
  State& st = *st_;
  Device::Timer& t = *st.timers[st.next_timer];
  st.next_timer = (st.next_timer + 1) % static_cast<int>(st.timers.size());
  const std::int64_t cycles = dev_.hold(hold_ms, &t);
  t.start();
  const auto h0 = Clock::now();
  for (int i = 0; i < st.batch; ++i) issue_next();
  const double host_ms = seconds_since(h0) * 1e3;
  t.stop();
  st.queued.push_back({&t, cycles, host_ms, !t.started()});
}

bool Sampler::read_sample(double elapsed_s) {
  State& st = *st_;
  const State::Queued q = st.queued.front();
  st.queued.pop_front();
  const double gpu_ms = q.timer->elapsed_ms() / st.batch;
  const double spin_ms = q.timer->hold_elapsed_ms();
  // Past the time cap the sample counts whatever it is, so that the cap ends the measurement.
  if (!q.clean && st.discarded < 20 && elapsed_s < st.crit->params().max_time_s) {
    // The device reached the sample before the host had queued all its calls, so it may have
    // idled between them: not a sample (each queued sample is judged on its own). Behind a spin,
    // the spin was too short; behind other samples, the host did not keep ahead of the device,
    // and once that has happened kUncleanBeforeOneAtATime times, samples are taken one at a
    // time, each behind a spin.
    ++st.discarded;
    st.hold_ms = std::max(st.hold_ms, 2.0 * q.host_ms + 0.05);
    if (q.hold_cycles == 0 && ++st.unclean_queued >= kUncleanBeforeOneAtATime) st.one_at_a_time = true;
    return true;
  }
  if (q.hold_cycles > 0 && spin_ms > 0) st.clock_mhz.push_back(static_cast<double>(q.hold_cycles) / (spin_ms * 1e3));
  st.crit->add(gpu_ms, elapsed_s);
  if (st.one_at_a_time && dev_.cuda()) st.hold_ms = std::max(st.hold_ms * 0.9, 1.5 * q.host_ms + 0.05);
  if (!st.crit->finished()) return true;
  drop_queued();
  finish_ok();
  return false;
}

void Sampler::drop_queued() {
  if (st_->queued.empty()) return;
  dev_.sync();
  st_->queued.clear();
}

void Sampler::issue_next() {
  runner_.issue(st_->set);
  st_->set = (st_->set + 1) % runner_.input_sets();
}

void Sampler::finish_ok() {
  const auto s = stats::summarize(st_->crit->samples());
  m_.median_ms = s.median;
  m_.spread = s.spread;
  m_.samples = s.n;
  m_.host_ms = st_->host_ms;
  m_.status = Status::ok;
  finished_ = true;
}

double Sampler::median_so_far() const {
  if (finished_) return m_.status == Status::ok ? m_.median_ms : 0;
  if (!st_->crit || static_cast<int>(st_->crit->samples().size()) < st_->crit->params().outpaced_min_samples) return 0;
  return stats::median(st_->crit->samples());
}

double Sampler::estimate_ms() const {
  if (const double m = median_so_far(); m > 0) return m;
  return finished_ ? 0 : st_->gpu_est_ms;
}

bool Sampler::turn(double best_other_ms) {
  if (finished_) return false;
  if (!st_->crit) throw std::logic_error("Sampler::turn before a successful prepare");
  State& st = *st_;
  const auto t0 = Clock::now();
  st.crit->next_turn();
  try {
    double first_hold_ms = st.hold_ms;
    // Far out of the race by its warm-up (StoppingParams::outpaced_far_ratio): one sample, with
    // no settle and nothing queued behind it, to confirm; confirmed or not, the turn ends there.
    // The sample reads the clock that the backend before left, on a backend that cannot win the
    // shape (on the H200 within 1.4% of three settled samples: worker/README.md). Only calls
    // of 0.1 ms and more that the host issues in under half their device time (on the CPU both
    // are the wall time): smaller calls have no settle to save, and without this condition a
    // host-bound backend kept dropping its one sample (16 s on SD1.5's 256-token shape).
    const bool heavy = st.est_ms >= opt_.settle_min_call_ms;
    const bool far = st.crit->samples().empty() && st.discarded == 0 && best_other_ms > 0 && judged_by_one_sample() &&
                     st.gpu_est_ms > st.crit->params().outpaced_far_ratio * best_other_ms;
    if (!far && dev_.cuda() && heavy && st.est_ms < opt_.settle_ms) {
      // Queued, not waited for: the samples run right behind them. Counted in the calls' device
      // time (the samples' so far, or the warm-up's), not their synchronised time, which adds the
      // host's launch and the wait for it.
      const auto& done = st.crit->samples();
      const double call_ms = done.empty() ? st.gpu_est_ms : stats::median(done);
      for (int i = settle_calls(opt_.settle_ms, call_ms, st.host_ms); i > 0; --i) issue_next();
      first_hold_ms = kClockSpinMs;
    }
    bool first = true;
    while (!finished_) {
      // Queue up to the depth while the turn lasts, at least one sample a turn; then read the
      // oldest. At the turn's end the queue runs empty, so the next backend's settle starts on
      // a device that this one no longer occupies.
      const std::size_t depth = st.one_at_a_time || far ? 1 : st.timers.size();
      while (st.queued.size() < depth && (first || seconds_since(t0) * 1e3 < opt_.turn_ms)) {
        queue_sample(st.queued.empty() ? (first ? first_hold_ms : st.hold_ms) : 0);
        first = false;
      }
      if (st.queued.empty()) break;
      if (!read_sample(st.sampling_s + seconds_since(t0))) break;
      if (st.crit->outpaced_by(best_other_ms, st.gpu_est_ms)) {
        drop_queued();
        finish_ok();
      }
      if (far) break;
    }
  } catch (const std::exception& e) {
    fail(e);
  }
  st.sampling_s += seconds_since(t0);
  return !finished_;
}

Measurement Sampler::result() const { return m_; }

int Sampler::dropped() const { return st_->discarded; }

int Sampler::turns() const { return st_->crit ? st_->crit->turns() : 0; }

bool Sampler::queued() const { return st_->timers.size() > 1 && !st_->one_at_a_time; }

double Sampler::sm_clock_mhz() const { return st_->clock_mhz.empty() ? 0 : stats::median(st_->clock_mhz); }

std::string Sampler::stop_reason() const {
  if (!st_->crit || !st_->crit->finished()) return {};
  return std::string(to_string(st_->crit->reason()));
}

}  // namespace autotune::bench
