#include "worker/worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>
#include <torch/version.h>

#ifdef AUTOTUNE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <cuda_runtime_api.h>
#endif

#include "worker/harness.h"
#include "worker/job.h"
#include "worker/native.h"
#include "worker/order.h"
#include "worker/python_env.h"
#include "worker/torch_gates.h"
#include "common/clock.h"
#include "common/prompt_marker.h"
#include "common/text.h"
#include "common/worker_protocol.h"

namespace autotune::bench {
namespace {

using json = nlohmann::json;
using protocol::Event;
using protocol::event_name;

void emit(std::FILE* out, const json& j) {
  const std::string line = j.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

void log(const std::string& s) { std::cerr << "[autotune-bench] " << s << std::endl; }

// "1.234": seconds to the millisecond, for the log.
std::string secs(double s) { return format_number("%.3f", s); }

at::ScalarType scalar_type(DType d) {
  switch (d) {
    case DType::bf16: return at::kBFloat16;
    case DType::fp16: return at::kHalf;
    case DType::fp32: return at::kFloat;
  }
  return at::kBFloat16;
}

// torch's full version ("2.11.0+cu130") from its dist-info in the venv, without importing it;
// the header's TORCH_VERSION ("2.11.0") when there is none.
std::string torch_version(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  for (const auto& p : paths) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(p, ec)) {
      const std::string name = e.path().filename().string();
      const std::string prefix = "torch-";
      if (name.rfind(prefix, 0) == 0 && e.path().extension() == ".dist-info")
        return name.substr(prefix.size(), name.size() - prefix.size() - std::string(".dist-info").size());
    }
  }
  return TORCH_VERSION;
}

struct NativeRunner : Runner {
  AttentionFn fn;
  const Inputs& in;
  NativeRunner(AttentionFn f, const Inputs& i) : fn(std::move(f)), in(i) {}
  void issue(int s) override { (void)fn(in.q[s], in.k[s], in.v[s]); }
  at::Tensor output(int s) override { return fn(in.q[s], in.k[s], in.v[s]); }
  int input_sets() const override { return in.timed; }
};

struct PythonRunner : Runner {
  PythonEnv& env;
  PyRef fn;
  std::vector<PyRef> args;
  PythonRunner(PythonEnv& e, PyRef f, const Inputs& in) : env(e), fn(std::move(f)), timed(in.timed) {
    for (std::size_t i = 0; i < in.q.size(); ++i)
      args.push_back(env.tuple3(env.to_python(in.q[i]), env.to_python(in.k[i]), env.to_python(in.v[i])));
  }
  void issue(int s) override { env.call(fn.get(), args[s].get()); }
  at::Tensor output(int s) override {
    PyRef out = env.call(fn.get(), args[s].get());
    return env.from_python(out.get());
  }
  int input_sets() const override { return timed; }
  int timed = 0;
};

struct BackendState {
  BackendInfo info;
  bool installed = false;
  bool excluded = false;
  bool importing = false;  // a Python backend not imported yet
  std::string version, reason;
};

json backend_json(const BackendState& s) {
  json e{{"backend", s.info.id}, {"installed", s.installed}, {"version", s.version}, {"reason", s.reason},
         {"quantized", s.info.quantized}, {"tolerance", s.info.tolerance}};
  if (s.excluded) e["excluded"] = true;
  return e;
}

// Each Python backend's import in the interpreter (started on first use), each announced first
// when `announce` is given, then torch's DLPack helpers where one imported; an interpreter that
// cannot start is every backend's reason.
std::vector<ProbeResult> probe_python(const std::vector<std::string>& paths, const std::vector<BackendInfo>& infos,
                                      const std::function<void(const BackendInfo&)>& announce = {}) {
  std::vector<ProbeResult> r(infos.size());
  bool any = false;
  for (std::size_t i = 0; i < infos.size(); ++i) {
    if (announce) announce(infos[i]);
    try {
      r[i] = PythonEnv::instance(paths).probe(infos[i]);
      any |= r[i].installed;
    } catch (const std::exception& e) {
      r[i].reason = e.what();
    }
  }
  try {
    if (any) PythonEnv::instance(paths).import_torch();
  } catch (const std::exception& e) {
    log(std::string("torch.utils.dlpack: ") + e.what());  // each make_call says so again
  }
  return r;
}

// Gives the importing backends their probes' outcome, in order; returns them as the hello would
// list them.
json take_probes(std::vector<BackendState>& backends, const std::vector<ProbeResult>& r) {
  json list = json::array();
  std::size_t i = 0;
  for (auto& s : backends) {
    if (!s.importing) continue;
    s.importing = false;
    s.installed = r.at(i).installed;
    s.version = r.at(i).version;
    s.reason = r.at(i).reason;
    ++i;
    list.push_back(backend_json(s));
  }
  return list;
}

const char* torch_dtype_name(DType d) {
  switch (d) {
    case DType::bf16: return "bfloat16";
    case DType::fp16: return "float16";
    case DType::fp32: return "float32";
  }
  return "bfloat16";
}

// The shape classes a Python backend's warm-up calls, one small call each: per layout, head_dim
// and whether each length is a multiple of 16 (Triton specialises its kernels on that), the
// first of the job's shapes still to measure, with its lengths cut to about 256 in the same
// class. Only head dims 64, 96 and 128, which every build of the libraries has: a warm-up runs
// beside the native measurements, where a crash could not be blamed on one shape (an FA3 build
// without head_dim 160 killed the process on it, DESIGN.md).
std::vector<PythonEnv::WarmShape> warm_shapes(const Job& job, const BackendInfo& b) {
  std::vector<PythonEnv::WarmShape> out;
  std::set<std::tuple<bool, int, bool, bool>> seen;
  const auto small = [](std::int64_t n) { return static_cast<int>(n <= 272 ? n : 256 + n % 16); };
  for (const auto& w : job.workloads) {
    if (job.skipped(b.id, w.id) || (w.head_dim != 64 && w.head_dim != 96 && w.head_dim != 128)) continue;
    const bool flat = w.layout == Layout::blhd_flat;
    if (!seen.insert({flat, w.head_dim, w.q_len % 16 == 0, w.kv_len % 16 == 0}).second) continue;
    out.push_back({flat, w.heads, w.head_dim, small(w.q_len), small(w.kv_len)});
  }
  return out;
}

// The Python backends' imports (Job::overlap_imports), run by the main thread while the measuring
// thread measures the native backends: `import torch` alone takes 2.9-5.3 s on the H200
// machines, a fifth of a cold tune with the four libraries. Python's imports stay on the main
// thread, as in ComfyUI, whose attention calls run on its prompt thread.
class Imports {
 public:
  // Main thread: the probes and, on a GPU, the warm-ups (PythonEnv::warm), then the GIL handed
  // over (PythonEnv::release_gil). Each warm-up is announced ("warm", then "warmed") for the
  // parent to blame a hang or a crash in it on its backend once nothing else runs (emit's one
  // fwrite and fflush lock the stream, so the two threads' lines never interleave).
  void run(const Job& job, const Device& dev, const std::vector<BackendInfo>& infos, std::FILE* out) {
    std::vector<ProbeResult> r = probe_python(job.python_paths, infos);
    if (dev.cuda()) {
      const std::string device = "cuda:" + std::to_string(dev.device().index());
      for (std::size_t i = 0; i < infos.size(); ++i) {
        if (!r[i].installed || job.excluded(infos[i])) continue;
        emit(out, {{"event", event_name(Event::warm)}, {"backend", infos[i].id}});
        const struct Warmed {
          std::FILE* out;
          const std::string& id;
          ~Warmed() { emit(out, {{"event", event_name(Event::warmed)}, {"backend", id}}); }
        } warmed{out, infos[i].id};
        try {
          const double s = PythonEnv::instance(job.python_paths).warm(infos[i], warm_shapes(job, infos[i]),
                                                                      torch_dtype_name(job.dtype), device);
          log(infos[i].id + " warmed up in " + secs(s) + " s");
        } catch (const std::exception& e) {
          log(infos[i].id + " warm-up: " + e.what());
        }
      }
    }
    PythonEnv::release_gil();
    {
      std::lock_guard<std::mutex> lock(mu_);
      results_ = std::move(r);
      done_ = true;
      finished_ = std::chrono::steady_clock::now();
    }
    cv_.notify_all();
  }
  bool ready() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  // The probes, and when they were done.
  std::vector<ProbeResult> wait(std::chrono::steady_clock::time_point* finished) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    *finished = finished_;
    return results_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<ProbeResult> results_;
  std::chrono::steady_clock::time_point finished_;
};

// A library's kernels one by one (BackendInfo::variant_of: `sage`'s eight, four of them on sm90
// once sageattn's own is measured as `sage`) are route candidates only: a kernel is worth its
// time on a shape only while it can still be the shape's pick. Measured in full like the others,
// the four on the default set's 11 shapes are 44 more measurements of 150-300 ms each (warm-up,
// settle, turns of 200 ms), on a cold tune of 18.2-20.0 s (five on the H200 with FA3 and Sage)
// against the real-libraries issue's 20 s. So, against a rival at least as accurate:
// - 1.05x after 3 samples stops it: the policy's ties within 3% resolve to the exact kernels and
//   the library's own entry first (common/adapters.h, tie_rank), so a kernel 5% slower by three
//   samples cannot be picked unless the samples are 2% off (run to run on the H200: 42 of 46
//   pairs within 3% of do_bench, with full sampling);
// - 1.25x by its warm-up and by one sample stops it after that sample, with no settle: an
//   unsettled sample reads up to 11% high after a heavier kernel (flash 3.72 ms after cuDNN,
//   3.35 settled, on Qwen-Image); where sageattn reads 1.34-1.46x FA3 or cuDNN (SD3.5-L, Flux,
//   SDXL on the H200) its other kernels are not expected near (scripts/bench/device_quality.sh's per-kernel
//   table measures every kernel in full, to check that);
// - its warm-up is 10 ms, not 30: enough to size its batches.
// Its numerical check is never cut: the errors on both sets are what the quality levels read.
// A job's every_kernel measures them like the others (scripts/bench/device_quality.sh).
struct VariantRace {
  double warm_up_s, outpaced_ratio, outpaced_far_ratio;
};
constexpr VariantRace kVariantRace{0.01, 1.05, 1.25};

// Every other backend: 1.25x another after 3 samples stops it (StoppingParams' outpaced_ratio is
// 2x). The policy's ties are within 3%, so it cannot be the shape's pick, and its 3-sample median
// serves a mechanism's sum over shapes (on calls of 1 ms and more, 3 samples sit within 1-2% of
// 10). On the H200's cold default-set tune (call3 of results/h200-2026-12-03-seen) 2x let
// sdpa_flash take 10-38 samples at 1.3-1.8x cuDNN on nine of eleven shapes and sageattn 20 at
// 1.4x FA3 on Flux. Counting an 8-bit rival's median 1.6x (a quality level may refuse it) was
// tried: on the full set it moved the far rule's 4x past sdpa_efficient and quad on HunyuanVideo
// and Wan 14B 720p (1-1.2 s a call), whose two more samples each took the full-set tune from
// 98 s past its 120 s budget (call4).
constexpr double kExactRaceRatio = 1.25;

// Measures `todo` on shape `w`, in that order, and emits their results. `floor_ms`: the fastest
// median of this shape's backends measured before (0: none), which counts as another backend's
// for the stopping rule's `outpaced`; `*medians` (when given) gets each ok result's median. False
// when the CUDA context died with a result (the worker must end).
bool measure_shape(const Job& job, std::FILE* out, const Device& dev, const Workload& w,
                   const std::vector<const BackendState*>& todo, double floor_ms,
                   std::map<std::string, double>* medians, PromptGate& gate) {
  if (todo.empty()) return true;
  const at::ScalarType dtype = scalar_type(job.dtype);
  const std::int64_t q_elements = static_cast<std::int64_t>(w.batch) * w.heads * w.q_len * w.head_dim;
  // Where a shape's time goes, for the log: inputs and reference, each backend's first call,
  // check and warm-up, then the turns.
  const auto t_shape = std::chrono::steady_clock::now();
  std::string prepared;

  // `sampler`: the one that took the samples, for how it took them (none where it failed first).
  auto result = [&](const BackendState& s, Measurement m, const Sampler* sampler) {
    m.backend = s.info.id;
    m.backend_version = s.version;
    m.shape = w.id;
    json j = m;
    j["event"] = event_name(Event::result);
    if (sampler && !sampler->errors().empty()) {
      // Per checked set, for the results (randn, activation-like): the kernel's error, and the
      // dtype's own on that set, which the bound allows twice of (harness.cpp).
      json errors = json::object(), floors = json::object();
      for (const Sampler::Checked& c : sampler->errors()) {
        errors[c.set] = c.error;
        floors[c.set] = c.floor;
      }
      j["rel_errors"] = errors;
      j["rel_error_floors"] = floors;
    }
    if (sampler && m.status == Status::ok) {
      if (const std::string stop = sampler->stop_reason(); !stop.empty()) j["stop"] = stop;
      if (const double mhz = sampler->sm_clock_mhz(); mhz > 0) j["sm_clock_mhz"] = std::round(mhz);
      j["dropped"] = sampler->dropped();
      j["queued"] = sampler->queued();
      j["turns"] = sampler->turns();
      if (medians) (*medians)[s.info.id] = m.median_ms;
    }
    emit(out, j);
  };

  Inputs in;
  std::string input_error;
  try {
    in = make_inputs(w, dtype, dev.device());
  } catch (const std::exception& e) {
    input_error = e.what();
  }
  if (!input_error.empty()) {
    // The shape does not fit the card at all: every backend gets the same answer.
    const Status st = classify_error(input_error) == Status::oom ? Status::oom : Status::failed;
    for (const auto* s : todo) {
      emit(out, {{"event", event_name(Event::start)}, {"backend", s->info.id}, {"shape", w.id}});
      Measurement m;
      m.status = st;
      m.reason = "inputs: " + input_error.substr(0, input_error.find('\n'));
      result(*s, m, nullptr);
    }
    return true;
  }
  std::vector<Reference> refs;
  try {
    refs = make_references(in, w);
  } catch (const std::exception& e) {
    log("no float32 reference for " + w.id + ": " + e.what());
  }
  const double setup_s = seconds_since(t_shape);

  // Each backend's first call, check and warm-up, one after the other; then their samples in
  // turns (Sampler's comment says why), each turn announced so that the parent can blame a
  // crash or a hang on the backend that ran. A backend twice as slow as another stops early
  // (StoppingParams::outpaced_ratio), and one four times as slow after one sample.
  struct Candidate {
    const BackendState* s;
    std::unique_ptr<Runner> runner;
    std::unique_ptr<Sampler> sampler;
    bool reported = false;
  };
  std::vector<Candidate> timing;
  // Whether a library's kernel one by one races against `o`: o is at least as accurate (its
  // worst error over the checked sets no larger), so that no quality budget that keeps the
  // kernel drops o (kVariantRace).
  const auto rival = [&](const Candidate& c, const Candidate& o) {
    return c.s->info.variant_of.empty() || o.sampler->result().rel_error <= c.sampler->result().rel_error;
  };
  const BackendState* announced = nullptr;  // what the parent would blame for a crash now
  // Emits the result; false when the CUDA context died with it (the worker must end).
  auto finish = [&](const BackendState& s, Measurement m, const Sampler* sampler) {
    if (refs.empty() && m.status == Status::ok) m.reason = "no float32 reference (numerics not checked)";
    result(s, m, sampler);
    announced = nullptr;
    if (m.status == Status::ok || m.status == Status::rejected) return true;
    std::string why;
    if (dev.healthy(&why)) return true;
    // An illegal address or a launch failure poisons the CUDA context for good: every later
    // measurement in this process would fail. Leave it to a fresh worker.
    log("CUDA context unusable after " + s.info.id + " on " + w.id + ": " + why);
    emit(out, {{"event", event_name(Event::fatal)}, {"message", why}, {"backend", s.info.id}, {"shape", w.id}});
    return false;
  };
  for (const auto* s : todo) {
    gate.wait();
    emit(out, {{"event", event_name(Event::start)}, {"backend", s->info.id}, {"shape", w.id}});
    announced = s;
    MeasureOptions opt;
    opt.tolerance = s->info.tolerance;
    opt.dtype = dtype;
    opt.max_seconds = job.max_seconds_per_measurement;
    opt.settle_ms = job.settle_ms;
    opt.turn_ms = job.turn_ms;
    opt.queue_depth = job.queue_depth;
    if (!s->info.variant_of.empty() && !job.every_kernel) {
      opt.warm_up_s = kVariantRace.warm_up_s;
      opt.outpaced_ratio = kVariantRace.outpaced_ratio;
      opt.outpaced_far_ratio = kVariantRace.outpaced_far_ratio;
    } else if (!job.every_kernel) {
      opt.outpaced_ratio = kExactRaceRatio;
    }
    Candidate c{s, nullptr, nullptr};
    Measurement failed;
    const auto t_prepare = std::chrono::steady_clock::now();
    try {
      SdpSelection select(s->info.id, job.comfyui_sdpa, q_elements);
      if (s->info.kind == BackendKind::native) {
        c.runner = std::make_unique<NativeRunner>(make_native(s->info.id, w), in);
      } else {
        auto& env = PythonEnv::instance(job.python_paths);
        c.runner = std::make_unique<PythonRunner>(env, env.make_call(s->info, w), in);
      }
      c.sampler = std::make_unique<Sampler>(*c.runner, w, dev, opt);
      // The fastest estimate of the backends prepared before; for a library's kernel one by one,
      // only the exact ones' (its own error is not checked yet, and no exact backend is less
      // accurate: `rival` below).
      double best = floor_ms;
      for (const auto& o : timing)
        if (const double e = o.sampler->estimate_ms();
            e > 0 && (best == 0 || e < best) && (s->info.variant_of.empty() || !o.s->info.quantized))
          best = e;
      const bool ready = c.sampler->prepare(refs, best);
      prepared += " " + s->info.id + " " + secs(seconds_since(t_prepare));
      if (ready) {
        timing.push_back(std::move(c));
        continue;
      }
      failed = c.sampler->result();
    } catch (const std::exception& e) {
      failed.status = Status::failed;
      failed.reason = e.what();
    }
    if (!finish(*s, failed, nullptr)) return false;
  }
  const auto t_turns = std::chrono::steady_clock::now();
  for (bool more = !timing.empty(); more;) {
    more = false;
    for (auto& c : timing) {
      if (c.sampler->finished()) continue;
      // Between turns, never inside one: a turn's samples are taken with the GPU to itself.
      if (gate.wait().count() > 0) announced = nullptr;
      if (announced != c.s) {
        emit(out, {{"event", event_name(Event::sample)}, {"backend", c.s->info.id}, {"shape", w.id}});
        announced = c.s;
      }
      double best = floor_ms;  // the fastest other backend's median so far (natives: exact)
      for (const auto& o : timing)
        if (const double m = o.sampler->median_so_far(); &o != &c && m > 0 && (best == 0 || m < best) && rival(c, o))
          best = m;
      SdpSelection select(c.s->info.id, job.comfyui_sdpa, q_elements);
      more |= c.sampler->turn(best);
      if (c.sampler->finished() && c.sampler->result().status != Status::ok) {
        // A call that failed may have taken the CUDA context with it: say so before another
        // backend runs on this device.
        c.reported = true;
        if (!finish(*c.s, c.sampler->result(), nullptr)) return false;
      }
    }
  }
  for (auto& c : timing)
    if (!c.reported && !finish(*c.s, c.sampler->result(), c.sampler.get())) return false;
  log(w.id + ": " + secs(seconds_since(t_shape)) + " s; inputs and reference " + secs(setup_s) +
      " s; first call and warm-up (s):" + prepared + "; turns " + secs(seconds_since(t_turns)) + " s");
  return true;
}


// Every shape, then "done"; 0, or 3 when the CUDA context died. With `imports`, the Python
// backends join at the first shape after their imports are done; the shapes measured before
// that take their Python backends after the last shape, against their native backends' best.
int measure(const Job& job, std::FILE* out, const Device& dev, std::vector<BackendState>& backends,
            Imports* imports, std::chrono::steady_clock::time_point t_start) {
  std::optional<PythonEnv::Gil> gil;  // the measuring thread's, once the imports hand it over
  std::vector<std::pair<const Workload*, double>> deferred;  // shape, its native backends' best
  auto join = [&](bool wait) {
    if (!imports || !(wait || imports->ready())) return;
    std::chrono::steady_clock::time_point finished;
    const std::vector<ProbeResult> r = imports->wait(&finished);
    emit(out, {{"event", event_name(Event::backends)}, {"backends", take_probes(backends, r)}});
    log("Python backends imported after " + secs(std::chrono::duration<double>(finished - t_start).count()) +
        " s; measured from " + secs(seconds_since(t_start)) + " s");
    if (PythonEnv::started()) gil.emplace();
    imports = nullptr;
  };
  // A ComfyUI prompt on this GPU goes first: the tune waits between turns while it runs.
  PromptGate gate(job.prompt_marker, std::chrono::milliseconds(static_cast<std::int64_t>(job.max_pause_s * 1000)),
                  real_clock(), [&](bool paused, const std::string& why) {
                    if (paused)
                      emit(out, {{"event", event_name(Event::paused)}, {"why", why}});
                    else
                      emit(out, {{"event", event_name(Event::resumed)}, {"why", why}});
                    log(std::string(paused ? "paused: " : "resumed: ") + why);
                  });
  // The previous shape's ok medians: a shape's backends run fastest first by them (race_order).
  std::map<std::string, double> previous;
  auto todo = [&](const Workload& w, bool python_only) {
    std::vector<const BackendState*> t;
    for (const auto& s : backends)
      if (s.installed && !s.excluded && !job.skipped(s.info.id, w.id) &&
          (!python_only || s.info.kind == BackendKind::python))
        t.push_back(&s);
    std::vector<std::string> ids;
    for (const auto* s : t) ids.push_back(s->info.id);
    std::vector<const BackendState*> ordered;
    for (const std::size_t i : race_order(ids, previous)) ordered.push_back(t[i]);
    return ordered;
  };
  for (const Workload* w : smallest_first(job.workloads)) {
    join(false);
    std::map<std::string, double> medians;
    if (!measure_shape(job, out, dev, *w, todo(*w, false), 0, &medians, gate)) return 3;
    if (imports) deferred.emplace_back(w, fastest_median(medians));
    previous = std::move(medians);
  }
  join(true);
  for (const auto& [w, best] : deferred)
    if (!measure_shape(job, out, dev, *w, todo(*w, true), best, nullptr, gate)) return 3;
  emit(out, {{"event", event_name(Event::done)}});
  log("done after " + secs(seconds_since(t_start)) + " s");
  return 0;
}

}  // namespace

