#include "qf/feeds/binance/session.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "qf/feeds/emitters.hpp"

namespace qf::feeds::binance {

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kLongLivedNs = 30'000 * kMs; // a connection this old resets the backoff
constexpr std::uint64_t kSnapshotRetryNs = 1'000 * kMs;
constexpr std::uint64_t kDefaultBackOffNs = 60'000 * kMs; // 429 / 418 without Retry-After

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

} // namespace

struct Session::Instrument {
  SessionInstrument spec;
  std::unique_ptr<BookSync> sync;
  std::size_t conn = 0;
  std::uint64_t epoch = 0;         // bumped on every (re)connect: late snapshots of older epochs are dropped
  bool queued = false;             // in snapshot_queue_
  bool in_flight = false;          // a GET is out
  std::uint64_t retry_at_ns = 0;   // a failed GET retries no earlier than this
  std::uint64_t last_update_ns = 0;
  bool stale = false;
  bool ever_connected = false;
};

struct Session::Conn final : net::WsConnection::Handler {
  Session& session;
  net::WsConnection ws;
  Parser parser;
  std::vector<std::size_t> members; // instrument indices
  std::string path;
  std::uint64_t next_connect_ns = 0;
  std::uint32_t attempt = 0;
  bool ever_opened = false;
  bool reconnect_at_once = false;
  bool stale = false;

  Conn(Session& s, const ParserConfig& pc)
      : session(s), ws(s.loop_, *this, pc.max_message_bytes), parser(pc) {}

  void on_open() override { session.on_open(*this); }
  void on_message(PaddedView frame, std::uint64_t recv_ticks) override { session.on_message(*this, frame, recv_ticks); }
  void on_oversized(std::size_t bytes) override {
    ++session.counters_.oversized;
    ++session.counters_.parse_errors;
    session.log_sampled(LogLevel::error, session.config_.name + ": frame of " + std::to_string(bytes) +
                                             " bytes over max_frame_bytes: resyncing the connection's books");
    for (const std::size_t i : members) {
      (void)session.resync(session.instruments_[i]->spec.id);
    }
  }
  void on_binary() override {
    ++session.counters_.parse_errors;
    session.log_sampled(LogLevel::warn, session.config_.name + ": unexpected binary frame dropped");
  }
  void on_closed(std::string_view reason) override { session.on_closed(*this, reason); }
};

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 net::RestBudget& budget, EventSink sink, LogFn log)
    : config_(config), loop_(loop), budget_(budget), sink_(sink), log_(config.name, std::move(log)),
      rng_(config.seed != 0 ? config.seed : std::random_device{}()) {
  if (instruments.empty()) {
    throw std::invalid_argument(config.name + ": a session needs at least one instrument");
  }
  if (config.streams_per_connection < 3) {
    throw std::invalid_argument(config.name + ": streams_per_connection must be >= 3 (3 streams per symbol)");
  }
  ParserConfig pc;
  pc.market = config.market;
  pc.max_message_bytes = config.max_frame_bytes;
  pc.max_instruments = std::max<std::size_t>(instruments.size(), 1);
  ParserConfig snap = pc;
  snap.max_message_bytes = config.max_snapshot_bytes;
  snapshot_parser_ = std::make_unique<Parser>(snap);
  snapshot_buffer_ = std::make_unique<PaddedBuffer>(config.max_snapshot_bytes);

  const std::size_t per_conn = static_cast<std::size_t>(config.streams_per_connection) / 3;
  BookSyncConfig sc;
  sc.market = config.market;
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    auto in = std::make_unique<Instrument>();
    in->spec = instruments[i];
    in->sync = std::make_unique<BookSync>(in->spec.id, sc);
    in->conn = i / per_conn;
    if (in->conn == conns_.size()) {
      conns_.push_back(std::make_unique<Conn>(*this, pc));
      conns_.back()->path = "/stream?streams=";
    }
    Conn& c = *conns_[in->conn];
    c.members.push_back(i);
    c.parser.add_instrument(in->spec.symbol, in->spec.id, in->spec.price_decimals, in->spec.qty_decimals);
    snapshot_parser_->add_instrument(in->spec.symbol, in->spec.id, in->spec.price_decimals, in->spec.qty_decimals);
    const std::string sym = lower(in->spec.symbol);
    if (c.members.size() > 1) {
      c.path += '/';
    }
    c.path += sym + "@bookTicker/" + sym + "@trade/" + sym + "@" + config.depth_stream;
    instruments_.push_back(std::move(in));
  }
}

