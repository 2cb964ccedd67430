#include "qf/feeds/binance/session.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace qf::feeds::binance {

namespace {

constexpr std::uint64_t kMs = 1'000'000;
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
  Reconnector reconnector;
  std::vector<std::size_t> members; // instrument indices
  std::string path;

  Conn(Session& s, const ParserConfig& pc)
      : session(s), ws(s.loop_, *this, pc.max_message_bytes), parser(pc), reconnector(s.config_, s.core_.rng()) {}

  void on_open() override { session.on_open(*this); }
  void on_message(PaddedView frame, std::uint64_t recv_ticks) override { session.on_message(*this, frame, recv_ticks); }
  void on_oversized(std::size_t bytes) override {
    session.core_.on_oversized(bytes, "resyncing the connection's books");
    for (const std::size_t i : members) {
      (void)session.resync(session.instruments_[i]->spec.id);
    }
  }
  void on_binary() override { session.core_.on_binary(); }
  void on_closed(std::string_view reason) override { session.on_closed(*this, reason); }
};

Session::Session(const SessionConfig& config, std::vector<SessionInstrument> instruments, net::Loop& loop,
                 net::RestBudget& budget, EventSink sink, LogFn log)
    : config_(config), loop_(loop), budget_(budget),
      core_(config.name, sink, std::move(log), config.recorder, config.seed) {
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
  core_.set_now(ipc::monotonic_ns());
  for (auto& c : conns_) {
    connect(*c);
  }
}

void Session::stop() {
  core_.stop();
  for (auto& c : conns_) {
    c->ws.close();
  }
}

void Session::connect(Conn& c) {
  core_.connect(c.reconnector, c.ws, net::join(config_.ws, c.path));
}

void Session::on_open(Conn& c) {
  const std::uint64_t ticks = loop_.clock().now();
  (void)core_.on_open(c.reconnector, net::join(config_.ws, c.path).text());
  core_.log_always(LogLevel::info, config_.name + ": connected, " + std::to_string(c.members.size()) + " instruments");
  for (const std::size_t i : c.members) {
    Instrument& in = *instruments_[i];
    ++in.epoch;
    in.in_flight = false;
    in.stale = false;
    in.last_update_ns = core_.now();
    core_.status(in.spec.id, core::FeedStatus::connected, ticks);
    core_.status(in.spec.id, core::FeedStatus::subscribed, ticks); // the combined-stream URL subscribes
    if (!in.ever_connected) {
      in.ever_connected = true;
      in.sync->start();
    } else {
      in.sync->resync(ticks, core_.sink());
      ++core_.counters().resyncs;
    }
  }
}

void Session::on_message(Conn& c, PaddedView frame, std::uint64_t recv_ticks) {
  Message m;
  if (!core_.parse(c.parser, frame, m)) {
    return;
  }
  switch (m.kind) {
  case MessageKind::depth_update:
  case MessageKind::depth_snapshot: {
    for (const std::size_t i : c.members) {
      if (instruments_[i]->spec.id == m.instrument) {
        Instrument& target = *instruments_[i];
        const SyncOutcome o = target.sync->on_message(m, recv_ticks, core_.sink());
        if (o == SyncOutcome::gap) {
          ++core_.counters().gaps;
          ++core_.counters().resyncs;
        }
        if (o == SyncOutcome::applied || o == SyncOutcome::snapshot_applied) {
          target.last_update_ns = core_.now();
          if (target.stale && target.sync->state() == BookState::live) {
            target.stale = false;
            core_.status(target.spec.id, core::FeedStatus::book_live, recv_ticks);
          }
        }
        return;
      }
    }
    ++core_.counters().drops;
    return;
  }
  case MessageKind::book_ticker:
  case MessageKind::trade:
  case MessageKind::agg_trade:
    (void)emit_events(m, recv_ticks, core_.sink());
    return;
  case MessageKind::server_shutdown:
    core_.log(LogLevel::warn, config_.name + ": serverShutdown received: reconnecting now");
    c.reconnector.reconnect_at_once();
    c.ws.close();
    return;
  case MessageKind::error:
    ++core_.counters().venue_errors;
    core_.log(LogLevel::error, config_.name + ": venue error " + std::to_string(m.error_code) + ": " +
                                   std::string(m.error_msg));
    return;
  default:
    return; // subscription acks, klines
  }
}