void list_backends(std::FILE* out) {
  for (const auto& b : builtin_backends()) {
    const std::string line = b.id + "\t" + (b.kind == BackendKind::native ? "native" : "python") +
                             "\t" + b.description + "\n";
    std::fputs(line.c_str(), out);
  }
}

int run_worker(const std::string& job_text, std::FILE* out) {
  Job job;
  try {
    job = parse_job(json::parse(job_text));
  } catch (const std::exception& e) {
    log(std::string("bad job: ") + e.what());
    emit(out, {{"event", event_name(Event::error)}, {"message", e.what()}});
    return 2;
  }
  const auto t_start = std::chrono::steady_clock::now();
  std::unique_ptr<Device> dev;
  try {
    dev = std::make_unique<Device>(job.cpu, job.device);
  } catch (const std::exception& e) {
    log(std::string("no device: ") + e.what());
    emit(out, {{"event", event_name(Event::error)}, {"message", e.what()}});
    return 2;
  }
  const std::string tv = torch_version(job.python_paths);

  // Which backends can run at all here. The Python ones are imported after the hello, or beside
  // the native backends' measurements when the job says so (Imports); not those with every shape
  // skipped, whose import may be what crashed an earlier worker.
  std::vector<BackendState> backends;
  std::vector<BackendInfo> python;
  const TorchVersion linked{TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR};
  std::string capability = dev->cuda() ? "" : job.compute_capability;
#ifdef AUTOTUNE_WITH_CUDA
  if (dev->cuda()) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(dev->device().index());
    capability = std::to_string(p->major) + "." + std::to_string(p->minor);
  }
