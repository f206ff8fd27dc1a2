#include "settle.h"

#include <algorithm>
#include <cmath>

namespace autotune::bench {

int settle_calls(double settle_ms, double device_ms, double host_ms) {
  if (!(settle_ms > 0)) return 0;
  const double call_ms = std::max({device_ms, host_ms, 1e-3});
  return std::max(1, static_cast<int>(std::ceil(settle_ms / call_ms)));
}

}  // namespace autotune::bench
