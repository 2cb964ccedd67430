#pragma once
// Paper execution: the trader the Engine runs on the core thread when an instrument's signal or
// marks change: sizing -> pre-trade checks -> rate guard (risk.hpp) -> a paper fill walking the
// live book -> the portfolio (portfolio.hpp); and what of it survives a restart (RiskSnapshot).
// Everything is fixed-size, nothing allocates after construction. Core thread only.

#include <array>
#include <cstddef>
#include <cstdint>

#include "qf/core/event.hpp"
#include "qf/core/order_book.hpp"
#include "qf/core/portfolio.hpp"
#include "qf/core/risk.hpp"
#include "qf/ipc/control_layout.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::core {

struct ExecResult {
  double filled_qty = 0;
  double avg_price = 0;
  double fee = 0;
  std::size_t levels = 0; // levels touched
};

// Walks `levels` (the opposite side, best first, fixed point) for `qty` base units; a limit
// order (limit > 0) stops at levels beyond its price (IOC: the rest is cancelled).
[[nodiscard]] ExecResult walk_book(Side side, double qty, const Level* levels, std::size_t n, double price_scale,
                                   double qty_scale, double limit, double fee_bps) noexcept;

// ---------------------------------------------------------------------------------------------
// The trader: sizing -> checks -> rate guard -> paper fill, for one instrument update.

struct MarketView {
  ipc::BookHealth health = ipc::BookHealth::syncing;
  double mid = 0;
  double realized_vol = 0; // per sqrt(second)
  double signal = 0;       // [-1, 1]
  const Level* bids = nullptr;
  std::size_t n_bids = 0;
  const Level* asks = nullptr;
  std::size_t n_asks = 0;
  double price_scale = 1;
  double qty_scale = 1;
};

// One order through the path every order takes (PaperTrader::submit): what happened to it.
struct OrderOutcome {
  Refusal refused = Refusal::none;
  std::uint64_t order_id = 0; // 0 when refused
  bool pending = false;       // accepted, reaches the book after the paper latency
  double qty = 0;             // the quantity sent (a manual order's rounded down to the lot)
  ExecResult exec;            // what filled at once (nothing for a pending order)
};

struct TradeOutcome {
  bool marked = false;     // the portfolio changed (publish)
  bool filled = false;
  Refusal refused = Refusal::none;
  KillCause tripped = KillCause::none; // tripped by this update
};

class PaperTrader {
public:
  explicit PaperTrader(const RiskConfig& c) noexcept;
  void set_lot(std::size_t instrument, double lot) noexcept { lots_[instrument] = lot; }

  [[nodiscard]] TradeOutcome on_update(std::uint16_t instrument, const MarketView& m, std::uint64_t now_ns) noexcept;

  // A paper order from the control queue (market: limit 0; limit: IOC at `limit`), through the
  // same pre-trade checks, rate guard and book walk as the strategy's orders (submit). Its
  // quantity is rounded down to the instrument's lot first, as the strategy's are; one that
  // rounds to zero is refused below_lot.
  [[nodiscard]] OrderOutcome place(std::uint16_t instrument, const MarketView& m, Side side, double qty, double limit,
                                   std::uint64_t now_ns, TradeOutcome& out) noexcept;
  // Changes one limit of the limits in force; nullptr when done, else why it was refused.
  [[nodiscard]] const char* set_limit(ipc::RiskLimitId limit, double value) noexcept;
  // Replaces the limits in force (a restored risk state); the rate guard's counts are kept.
  void set_limits(const RiskLimits& l) noexcept;
  [[nodiscard]] double lot(std::size_t instrument, const MarketView& m) const noexcept {
    return lots_[instrument] > 0 ? lots_[instrument] : m.qty_scale;
  }

  // Commands (control queue). Returns false when nothing changed.
  bool kill(KillMode mode, std::uint64_t now_ns) noexcept;
  // Releases the kill switch and re-bases the drawdown peak on the current equity.
  bool reset() noexcept;

  [[nodiscard]] const Portfolio& portfolio() const noexcept { return portfolio_; }
  Portfolio& portfolio_mut() noexcept { return portfolio_; }
  [[nodiscard]] const KillSwitch& kill_switch() const noexcept { return kill_; }
  KillSwitch& kill_switch_mut() noexcept { return kill_; }
  [[nodiscard]] const RateGuard& rate_guard() const noexcept { return rate_; }
  [[nodiscard]] const RiskConfig& config() const noexcept { return config_; }
  [[nodiscard]] std::uint64_t refusals(Refusal r) const noexcept { return refusals_[static_cast<std::size_t>(r)]; }
  [[nodiscard]] std::uint64_t orders() const noexcept { return orders_; }
  [[nodiscard]] double target(std::size_t instrument) const noexcept { return targets_[instrument]; }

private:
  struct Pending {
    bool active = false;
    Side side = Side::bid;
    double qty = 0;
    double limit = 0;
    std::uint64_t due_ns = 0;
    std::uint64_t id = 0;
  };
  ExecResult execute(std::uint16_t instrument, const MarketView& m, Side side, double qty, double limit,
                     std::uint64_t id, std::uint64_t now_ns, TradeOutcome& out) noexcept;
  // The one order path: pending order, pre-trade checks (`check_price` is the price they judge:
  // the touch for a market order, the limit otherwise), rate guard, then the book.
  OrderOutcome submit(std::uint16_t instrument, const MarketView& m, Side side, double qty, double check_price,
                      double limit, std::uint64_t now_ns, TradeOutcome& out) noexcept;
  Refusal refuse(Refusal r, TradeOutcome& out) noexcept;

  RiskConfig config_;
  Portfolio portfolio_;
  KillSwitch kill_;
  RateGuard rate_;
  std::array<std::uint64_t, kRefusalCount> refusals_{};
  std::array<double, ipc::kMaxInstruments> lots_{};
  std::array<double, ipc::kMaxInstruments> targets_{};
  std::array<double, ipc::kMaxInstruments> anchors_{};            // the target traded toward (band)
  std::array<std::uint64_t, ipc::kMaxInstruments> last_order_ns_{}; // per instrument (min hold)
  std::uint64_t last_any_order_ns_ = 0;                            // all instruments (order gap)
  bool any_order_ = false;
  std::array<Pending, ipc::kMaxInstruments> pending_{};
  std::uint64_t orders_ = 0;
};

// One limit's value, by its control id (0 for RiskLimitId::none or an unknown id).
[[nodiscard]] double limit_value(const RiskLimits& l, ipc::RiskLimitId id) noexcept;

// What survives a restart: positions and the account, the kill switch and the limits in force
// (persisted by the live app off the hot path, restored at start). Plain data.
struct RiskSnapshot {
  std::uint32_t count = 0; // instruments
  std::array<Position, ipc::kMaxInstruments> positions{};
  double cash = 0, peak = 0, day_start_equity = 0, fees = 0;
  std::uint64_t day = 0;
  std::uint64_t fills = 0;
  KillMode kill_mode = KillMode::none;
  KillCause kill_cause = KillCause::none;
  std::uint64_t kill_since_ns = 0;
  // The limits in force (set_limit changes them); 0 when the file predates them (risk state v2),
  // and the config's limits stay. A byte, not a bool: a file's value is range-checked, not trusted.
  std::uint8_t has_limits = 0;
  RiskLimits limits{};
};

} // namespace qf::core