void Session::on_closed(Conn& c, std::string_view reason) {
  const std::uint64_t ticks = loop_.clock().now();
  core_.on_closed(c.reconnector, c.ws, reason);
  for (const std::size_t i : c.members) {
    Instrument& in = *instruments_[i];
    ++in.epoch; // a snapshot in flight belongs to the old connection
    core_.status(in.spec.id, core::FeedStatus::disconnected, ticks);
  }
}

bool Session::resync(core::InstrumentId id) {
  for (auto& p : instruments_) {
    if (p->spec.id == id) {
      p->sync->resync(loop_.clock().now(), core_.sink());
      ++p->epoch; // an answer to an older request is not this resync's snapshot
      p->in_flight = false;
      ++core_.counters().resyncs;
      return true;
    }
  }
  return false;
}

void Session::tick(std::uint64_t now) {
  core_.set_now(now);
  const std::uint64_t ticks = loop_.clock().now();
  for (auto& cp : conns_) {
    Conn& c = *cp;
    if (core_.stopping()) {
      continue;
    }
    switch (core_.watch(c.reconnector, c.ws)) {
    case Reconnector::Step::connect:
      connect(c);
      continue;
    case Reconnector::Step::stale:
      for (const std::size_t i : c.members) {
        core_.status(instruments_[i]->spec.id, core::FeedStatus::stale, ticks);
      }
      continue;
    case Reconnector::Step::healthy:
      break;
    default:
      continue;
    }
    for (const std::size_t i : c.members) {
      Instrument& in = *instruments_[i];
      if (!in.stale && in.sync->state() == BookState::live && c.reconnector.instrument_stale(in.last_update_ns, now)) {
        in.stale = true;
        core_.status(in.spec.id, core::FeedStatus::stale, ticks);
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
    ++snapshots_.requests;
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
  if (core_.recorder() != nullptr && r.status == 200) {
    (void)core_.recorder()->rest(ipc::realtime_ns(), url, r.body);
  }
  Instrument& in = *instruments_[index];
  if (core_.stopping()) {
    return;
  }
  const bool current = epoch == in.epoch;
  in.in_flight = false;
  const auto retry = [&](std::uint64_t after_ns) {
    ++snapshots_.failures;
    in.retry_at_ns = core_.now() + after_ns;
    if (current && !in.queued) {
      in.queued = true;
      snapshot_queue_.push_back(index);
    }
  };
  if (r.status == 429 || r.status == 418) {
    const std::uint64_t wait = r.retry_after_s > 0 ? r.retry_after_s * 1'000 * kMs : kDefaultBackOffNs;
    budget_.back_off_until(core_.now() + wait);
    core_.log(LogLevel::warn, config_.name + ": snapshot for " + in.spec.symbol + " refused with " +
                                  std::to_string(r.status) + ": REST backs off " + std::to_string(wait / kMs) + " ms");
    retry(0);
    return;
  }
  if (r.status != 200 || !r.error.empty()) {
    core_.log(LogLevel::warn, config_.name + ": snapshot for " + in.spec.symbol + " failed (HTTP " +
                                  std::to_string(r.status) + (r.error.empty() ? "" : ", " + r.error) + ")");
    retry(kSnapshotRetryNs);
    return;
  }
  if (!current) {
    return; // the book it was for is gone; the current epoch asked (or will ask) again
  }
  if (!snapshot_buffer_->assign(r.body)) {
    core_.log(LogLevel::error, config_.name + ": snapshot over max_snapshot_bytes");
    retry(kSnapshotRetryNs);
    return;
  }
  Message m;
  const ParseResult pr = snapshot_parser_->parse(*snapshot_buffer_, m, in.spec.symbol);
  if (pr != ParseResult::ok || m.kind != MessageKind::depth_snapshot) {
    ++core_.counters().parse_errors;
    core_.log(LogLevel::error, config_.name + ": unusable snapshot for " + in.spec.symbol + " (" +
                                   std::string(to_string(pr)) + ")");
    retry(kSnapshotRetryNs);
    return;
  }
  const SyncOutcome o = in.sync->on_snapshot(m, r.recv_ticks, core_.sink());
  if (o == SyncOutcome::snapshot_applied) {
    in.last_update_ns = core_.now();
  } else if (o == SyncOutcome::snapshot_stale) {
    ++core_.counters().resyncs;
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
    ever_opened |= c->reconnector.ever_opened();
  }
  return feed_record(config_.name, connection_state(open, opening, conns_.size(), ever_opened), core_.counters());
}

} // namespace qf::feeds::binance
