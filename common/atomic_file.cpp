#include "atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace autotune {
namespace fs = std::filesystem;

std::optional<std::string> write_synced(const fs::path& tmp, std::string_view content) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp.string() + ": " + std::strerror(errno);
  std::string error;
  for (std::size_t done = 0; done < content.size() && error.empty();) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno != EINTR) error = "cannot write " + tmp.string() + ": " + std::strerror(errno);
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (error.empty() && ::fsync(fd) != 0) error = "cannot sync " + tmp.string() + ": " + std::strerror(errno);
  if (::close(fd) != 0 && error.empty()) error = "cannot close " + tmp.string() + ": " + std::strerror(errno);
  if (error.empty()) return std::nullopt;
  std::error_code ec;
  fs::remove(tmp, ec);
  return error;
}

std::optional<std::string> sync_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path.string() + " to sync it: " + std::strerror(errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return "cannot sync " + path.string() + ": " + std::strerror(err);
  return std::nullopt;
}

void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::optional<std::string> rename_synced(const fs::path& tmp, const fs::path& target) {
  if (std::rename(tmp.c_str(), target.c_str()) != 0)
    return "cannot rename " + tmp.string() + " to " + target.string() + ": " + std::strerror(errno);
  sync_dir(target.parent_path());
  return std::nullopt;
}

std::optional<std::string> atomic_write(const fs::path& path, std::string_view content) {
  std::error_code ec;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) return "cannot create " + path.parent_path().string() + ": " + ec.message();
  }
  std::random_device rd;
  const fs::path tmp = path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  if (auto error = write_synced(tmp, content)) return error;
  if (auto error = rename_synced(tmp, path)) {
    fs::remove(tmp, ec);
    return error;
  }
  return std::nullopt;
}

}  // namespace autotune
