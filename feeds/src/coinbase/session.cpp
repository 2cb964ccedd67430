#include "qf/feeds/coinbase/session.hpp"

#include <algorithm>
#include <stdexcept>

#include "qf/feeds/emitters.hpp"

namespace qf::feeds::coinbase {

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kLongLivedNs = 30'000 * kMs; // a connection this old resets the backoff

} // namespace

struct Session::Conn final : net::WsConnection::Handler {
  Session& session;
  net::WsConnection ws;
  Parser parser;
  BookSync sync;
  std::uint64_t next_connect_ns = 0;
  std::uint32_t attempt = 0;
  bool ever_opened = false;
  bool reconnect_at_once = false;
  bool stale = false;
  bool awaiting_subscriptions = false; // the subscribe went out; its answer emits `subscribed`

  Conn(Session& s, const ParserConfig& pc, std::size_t products)
      : session(s), ws(s.loop_, *this, pc.max_message_bytes), parser(pc), sync(products) {}

  void on_open() override { session.on_open(); }
  void on_message(PaddedView frame, std::uint64_t recv_ticks) override { session.on_message(frame, recv_ticks); }
  void on_oversized(std::size_t bytes) override {
    ++session.counters_.oversized;
    ++session.counters_.parse_errors;
    session.log_sampled(LogLevel::error, session.config_.name + ": frame of " + std::to_string(bytes) +
                                             " bytes over max_frame_bytes: resubscribing the books");
    for (const Instrument& in : session.instruments_) {
      (void)session.resync(in.spec.id);
    }
  }
  void on_binary() override {
    ++session.counters_.parse_errors;
    session.log_sampled(LogLevel::warn, session.config_.name + ": unexpected binary frame dropped");
  }
  void on_closed(std::string_view reason) override { session.on_closed(reason); }
};

void Session::ToEngineIds::operator()(const core::Event& e) const {
  core::Event out = e;
  out.instrument = session->instruments_[e.instrument].spec.id;
  session->sink_(out);
}

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 EventSink sink, LogFn log)
    : config_(config), loop_(loop), sink_(sink), log_(config.name, std::move(log)),
      rng_(config.seed != 0 ? config.seed : std::random_device{}()) {
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
  now_ = ipc::monotonic_ns();
  connect();
}

void Session::stop() {
  stopping_ = true;
  conn_->ws.close();
}

void Session::connect() {
  Conn& c = *conn_;
  std::string why;
  c.stale = false;
  c.next_connect_ns = 0;
  if (!c.ws.open(config_.ws, why)) { // ws-feed lives at "/" (a config path is kept)
    log_sampled(LogLevel::warn, config_.name + ": " + why);
    if (c.ws.idle() && c.next_connect_ns == 0) {
      schedule_reconnect(false);
    }
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
  out += config_.depth_channel;
  out += all_channels ? "\",\"heartbeat\",\"ticker\",\"matches\"]}" : "\"]}";
  return out;
}

void Session::on_open() {
  Conn& c = *conn_;
  if (c.ever_opened) {
    ++counters_.reconnects;
  }
  const bool reconnect = c.ever_opened;
  c.ever_opened = true;
  const std::uint64_t ticks = loop_.clock().now();
  if (config_.recorder != nullptr) {
    (void)config_.recorder->ws_open(config_.ws.text());
  }
  log_.always(LogLevel::info, config_.name + ": connected, subscribing " + std::to_string(instruments_.size()) +
                             " products");
  std::vector<std::size_t> all(instruments_.size());
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    all[i] = i;
    Instrument& in = instruments_[i];
    in.stale = false;
    in.last_update_ns = now_;
    // The subscribe brings every product's snapshot: older resync requests are answered by it.
    (void)c.sync.take_resubscribe_request(static_cast<core::InstrumentId>(i));
    status(in, core::FeedStatus::connected, ticks);
    if (reconnect) {
      ++counters_.resyncs; // the fresh snapshot after a reconnect
    }
  }
  // Coinbase closes a connection that has not subscribed within 5 s: subscribe at once.
  c.ws.send_text(subscribe_text("subscribe", all, true));
  c.awaiting_subscriptions = true;
}

void Session::status(const Instrument& in, core::FeedStatus s, std::uint64_t recv_ticks) {
  emit_status(in.spec.id, s, 0, 0, recv_ticks, sink_);
}

