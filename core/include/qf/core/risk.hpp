#pragma once
// Risk: the pure pieces the Engine runs on the core thread before an order reaches paper
// execution (paper.hpp). Volatility-target sizing with lot rounding and a no-churn threshold;
// pre-trade checks that name the reason of each refusal; an order-rate guard (per instrument and
// overall, per second and per minute) whose overflow trips the kill switch; the kill switch
// (drawdown from the equity PEAK, daily loss, rate guard, command; halt / reduce-only / flatten;
// tripped until reset); the risk configuration (sizing, limits, paper parameters). Money is double
// in quote currency, quantities double in base units (rounded to the lot); everything is
// fixed-size, nothing allocates after construction. Core thread only.

#include <array>
#include <cstddef>
#include <cstdint>

#include "qf/core/event.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::core {

inline constexpr std::uint64_t kNsPerSecond = 1'000'000'000ULL;
inline constexpr std::uint64_t kNsPerDay = 86'400ULL * kNsPerSecond;
inline constexpr double kSecondsPerYear = 365.0 * 86'400.0; // crypto trades every day

struct SizingParams {
  double target_vol_annual = 0.20; // target volatility of each position, annualized
  double allocation = 0.10;        // fraction of capital one instrument may use at full signal
  double vol_floor = 1e-6;         // realized vol (per sqrt s) below this: no estimate, no position
  double lot = 0.0;                // quantity step; 0 = the instrument's quantity decimals
  double rebalance_notional = 500; // trade only when |target - position| * mid exceeds this
  // The strategy's own pacing, so the rate guard stays a safety net (0 turns each off; the
  // defaults equal config/default.toml's). The target an instrument trades toward (its anchor) moves
  // only when the sized target moved more than band_notional away from it; an instrument sends
  // at most one order per min_hold_ns, all instruments together one per min_order_gap_ns.
  double band_notional = 2'000;
  std::uint64_t min_hold_ns = 10 * kNsPerSecond;
  std::uint64_t min_order_gap_ns = kNsPerSecond / 2;
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
  below_lot = 10,    // a manual order's quantity rounds down to zero lots
};
inline constexpr std::size_t kRefusalCount = 11;
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
  case Refusal::below_lot: return "below_lot";
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
  // New limits (a set_limit command); the counts so far are kept.
  void set_limits(const RiskLimits& l) noexcept { limits_ = l; }
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

} // namespace qf::core
