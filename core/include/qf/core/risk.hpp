#pragma once
// Risk and paper execution: the pure pieces the Engine runs on the core thread when an
// instrument's signal or marks change. Volatility-target sizing with lot rounding and a
// no-churn threshold; pre-trade checks that name the reason of each refusal; an order-rate
// guard (per instrument and overall, per second and per minute) whose overflow trips the kill
// switch; the kill switch (drawdown from the equity PEAK, daily loss, rate guard, command;
// halt / reduce-only / flatten; tripped until reset); paper fills walking the live book; the
// portfolio (average cost, realized / unrealized P&L marked to mid, cash, equity, peak,
// drawdown, UTC-day P&L, fees, recent fills). Money is double in quote currency, quantities
// double in base units (rounded to the lot); everything is fixed-size, nothing allocates
// after construction. Core thread only.

#include <array>
#include <cstddef>
#include <cstdint>

#include "qf/core/event.hpp"
#include "qf/core/order_book.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::core {

inline constexpr std::uint64_t kNsPerSecond = 1'000'000'000ULL;
inline constexpr std::uint64_t kNsPerDay = 86'400ULL * kNsPerSecond;

struct SizingParams {
  double target_vol_annual = 0.20; // target volatility of each position, annualized
  double allocation = 0.10;        // fraction of capital one instrument may use at full signal
  double vol_floor = 1e-6;         // realized vol (per sqrt s) below this: no estimate, no position
  double lot = 0.0;                // quantity step; 0 = the instrument's quantity decimals
  double rebalance_notional = 500; // trade only when |target - position| * mid exceeds this
};

struct RiskLimits {
  double price_band_bps = 50;         // an order's price must lie within this band around the mid
  double max_order_notional = 10'000; // per order
  double max_position_notional = 20'000; // per instrument, at mid
  double max_gross_notional = 50'000;    // sum over instruments of |position| * mid
  double daily_loss_limit = 2'000;       // loss since the UTC day started (quote currency)
  double max_drawdown = 0.15;            // from the equity peak
  std::uint32_t orders_per_s_instrument = 5;
  std::uint32_t orders_per_min_instrument = 60;
  std::uint32_t orders_per_s_total = 10;
  std::uint32_t orders_per_min_total = 200;
};

struct PaperParams {
  double initial_capital = 100'000;
  double taker_fee_bps = 10;
  double maker_fee_bps = 10; // no order rests (market and IOC only), so kept for the record
  std::uint64_t latency_ns = 0; // engine time before an order reaches the book
};

enum class KillMode : std::uint8_t { none = 0, halt = 1, reduce_only = 2, flatten = 3 };
enum class KillCause : std::uint8_t { none = 0, drawdown = 1, daily_loss = 2, rate_limit = 3, command = 4 };

struct RiskConfig {
  bool enabled = true; // paper trading on the fused signal
  SizingParams sizing;
  RiskLimits limits;
  PaperParams paper;
  KillMode trip_mode = KillMode::halt; // mode of automatic trips (drawdown, daily loss, rate)
};

