#pragma once
// Engine: the core agent. One thread (pinned in production) drains the feed rings in bounded
// batches and, per event: applies it to the instrument's book (or BBO / trade), updates the
// instrument's features, on 1 s bar close updates the bars and the regime filter, recomputes
// the fused signal, then publishes the changed records into the state layout and records
// latency stamps (through its Publisher, publisher.hpp). Book levels of one venue message are
// applied together and published once, at the event flagged kFlagLastInMessage. Everything is
// allocated in the constructor; the per-event path allocates nothing (a test counts).
// Aeron-style: do_work() returns the work done so an idle strategy can back off when there is
// none. Event application is engine.cpp; control commands and risk persistence engine_control.cpp;
// the learned model's drift and its reload (model lifecycle) engine_model.cpp.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "qf/core/bars.hpp"
#include "qf/core/composite.hpp"
#include "qf/core/drift.hpp"
#include "qf/core/event.hpp"
#include "qf/core/features.hpp"
#include "qf/core/fusion.hpp"
#include "qf/core/order_book.hpp"
#include "qf/core/paper.hpp"
#include "qf/core/publisher.hpp"
#include "qf/core/regime.hpp"
#include "qf/core/risk.hpp"
#include "qf/core/signal_model.hpp"
#include "qf/ipc/spsc_ring.hpp"
#include "qf/ipc/state_layout.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::core {


struct InstrumentSpec {
  std::string venue;  // "binance-spot"
  std::string symbol; // "BTCUSDT"
  int price_decimals = 2;
  int qty_decimals = 8;
  std::uint16_t feed = 0;
};

// Drift of the learned model's inputs (drift.hpp; [signal] drift_bound, drift_window).
struct DriftParams {
  double bound = 0.25;      // PSI above which the instrument's confidence fades
  std::size_t window = 300; // 1 s bar closes per window
};

struct CoreConfig {
  BookConfig book;
  FeatureConfig features;
  HmmParams<kRegimes, kRegimeObs> hmm = default_hmm();
  FusionParams<kRegimes, kSignalFeatures> fusion = default_fusion();
  std::size_t batch = 256; // events per drain
  RiskConfig risk;          // sizing, limits, kill switch, paper execution
  // Composite books over instruments of several venues (composite.hpp); empty: none.
  std::vector<CompositeSpec> composites;
  // The learned model's trees expert (fusion.trees points into it); null without one.
  std::shared_ptr<const TreeEnsemble> trees;
  // The learned model in force (its id, training period, validation, drift reference); null: built-in.
  std::shared_ptr<const SignalModel> model;
  DriftParams drift;

  // hmm and fusion from a learned model (fixed standardization, its experts, its trees).
  void use_model(const SignalModel& model);
  // hmm, fusion and trees from `model` (which must outlive them: `model` above, or a reload's).
  void apply_model(const SignalModel& model) noexcept;

  // Calm / trending / volatile over (1 s return in bps, realized vol in bps/sqrt(s)).
  static HmmParams<kRegimes, kRegimeObs> default_hmm();
  // Calm: mean-revert on imbalance and z; trending: follow returns and flow; volatile: small.
  static FusionParams<kRegimes, kSignalFeatures> default_fusion();
};

class Engine {
public:
  // Throws std::invalid_argument on a bad instrument list (start-up only).
  Engine(const CoreConfig& config, const std::vector<InstrumentSpec>& instruments, StateSections state,
         const ipc::TscClock& clock);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Applies one event. `now_unix_ns` is the engine's notion of time (wall clock live, the
  // capture's receive time in replay, so replays are deterministic); `popped_ticks` is when the
  // event left the ring (TscClock ticks), 0 to skip latency accounting.
  void apply(const Event& event, std::uint64_t now_unix_ns, std::uint64_t popped_ticks) noexcept;

