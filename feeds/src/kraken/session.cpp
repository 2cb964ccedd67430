#include "qf/feeds/kraken/session.hpp"

#include <algorithm>
#include <stdexcept>

namespace qf::feeds::kraken {

namespace {

const SessionConfig& checked(const SessionConfig& config) {
  const int d = config.depth;
  if (d != 10 && d != 25 && d != 100 && d != 500 && d != 1000) {
    throw std::invalid_argument(config.name + ": book depth must be 10, 25, 100, 500 or 1000, not " +
                                std::to_string(d));
  }
  if (config.ping_interval_ms <= 0) {
    throw std::invalid_argument(config.name + ": ping_interval_ms must be positive");
  }
  return config;
}

ParserConfig parser_config(const SessionConfig& config, std::size_t symbols) {
  ParserConfig pc;
  pc.max_message_bytes = config.max_frame_bytes;
  pc.max_levels = std::max<std::size_t>(pc.max_levels, static_cast<std::size_t>(config.depth));
  pc.max_instruments = std::max<std::size_t>(symbols, 1);
  return pc;
}

} // namespace

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 EventSink sink, LogFn log)
    : ResubscribeSession(checked(config), instruments, loop, sink, std::move(log)), depth_(config.depth),
      ping_interval_ns_(static_cast<std::uint64_t>(config.ping_interval_ms) * 1'000'000U),
      parser_(parser_config(config, instruments.size())),
      sync_(instruments.size(), static_cast<std::size_t>(config.depth), parser_.config().max_levels) {
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const SessionInstrument& s = instruments[i];
    const auto id = static_cast<core::InstrumentId>(i);
    parser_.add_instrument(s.symbol, id, s.price_decimals, s.qty_decimals);
    int pp = s.price_decimals;
    int qp = s.qty_decimals;
    (void)known_precision(s.symbol, pp, qp);
    sync_.set_precision(id, s.price_decimals, s.qty_decimals, pp, qp);
  }
}

std::string Session::request(std::string_view method, std::string_view channel,
                             const std::vector<std::size_t>& indices, std::string_view extra) {
  std::string out = "{\"method\":\"";
  out += method;
  out += "\",\"params\":{\"channel\":\"";
  out += channel;
  out += "\",\"symbol\":[";
  for (std::size_t k = 0; k < indices.size(); ++k) {
    out += k > 0 ? ",\"" : "\"";
    out += instruments_[indices[k]].spec.symbol;
    out += '"';
  }
  out += ']';
  out += extra;
  out += "},\"req_id\":";
  out += std::to_string(next_req_id_++);
  out += '}';
  return out;
}

void Session::subscribe_all() {
  std::vector<std::size_t> all(instruments_.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  const std::string book = ",\"depth\":" + std::to_string(depth_) + ",\"snapshot\":true";
  ws_.send_text(request("subscribe", "book", all, book));
  ws_.send_text(request("subscribe", "trade", all, ",\"snapshot\":false"));
  ws_.send_text(request("subscribe", "ticker", all, ",\"event_trigger\":\"bbo\""));
  last_ping_ns_ = core_.now();
}

void Session::resubscribe(const std::vector<std::size_t>& indices) {
  // No sequence and no REST snapshot: leaving and rejoining the book channel brings a fresh
  // snapshot (PROTOCOLS.md 4.2); updates still in flight are dropped as not live meanwhile.
  const std::string depth = ",\"depth\":" + std::to_string(depth_);
  ws_.send_text(request("unsubscribe", "book", indices, depth));
  ws_.send_text(request("subscribe", "book", indices, depth + ",\"snapshot\":true"));
}

void Session::on_frame(PaddedView frame, std::uint64_t recv_ticks) {
  Message m;
  if (!core_.parse(parser_, frame, m)) {
    return;
  }
  switch (m.kind) {
  case MessageKind::book_snapshot:
  case MessageKind::book_update:
  case MessageKind::ticker:
  case MessageKind::trade: {
    const SyncOutcome o = sync_.on_message(m, recv_ticks, engine_sink());
    if (o == SyncOutcome::not_live) {
      ++core_.counters().drops; // an update before the (fresh) snapshot
      return;
    }
    if (o == SyncOutcome::mismatch) {
      ++core_.counters().gaps; // BookSync emitted `gap` and asked for a resubscribe
      core_.log(LogLevel::warn, config_.name + ": checksum mismatch on " + std::string(m.symbol) + ", resubscribing");
      send_resubscribes();
      return;
    }
    if (m.kind == MessageKind::trade) {
      for (const Trade& t : m.trades) {
        touched(t.instrument, false, recv_ticks);
      }
    } else {
      touched(m.instrument, o == SyncOutcome::snapshot_applied, recv_ticks);
    }
    return;
  }
  case MessageKind::heartbeat: // sent only when nothing else is: every symbol is quiet, not stale
    for (std::size_t i = 0; i < instruments_.size(); ++i) {
      touched(i, false, recv_ticks);
    }
    return;
  case MessageKind::method:
    if (!m.success) {
      ++core_.counters().venue_errors;
      core_.log(LogLevel::error, config_.name + ": the venue refused a " + std::string(m.method) + " request");
    } else if (m.method == "subscribe") {
      subscribe_answered(recv_ticks);
    }
    return;
  default:
    return; // status
  }
}

void Session::on_healthy(std::uint64_t now) {
  if (now - last_ping_ns_ >= ping_interval_ns_) {
    last_ping_ns_ = now;
    ws_.send_text("{\"method\":\"ping\",\"req_id\":" + std::to_string(next_req_id_++) + "}");
  }
}

} // namespace qf::feeds::kraken
