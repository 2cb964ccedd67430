#include "qf/feeds/bybit/session.hpp"

#include <algorithm>
#include <stdexcept>

namespace qf::feeds::bybit {

namespace {

constexpr std::size_t kMaxArgsPerRequest = 10; // PROTOCOLS.md 5.1: spot's limit (linear takes it too)

const SessionConfig& checked(const SessionConfig& config) {
  if (config.depth != 1 && config.depth != 50 && config.depth != 200 && config.depth != 1000) {
    throw std::invalid_argument(config.name + ": depth must be 1, 50, 200 or 1000");
  }
  if (config.ping_interval_ms <= 0 || config.stale_after_ms < 2) {
    throw std::invalid_argument(config.name + ": ping_interval_ms and stale_after_ms must be positive");
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
      book_topic_("orderbook." + std::to_string(config.depth)),
      // at least two pings inside the stale watchdog, so a missing pong ends as a stale connection
      ping_interval_ns_(static_cast<std::uint64_t>(std::min(config.ping_interval_ms, config.stale_after_ms / 2)) *
                        1'000'000U),
      parser_(parser_config(config, instruments.size())),
      sync_(instruments.size(), config.depth, parser_.config().max_levels) {
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    parser_.add_instrument(instruments[i].symbol, static_cast<core::InstrumentId>(i), instruments[i].price_decimals,
                           instruments[i].qty_decimals);
  }
}

void Session::send_requests(std::string_view op, const std::vector<std::string>& topics,
                            const std::vector<std::size_t>& indices) {
  std::string out;
  std::size_t args = 0;
  const auto flush = [&] {
    if (args != 0) {
      out += "]}";
      ws_.send_text(out);
      args = 0;
    }
  };
  for (const std::size_t i : indices) {
    for (const std::string& topic : topics) {
      if (args == kMaxArgsPerRequest) {
        flush();
      }
      if (args == 0) {
        out = "{\"op\":\"";
        out += op;
        out += "\",\"args\":[";
      } else {
        out += ',';
      }
      out += '"';
      out += topic;
      out += '.';
      out += instruments_[i].spec.symbol;
      out += '"';
      ++args;
    }
  }
  flush();
}

void Session::subscribe_all() {
  std::vector<std::size_t> all(instruments_.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  send_requests("subscribe", {book_topic_, "publicTrade", "tickers"}, all);
  last_ping_ns_ = core_.now();
}

void Session::resubscribe(const std::vector<std::size_t>& indices) {
  // PROTOCOLS.md 5.2: no REST repair; a fresh subscribe starts with a snapshot. Deltas still in
  // flight are dropped as not live meanwhile.
  send_requests("unsubscribe", {book_topic_}, indices);
  send_requests("subscribe", {book_topic_}, indices);
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
      ++core_.counters().drops; // a delta before the (fresh) snapshot
      return;
    }
    if (o == SyncOutcome::sequence_gap) {
      ++core_.counters().gaps; // BookSync emitted `gap` and asked for a resubscribe
      core_.log(LogLevel::warn, config_.name + ": u chain broken on " + std::string(m.symbol) + ", resubscribing");
      send_resubscribes();
      return;
    }
    if (o != SyncOutcome::ignored) {
      touched(m.instrument, o == SyncOutcome::snapshot_applied, recv_ticks);
    }
    return;
  }
  case MessageKind::op_answer:
    if (!m.success) {
      ++core_.counters().venue_errors;
      core_.log(LogLevel::error, config_.name + ": the venue refused a request (" + std::string(m.op) + ")");
    } else if (m.op == "subscribe") {
      subscribe_answered(recv_ticks);
    }
    return; // unsubscribe acks, the pong (a data frame: the stale watchdog saw it)
  default:
    return;
  }
}

void Session::on_healthy(std::uint64_t now) {
  if (now > last_ping_ns_ && now - last_ping_ns_ >= ping_interval_ns_) {
    last_ping_ns_ = now;
    ws_.send_text(R"({"op":"ping"})"); // PROTOCOLS.md 5.1: every 20 s, answered by an op ack
  }
}

} // namespace qf::feeds::bybit
