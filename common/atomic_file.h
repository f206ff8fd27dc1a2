// Write to a temporary, fsync, rename, fsync the directory: a reader sees the old file or the new
// one, never half of one, and a crash after the rename keeps the new one. Every file this tool
// replaces or publishes goes through these: the outputs (atomic_write), the published cache files
// (an SQLite file written to a temporary, then sync_file and rename_synced), the lease records
// (write_synced, then link() or rename()).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace autotune {

// Creates `tmp` (it must not exist), writes `content` and fsyncs it. On failure removes it and
// returns the error.
std::optional<std::string> write_synced(const std::filesystem::path& tmp, std::string_view content);

// fsync of a file written without syncing (SQLite with synchronous = OFF). Returns the error.
std::optional<std::string> sync_file(const std::filesystem::path& path);

// Renames `tmp` to `target` and fsyncs the directory, so that the rename survives a crash (best
// effort: the rename itself is atomic, and a failed directory sync loses nothing visible).
// Returns the rename's error; `tmp` is left for the caller then.
std::optional<std::string> rename_synced(const std::filesystem::path& tmp, const std::filesystem::path& target);

// Best effort, as above.
void sync_dir(const std::filesystem::path& dir);

// The whole sequence for `path`, with a temporary beside it (pid and a random suffix keep two
// writers, two pods on one volume, off each other's file). Creates missing directories. Returns
// the error, or nullopt on success.
std::optional<std::string> atomic_write(const std::filesystem::path& path, std::string_view content);

}  // namespace autotune
