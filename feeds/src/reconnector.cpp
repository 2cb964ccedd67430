#include "qf/feeds/reconnector.hpp"

#include <algorithm>

namespace qf::feeds {

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kLongLivedNs = 30'000 * kMs; // a connection this old resets the backoff

[[nodiscard]] std::uint64_t ms(int value) noexcept {
  return static_cast<std::uint64_t>(value) * kMs;
}

} // namespace

void Reconnector::refused(std::uint64_t now_ns) noexcept {
  if (next_connect_ns_ == 0) {
    schedule(false, now_ns);
  }
}

bool Reconnector::opened() noexcept {
  const bool again = ever_opened_;
  ever_opened_ = true;
  return again;
}

void Reconnector::closed(std::uint64_t opened_mono_ns, std::uint64_t now_ns) noexcept {
  if (opened_mono_ns != 0 && now_ns - opened_mono_ns > kLongLivedNs) {
    attempt_ = 0;
  }
  schedule(at_once_, now_ns);
  at_once_ = false;
}

void Reconnector::schedule(bool at_once, std::uint64_t now_ns) noexcept {
  if (at_once) {
    next_connect_ns_ = now_ns;
    return;
  }
  // Full jitter: uniform in [0, min(max, min * 2^attempt)].
  const std::uint64_t base = ms(config_.reconnect_min_ms);
  const std::uint64_t cap = ms(config_.reconnect_max_ms);
  const std::uint64_t ceiling = std::min(cap, base << std::min<std::uint32_t>(attempt_, 30));
  ++attempt_;
  std::uniform_int_distribution<std::uint64_t> jitter(0, ceiling);
  next_connect_ns_ = now_ns + std::max<std::uint64_t>(jitter(*rng_), 1);
}

Reconnector::Step Reconnector::step(bool idle, bool connected, std::uint64_t last_rx_mono_ns,
                                    std::uint64_t opened_mono_ns, std::uint64_t now_ns) noexcept {
  if (idle) {
    return next_connect_ns_ != 0 && now_ns >= next_connect_ns_ ? Step::connect : Step::wait;
  }
  if (!connected) {
    return Step::wait;
  }
  const std::uint64_t silent = now_ns - std::min(now_ns, last_rx_mono_ns);
  if (silent > ms(config_.stale_after_ms) && !stale_) {
    stale_ = true;
    silent_ns_ = silent;
    at_once_ = true;
    return Step::stale;
  }
  if (now_ns - opened_mono_ns > static_cast<std::uint64_t>(config_.max_connection_age_s) * 1'000 * kMs) {
    at_once_ = true;
    return Step::too_old;
  }
  return Step::healthy;
}

bool Reconnector::instrument_stale(std::uint64_t last_update_ns, std::uint64_t now_ns) const noexcept {
  return now_ns - std::min(now_ns, last_update_ns) > ms(config_.instrument_stale_after_ms);
}

} // namespace qf::feeds
