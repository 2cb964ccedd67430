#include "qf/feeds/feed.hpp"

#include <algorithm>

namespace qf::feeds {

ipc::ConnectionState connection_state(std::size_t open, std::size_t opening, std::size_t total,
                                      bool ever_opened) noexcept {
  if (total > 0 && open == total) {
    return ipc::ConnectionState::connected;
  }
  if (opening > 0) {
    return ipc::ConnectionState::connecting;
  }
  return ever_opened ? ipc::ConnectionState::disconnected : ipc::ConnectionState::idle;
}

ipc::FeedRecord feed_record(std::string_view name, ipc::ConnectionState state, const FeedCounters& c) noexcept {
  ipc::FeedRecord r{};
  const std::size_t n = std::min(name.size(), r.name.size() - 1);
  std::copy_n(name.data(), n, r.name.data());
  r.state = state;
  r.messages = c.messages;
  r.bytes = c.bytes;
  r.parse_errors = c.parse_errors;
  r.reconnects = c.reconnects;
  r.gaps = c.gaps;
  r.resyncs = c.resyncs;
  r.drops = c.drops;
  r.record_dropped = c.record_dropped;
  r.record_write_errors = c.record_write_errors;
  return r;
}

void SessionLog::sampled(LogLevel level, std::string_view text, std::uint64_t now_mono_ns) {
  constexpr std::uint64_t kWindowNs = 10'000'000'000ULL;
  constexpr std::uint32_t kLinesPerWindow = 20;
  if (now_mono_ns - window_start_ns_ > kWindowNs) {
    if (suppressed_ > 0) {
      std::string line = name_;
      line += ": ";
      line += std::to_string(suppressed_);
      line += " similar log lines suppressed";
      always(LogLevel::warn, line);
    }
    window_start_ns_ = now_mono_ns;
    lines_ = 0;
    suppressed_ = 0;
  }
  if (lines_ >= kLinesPerWindow) {
    ++suppressed_;
    return;
  }
  ++lines_;
  always(level, text);
}

void SessionLog::always(LogLevel level, std::string_view text) const {
  if (log_) {
    log_(level, text);
  }
}

} // namespace qf::feeds
