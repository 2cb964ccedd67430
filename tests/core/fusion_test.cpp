#include "qf/core/fusion.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace qf::core {
namespace {

using Fusion = SignalFusion<2, 2>;

FusionParams<2, 2> two_experts() {
  FusionParams<2, 2> p;
  p.weights << 1.0, 0.0, // regime 0 follows feature 0
      0.0, -2.0;         // regime 1 fades feature 1
  p.bias << 0.0, 0.5;
  p.alpha = 0.1;
  return p;
}

TEST(fusion, should_give_known_outputs_for_known_weights) {
  const auto p = two_experts();
  // Posterior (0.75, 0.25), z = (0.4, 0.1): experts 0.4 and -0.2 + 0.5 = 0.3;
  // mixture 0.75 * 0.4 + 0.25 * 0.3 = 0.375.
  const SignalOutput out = Fusion::fuse(p, Eigen::Vector2d(0.4, 0.1), Eigen::Vector2d(0.75, 0.25), true);
  EXPECT_NEAR(out.signal, std::tanh(0.375), 1e-15);
  const double entropy = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25));
  EXPECT_NEAR(out.confidence, 1.0 - entropy / std::log(2.0), 1e-15);
}

TEST(fusion, should_be_fully_confident_in_a_certain_regime_and_not_at_all_in_a_uniform_one) {
  const auto p = two_experts();
  EXPECT_DOUBLE_EQ(Fusion::fuse(p, Eigen::Vector2d(1, 1), Eigen::Vector2d(1.0, 0.0), true).confidence, 1.0);
  EXPECT_NEAR(Fusion::fuse(p, Eigen::Vector2d(1, 1), Eigen::Vector2d(0.5, 0.5), true).confidence, 0.0, 1e-15);
}

TEST(fusion, should_stay_within_minus_one_and_one) {
  const auto p = two_experts();
  EXPECT_LE(Fusion::fuse(p, Eigen::Vector2d(1e9, 0), Eigen::Vector2d(1, 0), true).signal, 1.0);
  EXPECT_GE(Fusion::fuse(p, Eigen::Vector2d(-1e9, 0), Eigen::Vector2d(1, 0), true).signal, -1.0);
}

TEST(fusion, should_fade_to_zero_when_the_book_is_not_live) {
  Fusion fusion(two_experts());
  for (int i = 0; i < 10; ++i) {
    (void)fusion.update(Eigen::Vector2d(i, -i), Eigen::Vector2d(0.9, 0.1), true);
  }
  const SignalOutput out = fusion.update(Eigen::Vector2d(50, -50), Eigen::Vector2d(0.9, 0.1), false);
  EXPECT_EQ(out.signal, 0.0);
  EXPECT_EQ(out.confidence, 0.0);
}

TEST(fusion, should_standardize_a_stationary_feature_to_zero_mean_and_unit_variance) {
  auto p = two_experts();
  p.alpha = 0.01;
  Fusion fusion(p);
  std::mt19937_64 rng(4);
  std::normal_distribution<double> g(100.0, 5.0);
  double sum = 0.0;
  double sum_sq = 0.0;
  int n = 0;
  for (int i = 0; i < 20'000; ++i) {
    (void)fusion.update(Eigen::Vector2d(g(rng), 7.0), Eigen::Vector2d(1, 0), true);
    if (i >= 2'000) { // after warm-up
      const double z = fusion.last_z()(0);
      sum += z;
      sum_sq += z * z;
      ++n;
    }
  }
  const double mean = sum / n;
  const double sd = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(sd, 1.0, 0.05);
  EXPECT_EQ(fusion.last_z()(1), 0.0) << "a constant feature carries no information";
  (void)fusion.update(Eigen::Vector2d(130.0, 7.0), Eigen::Vector2d(1, 0), true);
  EXPECT_NEAR(fusion.last_z()(0), 6.0, 1.0) << "a 30-point jump is about six standard deviations";
}

} // namespace
} // namespace qf::core
