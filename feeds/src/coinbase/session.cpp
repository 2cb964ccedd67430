#include "qf/feeds/coinbase/session.hpp"

#include <algorithm>
#include <stdexcept>

namespace qf::feeds::coinbase {

struct Session::Conn final : net::WsConnection::Handler {
  Session& session;
  net::WsConnection ws;
  Parser parser;
  BookSync sync;
  Reconnector reconnector;
  bool awaiting_subscriptions = false; // the subscribe went out; its answer emits `subscribed`

  Conn(Session& s, const ParserConfig& pc, std::size_t products)
      : session(s), ws(s.loop_, *this, pc.max_message_bytes), parser(pc), sync(products),
        reconnector(s.config_, s.core_.rng()) {}

  void on_open() override { session.on_open(); }
  void on_message(PaddedView frame, std::uint64_t recv_ticks) override { session.on_message(frame, recv_ticks); }
  void on_oversized(std::size_t bytes) override {
    session.core_.on_oversized(bytes, "resubscribing the books");
    for (const Instrument& in : session.instruments_) {
      (void)session.resync(in.spec.id);
    }
  }
  void on_binary() override { session.core_.on_binary(); }
  void on_closed(std::string_view reason) override { session.on_closed(reason); }
};

void Session::ToEngineIds::operator()(const core::Event& e) const {
  core::Event out = e;
  out.instrument = session->instruments_[e.instrument].spec.id;
  session->core_.sink()(out);
}

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 EventSink sink, LogFn log)
    : config_(config), loop_(loop), core_(config.name, sink, std::move(log), config.recorder, config.seed) {
  if (instruments.empty()) {
    throw std::invalid_argument(config.name + ": a session needs at least one instrument");
  }
  if (config.depth_channel != "level2_batch" && config.depth_channel != "level2") {
    throw std::invalid_argument(config.name + ": depth channel must be level2_batch or level2, not '" +
                                config.depth_channel + "'");
  }
  ParserConfig pc;
  pc.max_message_bytes = config.max_frame_bytes;
  pc.max_instruments = std::max<std::size_t>(instruments.size(), 1);
  conn_ = std::make_unique<Conn>(*this, pc, instruments.size());
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    const SessionInstrument& s = instruments[i];
    conn_->parser.add_instrument(s.symbol, static_cast<core::InstrumentId>(i), s.price_decimals, s.qty_decimals);
    instruments_.push_back({s, 0, false});
  }
}

Session::~Session() = default;

void Session::start() {
  core_.set_now(ipc::monotonic_ns());
  connect();
}

void Session::stop() {
  core_.stop();
  conn_->ws.close();
}

void Session::connect() {
  core_.connect(conn_->reconnector, conn_->ws, config_.ws); // ws-feed lives at "/" (a config path is kept)
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
  out += config_.depth_channel;
  out += all_channels ? "\",\"heartbeat\",\"ticker\",\"matches\"]}" : "\"]}";
  return out;
}

void Session::on_open() {
  Conn& c = *conn_;
  const std::uint64_t ticks = loop_.clock().now();
  const bool reconnect = core_.on_open(c.reconnector, config_.ws.text());
  core_.log_always(LogLevel::info, config_.name + ": connected, subscribing " + std::to_string(instruments_.size()) +
                                       " products");
  std::vector<std::size_t> all(instruments_.size());
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    all[i] = i;
    Instrument& in = instruments_[i];
    in.stale = false;
    in.last_update_ns = core_.now();
    // The subscribe brings every product's snapshot: older resync requests are answered by it.
    (void)c.sync.take_resubscribe_request(static_cast<core::InstrumentId>(i));
    core_.status(in.spec.id, core::FeedStatus::connected, ticks);
    if (reconnect) {
      ++core_.counters().resyncs; // the fresh snapshot after a reconnect
    }
  }
  // Coinbase closes a connection that has not subscribed within 5 s: subscribe at once.
  c.ws.send_text(subscribe_text("subscribe", all, true));
  c.awaiting_subscriptions = true;
}

