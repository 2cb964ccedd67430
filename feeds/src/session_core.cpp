#include "qf/feeds/session_core.hpp"

#include <algorithm>
#include <utility>

#include "qf/feeds/emitters.hpp"
#include "qf/feeds/recorder.hpp"
#include "qf/ipc/tsc_clock.hpp"

namespace qf::feeds {

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::size_t kLoggedFrameBytes = 160;

} // namespace

SessionCore::SessionCore(std::string name, EventSink sink, LogFn log, Recorder* recorder, std::uint64_t seed)
    : name_(std::move(name)), sink_(sink), log_(name_, std::move(log)), recorder_(recorder),
      rng_(seed != 0 ? seed : std::random_device{}()) {
}

void SessionCore::on_frame(PaddedView frame) noexcept {
  ++counters_.messages;
  counters_.bytes += frame.size;
  if (recorder_ != nullptr) {
    if (!recorder_->frame(ipc::realtime_ns(), std::string_view(frame.data, frame.size))) {
      ++counters_.record_dropped;
      log(LogLevel::warn, name_ + ": recorder queue full: a frame was not recorded (" +
                              std::to_string(counters_.record_dropped) + " so far)");
    }
    const std::uint64_t errors = recorder_->write_errors();
    if (errors != counters_.record_write_errors) {
      counters_.record_write_errors = errors;
      log(LogLevel::error, name_ + ": recorder write error (" + std::to_string(errors) +
                               " records lost so far): the capture file is cut back to its last complete gzip member");
    }
  }
}

void SessionCore::on_parse_failure(ParseResult r, PaddedView frame) {
  if (r == ParseResult::unknown_instrument) {
    ++counters_.unknown_instrument;
    ++counters_.drops;
    return;
  }
  ++counters_.parse_errors;
  std::string text = name_ + ": dropped a frame (";
  text.append(to_string(r));
  text += "): ";
  text.append(frame.data, std::min(frame.size, kLoggedFrameBytes));
  log(LogLevel::warn, text);
}

void SessionCore::on_oversized(std::size_t bytes, std::string_view consequence) {
  ++counters_.oversized;
  ++counters_.parse_errors;
  log(LogLevel::error,
      name_ + ": frame of " + std::to_string(bytes) + " bytes over max_frame_bytes: " + std::string(consequence));
}

void SessionCore::on_binary() {
  ++counters_.parse_errors;
  log(LogLevel::warn, name_ + ": unexpected binary frame dropped");
}

void SessionCore::status(core::InstrumentId instrument, core::FeedStatus s, std::uint64_t recv_ticks) const noexcept {
  emit_status(instrument, s, 0, 0, recv_ticks, sink_);
}

void SessionCore::connect(Reconnector& r, net::WsConnection& ws, const net::Url& url) {
  std::string why;
  r.opening();
  if (!ws.open(url, why)) {
    log(LogLevel::warn, name_ + ": " + why);
    if (ws.idle()) {
      r.refused(now_);
    }
  }
}

bool SessionCore::on_open(Reconnector& r, std::string_view url_text) {
  const bool reconnect = r.opened();
  if (reconnect) {
    ++counters_.reconnects;
  }
  if (recorder_ != nullptr) {
    (void)recorder_->ws_open(url_text);
  }
  return reconnect;
}

void SessionCore::on_closed(Reconnector& r, const net::WsConnection& ws, std::string_view reason) {
  log_always(LogLevel::warn, name_ + ": connection closed: " + std::string(reason));
  if (!stopping_) {
    r.closed(ws.opened_mono_ns(), now_);
  }
}

Reconnector::Step SessionCore::watch(Reconnector& r, net::WsConnection& ws) {
  const Reconnector::Step step = r.step(ws.idle(), ws.connected(), ws.last_rx_mono_ns(), ws.opened_mono_ns(), now_);
  if (step == Reconnector::Step::stale) {
    ++counters_.stale_connections;
    log(LogLevel::warn,
        name_ + ": no frame for " + std::to_string(r.silent_ns() / kMs) + " ms: connection stale, reconnecting");
    ws.close();
  } else if (step == Reconnector::Step::too_old) {
    log(LogLevel::info, name_ + ": connection age limit: reconnecting");
    ws.close();
  }
  return step;
}

} // namespace qf::feeds
