// Single flight across pods: a per-key lease in <cache-dir>/leases/, made only of what a network
// file system really offers (link() that fails when the name exists, rename()), never fcntl or
// flock, which RunPod's MooseFS volumes have left stale.
//
// A lease is a chain of generation files <name>.<gen>.lease; the holder is the owner of the
// highest generation while its expiry has not passed. To take a lease, a pod writes its record
// to a temporary and link()s it to the next generation's name: of many pods trying the same
// generation exactly one link succeeds. An expired holder (a killed pod) is taken over the same
// way, by the next generation, so take-over is race-free without renaming anybody's file. After
// its link a pod checks that no higher generation exists (a pod stalled longer than the expiry
// may arrive late) and backs off if one does. The holder refreshes its expiry while it works by
// renaming a fresh record over its own generation file, and deletes the file when done.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace autotune {

struct LeaseInfo {
  std::string pod, host, token;
  long pid = 0;
  std::int64_t acquired_ms = 0, expires_ms = 0;  // Unix epoch, holder's clock
  // "pod abc (host h, pid 12), expires in 41 s", counted from `now_ms` (Unix epoch).
  std::string describe(std::int64_t now_ms) const;
  std::string describe() const;  // from the real clock's now
};

class Lease {
 public:
  struct Attempt {
    std::unique_ptr<Lease> lease;    // set when this process holds it now
    std::optional<LeaseInfo> holder;  // when another process holds it
    std::string error;               // when the lease directory cannot be used
  };
  // Never throws. `ttl`: how long the lease lives without a refresh. `clock` gives this process's
  // epoch time, for the expiry it writes and the expiry of another holder it reads; the lease
  // keeps it for its refreshes.
  static Attempt try_acquire(const std::filesystem::path& dir, const std::string& name, std::chrono::milliseconds ttl,
                             const Clock& clock = real_clock());

  ~Lease();  // stops refreshing and releases
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Pushes the expiry out by ttl; false when the lease was lost (a higher generation exists).
  bool refresh();
  // Refreshes every ttl/3 on a thread until release().
  void keep_alive();
  void release();
  const std::filesystem::path& path() const { return path_; }

 private:
  Lease(std::filesystem::path dir, std::string name, long generation, LeaseInfo info, std::chrono::milliseconds ttl,
        const Clock& clock);

  std::filesystem::path dir_, path_;
  std::string name_;
  long generation_;
  LeaseInfo info_;
  std::chrono::milliseconds ttl_;
  const Clock& clock_;
  std::thread refresher_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false, released_ = false;
};

// The generations present for `name`, highest first.
std::vector<std::pair<long, std::filesystem::path>> lease_generations(const std::filesystem::path& dir,
                                                                      const std::string& name);
std::optional<LeaseInfo> read_lease(const std::filesystem::path& file);
// A lease file's content (another pod wrote it: outside input); nullopt when it is not a whole,
// well-typed lease.
std::optional<LeaseInfo> parse_lease(const std::string& text);
std::int64_t epoch_ms();  // real_clock().epoch_ms()

}  // namespace autotune
