#pragma once
// The paper portfolio: average cost, realized / unrealized P&L marked to mid, cash, equity, peak,
// drawdown, UTC-day P&L, fees, recent fills. Money is double in quote currency, quantities double
// in base units; everything is fixed-size, nothing allocates after construction. Core thread only.

#include <array>
#include <cstddef>
#include <cstdint>

#include "qf/core/event.hpp"
#include "qf/ipc/state_layout.hpp"

namespace qf::core {

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

} // namespace qf::core
