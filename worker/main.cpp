// autotune-bench: reads one job (JSON) on stdin, measures, writes JSON lines on stdout.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "worker/node_backends_source.h"
#include "worker/worker.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--list-backends") == 0) {
      autotune::bench::list_backends(stdout);
      return 0;
    }
    if (std::strcmp(argv[i], "--adapter-source") == 0) {  // the node's adapters, as embedded
      std::fputs(autotune::bench::kNodeBackendsSource, stdout);
      return 0;
    }
    std::fprintf(stderr, "usage: autotune-bench [--list-backends | --adapter-source] < job.json\n");
    return 2;
  }
  // The protocol owns the real stdout. Everything else that writes to fd 1 (a library's
  // print(), a C printf in an extension) goes to stderr, so it cannot break the JSON lines.
  const int proto_fd = dup(STDOUT_FILENO);
  if (proto_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::perror("autotune-bench: dup");
    return 2;
  }
  std::FILE* proto = fdopen(proto_fd, "w");
  std::string job;
  std::getline(std::cin, job);  // one object, up to a newline or EOF
  const int rc = autotune::bench::run_worker(job, proto);
  std::fflush(proto);
  std::fflush(stderr);
  // Skip static destructors and interpreter teardown: torch and CUDA at exit have crashed
  // embedded interpreters before, and the results are already out.
  std::_Exit(rc);
}
