#include "qf/ipc/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace qf::ipc {
namespace {

using B = HistogramBucketing;

std::unique_ptr<HistogramSnapshot> snap(const LatencyHistogram& h) {
  auto s = std::make_unique<HistogramSnapshot>();
  h.snapshot(*s);
  return s;
}

TEST(latency_histogram, should_map_every_value_into_a_bucket_that_contains_it) {
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 0; v < 5000; ++v) {
    values.push_back(v);
  }
  for (unsigned bit = 8; bit < 37; ++bit) {
    const std::uint64_t p = std::uint64_t{1} << bit;
    values.insert(values.end(), {p - 1, p, p + 1, p + p / 3});
  }
  for (const auto v : values) {
    const std::size_t i = B::index_of(v);
    ASSERT_LT(i, B::kBuckets) << v;
    EXPECT_LE(B::lower_bound(i), v) << v;
    EXPECT_GE(B::upper_bound(i), v) << v;
  }
}

TEST(latency_histogram, should_keep_every_bucket_within_one_percent_of_its_values) {
  for (std::size_t i = 0; i + 1 < B::kBuckets; ++i) {
    const double lower = static_cast<double>(B::lower_bound(i));
    // Largest relative difference between two values that share the bucket.
    const double spread = static_cast<double>(B::upper_bound(i) - B::lower_bound(i));
    if (lower > 0) {
      ASSERT_LE(spread / lower, 1.0 / 128.0) << "bucket " << i;
    }
    ASSERT_EQ(B::upper_bound(i) + 1, B::lower_bound(i + 1)) << "buckets tile the range";
  }
}

TEST(latency_histogram, should_cover_one_nanosecond_to_sixty_seconds) {
  EXPECT_EQ(B::index_of(1), 1U);
  EXPECT_GE(B::kMaxTrackable, 60'000'000'000ULL);
  EXPECT_LT(B::index_of(60'000'000'000ULL), B::kBuckets - 1) << "60 s is inside the range, not clamped";
  EXPECT_LE(B::kBuckets * sizeof(std::uint64_t), 32U * 1024U) << "fixed memory stays small";
}

TEST(latency_histogram, should_report_count_min_max_and_mean) {
  LatencyHistogram h;
  for (const std::uint64_t v : {300U, 100U, 200U}) {
    h.record(v);
  }
  const auto s = snap(h);
  EXPECT_EQ(s->count, 3U);
  EXPECT_EQ(s->min, 100U);
  EXPECT_EQ(s->max, 300U);
  EXPECT_DOUBLE_EQ(s->mean(), 200.0);
}

TEST(latency_histogram, should_report_percentiles_within_one_bucket_of_the_exact_values) {
  std::mt19937_64 rng(12345);
  std::lognormal_distribution<double> dist(7.0, 1.5); // median ~1 us, long tail
  LatencyHistogram h;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  const auto s = snap(h);
  for (const double q : {0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    const std::uint64_t exact = values[std::max<std::size_t>(rank, 1) - 1];
    const std::uint64_t reported = s->percentile(q);
    EXPECT_GE(reported, exact) << "q=" << q;
    EXPECT_LE(static_cast<double>(reported), static_cast<double>(exact) * (1.0 + 1.0 / 128.0) + 1.0) << "q=" << q;
  }
  EXPECT_EQ(s->percentile(0.0), values.front());
}

TEST(latency_histogram, should_give_the_values_recorded_between_two_snapshots) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) {
    h.record(50);
  }
  const auto before = snap(h);
  for (int i = 0; i < 10; ++i) {
    h.record(10'000);
  }
  const auto after = snap(h);
  const HistogramSnapshot interval = after->since(*before);
  EXPECT_EQ(interval.count, 10U);
  EXPECT_EQ(interval.sum, 100'000U);
  EXPECT_EQ(interval.percentile(0.5), 10'000U);
  EXPECT_GE(interval.min, 9'900U) << "the 50 ns values are not in the interval";
  EXPECT_EQ(interval.max, 10'000U);
}

TEST(latency_histogram, should_count_values_beyond_the_range_as_overflow) {
  LatencyHistogram h;
  h.record(B::kMaxTrackable + 1000);
  const auto s = snap(h);
  EXPECT_EQ(s->overflow, 1U);
  EXPECT_EQ(s->count, 1U);
  EXPECT_EQ(s->max, B::kMaxTrackable + 1000) << "the exact maximum is still kept";
}

TEST(latency_histogram, should_be_a_valid_empty_histogram_when_its_memory_is_zeroed) {
  auto storage = std::make_unique<unsigned char[]>(sizeof(LatencyHistogram) + alignof(LatencyHistogram));
  void* p = storage.get();
  std::size_t space = sizeof(LatencyHistogram) + alignof(LatencyHistogram);
  p = std::align(alignof(LatencyHistogram), sizeof(LatencyHistogram), p, space);
  std::memset(p, 0, sizeof(LatencyHistogram));
  const auto* h = static_cast<const LatencyHistogram*>(p);
  const auto s = snap(*h);
  EXPECT_EQ(s->count, 0U);
  EXPECT_EQ(s->min, 0U);
  EXPECT_EQ(s->percentile(0.99), 0U);
}

TEST(latency_histogram, should_forget_everything_on_reset) {
  LatencyHistogram h;
  h.record(5);
  h.reset();
  h.record(7);
  const auto s = snap(h);
  EXPECT_EQ(s->count, 1U);
  EXPECT_EQ(s->min, 7U);
  EXPECT_EQ(s->max, 7U);
}

} // namespace
} // namespace qf::ipc
