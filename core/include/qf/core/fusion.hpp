#pragma once
// Signal fusion: a regime-gated mixture of linear experts over standardized features.
// Features are z-scored online (exponentially weighted mean and variance with weight `alpha`
// per update, so the scale adapts to the market). Regime k's expert is w_k . z + b_k; the
// regime posterior weighs the experts; the signal is tanh of the mixture, in [-1, 1].
// Confidence = 1 - H(posterior) / log K: 1 when one regime is certain, 0 when all are equally
// likely. A book that is not `live` fades both to 0. Eigen fixed-size, no allocation.
// A learned model (signal_model.hpp) fixes the standardization to its training statistics and
// may add a trees expert over the raw inputs (NaN = missing, as in training): the mixture is
// then (1 - trees_weight) * sum_k p_k expert_k + trees_weight * trees(x).

#include <Eigen/Core>

#include <cmath>

#include "qf/core/trees.hpp"

namespace qf::core {

template <int K, int F>
struct FusionParams {
  Eigen::Matrix<double, K, F> weights; // one expert per row
  Eigen::Matrix<double, K, 1> bias;
  double alpha = 0.01; // z-score EWMA weight per update
  bool fixed_standardization = false; // true: z = (x - mean) / sd with the two below
  Eigen::Matrix<double, F, 1> mean = Eigen::Matrix<double, F, 1>::Zero();
  Eigen::Matrix<double, F, 1> sd = Eigen::Matrix<double, F, 1>::Ones();
  const TreeEnsemble* trees = nullptr; // owned by the engine's configuration; null: none
  double trees_weight = 0.0;
};

struct SignalOutput {
  double signal = 0.0;
  double confidence = 0.0;
};

template <int K, int F>
class SignalFusion {
public:
  using FeatureVec = Eigen::Matrix<double, F, 1>;
  using Probs = Eigen::Matrix<double, K, 1>;

  explicit SignalFusion(const FusionParams<K, F>& params) noexcept : params_(params) {
    mean_.setZero();
    var_.setOnes();
  }

  // The mixture for already standardized features.
  // `trees_out`: the trees expert's prediction (used when p.trees is set).
  [[nodiscard]] static SignalOutput fuse(const FusionParams<K, F>& p, const FeatureVec& z, const Probs& posterior,
                                         bool book_live, double trees_out = 0.0) noexcept {
    if (!book_live) {
      return {};
    }
    const Probs experts = p.weights * z + p.bias;
    const double linear = posterior.dot(experts);
    const double mixture = p.trees != nullptr ? (1.0 - p.trees_weight) * linear + p.trees_weight * trees_out : linear;
    double entropy = 0.0;
    for (int k = 0; k < K; ++k) {
      if (posterior(k) > 0.0) {
        entropy -= posterior(k) * std::log(posterior(k));
      }
    }
    return SignalOutput{std::tanh(mixture), K > 1 ? 1.0 - entropy / std::log(double{K}) : 1.0};
  }

  // Standardizes `raw` against the running statistics (then updates them) and fuses.
  SignalOutput update(const FeatureVec& raw, const Probs& posterior, bool book_live) noexcept {
    FeatureVec z;
    if (params_.fixed_standardization) {
      float x[static_cast<std::size_t>(F)];
      for (int f = 0; f < F; ++f) {
        const double v = (raw(f) - params_.mean(f)) / params_.sd(f);
        z(f) = std::isfinite(v) ? v : 0.0; // a missing input carries no information
        x[f] = static_cast<float>(raw(f));
      }
      last_z_ = z;
      return fuse(params_, z, posterior, book_live, params_.trees != nullptr ? double{params_.trees->predict(x)} : 0.0);
    }
    for (int f = 0; f < F; ++f) {
      const double x = std::isfinite(raw(f)) ? raw(f) : mean_(f);
      // Standardize against the statistics so far; no spread seen yet means no information.
      const double sd = std::sqrt(var_(f));
      z(f) = (seen_ == 0 || !(sd > 0.0)) ? 0.0 : (x - mean_(f)) / sd;
      if (seen_ == 0) {
        mean_(f) = x;
        var_(f) = 0.0;
      } else {
        const double diff = x - mean_(f);
        mean_(f) += params_.alpha * diff;
        var_(f) = (1.0 - params_.alpha) * (var_(f) + params_.alpha * diff * diff);
      }
    }
    ++seen_;
    last_z_ = z;
    return fuse(params_, z, posterior, book_live);
  }

  [[nodiscard]] const FeatureVec& last_z() const noexcept { return last_z_; }
  // New parameters (a model reload, between events); the online statistics are kept.
  void set_params(const FusionParams<K, F>& params) noexcept { params_ = params; }

private:
  FusionParams<K, F> params_;
  FeatureVec mean_;
  FeatureVec var_;
  FeatureVec last_z_ = FeatureVec::Zero();
  long seen_ = 0;
};

} // namespace qf::core
