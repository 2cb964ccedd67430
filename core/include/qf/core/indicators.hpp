#pragma once
// Bar indicators, updated once per closed bar in O(1) with fixed memory:
//  - Rsi: Wilder's RSI (first average is the simple mean of the first `period` changes).
//  - BollingerZ: (close - SMA(n)) / population stddev(n) over the last n closes.
//  - Atr: Wilder's average true range (first value is the mean of the first `period` TRs).
// Each reports `ready()` once it has seen enough bars; before that `value()` is NaN.
// Single thread (the core thread).

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

namespace qf::core {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class Rsi {
public:
  explicit Rsi(int period = 14) noexcept : period_(period) {}
  void update(double close) noexcept {
    if (!has_prev_) {
      prev_ = close;
      has_prev_ = true;
      return;
    }
    const double change = close - prev_;
    prev_ = close;
    const double gain = change > 0 ? change : 0.0;
    const double loss = change < 0 ? -change : 0.0;
    if (seen_ < period_) {
      avg_gain_ += gain / period_;
      avg_loss_ += loss / period_;
      ++seen_;
      return;
    }
    avg_gain_ = (avg_gain_ * (period_ - 1) + gain) / period_;
    avg_loss_ = (avg_loss_ * (period_ - 1) + loss) / period_;
  }
  [[nodiscard]] bool ready() const noexcept { return seen_ >= period_; }
  [[nodiscard]] double value() const noexcept {
    if (!ready()) {
      return kNaN;
    }
    if (avg_loss_ == 0.0) {
      return avg_gain_ == 0.0 ? 50.0 : 100.0;
    }
    return 100.0 - 100.0 / (1.0 + avg_gain_ / avg_loss_);
  }

private:
  int period_;
  int seen_ = 0;
  bool has_prev_ = false;
  double prev_ = 0.0;
  double avg_gain_ = 0.0;
  double avg_loss_ = 0.0;
};

template <std::size_t N = 20>
class BollingerZ {
public:
  void update(double close) noexcept {
    // Sums over a ring of the last N closes, re-centred on the first close seen to keep the
    // running sum of squares well conditioned for prices like 60000.
    if (count_ == 0 && !has_origin_) {
      origin_ = close;
      has_origin_ = true;
    }
    const double x = close - origin_;
    if (count_ == N) {
      const double old = ring_[next_];
      sum_ -= old;
      sum_sq_ -= old * old;
    } else {
      ++count_;
    }
    ring_[next_] = x;
    next_ = (next_ + 1) % N;
    sum_ += x;
    sum_sq_ += x * x;
    last_ = x;
  }
  [[nodiscard]] bool ready() const noexcept { return count_ == N; }
  [[nodiscard]] double value() const noexcept {
    if (!ready()) {
      return kNaN;
    }
    const double n = static_cast<double>(N);
    const double mean = sum_ / n;
    const double var = sum_sq_ / n - mean * mean;
    if (var <= 1e-18) {
      return 0.0;
    }
    return (last_ - mean) / std::sqrt(var);
  }

private:
  std::array<double, N> ring_{};
  std::size_t next_ = 0;
  std::size_t count_ = 0;
  bool has_origin_ = false;
  double origin_ = 0.0;
  double sum_ = 0.0;
  double sum_sq_ = 0.0;
  double last_ = 0.0;
};

class Atr {
public:
  explicit Atr(int period = 14) noexcept : period_(period) {}
  void update(double high, double low, double close) noexcept {
    double tr = high - low;
    if (has_prev_) {
      tr = std::fmax(tr, std::fmax(std::fabs(high - prev_close_), std::fabs(low - prev_close_)));
    }
    prev_close_ = close;
    has_prev_ = true;
    if (seen_ < period_) {
      atr_ += tr / period_;
      ++seen_;
      return;
    }
    atr_ = (atr_ * (period_ - 1) + tr) / period_;
  }
  [[nodiscard]] bool ready() const noexcept { return seen_ >= period_; }
  [[nodiscard]] double value() const noexcept { return ready() ? atr_ : kNaN; }

private:
  int period_;
  int seen_ = 0;
  bool has_prev_ = false;
  double prev_close_ = 0.0;
  double atr_ = 0.0;
};

} // namespace qf::core
