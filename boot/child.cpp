#include "child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace autotune {

namespace {
void write_all(int fd, const std::string& data) {
  for (std::size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the child closed stdin or died; its exit tells the caller why
    done += static_cast<std::size_t>(n);
  }
}
}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& input,
                           const std::filesystem::path& stderr_log, const std::vector<std::string>& env,
                           const Clock& clock)
    : clock_(clock) {
  if (argv.empty()) throw std::runtime_error("no worker program given");
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  int err_fd = -1;
  if (!stderr_log.empty()) err_fd = ::open(stderr_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int exec_error[2];  // reports an exec failure back to the parent
  if (pipe2(exec_error, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child's environment is built here, before fork: the boot forks from several threads
  // (one per GPU model), and setenv/putenv in a child could wait forever on a lock that another
  // thread held at the moment of the fork.
  std::vector<std::string> merged(env);
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    const bool overridden = std::any_of(env.begin(), env.end(), [&](const std::string& o) {
      return std::string_view(o).substr(0, o.find('=') + 1) == name;
    });
    if (!overridden) merged.emplace_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : merged) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    execve(args[0], args.data(), envp.data());
    const int e = errno;
    (void)!::write(exec_error[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid_, pid_);  // also here, so the group exists before any kill()
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(exec_error[1]);
  if (err_fd >= 0) ::close(err_fd);
  int e = 0;
  const bool exec_failed = ::read(exec_error[0], &e, sizeof e) == sizeof e;
  ::close(exec_error[0]);
  if (exec_failed) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    waitpid(pid_, nullptr, 0);
    reaped_ = true;
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(e));
  }
  // A worker that dies before reading its job must not kill us with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  write_all(in_pipe[1], input);
  ::close(in_pipe[1]);
  out_ = out_pipe[0];
}

ChildProcess::~ChildProcess() {
  kill();
  if (out_ >= 0) ::close(out_);
}

ChildProcess::Read ChildProcess::read_line(std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = clock_.now() + timeout;
  for (;;) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return Read::line;
    }
    if (out_ < 0) return Read::eof;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.now());
    if (left.count() <= 0) return Read::timeout;
    pollfd p{out_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return Read::timeout;
    char chunk[4096];
    const ssize_t n = ::read(out_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(out_);
      out_ = -1;
      if (!buffer_.empty()) {  // a last line without '\n'
        line.swap(buffer_);
        buffer_.clear();
        return Read::line;
      }
      return Read::eof;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

void ChildProcess::kill() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  wait();
}

std::string ChildProcess::wait() {
  if (reaped_) return status_;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFEXITED(status)) status_ = "exit " + std::to_string(WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    status_ = "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  else status_ = "status " + std::to_string(status);
  return status_;
}

}  // namespace autotune
