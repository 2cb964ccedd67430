#pragma once
// RegimeFilter: online forward filter of a Gaussian hidden Markov model with K regimes over
// D-dimensional observations (default: bar log return and realized volatility), diagonal
// covariances, Eigen fixed-size matrices (no allocation). Each step predicts with the
// transition matrix, weighs by the emission densities computed in log space and shifted by
// their maximum (so far-out observations neither underflow nor overflow), and renormalizes,
// so the posterior stays a proper distribution forever. Called on bar close by the core thread.

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

namespace qf::core {

template <int K, int D>
struct HmmParams {
  Eigen::Matrix<double, K, K> transition; // row i: P(next = j | now = i); rows sum to 1
  Eigen::Matrix<double, K, 1> initial;    // sums to 1
  Eigen::Matrix<double, K, D> means;
  Eigen::Matrix<double, K, D> variances; // > 0
};

template <int K = 3, int D = 2>
class RegimeFilter {
public:
  using Obs = Eigen::Matrix<double, D, 1>;
  using Probs = Eigen::Matrix<double, K, 1>;

  explicit RegimeFilter(const HmmParams<K, D>& params) noexcept : params_(params), posterior_(params.initial) {
    set_params(params);
  }

  // New parameters (a model reload, between events): the posterior so far is kept as the prior.
  void set_params(const HmmParams<K, D>& params) noexcept {
    params_ = params;
    // Per-regime constant of the log density: -0.5 * sum_d log(2 pi var).
    for (int k = 0; k < K; ++k) {
      double c = 0.0;
      for (int d = 0; d < D; ++d) {
        c += std::log(2.0 * std::numbers::pi * params_.variances(k, d));
      }
      log_norm_(k) = -0.5 * c;
    }
  }

  void update(const Obs& obs) noexcept {
    Probs log_b;
    for (int k = 0; k < K; ++k) {
      double q = 0.0;
      for (int d = 0; d < D; ++d) {
        const double diff = obs(d) - params_.means(k, d);
        q += diff * diff / params_.variances(k, d);
      }
      log_b(k) = log_norm_(k) - 0.5 * q;
    }
    const double shift = log_b.maxCoeff();
    const Probs predicted = updates_ == 0 ? params_.initial : Probs(params_.transition.transpose() * posterior_);
    const Probs weighted = predicted.cwiseProduct((log_b.array() - shift).exp().matrix());
    const double total = weighted.sum();
    if (!(total > 0.0) || !std::isfinite(total)) {
      ++rejected_; // non-finite observation: keep the previous posterior
      return;
    }
    posterior_ = weighted / total;
    log_likelihood_ += std::log(total) + shift;
    ++updates_;
  }

  [[nodiscard]] const Probs& posterior() const noexcept { return posterior_; }
  [[nodiscard]] int dominant() const noexcept {
    int best = 0;
    posterior_.maxCoeff(&best);
    return best;
  }
  [[nodiscard]] double log_likelihood() const noexcept { return log_likelihood_; }
  [[nodiscard]] std::uint64_t updates() const noexcept { return updates_; }
  [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_; }

private:
  HmmParams<K, D> params_;
  Probs posterior_;
  Probs log_norm_;
  double log_likelihood_ = 0.0;
  std::uint64_t updates_ = 0;
  std::uint64_t rejected_ = 0;
};

} // namespace qf::core