Session::~Session() = default;

void Session::start() {
  now_ = ipc::monotonic_ns();
  for (auto& c : conns_) {
    connect(*c);
  }
}

void Session::stop() {
  stopping_ = true;
  for (auto& c : conns_) {
    c->ws.close();
  }
}

void Session::connect(Conn& c) {
  std::string why;
  c.stale = false;
  c.next_connect_ns = 0;
  if (!c.ws.open(net::join(config_.ws, c.path), why)) {
    log_sampled(LogLevel::warn, config_.name + ": " + why);
    if (c.ws.idle() && c.next_connect_ns == 0) {
      schedule_reconnect(c, false);
    }
  }
}

void Session::on_open(Conn& c) {
  if (c.ever_opened) {
    ++counters_.reconnects;
  }
  c.ever_opened = true;
  const std::uint64_t ticks = loop_.clock().now();
  if (config_.recorder != nullptr) {
    (void)config_.recorder->ws_open(net::join(config_.ws, c.path).text());
  }
  log_.always(LogLevel::info, config_.name + ": connected, " + std::to_string(c.members.size()) + " instruments");
  for (const std::size_t i : c.members) {
    Instrument& in = *instruments_[i];
    ++in.epoch;
    in.in_flight = false;
    in.stale = false;
    in.last_update_ns = now_;
    status(in, core::FeedStatus::connected, ticks);
    status(in, core::FeedStatus::subscribed, ticks); // the combined-stream URL subscribes
    if (!in.ever_connected) {
      in.ever_connected = true;
      in.sync->start();
    } else {
      in.sync->resync(ticks, sink_);
      ++counters_.resyncs;
    }
  }
}

void Session::status(const Instrument& in, core::FeedStatus s, std::uint64_t recv_ticks) {
  emit_status(in.spec.id, s, 0, 0, recv_ticks, sink_);
}

void Session::on_message(Conn& c, PaddedView frame, std::uint64_t recv_ticks) {
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
  case MessageKind::depth_update:
  case MessageKind::depth_snapshot: {
    for (const std::size_t i : c.members) {
      if (instruments_[i]->spec.id == m.instrument) {
        Instrument& target = *instruments_[i];
        const SyncOutcome o = target.sync->on_message(m, recv_ticks, sink_);
        if (o == SyncOutcome::gap) {
          ++counters_.gaps;
          ++counters_.resyncs;
        }
        if (o == SyncOutcome::applied || o == SyncOutcome::snapshot_applied) {
          target.last_update_ns = now_;
          if (target.stale && target.sync->state() == BookState::live) {
            target.stale = false;
            status(target, core::FeedStatus::book_live, recv_ticks);
          }
        }
        return;
      }
    }
    ++counters_.drops;
    return;
  }
  case MessageKind::book_ticker:
  case MessageKind::trade:
  case MessageKind::agg_trade:
    (void)emit_events(m, recv_ticks, sink_);
    return;
  case MessageKind::server_shutdown:
    log_sampled(LogLevel::warn, config_.name + ": serverShutdown received: reconnecting now");
    c.reconnect_at_once = true;
    c.ws.close();
    return;
  case MessageKind::error:
    ++counters_.venue_errors;
    log_sampled(LogLevel::error, config_.name + ": venue error " + std::to_string(m.error_code) + ": " +
                                     std::string(m.error_msg));
    return;
  default:
    return; // subscription acks, klines
  }
}

