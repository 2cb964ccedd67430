#pragma once
// qf-engine features: the training dataset, computed by the live code path. Each capture is
// replayed through `run_replay` (same parsers, books, Engine); after every event that closes a
// 1 s or 1 m bar one row is written with what the engine holds at that moment: the fusion's raw
// inputs, the feature values, the regime filter's last observation and posterior, book health
// and the fused signal. Labels come from the same pass, from the engine's own mid after the row:
// forward log returns at 1 and `horizon_bars` bars and a triple-barrier label whose barriers are
// +pt / -sl times the row's EWMA volatility over the horizon. A row's features see events up to
// its time t only; its labels see (t, t + horizon] only; a label whose horizon passes the end of
// its capture is left empty. Each capture is its own session: no label crosses files.

#include <optional>
#include <string>
#include <vector>

#include "qf/config/config.hpp"

namespace qf::engine {

struct FeaturesOptions {
  std::vector<std::string> inputs;
  std::string out;   // CSV path
  std::string venue; // empty: detected per capture
  std::optional<config::Config> config;
  int horizon_bars = 10;      // label horizon in bars of the row's interval
  double profit_take = 2.0;   // upper barrier, in horizon volatilities
  double stop_loss = 2.0;     // lower barrier, in horizon volatilities
  double min_barrier_bps = 0.5; // floor of the barrier width (volatility is 0 before any move)
};

struct FeaturesSummary {
  std::size_t rows_1s = 0;
  std::size_t rows_1m = 0;
  std::size_t labelled = 0;
};

// Throws std::runtime_error on an unreadable input or an unwritable output.
FeaturesSummary run_features(const FeaturesOptions& options);

} // namespace qf::engine
