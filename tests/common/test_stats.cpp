#include "common/stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace autotune::stats {
namespace {

TEST(Stats, EmptyInputIsZero) {
  const std::vector<double> none;
  EXPECT_EQ(median(none), 0);
  EXPECT_EQ(stddev(none), 0);
  EXPECT_EQ(iqr_over_median(none), 0);
  EXPECT_EQ(summarize(none).n, 0);
}

TEST(Stats, MedianOddEvenAndUnsorted) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
}

TEST(Stats, QuantileInterpolatesLikeNumpy) {
  // numpy.quantile([1,2,3,4,5], 0.25) == 2.0, 0.1 -> 1.4
  EXPECT_DOUBLE_EQ(quantile({5, 4, 3, 2, 1}, 0.25), 2.0);
  EXPECT_NEAR(quantile({1, 2, 3, 4, 5}, 0.1), 1.4, 1e-12);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3}, 0.0), 1);
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3}, 1.0), 3);
}

TEST(Stats, SampleStddev) {
  // {2,4,4,4,5,5,7,9}: mean 5, sum of squares 32, sample variance 32/7.
  const std::vector<double> xs{2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(mean(xs), 5);
  EXPECT_NEAR(stddev(xs), std::sqrt(32.0 / 7.0), 1e-12);
  EXPECT_NEAR(rel_stddev(xs), std::sqrt(32.0 / 7.0) / 5, 1e-12);
  EXPECT_EQ(stddev({1.0}), 0);
}

TEST(Stats, IqrSpreadIgnoresOneOutlier) {
  std::vector<double> xs(20, 1.0);
  xs[7] = 50.0;  // one preempted sample
  EXPECT_DOUBLE_EQ(median(xs), 1.0);
  EXPECT_DOUBLE_EQ(iqr_over_median(xs), 0.0);
  EXPECT_GT(rel_stddev(xs), 1.0);
}

TEST(Stats, Summary) {
  const auto s = summarize({1, 2, 3, 4, 5});
  EXPECT_EQ(s.n, 5);
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.q1, 2);
  EXPECT_DOUBLE_EQ(s.q3, 4);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 5);
  EXPECT_DOUBLE_EQ(s.spread, 2.0 / 3.0);
}

}  // namespace
}  // namespace autotune::stats
