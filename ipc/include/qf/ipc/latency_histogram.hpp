#pragma once
// LatencyHistogram: HDR-style log-linear histogram of nanosecond values, fixed memory.
// Values below 256 ns get exact buckets; above, every power of two is split into 128 equal
// buckets, so a bucket is at most 1/128 (0.78%) of its values wide. The range is 0 ns to
// 2^37 ns (~137 s); larger values land in the last bucket and are counted as overflow.
// One writer records (plain relaxed load+store, no locked instruction); any number of
// readers in any process take snapshots and compute percentiles, or subtract an earlier
// snapshot to get an interval histogram. The object holds no pointers, so it can live in
// shared memory and be read through a read-only mapping.

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qf/ipc/cache.hpp"

namespace qf::ipc {

namespace detail {
inline constexpr unsigned kHistPrecisionBits = 7; // 2^7 buckets per upper half-octave
inline constexpr unsigned kHistMaxValueBits = 37; // values < 2^37 ns are bucketed exactly
} // namespace detail

struct HistogramBucketing {
  static constexpr unsigned kPrecisionBits = detail::kHistPrecisionBits;
  static constexpr std::uint64_t kMaxTrackable = (std::uint64_t{1} << detail::kHistMaxValueBits) - 1;
  static constexpr std::size_t kBuckets =
      ((detail::kHistMaxValueBits - 1 - kPrecisionBits) << kPrecisionBits) + (std::size_t{2} << kPrecisionBits);

  [[nodiscard]] static constexpr std::size_t index_of(std::uint64_t value) noexcept {
    if (value > kMaxTrackable) {
      value = kMaxTrackable;
    }
    const unsigned msb = 63U - static_cast<unsigned>(std::countl_zero(value | 1U));
    const unsigned shift = msb > kPrecisionBits ? msb - kPrecisionBits : 0U;
    return (static_cast<std::size_t>(shift) << kPrecisionBits) + static_cast<std::size_t>(value >> shift);
  }
  [[nodiscard]] static constexpr std::uint64_t lower_bound(std::size_t index) noexcept {
    if (index < (std::size_t{2} << kPrecisionBits)) {
      return index;
    }
    const std::size_t shift = (index >> kPrecisionBits) - 1;
    const std::uint64_t sub = index - (shift << kPrecisionBits);
    return sub << shift;
  }
  // Largest value that maps to `index`.
  [[nodiscard]] static constexpr std::uint64_t upper_bound(std::size_t index) noexcept {
    return index + 1 < kBuckets ? lower_bound(index + 1) - 1 : kMaxTrackable;
  }
};

// A reader's copy: plain integers, computes statistics. Large (~32 KiB): keep it off the stack
// of hot threads.
struct HistogramSnapshot {
  std::array<std::uint64_t, HistogramBucketing::kBuckets> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  std::uint64_t min = 0; // 0 when empty
  std::uint64_t max = 0;
  std::uint64_t overflow = 0;

  [[nodiscard]] double mean() const noexcept {
    return count == 0 ? 0.0 : static_cast<double>(sum) / static_cast<double>(count);
  }

  // Value at quantile q in [0, 1]: the upper edge of the bucket holding the ceil(q*count)-th
  // value, clamped to [min, max]; so it never under-reports and is within one bucket width.
  [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
    if (count == 0) {
      return 0;
    }
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count) + 0.999999999);
    rank = std::clamp<std::uint64_t>(rank, 1, count);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen >= rank) {
        return std::clamp(HistogramBucketing::upper_bound(i), min, max);
      }
    }
    return max;
  }

  // The values recorded between `earlier` and this snapshot (same histogram). min and max are
  // bucket-accurate (the exact extremes of an interval are not kept).
  [[nodiscard]] HistogramSnapshot since(const HistogramSnapshot& earlier) const noexcept {
    HistogramSnapshot d;
    d.count = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      d.buckets[i] = buckets[i] >= earlier.buckets[i] ? buckets[i] - earlier.buckets[i] : 0;
      d.count += d.buckets[i];
    }
    d.sum = sum >= earlier.sum ? sum - earlier.sum : 0;
    d.overflow = overflow >= earlier.overflow ? overflow - earlier.overflow : 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      if (d.buckets[i] != 0) {
        d.min = std::max(HistogramBucketing::lower_bound(i), min);
        break;
      }
    }
    for (std::size_t i = buckets.size(); i-- > 0;) {
      if (d.buckets[i] != 0) {
        d.max = std::min(HistogramBucketing::upper_bound(i), max);
        break;
      }
    }
    return d;
  }
};

