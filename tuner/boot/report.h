// `autotune --report`: what the cache holds for this GPU and software.
#pragma once

#include <string>
#include <vector>

#include "cache/cache.h"
#include "tuner/measurement.h"

namespace autotune {

// Shapes down, backends across; each cell the median in ms, or the status when not ok.
std::string render_report(const CacheKey& key, const std::vector<Measurement>& rows);

}  // namespace autotune
