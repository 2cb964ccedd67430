#include "qf/feeds/coinbase_advanced/session.hpp"

#include <algorithm>
#include <utility>

namespace qf::feeds::coinbase_advanced {

namespace {

ParserConfig parser_config(const SessionConfig& config, std::size_t instruments) {
  ParserConfig pc;
  pc.max_message_bytes = config.max_frame_bytes;
  pc.max_instruments = std::max<std::size_t>(instruments, 1);
  return pc;
}

} // namespace

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 EventSink sink, LogFn log)
    : ResubscribeSession(config, instruments, loop, sink, std::move(log)),
      parser_(parser_config(config, instruments.size())), sync_(instruments.size()) {
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const SessionInstrument& s = instruments[i];
    parser_.add_instrument(s.symbol, static_cast<core::InstrumentId>(i), s.price_decimals, s.qty_decimals);
  }
}

std::string Session::request(std::string_view type, std::string_view channel,
                             const std::vector<std::size_t>& indices) const {
  std::string out = "{\"type\":\"";
  out += type;
  out += "\",\"product_ids\":[";
  for (std::size_t k = 0; k < indices.size(); ++k) {
    out += k > 0 ? ",\"" : "\"";
    out += instruments_[indices[k]].spec.symbol;
    out += '"';
  }
  out += "],\"channel\":\"";
  out += channel;
  out += "\"}";
  return out;
}

void Session::subscribe_all() {
  std::vector<std::size_t> all(instruments_.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  // PROTOCOLS.md 3.2: exactly one channel a subscribe message; heartbeats keep the connection up.
  for (const std::string_view channel : {"level2", "market_trades", "ticker", "heartbeats"}) {
    ws_.send_text(request("subscribe", channel, all));
  }
}

void Session::resubscribe(const std::vector<std::size_t>& indices) {
  // A sequence_num break loses an unknown message: only a fresh level2 snapshot repairs a book.
  ws_.send_text(request("unsubscribe", "level2", indices));
  ws_.send_text(request("subscribe", "level2", indices));
}

void Session::on_sync(const SyncReport& r, const Message& m) {
  if (r.sequence_gap) {
    core_.counters().gaps += r.gap_books; // BookSync emitted `gap` for each and asked for resubscribes
    core_.log(LogLevel::warn, config_.name + ": sequence_num " + std::to_string(m.sequence) +
                                  " breaks the connection's chain, resubscribing level2");
    send_resubscribes();
  }
  core_.counters().drops += r.dropped; // updates before the (fresh) snapshot
}

void Session::on_frame(PaddedView frame, std::uint64_t recv_ticks) {
  Message m;
  if (!core_.parse(parser_, frame, m)) {
    if (m.unregistered_only) { // counted as unknown_instrument; its number still holds the chain
      on_sync(sync_.on_unregistered(m, recv_ticks, engine_sink()), m);
    }
    return;
  }
  switch (m.kind) {
  case MessageKind::level2:
  case MessageKind::ticker:
  case MessageKind::trades:
  case MessageKind::heartbeat:
  case MessageKind::subscriptions: {
    on_sync(sync_.on_message(m, recv_ticks, engine_sink()), m);
    for (const BookEvent& b : m.books) {
      if (b.snapshot || book_state(b.instrument) == BookState::live) {
        touched(b.instrument, b.snapshot, recv_ticks);
      }
    }
    for (const Ticker& t : m.tickers) {
      touched(t.instrument, false, recv_ticks);
    }
    for (const Trade& t : m.trades) {
      touched(t.instrument, false, recv_ticks);
    }
    if (m.kind == MessageKind::subscriptions) {
      subscribe_answered(recv_ticks);
    }
    return;
  }
  case MessageKind::error:
    ++core_.counters().venue_errors;
    core_.log(LogLevel::error, config_.name + ": the venue refused a request: " + std::string(m.error));
    return;
  default:
    return;
  }
}

} // namespace qf::feeds::coinbase_advanced
