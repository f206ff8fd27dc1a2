// `autotune --report`: what the cache (this pod's file and the fleet's published ones, merged as
// a boot sees them) holds for this GPU and software, in one of the report's formats.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "boot/boot.h"
#include "common/policy.h"
#include "common/workload.h"

namespace autotune {

// `format`: text, csv, markdown, json or html. Prints the report on `out`, warnings on `err`;
// returns kConfigured (also with no GPU, which it says).
int report_command(const BootOptions& options, const std::vector<Workload>& workloads, const std::string& set,
                   const std::string& format, const PolicyOptions& policy, std::ostream& out, std::ostream& err);

}  // namespace autotune