// The quantiles every reader reports (DESIGN.md "Latency accounting"), with the one name each
// goes by in JSON and on screen; `max` is the exact maximum.
struct ReportQuantile {
  double q;
  const char* name;  // JSON key: "p50", ..., "p9999", "max"
  const char* label; // column heading: "p50", ..., "p99.99", "max"
};
inline constexpr std::array<ReportQuantile, 6> kReportQuantiles = {{{0.5, "p50", "p50"},
                                                                    {0.9, "p90", "p90"},
                                                                    {0.99, "p99", "p99"},
                                                                    {0.999, "p999", "p99.9"},
                                                                    {0.9999, "p9999", "p99.99"},
                                                                    {1.0, "max", "max"}}};
[[nodiscard]] inline std::uint64_t report_value(const HistogramSnapshot& h, const ReportQuantile& rq) noexcept {
  return rq.q >= 1.0 ? h.max : h.percentile(rq.q);
}

class LatencyHistogram {
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

public:
  LatencyHistogram() noexcept = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Writer only. Single writer, so counters are bumped with relaxed load + store: readers see
  // every bucket word whole, never a torn value, and the writer pays no locked instruction.
  void record(std::uint64_t value_ns) noexcept {
    bump(buckets_[HistogramBucketing::index_of(value_ns)], 1);
    bump(count_, 1);
    bump(sum_, value_ns);
    if (value_ns > max_.load(std::memory_order_relaxed)) {
      max_.store(value_ns, std::memory_order_relaxed);
    }
    const std::uint64_t min_plus_one = min_plus_one_.load(std::memory_order_relaxed);
    if (min_plus_one == 0 || value_ns + 1 < min_plus_one) {
      min_plus_one_.store(value_ns + 1, std::memory_order_relaxed);
    }
    if (value_ns > HistogramBucketing::kMaxTrackable) [[unlikely]] {
      bump(overflow_, 1);
    }
  }

  // Writer only.
  void reset() noexcept {
    for (auto& b : buckets_) {
      b.store(0, std::memory_order_relaxed);
    }
    count_.store(0, std::memory_order_relaxed);
    sum_.store(0, std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
    min_plus_one_.store(0, std::memory_order_relaxed);
    overflow_.store(0, std::memory_order_relaxed);
  }

  // Any reader. Counts are recomputed from the buckets so percentiles are self-consistent even
  // when the writer records during the copy.
  void snapshot(HistogramSnapshot& out) const noexcept {
    out.count = 0;
    for (std::size_t i = 0; i < HistogramBucketing::kBuckets; ++i) {
      out.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
      out.count += out.buckets[i];
    }
    out.sum = sum_.load(std::memory_order_relaxed);
    out.max = max_.load(std::memory_order_relaxed);
    const std::uint64_t min_plus_one = min_plus_one_.load(std::memory_order_relaxed);
    out.min = min_plus_one == 0 ? 0 : min_plus_one - 1;
    out.overflow = overflow_.load(std::memory_order_relaxed);
  }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

private:
  static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  alignas(kCacheLinePair) std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> max_{0};
  std::atomic<std::uint64_t> min_plus_one_{0}; // 0 = empty, so a zeroed segment is a valid empty histogram
  std::atomic<std::uint64_t> overflow_{0};
  std::atomic<std::uint64_t> buckets_[HistogramBucketing::kBuckets]{};
};

} // namespace qf::ipc
