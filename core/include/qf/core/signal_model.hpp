#pragma once
// SignalModel: the learned parameters of the regime filter and the signal mixture, loaded at
// start-up from the one versioned JSON file qf-train writes (train/qf_train.py). It fixes the
// HMM (transition, initial, means, variances), the feature standardization (replacing the
// online z-score), one linear expert per regime and, when present, the trees expert (an
// XGBoost dump flattened into a TreeEnsemble) with its weight in the mixture. The file must
// name exactly the engine's features and regime observation, in order, and its state count;
// anything else is refused with a message that names the difference. Version 2 adds each input's
// training distribution (drift.hpp: bin edges and fractions, for the live drift statistic) and is
// the only version read; the validation summary (walk-forward folds) is kept for /api/health.

#include <Eigen/Core>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qf/core/drift.hpp"
#include "qf/core/regime.hpp"
#include "qf/core/trees.hpp"

namespace qf::core {

inline constexpr int kRegimes = 3;
inline constexpr int kRegimeObs = 2;      // 1 s bar log return (bps), realized vol (bps / sqrt s)
inline constexpr int kSignalFeatures = 5; // imbalance, trade flow, ret_fast, ret_slow, bollinger z
inline constexpr std::array<std::string_view, kSignalFeatures> kSignalFeatureNames = {
    "imbalance", "trade_flow", "ret_fast", "ret_slow", "bollinger_z"};
inline constexpr std::array<std::string_view, kRegimeObs> kRegimeObsNames = {"obs_ret_bps", "obs_vol_bps"};
inline constexpr int kSignalModelVersion = 2;

// One walk-forward fold of the file's validation (train/qf_train.py, evaluate()).
struct ValidationFold {
  std::uint64_t test_rows = 0;
  double ic = 0.0, hit_rate = 0.0;
  double return_bps = 0.0, sharpe_per_bar = 0.0, max_drawdown_bps = 0.0;
  double buy_and_hold_bps = 0.0;
};

struct SignalModel {
  std::string id;   // "qf-<hash>" from the file
  std::string path; // where it was loaded from
  std::uint64_t train_start_ns = 0;
  std::uint64_t train_end_ns = 0;
  std::uint64_t train_rows = 0;
  HmmParams<kRegimes, kRegimeObs> hmm;
  Eigen::Matrix<double, kSignalFeatures, 1> mean;
  Eigen::Matrix<double, kSignalFeatures, 1> sd;
  Eigen::Matrix<double, kRegimes, kSignalFeatures> weights;
  Eigen::Matrix<double, kRegimes, 1> bias;
  std::shared_ptr<const TreeEnsemble> trees; // null: linear experts only
  double trees_weight = 0.0;                 // the trees expert's share of the mixture
  std::array<FeatureDistribution, kSignalFeatures> drift; // each input's training distribution
  std::vector<ValidationFold> validation;                 // walk-forward folds, in order
};

// Throws std::runtime_error "PATH: problem" (unreadable, not JSON, wrong format or version,
// feature list or state count that differs from the engine's, bad numbers).
[[nodiscard]] SignalModel load_signal_model(const std::string& path);

} // namespace qf::core