void Session::on_closed(Conn& c, std::string_view reason) {
  const std::uint64_t ticks = loop_.clock().now();
  log_.always(LogLevel::warn, config_.name + ": connection closed: " + std::string(reason));
  for (const std::size_t i : c.members) {
    Instrument& in = *instruments_[i];
    ++in.epoch; // a snapshot in flight belongs to the old connection
    status(in, core::FeedStatus::disconnected, ticks);
  }
  if (stopping_) {
    return;
  }
  const bool long_lived = c.ws.opened_mono_ns() != 0 && now_ - c.ws.opened_mono_ns() > kLongLivedNs;
  if (long_lived) {
    c.attempt = 0;
  }
  schedule_reconnect(c, c.reconnect_at_once);
  c.reconnect_at_once = false;
}

void Session::schedule_reconnect(Conn& c, bool at_once) {
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
  for (auto& p : instruments_) {
    if (p->spec.id == id) {
      p->sync->resync(loop_.clock().now(), sink_);
      ++p->epoch; // an answer to an older request is not this resync's snapshot
      p->in_flight = false;
      ++counters_.resyncs;
      return true;
    }
  }
  return false;
}

void Session::tick(std::uint64_t now) {
  now_ = now;
  const std::uint64_t stale_ns = static_cast<std::uint64_t>(config_.stale_after_ms) * kMs;
  const std::uint64_t age_ns = static_cast<std::uint64_t>(config_.max_connection_age_s) * 1'000 * kMs;
  const std::uint64_t ticks = loop_.clock().now();
  for (auto& cp : conns_) {
    Conn& c = *cp;
    if (stopping_) {
      continue;
    }
    if (c.ws.idle()) {
      if (c.next_connect_ns != 0 && now >= c.next_connect_ns) {
        connect(c);
      }
      continue;
    }
    if (!c.ws.connected()) {
      continue;
    }
    const std::uint64_t silent = now - std::min(now, c.ws.last_rx_mono_ns());
    if (silent > stale_ns && !c.stale) {
      c.stale = true;
      ++counters_.stale_connections;
      log_sampled(LogLevel::warn, config_.name + ": no frame for " + std::to_string(silent / kMs) +
                                      " ms: connection stale, reconnecting");
      for (const std::size_t i : c.members) {
        status(*instruments_[i], core::FeedStatus::stale, ticks);
      }
      c.reconnect_at_once = true;
      c.ws.close();
      continue;
    }
    if (now - c.ws.opened_mono_ns() > age_ns) {
      log_sampled(LogLevel::info, config_.name + ": connection age limit: reconnecting");
      c.reconnect_at_once = true;
      c.ws.close();
      continue;
    }
    const std::uint64_t inst_stale_ns = static_cast<std::uint64_t>(config_.instrument_stale_after_ms) * kMs;
    for (const std::size_t i : c.members) {
      Instrument& in = *instruments_[i];
      if (!in.stale && in.sync->state() == BookState::live && now - in.last_update_ns > inst_stale_ns) {
        in.stale = true;
        status(in, core::FeedStatus::stale, ticks);
      }
    }
  }
  request_snapshots(now);
}

void Session::request_snapshots(std::uint64_t now) {
  // New requests join the queue in instrument order; the queue is served oldest first.
  for (std::size_t i = 0; i < instruments_.size(); ++i) {
    Instrument& in = *instruments_[i];
    const bool connected = conns_[in.conn]->ws.connected();
    if (connected && !in.queued && !in.in_flight && in.sync->take_snapshot_request()) {
      in.queued = true;
      snapshot_queue_.push_back(i);
    }
  }
  const int weight = config_.snapshot_weight > 0
                         ? config_.snapshot_weight
                         : net::snapshot_weight(config_.market == Market::usdm, config_.snapshot_limit);
  while (!snapshot_queue_.empty()) {
    const std::size_t i = snapshot_queue_.front();
    Instrument& in = *instruments_[i];
    if (!conns_[in.conn]->ws.connected()) {
      // Its connection dropped: the reconnect asks again.
      in.queued = false;
      snapshot_queue_.erase(snapshot_queue_.begin());
      continue;
    }
    if (now < in.retry_at_ns || !budget_.try_acquire(weight, now)) {
      return; // in order: nobody overtakes the oldest request
    }
    snapshot_queue_.erase(snapshot_queue_.begin());
    in.queued = false;
    in.in_flight = true;
    ++counters_.snapshots;
    std::string path = config_.market == Market::usdm ? "/fapi/v1/depth?symbol=" : "/api/v3/depth?symbol=";
    path += in.spec.symbol;
    path += "&limit=" + std::to_string(config_.snapshot_limit);
    const std::uint64_t epoch = in.epoch;
    const net::Url url = net::join(config_.rest, path);
    loop_.http_get(url, config_.max_snapshot_bytes, [this, i, epoch, text = url.text()](net::HttpResult&& r) {
      on_snapshot(i, epoch, text, std::move(r));
    });
  }
}

