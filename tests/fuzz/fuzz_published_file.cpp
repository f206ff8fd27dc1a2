// A published cache file from another pod (SQLite, on the shared volume), read the way boots
// read them (read_snapshot: immutable, defensive, schema not trusted). Never throws; a file that
// is not a valid cache says why.
#include <unistd.h>

#include <fstream>

#include "cache/cache.h"
#include "cache/records.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/autotune-fuzz-published-" + std::to_string(::getpid()) + ".sqlite";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const autotune::Snapshot s = autotune::read_snapshot(path);
  if (s.records) {
    FUZZ_CHECK(s.problem.empty());
    std::vector<std::string> warnings;
    autotune::RecordSet records = *s.records;
    autotune::drop_invalid(records, nullptr, "fuzz", warnings);
  } else {
    FUZZ_CHECK(!s.problem.empty());
  }
  return 0;
}
