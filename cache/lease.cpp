#include "lease.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/json_integer.h"

#include "cache/published.h"

namespace autotune {
namespace fs = std::filesystem;

namespace {

std::string random_token() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(::getpid())};
  std::ostringstream s;
  s << std::hex << rng();
  return s.str();
}

std::string host_name() {
  char host[256] = {};
  return ::gethostname(host, sizeof host - 1) == 0 ? std::string(host) : std::string("?");
}

// Writes `info` to a new temporary in `dir`, fsynced. Returns its path.
fs::path write_temp(const fs::path& dir, const LeaseInfo& info) {
  const fs::path tmp = dir / (".tmp-" + info.token + "-" + random_token());
  const std::string text = nlohmann::json{{"pod", info.pod},
                                          {"host", info.host},
                                          {"pid", info.pid},
                                          {"token", info.token},
                                          {"acquired_ms", info.acquired_ms},
                                          {"expires_ms", info.expires_ms}}
                               .dump() +
                           "\n";
  if (auto error = write_synced(tmp, text)) throw std::runtime_error(*error);
  return tmp;
}

fs::path generation_path(const fs::path& dir, const std::string& name, long g) {
  return dir / (name + "." + std::to_string(g) + ".lease");
}

}  // namespace

std::int64_t epoch_ms() { return real_clock().epoch_ms(); }

std::string LeaseInfo::describe() const { return describe(epoch_ms()); }

std::string LeaseInfo::describe(std::int64_t now_ms) const {
  const std::int64_t left = (expires_ms - now_ms) / 1000;
  return "pod " + pod + " (host " + host + ", pid " + std::to_string(pid) + "), expires in " + std::to_string(left) + " s";
}

std::vector<std::pair<long, fs::path>> lease_generations(const fs::path& dir, const std::string& name) {
  std::vector<std::pair<long, fs::path>> out;
  const std::string prefix = name + ".";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string f = it->path().filename().string();
    if (f.size() <= prefix.size() + 6 || f.compare(0, prefix.size(), prefix) != 0 ||
        f.compare(f.size() - 6, 6, ".lease") != 0)
      continue;
    const std::string g = f.substr(prefix.size(), f.size() - prefix.size() - 6);
    if (g.empty() || g.find_first_not_of("0123456789") != std::string::npos || g.size() > 15) continue;
    out.emplace_back(std::stol(g), it->path());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

std::optional<LeaseInfo> read_lease(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  return parse_lease(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

std::optional<LeaseInfo> parse_lease(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    LeaseInfo i;
    i.pod = j.at("pod").get<std::string>();
    i.host = j.at("host").get<std::string>();
    i.pid = json_integer<long>(j.at("pid"), "pid");
    i.token = j.at("token").get<std::string>();
    i.acquired_ms = json_integer<std::int64_t>(j.at("acquired_ms"), "acquired_ms");
    i.expires_ms = json_integer<std::int64_t>(j.at("expires_ms"), "expires_ms");
    return i;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Lease::Attempt Lease::try_acquire(const fs::path& dir, const std::string& name, std::chrono::milliseconds ttl,
                                  const Clock& clock) {
  Attempt a;
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (int round = 0; round < 8; ++round) {
    const auto gens = lease_generations(dir, name);
    long next = 1;
    if (!gens.empty()) {
      const auto& [top, file] = gens.front();
      auto info = read_lease(file);
      if (!info) {
        // Written whole through link(), so an unreadable lease is damage, or it vanished (released).
        if (!fs::exists(file, ec)) continue;
        // Its age by the file system's clock, which wrote its mtime, not by `clock`.
        const auto age = fs::file_time_type::clock::now() - fs::last_write_time(file, ec);
        if (!ec && age < ttl) {
          a.holder = LeaseInfo{"unknown (unreadable lease " + file.filename().string() + ")", "?", "", 0, 0, 0};
          return a;
        }
      } else if (info->expires_ms > clock.epoch_ms()) {
        a.holder = *info;
        return a;
      }
      next = top + 1;  // take over the expired (or damaged) generation
    }
    const std::int64_t now = clock.epoch_ms();
    LeaseInfo mine{pod_id(), host_name(), random_token(), static_cast<long>(::getpid()), now, now + ttl.count()};
    fs::path tmp;
    try {
      tmp = write_temp(dir, mine);
    } catch (const std::exception& e) {
      a.error = std::string("cannot write a lease in ") + dir.string() + ": " + e.what();
      return a;
    }
    const fs::path target = generation_path(dir, name, next);
    const int rc = ::link(tmp.c_str(), target.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (err == EEXIST) continue;  // another pod took this generation first: look again
      a.error = "cannot create " + target.string() + ": " + std::error_code(err, std::generic_category()).message();
      return a;
    }
    // A pod that stalled between its look and its link may have linked a generation that a faster
    // pod has already passed: the highest generation is the holder, so check.
    const auto after = lease_generations(dir, name);
    if (!after.empty() && after.front().first > next) {
      ::unlink(target.c_str());
      continue;
    }
    a.lease.reset(new Lease(dir, name, next, mine, ttl, clock));
    return a;
  }
  a.error = "lease " + name + " is contended; gave up after 8 tries";
  return a;
}

Lease::Lease(fs::path dir, std::string name, long generation, LeaseInfo info, std::chrono::milliseconds ttl,
             const Clock& clock)
    : dir_(std::move(dir)), path_(generation_path(dir_, name, generation)), name_(std::move(name)),
      generation_(generation), info_(std::move(info)), ttl_(ttl), clock_(clock) {}

Lease::~Lease() { release(); }

bool Lease::refresh() {
  const auto gens = lease_generations(dir_, name_);
  if (gens.empty() || gens.front().first != generation_) return false;
  const auto current = read_lease(path_);
  if (!current || current->token != info_.token) return false;
  LeaseInfo next = info_;
  next.expires_ms = clock_.epoch_ms() + ttl_.count();
  try {
    const fs::path tmp = write_temp(dir_, next);
    // Our own generation: nobody else writes this name. No directory sync: a refresh lost in a
    // crash costs nothing, the holder being gone with it.
    fs::rename(tmp, path_);
  } catch (const std::exception&) {
    return false;
  }
  info_ = next;
  return true;
}

void Lease::keep_alive() {
  if (refresher_.joinable()) return;
  refresher_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_cv_.wait_for(lock, ttl_ / 3, [this] { return stop_; })) {
      lock.unlock();
      refresh();
      lock.lock();
    }
  });
}

void Lease::release() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (released_) return;
    released_ = true;
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  // Only our own record: after a take-over of a stalled holder the file may be gone.
  const auto current = read_lease(path_);
  if (current && current->token == info_.token) ::unlink(path_.c_str());
}

}  // namespace autotune
