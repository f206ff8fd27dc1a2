#include "tuning.h"

#include <cmath>
#include <set>

#include "boot/child.h"
#include "boot/worker_line.h"
#include "common/mechanism.h"

namespace autotune {

using std::chrono::milliseconds;

std::string backend_version(const std::string& backend, const Fingerprint& env) {
  const auto mechanism = mechanism_of_backend(backend);
  if (!mechanism) return {};
  const auto it = env.packages.find(std::string(required_package(*mechanism)));
  if (it == env.packages.end()) return {};
  // sdpa_comfy is ComfyUI's priority over torch's kernels: another priority is another backend.
  if (backend == "sdpa_comfy" && env.comfyui_sdpa) return it->second + " " + env.comfyui_sdpa->signature();
  return it->second;
}

namespace {

using Pair = std::pair<std::string, std::string>;  // (backend, shape)

struct Run {
  const TuneOptions& o;
  const Fingerprint& env;
  Cache* cache;
  const CacheKey& key;
  Clock::time_point deadline;  // o.clock's
  std::set<Pair> done;
  std::vector<Measurement> fresh;  // this run's results, for when there is no cache
  TuneOutcome outcome;
  // Set after a worker crashed or hung while it imported its Python backends beside a native
  // measurement: which of the two failed is unknown, so the next worker imports first.
  bool imports_first = false;

  void log(const std::string& line) const {
    if (o.log) o.log(line);
  }

  milliseconds left() const {
    return std::chrono::duration_cast<milliseconds>(deadline - o.clock->now());
  }

  void progress(ProgressEvent e) const {
    if (o.progress) o.progress(e);
  }

  void record(Measurement m) {
    if (const std::string v = backend_version(m.backend, env); !v.empty()) m.backend_version = v;
    done.insert({m.backend, m.shape});
    progress({ProgressEvent::Kind::result, 0, m.backend, m.shape, m.status, m.median_ms, m.reason});
    if (cache) {
      // A failed write costs a re-measurement on the next boot, not this boot's decision.
      try {
        cache->put_measurement(key, m);
      } catch (const std::exception& e) {
        log("warning: could not store " + m.backend + "/" + m.shape + " in the cache: " + e.what());
      }
    }
    fresh.push_back(std::move(m));
  }

  nlohmann::json job() const {
    nlohmann::json skip = nlohmann::json::array();
    for (const auto& [backend, shape] : done) skip.push_back({{"backend", backend}, {"shape", shape}});
    nlohmann::json j = {{"protocol", 1},
                        {"device", o.gpu_uuid.empty() ? o.device : 0},
                        {"python_paths", env.site_packages.empty() ? nlohmann::json::array()
                                                                   : nlohmann::json{env.site_packages.string()}},
                        {"workloads", o.workloads},
                        {"backends", o.backends},
                        {"skip", skip},
                        {"exclude_quantized", o.policy.quantized_excluded()},
                        {"max_seconds_per_measurement", o.max_seconds_per_measurement},
                        {"overlap_imports", !imports_first}};
    if (env.comfyui_sdpa) j["comfyui_sdpa"] = *env.comfyui_sdpa;
    if (!o.prompt_marker.empty()) {
      j["prompt_marker"] = o.prompt_marker.string();
      j["max_pause_s"] = static_cast<double>(o.max_pause.count()) / 1000.0;
    }
    j.update(o.job_extra);
    return j;
  }

  enum class End { finished, respawn, give_up };

  // A timeout or a crash, recorded against the (backend, shape) the worker's end is blamed on.
  void record_failure(const std::string& backend, const std::string& shape, Status status, std::string reason) {
    Measurement m;
    m.backend = backend;
    m.shape = shape;
    m.status = status;
    m.reason = std::move(reason);
    record(std::move(m));
  }