void Session::on_snapshot(std::size_t index, std::uint64_t epoch, const std::string& url, net::HttpResult&& r) {
  budget_.release();
  if (config_.recorder != nullptr && r.status == 200) {
    (void)config_.recorder->rest(ipc::realtime_ns(), url, r.body);
  }
  Instrument& in = *instruments_[index];
  if (stopping_) {
    return;
  }
  const bool current = epoch == in.epoch;
  in.in_flight = false;
  const auto retry = [&](std::uint64_t after_ns) {
    ++counters_.snapshot_failures;
    in.retry_at_ns = now_ + after_ns;
    if (current && !in.queued) {
      in.queued = true;
      snapshot_queue_.push_back(index);
    }
  };
  if (r.status == 429 || r.status == 418) {
    const std::uint64_t wait = r.retry_after_s > 0 ? r.retry_after_s * 1'000 * kMs : kDefaultBackOffNs;
    budget_.back_off_until(now_ + wait);
    log_sampled(LogLevel::warn, config_.name + ": snapshot for " + in.spec.symbol + " refused with " +
                                    std::to_string(r.status) + ": REST backs off " + std::to_string(wait / kMs) +
                                    " ms");
    retry(0);
    return;
  }
  if (r.status != 200 || !r.error.empty()) {
    log_sampled(LogLevel::warn, config_.name + ": snapshot for " + in.spec.symbol + " failed (HTTP " +
                                    std::to_string(r.status) + (r.error.empty() ? "" : ", " + r.error) + ")");
    retry(kSnapshotRetryNs);
    return;
  }
  if (!current) {
    return; // the book it was for is gone; the current epoch asked (or will ask) again
  }
  if (!snapshot_buffer_->assign(r.body)) {
    log_sampled(LogLevel::error, config_.name + ": snapshot over max_snapshot_bytes");
    retry(kSnapshotRetryNs);
    return;
  }
  Message m;
  const ParseResult pr = snapshot_parser_->parse(*snapshot_buffer_, m, in.spec.symbol);
  if (pr != ParseResult::ok || m.kind != MessageKind::depth_snapshot) {
    ++counters_.parse_errors;
    log_sampled(LogLevel::error, config_.name + ": unusable snapshot for " + in.spec.symbol + " (" +
                                     std::string(to_string(pr)) + ")");
    retry(kSnapshotRetryNs);
    return;
  }
  const SyncOutcome o = in.sync->on_snapshot(m, r.recv_ticks, sink_);
  if (o == SyncOutcome::snapshot_applied) {
    in.last_update_ns = now_;
  } else if (o == SyncOutcome::snapshot_stale) {
    ++counters_.resyncs;
  }
}

BookState Session::book_state(std::size_t index) const noexcept {
  return instruments_[index]->sync->state();
}

ipc::FeedRecord Session::record() const {
  std::size_t open = 0;
  std::size_t opening = 0;
  bool ever_opened = false;
  for (const auto& c : conns_) {
    open += c->ws.connected() ? 1U : 0U;
    opening += !c->ws.connected() && !c->ws.idle() ? 1U : 0U;
    ever_opened |= c->ever_opened;
  }
  return feed_record(config_.name, connection_state(open, opening, conns_.size(), ever_opened), counters_);
}

void Session::log_sampled(LogLevel level, const std::string& text) {
  log_.sampled(level, text, now_);
}

} // namespace qf::feeds::binance
