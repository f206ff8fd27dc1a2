#include "stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace autotune::stats {

double mean(const std::vector<double>& xs) {
  if (xs.empty()) return 0;
  return std::accumulate(xs.begin(), xs.end(), 0.0) / static_cast<double>(xs.size());
}

double stddev(const std::vector<double>& xs) {
  if (xs.size() < 2) return 0;
  const double m = mean(xs);
  double ss = 0;
  for (double x : xs) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(xs.size() - 1));
}

double rel_stddev(const std::vector<double>& xs) {
  const double m = mean(xs);
  return m == 0 ? 0 : stddev(xs) / std::fabs(m);
}

double quantile(std::vector<double> xs, double q) {
  if (xs.empty()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  std::sort(xs.begin(), xs.end());
  const double pos = q * static_cast<double>(xs.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, xs.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return xs[lo] + (xs[hi] - xs[lo]) * frac;
}

double median(const std::vector<double>& xs) { return quantile(xs, 0.5); }

double iqr_over_median(const std::vector<double>& xs) {
  const double med = median(xs);
  if (med == 0) return 0;
  return (quantile(xs, 0.75) - quantile(xs, 0.25)) / std::fabs(med);
}

Summary summarize(const std::vector<double>& xs) {
  Summary s;
  s.n = static_cast<int>(xs.size());
  if (xs.empty()) return s;
  s.median = median(xs);
  s.q1 = quantile(xs, 0.25);
  s.q3 = quantile(xs, 0.75);
  s.min = *std::min_element(xs.begin(), xs.end());
  s.max = *std::max_element(xs.begin(), xs.end());
  s.mean = mean(xs);
  s.rel_stddev = rel_stddev(xs);
  s.spread = s.median == 0 ? 0 : (s.q3 - s.q1) / std::fabs(s.median);
  return s;
}

}  // namespace autotune::stats