  // A backend that hung or killed the worker on one shape is not tried on the others: on the H200
  // a venv whose FA2 hung on every call cost a 30 s deadline per shape, and a Sage that aborted
  // cost a respawn and its imports per shape, until the respawn limit gave the pick to the table
  // (201.7 s in all). Its remaining shapes take the same status, with the shape that showed it,
  // and the log says so once. Either status makes the mechanism ineligible in choose(), so the
  // pick does not change; only the per-shape routes lose a shape it might have run.
  void skip_broken(const std::string& backend, Status status, const std::string& shape) {
    std::vector<std::string> left;
    for (const auto& w : o.workloads)
      if (!done.count({backend, w.id})) left.push_back(w.id);
    if (left.empty()) return;
    const std::string what = status == Status::timeout ? "hung" : "crashed the worker";
    log("skipping " + backend + " on its " + std::to_string(left.size()) + " other shape(s): it " + what + " on " +
        shape + " in this environment");
    for (const auto& id : left)
      record_failure(backend, id, status, "not tried: " + backend + " " + what + " on " + shape + " in this environment");
  }

  // A crash or hang while the worker imported its Python backends: not blamed on `current`,
  // which ran beside the imports; the next worker imports first, so that whichever failed fails
  // again on its own. `what`: "hung", "ended (signal 11 (Segmentation fault))", ...
  End imports_unclear(const std::optional<Pair>& current, const std::string& what) {
    log("the worker " + what + " while it imported its Python backends" +
        (current ? " beside " + current->first + " on " + current->second : std::string()) +
        "; nothing blamed; the next worker imports them first");
    imports_first = true;
    return End::respawn;
  }

  // A crash or hang in one backend's import, with the imports first and each announced: every
  // shape of it still to measure takes the blame, so the next worker does not import it again.
  End blame_import(const std::string& backend, Status status, const std::string& what) {
    log(std::string(status == Status::timeout ? "timeout: " : "crash: ") + "the worker " + what +
        " while it imported " + backend + "; the next worker leaves it out");
    for (const auto& w : o.workloads)
      if (!done.count({backend, w.id})) record_failure(backend, w.id, status, "worker " + what + " while it imported the library");
    return End::respawn;
  }