#endif
  for (const auto& b : job.backends) {
    BackendState s;
    s.info = b;
    s.excluded = job.excluded(b);
    if (std::string gate = capability_gate(b, capability); !gate.empty()) {
      s.reason = std::move(gate);  // not installed here: never imported, never timed
    } else if (std::string dup = job.every_kernel ? "" : duplicate_gate(b, capability); !dup.empty()) {
      s.reason = std::move(dup);  // the library's own entry times the same call
    } else if (std::string outrun = job.every_kernel ? "" : outrun_gate(b, capability); !outrun.empty()) {
      s.reason = std::move(outrun);  // cannot win a shape here
    } else if (b.kind == BackendKind::native) {
      s.reason = native_gate(b.id, linked);
      s.installed = s.reason.empty();
      s.version = tv;
    } else if (std::all_of(job.workloads.begin(), job.workloads.end(),
                           [&](const Workload& w) { return job.skipped(b.id, w.id); })) {
      s.reason = "not imported: every shape of it is measured";
    } else {
      python.push_back(b);
      s.importing = true;
    }
    backends.push_back(std::move(s));
  }
  const bool overlap = job.overlap_imports && !python.empty();

  json hello{{"event", event_name(Event::hello)},  {"protocol", kProtocolVersion}, {"torch", tv},
             {"cuda", ""},        {"cudnn", ""},                  {"python", PythonEnv::version()},
             {"device", "cpu"},   {"compute_capability", ""},     {"harness", kHarnessVersion},
             {"dtype", std::string(to_string(job.dtype))}};
