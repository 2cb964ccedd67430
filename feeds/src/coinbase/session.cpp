#include "qf/feeds/coinbase/session.hpp"

#include <algorithm>
#include <stdexcept>

namespace qf::feeds::coinbase {

namespace {

ParserConfig parser_config(const SessionConfig& config, std::size_t products) {
  if (config.depth_channel != "level2_batch" && config.depth_channel != "level2") {
    throw std::invalid_argument(config.name + ": depth channel must be level2_batch or level2, not '" +
                                config.depth_channel + "'");
  }
  ParserConfig pc;
  pc.max_message_bytes = config.max_frame_bytes;
  pc.max_instruments = std::max<std::size_t>(products, 1);
  return pc;
}

} // namespace

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 EventSink sink, LogFn log)
    : ResubscribeSession(config, instruments, loop, sink, std::move(log)), depth_channel_(config.depth_channel),
      parser_(parser_config(config, instruments.size())), sync_(instruments.size()) {
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const SessionInstrument& s = instruments[i];
    parser_.add_instrument(s.symbol, static_cast<core::InstrumentId>(i), s.price_decimals, s.qty_decimals);
  }
}

std::string Session::subscribe_text(std::string_view type, const std::vector<std::size_t>& products,
                                    bool all_channels) const {
  std::string out = "{\"type\":\"";
  out += type;
  out += "\",\"product_ids\":[";
  for (std::size_t k = 0; k < products.size(); ++k) {
    out += k > 0 ? ",\"" : "\"";
    out += instruments_[products[k]].spec.symbol;
    out += '"';
  }
  out += "],\"channels\":[\"";
  out += depth_channel_;
  out += all_channels ? "\",\"heartbeat\",\"ticker\",\"matches\"]}" : "\"]}";
  return out;
}

void Session::subscribe_all() {
  std::vector<std::size_t> all(instruments_.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  // Coinbase closes a connection that has not subscribed within 5 s: subscribe at once.
  ws_.send_text(subscribe_text("subscribe", all, true));
}

void Session::resubscribe(const std::vector<std::size_t>& products) {
  // level2 has no sequence and no REST sync point: leaving and rejoining the depth channel is
  // what brings a fresh snapshot (l2updates still in flight are dropped as not live meanwhile).
  ws_.send_text(subscribe_text("unsubscribe", products, false));
  ws_.send_text(subscribe_text("subscribe", products, false));
}

void Session::on_frame(PaddedView frame, std::uint64_t recv_ticks) {
  Message m;
  if (!core_.parse(parser_, frame, m)) {
    return;
  }
  switch (m.kind) {
  case MessageKind::snapshot:
  case MessageKind::l2update:
  case MessageKind::ticker:
  case MessageKind::match:
  case MessageKind::heartbeat: {
    if (m.instrument >= instruments_.size()) {
      ++core_.counters().drops;
      return;
    }
    const SyncOutcome o = sync_.on_message(m, recv_ticks, engine_sink());
    if (o == SyncOutcome::not_live) {
      ++core_.counters().drops; // an l2update before the (fresh) snapshot
      return;
    }
    if (o == SyncOutcome::trade_gap) {
      ++core_.counters().gaps;
    }
    touched(m.instrument, o == SyncOutcome::snapshot_applied, recv_ticks);
    return;
  }
  case MessageKind::subscriptions:
    subscribe_answered(recv_ticks);
    return;
  case MessageKind::error:
    ++core_.counters().venue_errors;
    core_.log(LogLevel::error, config_.name + ": venue error: " + std::string(parser_.last_error()));
    return;
  default:
    return;
  }
}

} // namespace qf::feeds::coinbase
