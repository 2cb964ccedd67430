#include "qf/feeds/okx/session.hpp"

#include <algorithm>
#include <stdexcept>

namespace qf::feeds::okx {

namespace {

constexpr int kVenueIdleLimitMs = 30'000; // OKX closes a connection silent this long

const SessionConfig& checked(const SessionConfig& config) {
  if (config.ping_interval_ms <= 0 || config.ping_interval_ms >= kVenueIdleLimitMs ||
      config.ping_interval_ms >= config.stale_after_ms) {
    throw std::invalid_argument(config.name + ": ping_interval_ms must be positive, below 30000 and below stale_after_ms");
  }
  return config;
}

ParserConfig parser_config(const SessionConfig& config, std::size_t instruments) {
  ParserConfig pc;
  pc.max_message_bytes = config.max_frame_bytes;
  pc.max_instruments = std::max<std::size_t>(instruments, 1);
  return pc;
}

} // namespace

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 EventSink sink, LogFn log)
    : ResubscribeSession(checked(config), instruments, loop, sink, std::move(log)),
      ping_interval_ns_(static_cast<std::uint64_t>(config.ping_interval_ms) * 1'000'000U),
      parser_(parser_config(config, instruments.size())),
      sync_(instruments.size(), 400, parser_.config().max_levels) {
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const SessionInstrument& s = instruments[i];
    const auto id = static_cast<core::InstrumentId>(i);
    parser_.add_instrument(s.symbol, id, s.price_decimals, s.qty_decimals);
    sync_.set_decimals(id, s.price_decimals, s.qty_decimals);
  }
}

std::string Session::request(std::string_view op, const std::vector<std::string_view>& channels,
                             const std::vector<std::size_t>& indices) const {
  std::string out = "{\"op\":\"";
  out += op;
  out += "\",\"args\":[";
  bool first = true;
  for (const std::string_view channel : channels) {
    for (const std::size_t i : indices) {
      out += first ? "{\"channel\":\"" : ",{\"channel\":\"";
      first = false;
      out += channel;
      out += "\",\"instId\":\"";
      out += instruments_[i].spec.symbol;
      out += "\"}";
    }
  }
  out += "]}";
  return out;
}

void Session::subscribe_all() {
  std::vector<std::size_t> all(instruments_.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  ws_.send_text(request("subscribe", {"books", "bbo-tbt", "trades", "tickers"}, all));
  last_ping_ns_ = core_.now();
}

void Session::resubscribe(const std::vector<std::size_t>& indices) {
  // PROTOCOLS.md 6.2: a broken chain or checksum is repaired by resubscribing (a new snapshot,
  // prevSeqId -1); updates still in flight are dropped as not live meanwhile.
  ws_.send_text(request("unsubscribe", {"books"}, indices));
  ws_.send_text(request("subscribe", {"books"}, indices));
}

void Session::on_frame(PaddedView frame, std::uint64_t recv_ticks) {
  Message m;
  if (!core_.parse(parser_, frame, m)) {
    return;
  }
  switch (m.kind) {
  case MessageKind::book_snapshot:
  case MessageKind::book_update:
  case MessageKind::bbo:
  case MessageKind::ticker:
  case MessageKind::trade: {
    const SyncOutcome o = sync_.on_message(m, recv_ticks, engine_sink());
    if (o == SyncOutcome::not_live) {
      ++core_.counters().drops; // an update before the (fresh) snapshot
      return;
    }
    if (o == SyncOutcome::mismatch || o == SyncOutcome::sequence_gap) {
      ++core_.counters().gaps; // BookSync emitted `gap` and asked for a resubscribe
      core_.log(LogLevel::warn, config_.name + (o == SyncOutcome::mismatch ? ": checksum mismatch on " : ": seqId break on ") +
                                    std::string(m.inst_id) + ", resubscribing");
      send_resubscribes();
      return;
    }
    touched(m.instrument, o == SyncOutcome::snapshot_applied, recv_ticks);
    return;
  }
  case MessageKind::subscribed:
    subscribe_answered(recv_ticks);
    return;
  case MessageKind::error:
    ++core_.counters().venue_errors;
    core_.log(LogLevel::error, config_.name + ": the venue refused a request: " + std::string(m.code) + " " +
                                   std::string(m.text));
    return;
  case MessageKind::notice:
    core_.log(LogLevel::warn, config_.name + ": venue notice " + std::string(m.code) + " " + std::string(m.text));
    return;
  default:
    return; // unsubscribe acks, pong (a data frame: the stale watchdog saw it)
  }
}

void Session::on_healthy(std::uint64_t now) {
  const std::uint64_t last = std::max(ws_.last_rx_mono_ns(), last_ping_ns_);
  if (now > last && now - last >= ping_interval_ns_) {
    last_ping_ns_ = now;
    ws_.send_text("ping"); // PROTOCOLS.md 6.1: the text keepalive, answered by the text `pong`
  }
}

} // namespace qf::feeds::okx