#ifdef AUTOTUNE_WITH_CUDA
  if (dev->cuda()) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(dev->device().index());
    int rt = 0;
    cudaRuntimeGetVersion(&rt);
    hello["cuda"] = std::to_string(rt / 1000) + "." + std::to_string((rt % 1000) / 10);
    const long cudnn = at::detail::getCUDAHooks().versionCuDNN();
    hello["cudnn"] = std::to_string(cudnn);
    hello["device"] = p->name;
    hello["compute_capability"] = std::to_string(p->major) + "." + std::to_string(p->minor);
    hello["sm_count"] = p->multiProcessorCount;
    hello["memory_bytes"] = static_cast<std::int64_t>(p->totalGlobalMem);
  }
#endif
  json list = json::array(), importing = json::array();
  for (const auto& s : backends) {
    if (s.importing)
      importing.push_back(s.info.id);
    else
      list.push_back(backend_json(s));
  }
  hello["backends"] = list;
  if (!python.empty()) hello["importing"] = importing;
  emit(out, hello);
  log("hello after " + secs(seconds_since(t_start)) + " s");
  if (!overlap) {
    if (!python.empty()) {
      // Each import announced, so that the parent can blame a crash or a hang in it on its backend.
      const auto announce = [&](const BackendInfo& b) { emit(out, {{"event", event_name(Event::import)}, {"backend", b.id}}); };
      emit(out, {{"event", event_name(Event::backends)}, {"backends", take_probes(backends, probe_python(job.python_paths, python, announce))}});
    }
    return measure(job, out, *dev, backends, nullptr, t_start);
  }

  // The measuring thread writes every event from here on; this one imports, then waits.
  Imports imports;
  int rc = 3;
  std::thread measuring([&] {
    try {
      dev->use_here();
      rc = measure(job, out, *dev, backends, &imports, t_start);
    } catch (const std::exception& e) {
      log(std::string("measuring thread: ") + e.what());
    }
  });
  imports.run(job, *dev, python, out);
  measuring.join();
  PythonEnv::take_gil();
  return rc;
}

}  // namespace autotune::bench
