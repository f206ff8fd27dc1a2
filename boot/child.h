// A child process fed on stdin and read line by line from stdout, with deadlines: how the boot
// talks to the benchmark worker. A worker that crashes, hangs or poisons its CUDA context costs
// only its own process (DESIGN.md, "Why a worker process").
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"

namespace autotune {

class ChildProcess {
 public:
  // Starts argv[0] (looked up as a path, not on PATH) in its own process group, writes `input`
  // to its stdin and closes it; stderr is appended to `stderr_log` (empty: inherited); `env`
  // ("NAME=value") is set in the child on top of ours. Throws std::runtime_error naming the
  // program when it cannot be started. read_line's deadlines are counted on `clock`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& input,
               const std::filesystem::path& stderr_log, const std::vector<std::string>& env = {},
               const Clock& clock = real_clock());
  ~ChildProcess();  // kills and reaps the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  enum class Read { line, timeout, eof };
  // Waits at most `timeout` for a whole line (without its '\n').
  Read read_line(std::string& line, std::chrono::milliseconds timeout);

  void kill();  // SIGKILL to the whole group, then reap
  // Exit status as a readable string once the child ended: "exit 0", "signal 6 (Aborted)".
  std::string wait();

 private:
  const Clock& clock_;
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool reaped_ = false;
  std::string status_;
};

}  // namespace autotune
