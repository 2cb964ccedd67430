#pragma once
// RestBudget: the one REST request budget shared by every instrument of every venue and every
// feed thread, so a mass reconnect never turns into a snapshot storm. A token bucket counted in
// the venue's request weight: it refills at weight_per_minute / 60 per second and holds at most
// ten seconds' worth (or one request's weight, if larger), so bursts stay small. A request also
// needs a free in-flight slot, and none is granted while a 429 / 418 back-off (Retry-After) runs.
// Thread-safe (a mutex: REST is the cold path); time is passed in (CLOCK_MONOTONIC ns) so tests
// drive it deterministically.

#include <cstdint>
#include <mutex>

namespace qf::feeds::net {

struct RestBudgetConfig {
  int weight_per_minute = 1200;
  int max_in_flight = 2;
};

struct RestBudgetCounters {
  std::uint64_t granted = 0;
  std::uint64_t deferred = 0;  // try_acquire calls refused (the caller retries later)
  std::uint64_t back_offs = 0; // 429 / 418 answers honoured
  std::uint64_t weight_used = 0;
};

class RestBudget {
public:
  // Throws std::invalid_argument on a non-positive weight rate or in-flight limit.
  explicit RestBudget(const RestBudgetConfig& config, std::uint64_t now_ns);

  // Grants a request of `weight` now, or refuses it (deferred). A granted request holds an
  // in-flight slot until release().
  [[nodiscard]] bool try_acquire(int weight, std::uint64_t now_ns);
  void release();
  // A 429 or 418: nothing is granted before `until_ns`.
  void back_off_until(std::uint64_t until_ns);

  [[nodiscard]] RestBudgetCounters counters() const;
  [[nodiscard]] int in_flight() const;

private:
  void refill(std::uint64_t now_ns);

  mutable std::mutex mutex_;
  double rate_per_ns_;
  double capacity_;
  double tokens_;
  int max_in_flight_;
  int in_flight_ = 0;
  std::uint64_t last_ns_;
  std::uint64_t blocked_until_ns_ = 0;
  RestBudgetCounters counters_;
};

// The documented request weight of a depth snapshot (Binance spot / USD-M by limit; 1 else).
[[nodiscard]] int snapshot_weight(bool usdm, int limit) noexcept;

} // namespace qf::feeds::net
