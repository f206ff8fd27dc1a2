// `autotune cache list|show|verify|prune|export|import`: the cache as an operator sees it.
// main.cpp parses the command line; these do the work and print to the given streams.
// Exit codes: 0 done; 1 done, but something was damaged, left out or could not be written
// (the output says what); 2 usage (a bad value, named in the message).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "cache/cache.h"

namespace autotune {

struct CacheCommandContext {
  std::filesystem::path shared_dir;  // <cache-dir>
  std::filesystem::path local_path;  // this pod's SQLite file
  std::ostream& out;
  std::ostream& err;
};

int cache_list(const CacheCommandContext& c, bool json);
// `key`: a key hash from `cache list` (or a prefix of one), or a canonical key; empty: `current`,
// the key of this GPU and venv (nullopt when no GPU was detected).
int cache_show(const CacheCommandContext& c, const std::string& key, const std::optional<CacheKey>& current,
               bool json);
int cache_verify(const CacheCommandContext& c, bool json);
int cache_prune(const CacheCommandContext& c, std::chrono::seconds min_age, bool dry_run);
// `path` "-" or empty: stdout.
int cache_export(const CacheCommandContext& c, const std::string& path);
// `path` "-": stdin.
int cache_import(const CacheCommandContext& c, const std::string& path);

}  // namespace autotune