[[nodiscard]] constexpr const char* to_string(KillMode m) noexcept {
  switch (m) {
  case KillMode::none: return "none";
  case KillMode::halt: return "halt";
  case KillMode::reduce_only: return "reduce-only";
  case KillMode::flatten: return "flatten";
  }
  return "unknown";
}
[[nodiscard]] constexpr const char* to_string(KillCause c) noexcept {
  switch (c) {
  case KillCause::none: return "none";
  case KillCause::drawdown: return "drawdown";
  case KillCause::daily_loss: return "daily_loss";
  case KillCause::rate_limit: return "rate_limit";
  case KillCause::command: return "command";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Sizing

// Target position in base units: signal * (target vol / realized vol) * allocation * capital / mid,
// rounded to the nearest lot. `realized_vol` is per sqrt(second) (Features), converted to annual.
[[nodiscard]] double vol_target_qty(double signal, double realized_vol, double mid, double capital,
                                    const SizingParams& p, double lot) noexcept;
// True when moving from `position` to `target` is worth an order (no churn).
[[nodiscard]] bool should_rebalance(double target, double position, double mid, const SizingParams& p) noexcept;
// Rounds toward zero to a multiple of lot.
[[nodiscard]] double round_down_to_lot(double qty, double lot) noexcept;

// ---------------------------------------------------------------------------------------------
// Pre-trade checks

enum class Refusal : std::uint8_t {
  none = 0,
  kill_switch = 1,   // halted, or reduce-only and the order would not reduce
  book_not_live = 2,
  price_band = 3,
  order_notional = 4,
  position_limit = 5,
  gross_exposure = 6,
  daily_loss = 7,
  rate_limit = 8,
  pending = 9,       // an order of this instrument is still on its way to the book
};
inline constexpr std::size_t kRefusalCount = 10;
static_assert(kRefusalCount <= ipc::kMaxRefusalReasons);

[[nodiscard]] constexpr const char* to_string(Refusal r) noexcept {
  switch (r) {
  case Refusal::none: return "none";
  case Refusal::kill_switch: return "kill_switch";
  case Refusal::book_not_live: return "book_not_live";
  case Refusal::price_band: return "price_band";
  case Refusal::order_notional: return "order_notional";
  case Refusal::position_limit: return "position_limit";
  case Refusal::gross_exposure: return "gross_exposure";
  case Refusal::daily_loss: return "daily_loss";
  case Refusal::rate_limit: return "rate_limit";
  case Refusal::pending: return "pending";
  }
  return "unknown";
}

struct OrderIntent {
  Side side = Side::bid; // bid: buy
  double qty = 0;        // > 0, base units
  double price = 0;      // limit price (IOC), or the expected price of a market order
};

struct PreTradeContext {
  ipc::BookHealth health = ipc::BookHealth::syncing;
  double mid = 0;
  double position = 0;       // this instrument, base units
  double gross_notional = 0; // all instruments at mid, including this one
  double daily_pnl = 0;
  KillMode kill = KillMode::none;
};

// The first failing check, in the order of the enum; none when the order may go.
[[nodiscard]] Refusal pre_trade_check(const OrderIntent& o, const PreTradeContext& c, const RiskLimits& l) noexcept;

// ---------------------------------------------------------------------------------------------
// Order-rate guard: one-second buckets over the last minute, per instrument and overall.

class RateGuard {
public:
  explicit RateGuard(const RiskLimits& l) noexcept : limits_(l) {}
  // Counts the order and returns true when every window stays within its limit; otherwise
  // counts nothing and returns false.
  [[nodiscard]] bool try_acquire(std::size_t instrument, std::uint64_t now_ns) noexcept;
  [[nodiscard]] std::uint32_t last_second(std::size_t instrument, std::uint64_t now_ns) const noexcept;
  [[nodiscard]] std::uint32_t last_minute(std::size_t instrument, std::uint64_t now_ns) const noexcept;
  [[nodiscard]] std::uint32_t total_last_second(std::uint64_t now_ns) const noexcept;
  [[nodiscard]] std::uint32_t total_last_minute(std::uint64_t now_ns) const noexcept;

private:
  struct Window {
    std::array<std::uint64_t, 60> second{}; // the Unix second a bucket counts, 0: unused
    std::array<std::uint32_t, 60> count{};
    [[nodiscard]] std::uint32_t in_second(std::uint64_t s) const noexcept;
    [[nodiscard]] std::uint32_t in_minute(std::uint64_t s) const noexcept;
    void add(std::uint64_t s) noexcept;
  };
  RiskLimits limits_;
  std::array<Window, ipc::kMaxInstruments> per_{};
  Window total_{};
};

// ---------------------------------------------------------------------------------------------
// Kill switch

class KillSwitch {
public:
  // Trips (or, when tripped, changes the mode by command); the first cause and time are kept
  // until reset. Returns true when it was not tripped before.
  bool trip(KillCause cause, KillMode mode, std::uint64_t now_ns) noexcept;
  void reset() noexcept { *this = KillSwitch{}; }
  // Restores a persisted state.
  void restore(KillMode mode, KillCause cause, std::uint64_t since_ns) noexcept {
    mode_ = mode;
    cause_ = mode == KillMode::none ? KillCause::none : cause;
    since_ns_ = since_ns;
  }
  [[nodiscard]] bool tripped() const noexcept { return mode_ != KillMode::none; }
  [[nodiscard]] KillMode mode() const noexcept { return mode_; }
  [[nodiscard]] KillCause cause() const noexcept { return cause_; }
  [[nodiscard]] std::uint64_t since_ns() const noexcept { return since_ns_; }
  [[nodiscard]] std::uint64_t trips() const noexcept { return trips_; }

  // The automatic cause an equity state calls for, none if within limits.
  [[nodiscard]] static KillCause evaluate(double equity, double peak, double daily_pnl, const RiskLimits& l) noexcept;

private:
  KillMode mode_ = KillMode::none;
  KillCause cause_ = KillCause::none;
  std::uint64_t since_ns_ = 0;
  std::uint64_t trips_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Paper execution

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
// Portfolio

struct Fill {
  std::uint64_t unix_ns = 0;
  std::uint64_t order_id = 0;
  std::uint16_t instrument = 0;
  Side side = Side::bid;
  double qty = 0;   // > 0
  double price = 0; // average
  double fee = 0;
  double realized = 0; // gross realized P&L this fill closed
};

struct Position {
  double qty = 0;
  double avg_cost = 0;
  double realized = 0;
  double fees = 0;
  double mark = 0; // last mid (or the last fill price before any mid)
  std::uint64_t fills = 0;
};

inline constexpr std::size_t kRecentFills = 16;

class Portfolio {
public:
  explicit Portfolio(double initial_capital = 100'000) noexcept;
  // Returns the fill with its realized P&L filled in.
  Fill apply(Fill f) noexcept;
  void mark(std::size_t instrument, double mid, std::uint64_t now_ns) noexcept;
  // Re-bases the peak (and the UTC day's start) on the current equity (a risk reset).
  void rebase_peak() noexcept { peak_ = equity(); }
  // Restores a persisted state (start-up).
  void restore_cash(double cash, double peak, double day_start_equity, std::uint64_t day, double fees,
                    std::uint64_t fills) noexcept;
  Position& position_mut(std::size_t i) noexcept { return positions_[i]; }

  [[nodiscard]] const Position& position(std::size_t i) const noexcept { return positions_[i]; }
  [[nodiscard]] double initial_capital() const noexcept { return initial_; }
  [[nodiscard]] double cash() const noexcept { return cash_; }
  [[nodiscard]] double equity() const noexcept;
  [[nodiscard]] double realized() const noexcept;
  [[nodiscard]] double unrealized() const noexcept;
  [[nodiscard]] double fees() const noexcept { return fees_; }
  [[nodiscard]] double gross_notional() const noexcept;
  [[nodiscard]] double peak() const noexcept { return peak_; }
  [[nodiscard]] double drawdown() const noexcept; // (peak - equity) / peak
  [[nodiscard]] double daily_pnl() const noexcept { return equity() - day_start_equity_; }
  [[nodiscard]] double day_start_equity() const noexcept { return day_start_equity_; }
  [[nodiscard]] std::uint64_t day() const noexcept { return day_; }
  [[nodiscard]] std::uint64_t fill_count() const noexcept { return fill_count_; }
  // The i-th most recent fill (0: newest), i < min(fill_count, kRecentFills).
  [[nodiscard]] const Fill& recent(std::size_t i) const noexcept {
    return recent_[(fill_count_ - 1 - i) % kRecentFills];
  }

private:
  void roll_day(std::uint64_t now_ns) noexcept;
  void update_peak() noexcept;

  double initial_;
  double cash_;
  double fees_ = 0;
  double peak_;
  double day_start_equity_;
  std::uint64_t day_ = 0; // UTC day number of day_start_equity_, 0: not started
  std::uint64_t fill_count_ = 0;
  std::array<Position, ipc::kMaxInstruments> positions_{};
  std::array<Fill, kRecentFills> recent_{};
};

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
  void execute(std::uint16_t instrument, const MarketView& m, Side side, double qty, double limit, std::uint64_t id,
               std::uint64_t now_ns, TradeOutcome& out) noexcept;
  Refusal refuse(Refusal r, TradeOutcome& out) noexcept;

  RiskConfig config_;
  Portfolio portfolio_;
  KillSwitch kill_;
  RateGuard rate_;
  std::array<std::uint64_t, kRefusalCount> refusals_{};
  std::array<double, ipc::kMaxInstruments> lots_{};
  std::array<double, ipc::kMaxInstruments> targets_{};
  std::array<Pending, ipc::kMaxInstruments> pending_{};
  std::uint64_t orders_ = 0;
};

// What survives a restart: positions and the account, and the kill switch (persisted by the
// live app off the hot path, restored at start). Plain data.
struct RiskSnapshot {
  std::uint32_t count = 0; // instruments
  std::array<Position, ipc::kMaxInstruments> positions{};
  double cash = 0, peak = 0, day_start_equity = 0, fees = 0;
  std::uint64_t day = 0;
  std::uint64_t fills = 0;
  KillMode kill_mode = KillMode::none;
  KillCause kill_cause = KillCause::none;
  std::uint64_t kill_since_ns = 0;
};

// ---------------------------------------------------------------------------------------------
// Backtest metrics (replay): online, O(1) memory.

struct BacktestCriteria {
  std::uint64_t min_trades = 10;
  double min_win_rate = 0.45;
  double max_drawdown = 0.20; // strictly below
};

struct BacktestResult {
  std::uint64_t trades = 0; // fills
  std::uint64_t closing_trades = 0, wins = 0;
  double turnover = 0; // sum of |qty| * price
  double fees = 0;
  double total_return = 0;
  double sharpe = 0, sortino = 0; // annualized (365 days of 24 h) from per-interval returns
  double max_drawdown = 0;
  double win_rate = 0;
  double profit_factor = 0; // gross wins / gross losses; 0 without losses or wins
  std::uint64_t intervals = 0;
  std::uint64_t interval_ns = 0;
  bool go = false;
};

class BacktestMetrics {
public:
  BacktestMetrics(double initial_equity, std::uint64_t interval_ns, BacktestCriteria c) noexcept;
  // Every equity change, in time order: max drawdown sees each; returns use the last equity of
  // each interval (an interval without an update repeats the previous equity).
  void on_equity(std::uint64_t now_ns, double equity) noexcept;
  // A fill: net = realized - fee counts toward win rate and profit factor when the fill closed
  // some position (closing).
  void on_fill(double notional, double fee, bool closing, double net) noexcept;
  [[nodiscard]] BacktestResult result() const noexcept;
  [[nodiscard]] std::uint64_t interval_ns() const noexcept { return interval_ns_; }

private:
  void close_interval(double equity) noexcept;

  std::uint64_t interval_ns_;
  BacktestCriteria criteria_;
  double initial_;
  double last_equity_;
  double prev_sample_;
  double peak_;
  double max_dd_ = 0;
  std::uint64_t bucket_ = 0;
  bool started_ = false;
  std::uint64_t n_ = 0;
  double sum_ = 0, sum_sq_ = 0, down_sq_ = 0;
  std::uint64_t trades_ = 0, closing_ = 0, wins_ = 0;
  double turnover_ = 0, fees_ = 0, gross_win_ = 0, gross_loss_ = 0;
};

} // namespace qf::core
