#pragma once
// Engine::Instrument: everything the engine keeps per instrument (book, features, bars, regime
// filter, fusion, drift window, health and the last published records). Private to the engine's
// sources (engine.cpp applies events, engine_model.cpp judges drift and installs models).
#include <array>
#include <cstdint>

#include "qf/core/engine.hpp"

namespace qf::core {

struct Engine::Instrument {
  explicit Instrument(const CoreConfig& c)
      : book(c.book), features(c.features), bars_1s(1'000'000'000ULL), bars_1m(60'000'000'000ULL), regime(c.hmm),
        fusion(c.fusion), drift(c.drift.window) {
    if (c.model != nullptr) {
      drift.set_reference(c.model->drift);
    }
  }

  std::uint16_t id = 0;
  double price_scale = 1.0;
  double qty_scale = 1.0;
  OrderBook book;
  Features features;
  BarBuilder bars_1s;
  BarBuilder bars_1m;
  RegimeFilter<kRegimes, kRegimeObs> regime;
  SignalFusion<kRegimes, kSignalFeatures> fusion;
  SignalOutput signal;
  BarIndicators indicators;
  double prev_bar_close = 0.0;
  Eigen::Matrix<double, kRegimeObs, 1> regime_obs = Eigen::Matrix<double, kRegimeObs, 1>::Zero();
  ipc::BookHealth health = ipc::BookHealth::syncing;
  ipc::BookHealth feed_health = ipc::BookHealth::syncing; // what the feed says, before crossed checks
  bool in_snapshot = false;
  bool book_dirty = false;
  std::uint64_t update_id = 0;
  HealthCounters counts;
  ipc::QuoteRecord quote{};
  std::array<Level, ipc::kBookDepth> bids{};
  std::array<Level, ipc::kBookDepth> asks{};
  Level bbo_bid{}, bbo_ask{}; // the book of a BBO-only instrument, for paper fills
  // bid, bid qty, ask, ask qty of the last bbo tick of each source (book, ticker)
  std::array<std::array<std::int64_t, 4>, 2> journaled_top{};
  // The composites this instrument is a member of: (composite, member index) pairs.
  std::array<std::array<std::uint8_t, 2>, ipc::kMaxComposites> composites{};
  std::size_t n_composites = 0;
  // The learned model's input drift (engine_model.cpp): judged after each event that closes a 1 s bar.
  DriftMonitor<kSignalFeatures> drift;
  double fade = 1.0; // the confidence multiplier drift puts in force
  bool drifting = false;
  bool bar_closed = false;
  std::uint8_t drift_worst = ipc::kNoFeature;
  std::uint64_t drift_alarms = 0;
  std::uint64_t drift_updated_unix_ns = 0;
};

} // namespace qf::core
