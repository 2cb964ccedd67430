#pragma once
// DriftMonitor: each signal input's live distribution against its training distribution, as a
// population stability index (PSI) over the model file's bins. The model (qf-train) carries, per
// input, the interior bin edges (training deciles, ties merged) and the training fraction of each
// bin; a value falls in bin upper_bound(edges, value), as numpy's searchsorted(side="right") puts
// it in training. The monitor keeps the bins of the last `window` bar closes in a ring (one byte
// per input and bar, NaN = missing and not counted) and the counts per bin, so an update is
// O(inputs x bins) and allocates nothing: the ring is sized at construction. An input is judged
// once the window is full and at least half of it holds values; then
//   PSI = sum_b (a_b - e_b) ln(a_b / e_b),  a_b, e_b floored at kFloor,
// the usual reading: < 0.1 stable, 0.1 .. 0.25 moving, > 0.25 shifted. Hand-written: it is a few
// lines over fixed arrays, and no Debian library computes it without allocating.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace qf::core {

inline constexpr std::size_t kMaxDriftBins = 16;

// One input's training distribution (from the model file).
struct FeatureDistribution {
  std::vector<double> edges;    // strictly increasing, at most kMaxDriftBins - 1
  std::vector<double> expected; // edges.size() + 1 fractions, summing to 1
};

template <int F>
class DriftMonitor {
public:
  static constexpr std::size_t kInputs = static_cast<std::size_t>(F);
  static constexpr double kFloor = 1e-4;
  static constexpr std::uint8_t kMissing = 0xFF;

  explicit DriftMonitor(std::size_t window) : window_(window == 0 ? 1 : window), ring_(window_ * static_cast<std::size_t>(F), kMissing) {
    reset();
  }

  // The training distributions (at load or reload; cold, copies into fixed arrays) and a fresh window.
  void set_reference(const std::array<FeatureDistribution, kInputs>& ref) noexcept {
    for (int f = 0; f < F; ++f) {
      Ref& r = ref_[static_cast<std::size_t>(f)];
      const FeatureDistribution& d = ref[static_cast<std::size_t>(f)];
      r.edges = d.edges.size() < kMaxDriftBins ? d.edges.size() : kMaxDriftBins - 1;
      for (std::size_t e = 0; e < r.edges; ++e) {
        r.edge[e] = d.edges[e];
      }
      for (std::size_t b = 0; b <= r.edges; ++b) {
        r.expected[b] = b < d.expected.size() ? std::max(d.expected[b], kFloor) : kFloor;
      }
    }
    reset();
  }

  void reset() noexcept {
    std::fill(ring_.begin(), ring_.end(), kMissing);
    for (auto& c : counts_) {
      c.fill(0);
    }
    n_.fill(0);
    psi_.fill(std::numeric_limits<double>::quiet_NaN());
    head_ = 0;
    bars_ = 0;
  }

  // One bar close: the inputs as the model sees them (NaN = missing).
  void update(const double* x) noexcept {
    std::uint8_t* slot = &ring_[head_ * static_cast<std::size_t>(F)];
    for (std::size_t fi = 0; fi < static_cast<std::size_t>(F); ++fi) {
      if (bars_ == window_ && slot[fi] != kMissing) { // the oldest bar leaves the window
        --counts_[fi][slot[fi]];
        --n_[fi];
      }
      std::uint8_t bin = kMissing;
      if (std::isfinite(x[fi])) {
        bin = bin_of(ref_[fi], x[fi]);
        ++counts_[fi][bin];
        ++n_[fi];
      }
      slot[fi] = bin;
    }
    head_ = head_ + 1 == window_ ? 0 : head_ + 1;
    bars_ = bars_ < window_ ? bars_ + 1 : bars_;
    for (int f = 0; f < F; ++f) {
      psi_[static_cast<std::size_t>(f)] = statistic(static_cast<std::size_t>(f));
    }
  }

  [[nodiscard]] double psi(int f) const noexcept { return psi_[static_cast<std::size_t>(f)]; }
  [[nodiscard]] std::uint32_t samples(int f) const noexcept { return n_[static_cast<std::size_t>(f)]; }
  [[nodiscard]] std::size_t bars() const noexcept { return bars_; }
  [[nodiscard]] std::size_t window() const noexcept { return window_; }

private:
  struct Ref {
    std::size_t edges = 0; // bins = edges + 1
    std::array<double, kMaxDriftBins - 1> edge{};
    std::array<double, kMaxDriftBins> expected{};
  };

  static std::uint8_t bin_of(const Ref& r, double v) noexcept {
    std::size_t b = 0; // upper_bound over at most 15 edges: a linear scan is branch-predictable and short
    while (b < r.edges && r.edge[b] <= v) {
      ++b;
    }
    return static_cast<std::uint8_t>(b);
  }

  [[nodiscard]] double statistic(std::size_t f) const noexcept {
    if (bars_ < window_ || 2 * std::size_t{n_[f]} < window_) {
      return std::numeric_limits<double>::quiet_NaN(); // not judged yet
    }
    const Ref& r = ref_[f];
    const double n = static_cast<double>(n_[f]);
    double psi = 0.0;
    for (std::size_t b = 0; b <= r.edges; ++b) {
      const double a = std::max(static_cast<double>(counts_[f][b]) / n, kFloor);
      const double e = r.expected[b];
      psi += (a - e) * std::log(a / e);
    }
    return psi;
  }

  std::size_t window_;
  std::vector<std::uint8_t> ring_; // window x F bins, sized once
  std::array<Ref, kInputs> ref_{};
  std::array<std::array<std::uint32_t, kMaxDriftBins>, kInputs> counts_{};
  std::array<std::uint32_t, kInputs> n_{};
  std::array<double, kInputs> psi_{};
  std::size_t head_ = 0;
  std::size_t bars_ = 0;
};

} // namespace qf::core