void Session::on_message(PaddedView frame, std::uint64_t recv_ticks) {
  Conn& c = *conn_;
  Message m;
  if (!core_.parse(c.parser, frame, m)) {
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
    Instrument& in = instruments_[m.instrument];
    const SyncOutcome o = c.sync.on_message(m, recv_ticks, EventSink(to_engine_));
    if (o == SyncOutcome::not_live) {
      ++core_.counters().drops; // an l2update before the (fresh) snapshot
      return;
    }
    if (o == SyncOutcome::trade_gap) {
      ++core_.counters().gaps;
    }
    in.last_update_ns = core_.now();
    if (o == SyncOutcome::snapshot_applied) {
      in.stale = false; // BookSync emitted book_live
    } else if (in.stale && c.sync.state(m.instrument) == BookState::live) {
      in.stale = false;
      core_.status(in.spec.id, core::FeedStatus::book_live, recv_ticks);
    }
    return;
  }
  case MessageKind::subscriptions:
    if (c.awaiting_subscriptions) {
      c.awaiting_subscriptions = false;
      for (const Instrument& in : instruments_) {
        core_.status(in.spec.id, core::FeedStatus::subscribed, recv_ticks);
      }
    }
    return;
  case MessageKind::error:
    ++core_.counters().venue_errors;
    core_.log(LogLevel::error, config_.name + ": venue error: " + std::string(c.parser.last_error()));
    return;
  default:
    return;
  }
}

void Session::on_closed(std::string_view reason) {
  Conn& c = *conn_;
  const std::uint64_t ticks = loop_.clock().now();
  core_.on_closed(c.reconnector, c.ws, reason);
  c.awaiting_subscriptions = false;
  c.sync.on_disconnect(ticks, EventSink(to_engine_)); // every book not live, `disconnected` each
}

bool Session::resync(core::InstrumentId id) {
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    if (instruments_[i].spec.id == id) {
      conn_->sync.resync(static_cast<core::InstrumentId>(i), loop_.clock().now(), EventSink(to_engine_));
      ++core_.counters().resyncs;
      send_resubscribes();
      return true;
    }
  }
  return false;
}

void Session::send_resubscribes() {
  Conn& c = *conn_;
  if (!c.ws.connected()) {
    return; // the reconnect's subscribe brings fresh snapshots (on_open clears the requests)
  }
  std::vector<std::size_t> products;
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    if (c.sync.take_resubscribe_request(static_cast<core::InstrumentId>(i))) {
      products.push_back(i);
    }
  }
  if (products.empty()) {
    return;
  }
  // level2 has no sequence and no REST sync point: leaving and rejoining the depth channel is
  // what brings a fresh snapshot (l2updates still in flight are dropped as not live meanwhile).
  c.ws.send_text(subscribe_text("unsubscribe", products, false));
  c.ws.send_text(subscribe_text("subscribe", products, false));
}

void Session::tick(std::uint64_t now) {
  core_.set_now(now);
  Conn& c = *conn_;
  if (core_.stopping()) {
    return;
  }
  const std::uint64_t ticks = loop_.clock().now();
  switch (core_.watch(c.reconnector, c.ws)) {
  case Reconnector::Step::connect:
    connect();
    return;
  case Reconnector::Step::stale:
    for (const Instrument& in : instruments_) {
      core_.status(in.spec.id, core::FeedStatus::stale, ticks);
    }
    return;
  case Reconnector::Step::healthy:
    break;
  default:
    return;
  }
  send_resubscribes();
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    Instrument& in = instruments_[i];
    if (!in.stale && c.sync.state(static_cast<core::InstrumentId>(i)) == BookState::live &&
        c.reconnector.instrument_stale(in.last_update_ns, now)) {
      in.stale = true;
      core_.status(in.spec.id, core::FeedStatus::stale, ticks);
    }
  }
}

BookState Session::book_state(std::size_t index) const noexcept {
  return conn_->sync.state(static_cast<core::InstrumentId>(index));
}

bool Session::connected() const noexcept { return conn_->ws.connected(); }

ipc::FeedRecord Session::record() const {
  const Conn& c = *conn_;
  const bool open = c.ws.connected();
  return feed_record(config_.name,
                     connection_state(open ? 1U : 0U, !open && !c.ws.idle() ? 1U : 0U, 1, c.reconnector.ever_opened()),
                     core_.counters());
}

} // namespace qf::feeds::coinbase