  // Drains up to config.batch events from `ring`; returns how many were applied.
  template <std::size_t N>
  std::size_t do_work(ipc::SpscRing<Event, N>& ring, std::uint64_t now_unix_ns) noexcept {
    const std::uint64_t popped = clock_.now();
    return ring.drain([&](const Event& e) { apply(e, now_unix_ns, popped); }, batch_);
  }

  // Model lifecycle (engine_model.cpp; control path, core thread, between events). install_model puts
  // `model` in force for every instrument from the next event on (regime filter and fusion take its
  // parameters, drift windows restart against its distributions), publishes the model record, then
  // acknowledges `command` done; it returns the model it replaces, for the caller to release off the
  // hot thread. refuse_model keeps the model in force, records `why` and acknowledges rejected.
  [[nodiscard]] std::shared_ptr<const SignalModel> install_model(std::shared_ptr<const SignalModel> model,
                                                                 const ipc::ControlCommand& command,
                                                                 std::uint64_t now_unix_ns) noexcept;
  void refuse_model(const ipc::ControlCommand& command, const char* why, std::uint64_t now_unix_ns) noexcept;
  [[nodiscard]] const SignalModel* model() const noexcept { return config_.model.get(); }
  // The instrument's drift statistic of input f (NaN: not judged) and its confidence multiplier.
  [[nodiscard]] double drift_psi(std::size_t instrument, int f) const noexcept;
  [[nodiscard]] double drift_fade(std::size_t instrument) const noexcept;

  // Direct access for replay summaries and tests (core thread only).
  [[nodiscard]] const OrderBook& book(std::size_t instrument) const noexcept;
  [[nodiscard]] ipc::BookHealth health(std::size_t instrument) const noexcept;
  [[nodiscard]] const FeatureValues& features(std::size_t instrument) const noexcept;
  [[nodiscard]] SignalOutput signal(std::size_t instrument) const noexcept;
  [[nodiscard]] const Eigen::Matrix<double, kRegimes, 1>& regime(std::size_t instrument) const noexcept;
  // What the live path feeds the models, for `qf-engine features` (training sees these numbers):
  // the fusion's raw input vector, the regime filter's last observation, the 1 s and 1 m bars.
  [[nodiscard]] Eigen::Matrix<double, kSignalFeatures, 1> signal_inputs(std::size_t instrument) const noexcept;
  [[nodiscard]] const Eigen::Matrix<double, kRegimeObs, 1>& regime_observation(std::size_t instrument) const noexcept;
  [[nodiscard]] const BarBuilder& bars_1s(std::size_t instrument) const noexcept;
  [[nodiscard]] const BarBuilder& bars_1m(std::size_t instrument) const noexcept;
  [[nodiscard]] std::uint64_t crossed_count(std::size_t instrument) const noexcept;
  [[nodiscard]] std::uint64_t events_processed() const noexcept { return events_processed_; }
  [[nodiscard]] std::size_t instrument_count() const noexcept { return count_; }
  [[nodiscard]] std::size_t composite_count() const noexcept { return composites_.size(); }
  [[nodiscard]] const CompositeBook& composite(std::size_t c) const noexcept { return *composites_[c]; }

  // Re-evaluates the composites' stale members at `now_unix_ns` and publishes those that changed
  // (the agent's housekeeping: a member that stops updating is excluded without any event).
  void refresh_composites(std::uint64_t now_unix_ns) noexcept;

  // Acknowledges a control command in the state (ControlLog) and notes it (cold).
  [[gnu::cold]] void acknowledge(const ipc::ControlCommand& command, ipc::ControlResult result, const char* text,
                                 std::uint64_t now_unix_ns) noexcept;

