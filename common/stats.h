// Statistics over timing samples, as free functions (google/benchmark statistics.h style).
// Pure: no clocks, no GPU. Empty input gives 0 (a measurement with no samples has no spread).
#pragma once

#include <vector>

namespace autotune::stats {

double mean(const std::vector<double>& xs);
// Sample standard deviation (n - 1); 0 for fewer than two samples.
double stddev(const std::vector<double>& xs);
// stddev / mean; 0 when the mean is 0.
double rel_stddev(const std::vector<double>& xs);
// Linear interpolation between order statistics (numpy's default), q in [0, 1].
double quantile(std::vector<double> xs, double q);
double median(const std::vector<double>& xs);
// Interquartile range over the median: the spread the report shows; robust to the odd slow
// sample (a clock ramp, a preempted host thread) that inflates the standard deviation.
double iqr_over_median(const std::vector<double>& xs);

struct Summary {
  int n = 0;
  double median = 0, q1 = 0, q3 = 0, min = 0, max = 0, mean = 0, rel_stddev = 0, spread = 0;
};
Summary summarize(const std::vector<double>& xs);

}  // namespace autotune::stats
