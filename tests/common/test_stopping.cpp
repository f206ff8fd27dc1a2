#include "common/stopping.h"

#include <gtest/gtest.h>

namespace autotune {
namespace {

StoppingParams params() {
  StoppingParams p;
  p.min_samples = 10;
  p.min_time_s = 0.0;
  p.max_noise = 0.005;
  p.max_time_s = 2.0;
  p.stall_window = 10;
  p.stall_tolerance = 0.05;
  return p;
}

TEST(Stopping, TenIdenticalSamplesFinish) {
  StoppingCriterion c(params());
  for (int i = 0; i < 9; ++i) {
    c.add(1.0, 0.001 * i);
    EXPECT_FALSE(c.finished()) << "stopped after " << i + 1 << " samples, minimum is 10";
  }
  c.add(1.0, 0.01);
  EXPECT_TRUE(c.finished());
  EXPECT_EQ(c.reason(), StopReason::converged);
  EXPECT_EQ(c.noise(), 0);
}

TEST(Stopping, TurnsCountOnlyTheTurnsWithSamples) {
  StoppingCriterion c(params());
  EXPECT_EQ(c.turns(), 0);
  c.next_turn();  // before any sample: still the first turn
  c.add(1.0, 0.0);
  c.add(1.2, 0.001);
  EXPECT_EQ(c.turns(), 1);
  c.next_turn();
  c.next_turn();  // a turn without samples does not count
  c.add(1.0, 0.02);
  EXPECT_EQ(c.turns(), 2);
  c.add(1.2, 0.021);
  EXPECT_EQ(c.turns(), 2);
  EXPECT_FALSE(c.finished());
}

TEST(Stopping, MinimumTimeHoldsBackConvergence) {
  auto p = params();
  p.min_time_s = 0.5;
  StoppingCriterion c(p);
  for (int i = 0; i < 20; ++i) c.add(1.0, 0.01 * i);
  EXPECT_FALSE(c.finished());
  c.add(1.0, 0.6);
  EXPECT_EQ(c.reason(), StopReason::converged);
}

TEST(Stopping, NoisySamplesRunUntilNoiseStalls) {
  StoppingCriterion c(params());
  // Alternating 1.0 / 1.1: relative noise about 5%, never under 0.5%; after a few dozen samples
  // it stops moving, and the rule gives up rather than sample until the cap.
  int n = 0;
  while (!c.finished() && n < 1000) {
    c.add(n % 2 ? 1.1 : 1.0, 0.001 * n);
    ++n;
  }
  EXPECT_EQ(c.reason(), StopReason::noise_stalled);
  EXPECT_GE(n, 20);
  EXPECT_LT(n, 200);
  EXPECT_NEAR(c.noise(), 0.0488, 0.005);
}

TEST(Stopping, TimeCapStopsSlowCallsBeforeMinimumSamples) {
  StoppingCriterion c(params());
  c.add(300.0, 0.3);
  c.add(310.0, 0.6);
  EXPECT_FALSE(c.finished());
  c.add(305.0, 2.1);
  EXPECT_EQ(c.reason(), StopReason::time_cap);
  EXPECT_EQ(c.samples().size(), 3u);
}

TEST(Stopping, SamplesAfterFinishAreIgnored) {
  StoppingCriterion c(params());
  for (int i = 0; i < 10; ++i) c.add(2.0, 0.1);
  ASSERT_TRUE(c.finished());
  c.add(100.0, 0.2);
  EXPECT_EQ(c.samples().size(), 10u);
  EXPECT_EQ(c.reason(), StopReason::converged);
}

TEST(Stopping, OutpacedStopsABackendTwiceAnothersMedianAfterThreeSamples) {
  StoppingCriterion c(params());
  c.add(276.0, 0.3);
  c.add(280.0, 0.6);
  EXPECT_FALSE(c.outpaced_by(11.7));  // two samples: too few to judge
  c.add(277.0, 0.9);
  EXPECT_FALSE(c.outpaced_by(0));     // no other median yet
  EXPECT_FALSE(c.outpaced_by(140.0)); // 277 is under 2 x 140
  EXPECT_FALSE(c.finished());
  EXPECT_TRUE(c.outpaced_by(138.0));
  EXPECT_EQ(c.reason(), StopReason::outpaced);
  c.add(1.0, 1.0);
  EXPECT_EQ(c.samples().size(), 3u);
}

TEST(Stopping, OutpacedJudgesTheMedianNotOneSlowSample) {
  StoppingCriterion c(params());
  for (double s : {1.0, 9.0, 1.1}) c.add(s, 0.01);
  EXPECT_FALSE(c.outpaced_by(0.6));  // median 1.1 < 1.2
  EXPECT_TRUE(c.outpaced_by(0.5));
}

TEST(Stopping, FarOutpacedStopsAfterOneSampleWhenTheWarmUpAgrees) {
  StoppingCriterion c(params());
  c.add(276.0, 0.3);                         // the math kernel on a video shape
  EXPECT_FALSE(c.outpaced_by(11.9));         // no warm-up estimate: one sample is not enough
  EXPECT_FALSE(c.outpaced_by(11.9, 40.0));   // the warm-up read 40 ms: under 4 x 11.9
  EXPECT_FALSE(c.outpaced_by(70.0, 290.0));  // 276 is under 4 x 70
  EXPECT_FALSE(c.finished());
  EXPECT_TRUE(c.outpaced_by(68.0, 290.0));
  EXPECT_EQ(c.reason(), StopReason::outpaced);
  EXPECT_EQ(c.samples().size(), 1u);
}

TEST(Stopping, FarOutpacedIgnoresOneSlowFirstSampleOfAContender) {
  // The warm-up says the backend runs as fast as the best; its first sample met a pause of the
  // host. Far from both readings, it goes on.
  StoppingCriterion c(params());
  c.add(9.0, 0.01);
  EXPECT_FALSE(c.outpaced_by(1.0, 1.05));
  EXPECT_FALSE(c.outpaced_by(0, 50.0));  // no other median yet
  EXPECT_FALSE(c.finished());
}

TEST(Stopping, OutpacedLeavesAFinishedCriterionAlone) {
  StoppingCriterion c(params());
  for (int i = 0; i < 10; ++i) c.add(2.0, 0.1);
  ASSERT_EQ(c.reason(), StopReason::converged);
  EXPECT_FALSE(c.outpaced_by(0.1));
  EXPECT_EQ(c.reason(), StopReason::converged);
}

TEST(Stopping, ReasonNames) {
  EXPECT_EQ(to_string(StopReason::converged), "converged");
  EXPECT_EQ(to_string(StopReason::noise_stalled), "noise_stalled");
  EXPECT_EQ(to_string(StopReason::time_cap), "time_cap");
  EXPECT_EQ(to_string(StopReason::outpaced), "outpaced");
}

}  // namespace
}  // namespace autotune
