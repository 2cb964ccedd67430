#include "qf/feeds/net/rest_budget.hpp"

#include <algorithm>
#include <stdexcept>

namespace qf::feeds::net {

RestBudget::RestBudget(const RestBudgetConfig& config, std::uint64_t now_ns)
    : rate_per_ns_(static_cast<double>(config.weight_per_minute) / 60e9),
      capacity_(static_cast<double>(config.weight_per_minute) / 6.0), tokens_(capacity_),
      max_in_flight_(config.max_in_flight), last_ns_(now_ns) {
  if (config.weight_per_minute <= 0 || config.max_in_flight <= 0) {
    throw std::invalid_argument("rest budget: weight_per_minute and max_in_flight must be positive");
  }
}

void RestBudget::refill(std::uint64_t now_ns) {
  if (now_ns > last_ns_) {
    tokens_ = std::min(capacity_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
    last_ns_ = now_ns;
  }
}

bool RestBudget::try_acquire(int weight, std::uint64_t now_ns) {
  const std::lock_guard lock(mutex_);
  refill(now_ns);
  // A request heavier than the bucket waits for a full bucket, then goes (never starves).
  const double need = std::min(static_cast<double>(weight), capacity_);
  if (now_ns < blocked_until_ns_ || in_flight_ >= max_in_flight_ || tokens_ < need) {
    ++counters_.deferred;
    return false;
  }
  tokens_ -= static_cast<double>(weight);
  ++in_flight_;
  ++counters_.granted;
  counters_.weight_used += static_cast<std::uint64_t>(weight);
  return true;
}

void RestBudget::release() {
  const std::lock_guard lock(mutex_);
  if (in_flight_ > 0) {
    --in_flight_;
  }
}

void RestBudget::back_off_until(std::uint64_t until_ns) {
  const std::lock_guard lock(mutex_);
  blocked_until_ns_ = std::max(blocked_until_ns_, until_ns);
  ++counters_.back_offs;
}

RestBudgetCounters RestBudget::counters() const {
  const std::lock_guard lock(mutex_);
  return counters_;
}

int RestBudget::in_flight() const {
  const std::lock_guard lock(mutex_);
  return in_flight_;
}

int snapshot_weight(bool usdm, int limit) noexcept {
  if (usdm) {
    return limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20;
  }
  return limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250;
}

} // namespace qf::feeds::net
