// The order in which the worker measures: shapes smallest first, a shape's backends fastest first.
// Torch-free, so that its tests need no LibTorch.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "common/workload.h"

namespace autotune::bench {

// The shapes by the work of one call (Workload::flops), smallest first, ties in the given order. The Python libraries' imports and warm-ups run beside the
// first shapes (the worker's Imports), so the video shapes, which cost most and where those
// libraries often win, come when they can take part: no second visit for the libraries, and the
// slow backends meet the fast ones' times early (race_order). On the H200's full set the largest
// shape went first and took 22.6 s, then 3.8 s more when FA3 and Sage joined at the end
// (results/h200-2026-12-03-real-libs/tune3-full/worker.log).
std::vector<const Workload*> smallest_first(const std::vector<Workload>& workloads);

// Indices into `ids` (a shape's backends in the registry's order), fastest first by their
// medians on the shape measured before (`previous`, the next smaller one), so that a backend far
// out of the race meets a fast one's estimate in its first call and leaves after its warm-up
// call (Sampler::prepare) instead of after a turn's samples. Backends with no median there (not
// imported yet, failed or skipped) come first, in the given order: a library that joins late is
// more often a contender than not, and one that fails, fails fast. The order does not change a
// measurement: each turn settles the card's clock first (MeasureOptions::settle_ms).
std::vector<std::size_t> race_order(const std::vector<std::string>& ids,
                                    const std::map<std::string, double>& previous);

// The smallest of `medians`' values; 0 when it is empty.
double fastest_median(const std::map<std::string, double>& medians);

}  // namespace autotune::bench
