#include "qf/core/regime.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace qf::core {
namespace {

using Filter = RegimeFilter<3, 2>;

HmmParams<3, 2> calm_trending_volatile() {
  HmmParams<3, 2> p;
  p.transition << 0.96, 0.03, 0.01, //
      0.04, 0.94, 0.02,             //
      0.03, 0.03, 0.94;
  p.initial << 1.0 / 3, 1.0 / 3, 1.0 / 3;
  // Observations: (bar return, realized vol); returns in bps, vol in bps per sqrt(s).
  p.means << 0.0, 1.0, //
      4.0, 2.0,        //
      0.0, 6.0;
  p.variances << 1.0, 0.1, //
      1.5, 0.3,            //
      16.0, 2.0;
  return p;
}

// Reference: the textbook forward algorithm carried entirely in log space.
std::vector<Eigen::Vector3d> naive_log_forward(const HmmParams<3, 2>& p, const std::vector<Eigen::Vector2d>& obs) {
  const auto log_density = [&](int k, const Eigen::Vector2d& o) {
    double l = 0.0;
    for (int d = 0; d < 2; ++d) {
      const double v = p.variances(k, d);
      l += -0.5 * std::log(2.0 * M_PI * v) - 0.5 * (o(d) - p.means(k, d)) * (o(d) - p.means(k, d)) / v;
    }
    return l;
  };
  const auto logsumexp = [](const std::vector<double>& xs) {
    double m = -INFINITY;
    for (const double x : xs) {
      m = std::max(m, x);
    }
    double s = 0.0;
    for (const double x : xs) {
      s += std::exp(x - m);
    }
    return m + std::log(s);
  };
  std::vector<Eigen::Vector3d> posteriors;
  std::vector<double> log_alpha(3);
  for (std::size_t t = 0; t < obs.size(); ++t) {
    std::vector<double> next(3);
    for (int j = 0; j < 3; ++j) {
      double prior = 0.0;
      if (t == 0) {
        prior = std::log(p.initial(j));
      } else {
        std::vector<double> terms;
        for (int i = 0; i < 3; ++i) {
          terms.push_back(log_alpha[static_cast<std::size_t>(i)] + std::log(p.transition(i, j)));
        }
        prior = logsumexp(terms);
      }
      next[static_cast<std::size_t>(j)] = prior + log_density(j, obs[t]);
    }
    log_alpha = next;
    const double z = logsumexp(log_alpha);
    posteriors.emplace_back(std::exp(log_alpha[0] - z), std::exp(log_alpha[1] - z), std::exp(log_alpha[2] - z));
  }
  return posteriors;
}

struct Path {
  std::vector<int> states;
  std::vector<Eigen::Vector2d> obs;
};

Path simulate(const HmmParams<3, 2>& p, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 1.0);
  Path path;
  int s = 0;
  for (int t = 0; t < n; ++t) {
    if (t > 0) {
      double r = u(rng);
      int next = 0;
      while (next < 2 && r > p.transition(s, next)) {
        r -= p.transition(s, next);
        ++next;
      }
      s = next;
    }
    path.states.push_back(s);
    path.obs.emplace_back(p.means(s, 0) + std::sqrt(p.variances(s, 0)) * g(rng),
                          p.means(s, 1) + std::sqrt(p.variances(s, 1)) * g(rng));
  }
  return path;
}

TEST(regime_filter, should_agree_with_a_naive_log_space_forward_algorithm_to_1e_9) {
  const auto params = calm_trending_volatile();
  const Path path = simulate(params, 5000, 1);
  const auto reference = naive_log_forward(params, path.obs);
  Filter filter(params);
  double worst = 0.0;
  for (std::size_t t = 0; t < path.obs.size(); ++t) {
    filter.update(path.obs[t]);
    worst = std::max(worst, (filter.posterior() - reference[t]).cwiseAbs().maxCoeff());
  }
  EXPECT_LT(worst, 1e-9);
  EXPECT_NEAR(filter.posterior().sum(), 1.0, 1e-12);
}

TEST(regime_filter, should_recover_the_true_regime_well_above_chance_on_regime_switching_data) {
  const auto params = calm_trending_volatile();
  const Path path = simulate(params, 20'000, 2);
  Filter filter(params);
  int correct = 0;
  for (std::size_t t = 0; t < path.obs.size(); ++t) {
    filter.update(path.obs[t]);
    correct += filter.dominant() == path.states[t] ? 1 : 0;
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(path.obs.size());
  EXPECT_GT(accuracy, 0.85) << "chance is 1/3";
}

TEST(regime_filter, should_stay_a_probability_distribution_on_extreme_observations) {
  Filter filter(calm_trending_volatile());
  filter.update(Eigen::Vector2d(1e6, 1e6)); // densities underflow without the log-space shift
  EXPECT_TRUE(filter.posterior().allFinite());
  EXPECT_NEAR(filter.posterior().sum(), 1.0, 1e-12);
  EXPECT_EQ(filter.dominant(), 2) << "the widest regime explains an outlier best";
  filter.update(Eigen::Vector2d(std::nan(""), 1.0));
  EXPECT_EQ(filter.rejected(), 1U);
  EXPECT_NEAR(filter.posterior().sum(), 1.0, 1e-12);
}

} // namespace
} // namespace qf::core
