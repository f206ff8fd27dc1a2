// The worker's protocol loop: one job in, JSON lines out (hello, start/result per measurement,
// done). See worker/README.md for the protocol.
#pragma once

#include <cstdio>
#include <string>

namespace autotune::bench {

// Reads the job from `job_text`, writes JSON lines to `out` (flushed per line), logs to stderr.
// Returns the process exit code: 0 done, 2 bad job or device, 3 the CUDA context died (the
// parent respawns the worker and goes on with the rest).
int run_worker(const std::string& job_text, std::FILE* out);

// `--list-backends`: one line per built-in adapter, "id<TAB>kind<TAB>description".
void list_backends(std::FILE* out);

}  // namespace autotune::bench
