#pragma once
// BarBuilder: OHLCV bars of a fixed interval (1 s, 1 m) from trades, in event time, with the
// bar indicators (RSI 14, Bollinger z 20, ATR 14) updated on every close. An interval with no
// trade closes as a flat bar (open = high = low = close = previous close, volume 0) so the
// indicators advance at a regular cadence; after a long silence at most kMaxFillBars flat
// bars are emitted and the rest are skipped (counted), keeping each trade O(1).
// Prices here are doubles (already scaled from fixed point); the caller keeps exact prices.
// Single thread (the core thread).

#include <cstdint>

#include "qf/core/indicators.hpp"

namespace qf::core {

struct Bar {
  std::uint64_t start_ns = 0; // interval start, event time
  double open = 0.0;
  double high = 0.0;
  double low = 0.0;
  double close = 0.0;
  double volume = 0.0;
  std::uint32_t trades = 0;
};

struct BarIndicators {
  double rsi = kNaN;
  double bollinger_z = kNaN;
  double atr = kNaN;
};

class BarBuilder {
public:
  static constexpr int kMaxFillBars = 64;

  explicit BarBuilder(std::uint64_t interval_ns) noexcept : interval_ns_(interval_ns) {}

  // Adds a trade at event time `t_ns`; returns how many bars it closed (0 when it falls in
  // the open bar). `on_close(const Bar&, const BarIndicators&)` is called for each, in order.
  template <typename OnClose>
  int on_trade(std::uint64_t t_ns, double price, double qty, OnClose&& on_close) noexcept {
    const std::uint64_t start = t_ns - t_ns % interval_ns_;
    if (!open_) {
      begin(start, price);
    } else if (start < current_.start_ns) {
      ++late_trades_; // out of order by more than a bar: counted, folded into the open bar
    }
    int closed = 0;
    if (open_ && start > current_.start_ns) {
      closed += close_current(on_close);
      std::uint64_t next = current_.start_ns + interval_ns_;
      const double flat = current_.close;
      int fills = 0;
      while (next < start && fills < kMaxFillBars) {
        begin(next, flat);
        current_.trades = 0;
        closed += close_current(on_close);
        next += interval_ns_;
        ++fills;
      }
      if (next < start) {
        skipped_bars_ += (start - next) / interval_ns_;
      }
      begin(start, price);
    }
    if (current_.trades == 0 && current_.volume == 0.0) {
      current_.open = current_.high = current_.low = price;
    }
    current_.high = price > current_.high ? price : current_.high;
    current_.low = price < current_.low ? price : current_.low;
    current_.close = price;
    current_.volume += qty;
    ++current_.trades;
    return closed;
  }

  [[nodiscard]] const Bar& current() const noexcept { return current_; }
  [[nodiscard]] const Bar& last_closed() const noexcept { return last_closed_; }
  [[nodiscard]] const BarIndicators& indicators() const noexcept { return indicators_; }
  [[nodiscard]] std::uint64_t closed_bars() const noexcept { return closed_bars_; }
  [[nodiscard]] std::uint64_t skipped_bars() const noexcept { return skipped_bars_; }
  [[nodiscard]] std::uint64_t late_trades() const noexcept { return late_trades_; }

private:
  void begin(std::uint64_t start, double price) noexcept {
    current_ = Bar{start, price, price, price, price, 0.0, 0};
    open_ = true;
  }
  template <typename OnClose>
  int close_current(OnClose& on_close) noexcept {
    rsi_.update(current_.close);
    bollinger_.update(current_.close);
    atr_.update(current_.high, current_.low, current_.close);
    indicators_ = BarIndicators{rsi_.value(), bollinger_.value(), atr_.value()};
    last_closed_ = current_;
    ++closed_bars_;
    on_close(static_cast<const Bar&>(last_closed_), static_cast<const BarIndicators&>(indicators_));
    return 1;
  }

  std::uint64_t interval_ns_;
  bool open_ = false;
  Bar current_;
  Bar last_closed_;
  BarIndicators indicators_;
  Rsi rsi_{14};
  BollingerZ<20> bollinger_;
  Atr atr_{14};
  std::uint64_t closed_bars_ = 0;
  std::uint64_t skipped_bars_ = 0;
  std::uint64_t late_trades_ = 0;
};

} // namespace qf::core