  // Executes a risk command (kill_on, kill_reduce_only, flatten, kill_off, resume, reset,
  // paper_order, set_limit) and acknowledges it; false for an action that is not a risk command
  // (resync). Core thread.
  bool control(const ipc::ControlCommand& command, std::uint64_t now_unix_ns) noexcept;
  // Paper trading state (replay summaries, persistence, tests; core thread only).
  [[nodiscard]] const PaperTrader& trader() const noexcept { return *trader_; }
  // Restores a persisted portfolio, kill switch and limits in force (start-up, before the first event).
  void restore(const RiskSnapshot& s, std::uint64_t now_unix_ns) noexcept;
  [[nodiscard]] RiskSnapshot risk_snapshot() const noexcept;

  // A notable event for the log (cold: formatting happens here, not per event).
  [[gnu::cold]] void note(ipc::NotableKind kind, std::uint16_t instrument, const char* text,
                          std::uint64_t now_unix_ns) noexcept;

private:
  struct Instrument;

  void on_book_message_end(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  void on_trade(Instrument& in, const Event& e, std::uint64_t now_unix_ns) noexcept;
  void on_bbo(Instrument& in, const Event& e, std::uint64_t now_unix_ns) noexcept;
  void on_status(Instrument& in, const Event& e, std::uint64_t now_unix_ns) noexcept;
  void on_bar_close(Instrument& in, const Bar& bar, const BarIndicators& ind) noexcept;
  // After an event that closed a 1 s bar: the drift window takes the inputs (engine_model.cpp).
  void update_drift(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  void publish_drift(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  [[gnu::cold]] void publish_model(std::uint64_t now_unix_ns) noexcept;
  [[gnu::cold]] void note_drift(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  void refresh_signal(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  [[nodiscard]] static Eigen::Matrix<double, kSignalFeatures, 1> signal_inputs(const Instrument& in) noexcept;
  void set_health(Instrument& in, ipc::BookHealth h, std::uint64_t now_unix_ns) noexcept;
  // The instrument's features and health records, through publisher_.
  void publish_features(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  void publish_health(Instrument& in) noexcept;
  // A bbo tick when the top of `source` (the book, or the venue's BBO stream) changed.
  void journal_top(Instrument& in, ipc::TickSource source) noexcept;
  void run_risk(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  [[nodiscard]] MarketView market_view(const Instrument& in) const noexcept;
  // Publishes what a trader call changed (positions, portfolio, fills, risk, a trip's note).
  void publish_trade(const Instrument& in, const TradeOutcome& o, std::uint64_t orders_before,
                     std::uint64_t now_unix_ns) noexcept;
  // ControlAction::paper_order: through PaperTrader::place, acknowledged with its outcome (cold).
  [[gnu::cold]] void paper_order(const ipc::ControlCommand& c, std::uint64_t now_unix_ns) noexcept;
  // ControlAction::set_limit: validated by PaperTrader::set_limit, acknowledged (cold).
  [[gnu::cold]] void set_limit(const ipc::ControlCommand& c, std::uint64_t now_unix_ns) noexcept;
  // The instrument's top levels into the composites it belongs to; publishes those that changed.
  void update_composites(Instrument& in, const Level* bids, std::size_t n_bids, const Level* asks,
                         std::size_t n_asks, std::uint64_t now_unix_ns) noexcept;
  void composites_health(Instrument& in, std::uint64_t now_unix_ns) noexcept;
  [[gnu::cold]] void note_trip(KillCause cause, std::uint16_t instrument, std::uint64_t now_unix_ns) noexcept;

  CoreConfig config_;
  Publisher publisher_;
  ipc::TscClock clock_;
  std::size_t batch_;
  std::size_t count_ = 0;
  std::vector<std::unique_ptr<Instrument>> instruments_;
  std::uint64_t events_processed_ = 0;
  std::unique_ptr<PaperTrader> trader_;
  std::vector<std::unique_ptr<CompositeBook>> composites_;
  std::uint32_t model_reloads_ = 0;
  std::uint32_t model_refusals_ = 0;
  std::uint64_t model_loaded_unix_ns_ = 0;
  std::array<char, 192> model_refusal_{};
  std::uint64_t model_refusal_unix_ns_ = 0;
};

} // namespace qf::core