void Session::on_message(PaddedView frame, std::uint64_t recv_ticks) {
  Conn& c = *conn_;
  ++counters_.messages;
  counters_.bytes += frame.size;
  if (config_.recorder != nullptr) {
    (void)config_.recorder->frame(ipc::realtime_ns(), std::string_view(frame.data, frame.size));
  }
  Message m;
  const ParseResult r = c.parser.parse(frame, m);
  if (r != ParseResult::ok) {
    if (r == ParseResult::unknown_instrument) {
      ++counters_.unknown_instrument;
      ++counters_.drops;
      return;
    }
    ++counters_.parse_errors;
    std::string text = config_.name + ": dropped a frame (";
    text.append(to_string(r));
    text += "): ";
    text.append(frame.data, std::min<std::size_t>(frame.size, 160));
    log_sampled(LogLevel::warn, text);
    return;
  }
  switch (m.kind) {
  case MessageKind::snapshot:
  case MessageKind::l2update:
  case MessageKind::ticker:
  case MessageKind::match:
  case MessageKind::heartbeat: {
    if (m.instrument >= instruments_.size()) {
      ++counters_.drops;
      return;
    }
    Instrument& in = instruments_[m.instrument];
    const SyncOutcome o = c.sync.on_message(m, recv_ticks, EventSink(to_engine_));
    if (o == SyncOutcome::not_live) {
      ++counters_.drops; // an l2update before the (fresh) snapshot
      return;
    }
    if (o == SyncOutcome::trade_gap) {
      ++counters_.gaps;
    }
    in.last_update_ns = now_;
    if (o == SyncOutcome::snapshot_applied) {
      in.stale = false; // BookSync emitted book_live
    } else if (in.stale && c.sync.state(m.instrument) == BookState::live) {
      in.stale = false;
      status(in, core::FeedStatus::book_live, recv_ticks);
    }
    return;
  }
  case MessageKind::subscriptions:
    if (c.awaiting_subscriptions) {
      c.awaiting_subscriptions = false;
      for (const Instrument& in : instruments_) {
        status(in, core::FeedStatus::subscribed, recv_ticks);
      }
    }
    return;
  case MessageKind::error:
    ++counters_.venue_errors;
    log_sampled(LogLevel::error, config_.name + ": venue error: " + std::string(c.parser.last_error()));
    return;
  default:
    return;
  }
}

void Session::on_closed(std::string_view reason) {
  Conn& c = *conn_;
  const std::uint64_t ticks = loop_.clock().now();
  log_.always(LogLevel::warn, config_.name + ": connection closed: " + std::string(reason));
  c.awaiting_subscriptions = false;
  c.sync.on_disconnect(ticks, EventSink(to_engine_)); // every book not live, `disconnected` each
  if (stopping_) {
    return;
  }
  const bool long_lived = c.ws.opened_mono_ns() != 0 && now_ - c.ws.opened_mono_ns() > kLongLivedNs;
  if (long_lived) {
    c.attempt = 0;
  }
  schedule_reconnect(c.reconnect_at_once);
  c.reconnect_at_once = false;
}

void Session::schedule_reconnect(bool at_once) {
  Conn& c = *conn_;
  if (at_once) {
    c.next_connect_ns = now_;
    return;
  }
  // Full jitter: uniform in [0, min(max, min * 2^attempt)].
  const std::uint64_t base = static_cast<std::uint64_t>(config_.reconnect_min_ms) * kMs;
  const std::uint64_t cap = static_cast<std::uint64_t>(config_.reconnect_max_ms) * kMs;
  const std::uint64_t ceiling = std::min(cap, base << std::min<std::uint32_t>(c.attempt, 30));
  ++c.attempt;
  std::uniform_int_distribution<std::uint64_t> jitter(0, ceiling);
  c.next_connect_ns = now_ + std::max<std::uint64_t>(jitter(rng_), 1);
}

bool Session::resync(core::InstrumentId id) {
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    if (instruments_[i].spec.id == id) {
      conn_->sync.resync(static_cast<core::InstrumentId>(i), loop_.clock().now(), EventSink(to_engine_));
      ++counters_.resyncs;
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
  now_ = now;
  Conn& c = *conn_;
  if (stopping_) {
    return;
  }
  if (c.ws.idle()) {
    if (c.next_connect_ns != 0 && now >= c.next_connect_ns) {
      connect();
    }
    return;
  }
  if (!c.ws.connected()) {
    return;
  }
  const std::uint64_t ticks = loop_.clock().now();
  const std::uint64_t stale_ns = static_cast<std::uint64_t>(config_.stale_after_ms) * kMs;
  const std::uint64_t silent = now - std::min(now, c.ws.last_rx_mono_ns());
  if (silent > stale_ns && !c.stale) {
    c.stale = true;
    ++counters_.stale_connections;
    log_sampled(LogLevel::warn, config_.name + ": no frame for " + std::to_string(silent / kMs) +
                                    " ms: connection stale, reconnecting");
    for (const Instrument& in : instruments_) {
      status(in, core::FeedStatus::stale, ticks);
    }
    c.reconnect_at_once = true;
    c.ws.close();
    return;
  }
  const std::uint64_t age_ns = static_cast<std::uint64_t>(config_.max_connection_age_s) * 1'000 * kMs;
  if (now - c.ws.opened_mono_ns() > age_ns) {
    log_sampled(LogLevel::info, config_.name + ": connection age limit: reconnecting");
    c.reconnect_at_once = true;
    c.ws.close();
    return;
  }
  send_resubscribes();
  const std::uint64_t inst_stale_ns = static_cast<std::uint64_t>(config_.instrument_stale_after_ms) * kMs;
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    Instrument& in = instruments_[i];
    if (!in.stale && c.sync.state(static_cast<core::InstrumentId>(i)) == BookState::live &&
        now - std::min(now, in.last_update_ns) > inst_stale_ns) {
      in.stale = true;
      status(in, core::FeedStatus::stale, ticks);
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
  return feed_record(config_.name, connection_state(open ? 1U : 0U, !open && !c.ws.idle() ? 1U : 0U, 1, c.ever_opened),
                     counters_);
}

void Session::log_sampled(LogLevel level, const std::string& text) {
  log_.sampled(level, text, now_);
}

} // namespace qf::feeds::coinbase