  // One worker process, from spawn to its end.
  End one_worker() {
    std::unique_ptr<ChildProcess> child;
    bool overlap = false;  // its job asks it to import beside the native measurements
    try {
      std::vector<std::string> child_env;
      if (!o.gpu_uuid.empty()) child_env.push_back("CUDA_VISIBLE_DEVICES=" + o.gpu_uuid);
      const nlohmann::json j = job();
      overlap = j.value("overlap_imports", false);
      child = std::make_unique<ChildProcess>(o.worker_argv, j.dump() + "\n", o.worker_log, child_env, *o.clock);
    } catch (const std::exception& e) {
      outcome.reason = e.what();
      return End::give_up;
    }
    bool hello = false;
    bool importing = false;  // said hello, its Python backends still importing
    bool fatal = false;      // said its CUDA context died: it ends on purpose
    std::optional<std::string> import;  // the backend whose import runs now (the imports first)
    // The Python backend whose warm-up call runs now, beside the native measurements: once
    // nothing else runs, a hang or a crash is its own.
    std::optional<std::string> warming;
    int planned = 0;         // what this worker will measure: installed, not excluded, not done
    int measured_this_spawn = 0;
    std::optional<Pair> current;
    // Since when the worker waits for a ComfyUI prompt (TuneOptions::prompt_marker): that time
    // is the prompt's, so it moves the budget's end and no deadline runs out during it.
    bool paused = false;
    Clock::time_point paused_since{};
    // Counts the backends of a hello or "backends" event into `planned`, logging those missing.
    const auto plan = [&](const std::vector<WorkerLine::Backend>& list) {
      for (const auto& b : list) {
        const std::string& id = b.id;
        int left = 0;  // its shapes not done
        for (const auto& w : o.workloads) left += !done.count({id, w.id});
        if (!b.installed) {
          if (left > 0) log("backend " + id + " not installed: " + b.reason);
        } else if (!b.excluded) {
          planned += left;
        }
      }
      progress({ProgressEvent::Kind::plan, planned - measured_this_spawn, {}, {}, Status::ok, 0, {}});
    };
    for (;;) {
      // Imports with no measurement beside them are still the worker's start.
      const milliseconds step =
          !hello || (importing && !current && !warming) ? o.start_deadline : o.measurement_deadline;
      // A paused worker bounds its own wait (max_pause); the deadline after it covers the turn.
      const milliseconds wait = paused ? o.max_pause + step : std::min(step, left());
      std::string line;
      const auto read = child->read_line(line, std::max(wait, milliseconds(0)));
      if (read == ChildProcess::Read::timeout) {
        child->kill();
        if (left().count() <= 0) {
          outcome.budget_exhausted = true;
          return End::give_up;
        }
        if (import) return blame_import(*import, Status::timeout, "said nothing for " + std::to_string(step.count()) + " ms");
        if (warming && !current)
          return blame_import(*warming, Status::timeout,
                              "said nothing for " + std::to_string(step.count()) + " ms in its warm-up call");
        // Before the check below: once the native measurements are done, the measuring thread
        // waits for the imports (and the libraries' warm-up calls) in silence, with nothing
        // current, and a library that hangs there must not end the tune.
        if (importing && overlap)
          return imports_unclear(current, "said nothing for " + std::to_string(step.count()) + " ms");
        if (!current) {
          outcome.reason = std::string("the worker said nothing for ") + std::to_string(step.count()) + " ms " +
                           (importing ? "while it imported its Python backends"
                                      : hello ? "between measurements" : "after starting");
          return End::give_up;
        }
        log("timeout: " + current->first + " on " + current->second + " took over " + std::to_string(step.count()) +
            " ms; worker killed");
        record_failure(current->first, current->second, Status::timeout,
                       "no result within " + std::to_string(step.count()) + " ms");
        skip_broken(current->first, Status::timeout, current->second);
        return End::respawn;
      }
      if (read == ChildProcess::Read::eof) {
        const std::string status = child->wait();
        if (import) return blame_import(*import, Status::crashed, "died (" + status + ")");
        if (warming && !current) return blame_import(*warming, Status::crashed, "died (" + status + ") in its warm-up call");
        if (importing && overlap && !fatal) return imports_unclear(current, "ended (" + status + ")");
        if (!current) {
          // After its hello the worker may end between measurements on purpose: a backend that
          // poisoned the CUDA context (illegal address) leaves it unusable, and the worker says
          // "fatal" and exits so that a fresh process goes on. Before its hello nothing worked.
          if (hello && measured_this_spawn > 0) {
            log("the worker ended (" + status + ") between measurements; starting a fresh one");
            return End::respawn;
          }
          outcome.reason = "the worker ended (" + status + ") " + (hello ? "between measurements" : "before its hello");
          return End::give_up;
        }
        log("crash: the worker died (" + status + ") during " + current->first + " on " + current->second);
        record_failure(current->first, current->second, Status::crashed, "worker died: " + status);
        skip_broken(current->first, Status::crashed, current->second);
        return End::respawn;
      }
      const WorkerLine event = read_worker_line(line);
      using K = WorkerLine::Kind;
      switch (event.kind) {
        case K::not_protocol:
          log("worker: " + line);  // a library printed to stdout
          break;
        case K::malformed:
          log("warning: malformed " + (event.event.empty() ? std::string("line") : event.event) +
              " from the worker (" + event.problem + "): " + line);
          if (event.event == "result") current.reset();  // it ended its measurement, however badly
          break;
        case K::unknown:
          break;
        case K::hello:
          hello = true;
          importing = event.importing;
          plan(event.listed);
          break;
        case K::import:
          import = event.backend;
          break;
        case K::warm:
          warming = event.backend;
          break;
        case K::warmed:
          warming.reset();
          break;
        case K::backends:
          importing = false;
          import.reset();
          plan(event.listed);
          break;
        case K::start:
          current = Pair{event.backend, event.shape};
          progress({ProgressEvent::Kind::start, 0, current->first, current->second, Status::ok, 0, {}});
          break;
        case K::sample:
          // The worker takes the samples of a shape's backends in turns: this one runs now.
          current = Pair{event.backend, event.shape};
          break;
        case K::result: {
          Measurement m = *event.result;
          log("measured " + m.backend + " on " + m.shape + ": " + std::string(to_string(m.status)) +
              (m.status == Status::ok ? " " + std::to_string(m.median_ms) + " ms" : " " + m.reason) +
              (event.sm_clock_mhz > 0 ? " at " + std::to_string(std::lround(event.sm_clock_mhz)) + " MHz" : ""));
          record(std::move(m));
          ++outcome.measured_now;
          ++measured_this_spawn;
          current.reset();
          break;
        }
        case K::done:
          child->wait();
          return End::finished;
        case K::fatal:
          fatal = true;
          log("the worker's CUDA context is unusable after " + event.backend + " on " + event.shape + ": " +
              event.message);
          break;
        case K::error:
          outcome.reason = "the worker refused the job: " + event.message;
          return End::give_up;
        case K::paused:
          paused = true;
          paused_since = o.clock->now();
          log("paused: " + event.message);
          break;
        case K::resumed:
          if (paused) {
            const auto waited = o.clock->now() - paused_since;
            deadline += waited;
            outcome.paused += std::chrono::duration_cast<milliseconds>(waited);
            paused = false;
          }
          log("resumed: " + event.message);
          break;
      }
    }
  }
};

}  // namespace

TuneOutcome tune(const TuneOptions& o, const Fingerprint& env, Cache* cache, const CacheKey& key) {
  Run run{o, env, cache, key, o.clock->now() + o.budget, {}, {}, {}};
  std::set<std::string> ids;
  for (const auto& w : o.workloads) ids.insert(w.id);
  const auto current_rows = [&] {
    std::vector<Measurement> rows;
    if (cache) {
      try {
        rows = cache->measurements(key);
      } catch (const std::exception& e) {
        run.log(std::string("warning: cannot read the cache: ") + e.what());
      }
    } else {
      rows = run.fresh;
    }
    std::vector<Measurement> out;
    for (auto& m : rows) {
      const std::string v = backend_version(m.backend, env);
      if (ids.count(m.shape) && (v.empty() || v == m.backend_version)) out.push_back(std::move(m));
    }
    return out;
  };
  const auto resumed = current_rows();
  for (const auto& m : resumed) run.done.insert({m.backend, m.shape});
  if (!run.done.empty()) run.log("resuming: " + std::to_string(run.done.size()) + " measurements already cached");
  // What hung or crashed in an earlier run of this environment is not tried again either.
  for (const auto& m : resumed)
    if (m.status == Status::crashed || m.status == Status::timeout) run.skip_broken(m.backend, m.status, m.shape);

  // Respawns that recorded something (a crash or hang blamed, results stored) move the tune on,
  // and each broken backend costs one at most; only a worker that fails again and again without
  // a single record gives up, so a misbehaving library never ends the tune of the good ones.
  int fruitless = 0;
  for (;;) {
    const std::size_t before = run.done.size();
    const auto end = run.one_worker();
    if (end == Run::End::finished) break;
    if (end == Run::End::give_up) {
      if (run.outcome.budget_exhausted)
        run.outcome.reason = "tuning budget of " + std::to_string(o.budget.count() / 1000) + " s spent after " +
                             std::to_string(run.outcome.measured_now) +
                             " measurements; they are cached and tuning resumes on the next boot";
      run.outcome.measurements = current_rows();
      return run.outcome;
    }
    ++run.outcome.respawns;
    fruitless = run.done.size() > before ? 0 : fruitless + 1;
    if (fruitless > o.max_respawns) {
      run.outcome.reason = "the worker failed " + std::to_string(fruitless) + " times in a row without a result; giving up";
      run.outcome.measurements = current_rows();
      return run.outcome;
    }
    run.log("respawning the worker (" + std::to_string(run.outcome.respawns) + ")");
  }
  run.outcome.measurements = current_rows();
  run.outcome.policy = choose(o.workloads, run.outcome.measurements, o.policy);
  run.outcome.decision = run.outcome.policy.decision;
  if (!run.outcome.decision) run.outcome.reason = run.outcome.policy.reason;
  return run.outcome;
}

}  // namespace autotune
