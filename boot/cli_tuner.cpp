#include "cli_tuner.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <streambuf>

#include "boot/multi_gpu.h"
#include "boot/progress.h"
#include "boot/tuning.h"
#include "common/prompt_marker.h"
#include "common/text.h"

namespace autotune {

namespace {

// Several GPU models tune at once, one thread each: their progress goes out as whole plain lines
// tagged with the GPU ("[GPU 2] autotune: ..."), since one status line rewritten in place cannot
// show several tunings, and characters of two threads' lines must not interleave.
class TaggedLines : public std::streambuf {
 public:
  TaggedLines(std::ostream& out, std::mutex& mutex, std::string tag) : out_(out), mutex_(mutex), tag_(std::move(tag)) {}
  ~TaggedLines() override {
    if (!line_.empty()) emit();
  }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    line_ += traits_type::to_char_type(c);
    if (traits_type::to_char_type(c) == '\n') emit();
    return c;
  }

 private:
  void emit() {
    if (line_.back() != '\n') line_ += '\n';
    const std::lock_guard<std::mutex> lock(mutex_);
    out_ << tag_ << line_ << std::flush;
    line_.clear();
  }
  std::ostream& out_;
  std::mutex& mutex_;
  std::string tag_;
  std::string line_;
};

}  // namespace

void install_cli_tuner(BootOptions& o, CliTunerSettings settings) {
  struct Shared {
    CliTunerSettings settings;
    // Set by run_boot before any tuning starts (so before its threads exist): several models tune at once.
    bool parallel_models = false;
    std::mutex stderr_mutex;
  };
  auto shared = std::make_shared<Shared>();
  shared->settings = std::move(settings);
  o.on_groups = [shared](const std::vector<GpuGroup>& groups) { shared->parallel_models = groups.size() > 1; };
  o.tuner = [shared](const GpuInfo& gpu, const Fingerprint& fp, Cache* cache, const CacheKey& key,
                     std::vector<std::string>& warnings) -> std::optional<Decision> {
    const CliTunerSettings& s = shared->settings;
    const bool parallel_models = shared->parallel_models;
    TuneOptions t;
    t.worker_argv = {s.worker.string()};
    t.workloads = s.workloads;
    t.backends = s.backends;
    t.gpu_uuid = worker_pin(gpu);
    t.budget = s.budget;
    t.policy = s.policy;
    // Several models tuning at once serve one ComfyUI per GPU, each with its own decision file.
    if (!s.decision_file.empty())
      t.prompt_marker = prompt_marker_path(parallel_models ? per_gpu_decision_path(s.decision_file, gpu.index)
                                                           : s.decision_file);
    // Pod-local: pods share cache_dir. One log per worker when several run at once.
    t.worker_log =
        s.local_dir / (parallel_models ? "worker.gpu" + std::to_string(gpu.index) + ".log" : std::string("worker.log"));
    const char* columns = std::getenv("COLUMNS");
    const long long width = columns ? parse_int(columns).value_or(0) : 0;
    TaggedLines tagged(std::cerr, shared->stderr_mutex, "[GPU " + std::to_string(gpu.index) + "] ");
    std::ostream tagged_stream(&tagged);
    auto display = choose_display(isatty(STDERR_FILENO), std::getenv("TERM"), s.quiet);
    if (parallel_models && display == Display::terminal) display = Display::lines;
    Progress progress(parallel_models ? tagged_stream : std::cerr, display, t.budget,
                      [] { return std::chrono::steady_clock::now(); }, width > 0 ? static_cast<std::size_t>(width) : 100);
    t.log = [&progress](const std::string& line) { progress.log(line); };
    t.progress = [&progress](const ProgressEvent& e) { progress.event(e); };
    auto outcome = tune(t, fp, cache, key);
    progress.finish();
    if (!outcome.decision) warnings.push_back("tuning did not decide: " + outcome.reason);
    return outcome.decision;
  };
}

}  // namespace autotune
