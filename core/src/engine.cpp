#include "qf/core/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace qf::core {

HmmParams<kRegimes, kRegimeObs> CoreConfig::default_hmm() {
  HmmParams<kRegimes, kRegimeObs> p;
  p.transition << 0.97, 0.02, 0.01, //
      0.03, 0.95, 0.02,             //
      0.02, 0.03, 0.95;
  p.initial << 0.6, 0.3, 0.1;
  p.means << 0.0, 0.5, //
      0.0, 1.5,        //
      0.0, 4.0;
  p.variances << 0.25, 0.1, //
      4.0, 0.5,             //
      25.0, 4.0;
  return p;
}

FusionParams<kRegimes, kSignalFeatures> CoreConfig::default_fusion() {
  FusionParams<kRegimes, kSignalFeatures> p;
  //            imbalance  flow   ret_fast  ret_slow  bollinger_z
  p.weights << 0.30, 0.10, -0.20, 0.00, -0.30, // calm: lean on the book, fade stretches
      0.10, 0.30, 0.30, 0.20, 0.10,            // trending: follow flow and returns
      0.05, 0.05, 0.00, 0.00, 0.00;            // volatile: stay small
  p.bias << 0.0, 0.0, 0.0;
  p.alpha = 0.001;
  return p;
}

struct Engine::Instrument {
  explicit Instrument(const CoreConfig& c)
      : book(c.book), features(c.features), bars_1s(1'000'000'000ULL), bars_1m(60'000'000'000ULL), regime(c.hmm),
        fusion(c.fusion) {}

  std::uint16_t id = 0;
  double price_scale = 1.0;
  double qty_scale = 1.0;
  OrderBook book;
  Features features;
  BarBuilder bars_1s;
  BarBuilder bars_1m;
  RegimeFilter<kRegimes, kRegimeObs> regime;
  SignalFusion<kRegimes, kSignalFeatures> fusion;
  SignalOutput signal;
  BarIndicators indicators;
  double prev_bar_close = 0.0;
  ipc::BookHealth health = ipc::BookHealth::syncing;
  ipc::BookHealth feed_health = ipc::BookHealth::syncing; // what the feed says, before crossed checks
  bool in_snapshot = false;
  bool book_dirty = false;
  std::uint64_t update_id = 0;
  std::uint64_t book_updates = 0, trades = 0, gaps = 0, resyncs = 0, crossed = 0;
  std::uint64_t last_update_mono_ns = 0;
  ipc::QuoteRecord quote{};
  std::array<Level, ipc::kBookDepth> bids{};
  std::array<Level, ipc::kBookDepth> asks{};
  ipc::InstrumentState* out = nullptr;
  Level bbo_bid{}, bbo_ask{}; // the book of a BBO-only instrument, for paper fills
};

namespace {

template <std::size_t N>
void copy_name(std::array<char, N>& dst, const std::string& src, const char* what) {
  if (src.empty() || src.size() >= N) {
    throw std::invalid_argument(std::string(what) + " '" + src + "' must be 1.." + std::to_string(N - 1) +
                                " characters");
  }
  dst.fill('\0');
  std::memcpy(dst.data(), src.data(), src.size());
}

double pow10_neg(int decimals) { return std::pow(10.0, -decimals); }

} // namespace

Engine::Engine(const CoreConfig& config, const std::vector<InstrumentSpec>& instruments, StateSections state,
               const ipc::TscClock& clock)
    : config_(config), state_(state), clock_(clock), batch_(config.batch == 0 ? 1 : config.batch),
      trader_(std::make_unique<PaperTrader>(config.risk)) {
  if (state_.instruments == nullptr || state_.records == nullptr || state_.feeds == nullptr ||
      state_.latency == nullptr || state_.events == nullptr) {
    throw std::invalid_argument("engine: every state section is required");
  }
  if (instruments.empty() || instruments.size() > ipc::kMaxInstruments) {
    throw std::invalid_argument("engine: between 1 and " + std::to_string(ipc::kMaxInstruments) +
                                " instruments are supported, got " + std::to_string(instruments.size()));
  }
  count_ = instruments.size();
  state_.instruments->count = static_cast<std::uint32_t>(count_);
  instruments_.reserve(count_);
  for (std::size_t i = 0; i < count_; ++i) {
    const InstrumentSpec& spec = instruments[i];
    if (spec.price_decimals < 0 || spec.price_decimals > 18 || spec.qty_decimals < 0 || spec.qty_decimals > 18) {
      throw std::invalid_argument("engine: decimals of " + spec.symbol + " must be within 0..18");
    }
    ipc::InstrumentInfo& info = state_.instruments->items[i];
    copy_name(info.venue, spec.venue, "venue");
    copy_name(info.symbol, spec.symbol, "symbol");
    info.price_decimals = static_cast<std::int8_t>(spec.price_decimals);
    info.qty_decimals = static_cast<std::int8_t>(spec.qty_decimals);
    info.feed = spec.feed;
    auto in = std::make_unique<Instrument>(config_);
    in->id = static_cast<std::uint16_t>(i);
    in->price_scale = pow10_neg(spec.price_decimals);
    in->qty_scale = pow10_neg(spec.qty_decimals);
    in->out = &state_.records[i];
    instruments_.push_back(std::move(in));
    publish_health(*instruments_.back());
    trader_->set_lot(i, config_.risk.sizing.lot > 0 ? config_.risk.sizing.lot : pow10_neg(spec.qty_decimals));
    publish_position(i, 0);
  }
  publish_portfolio(0);
  publish_risk(0);
}

Engine::~Engine() = default;

const OrderBook& Engine::book(std::size_t i) const noexcept { return instruments_[i]->book; }
ipc::BookHealth Engine::health(std::size_t i) const noexcept { return instruments_[i]->health; }
const FeatureValues& Engine::features(std::size_t i) const noexcept { return instruments_[i]->features.values(); }
SignalOutput Engine::signal(std::size_t i) const noexcept { return instruments_[i]->signal; }
const Eigen::Matrix<double, kRegimes, 1>& Engine::regime(std::size_t i) const noexcept {
  return instruments_[i]->regime.posterior();
}
std::uint64_t Engine::crossed_count(std::size_t i) const noexcept { return instruments_[i]->crossed; }

void Engine::apply(const Event& e, std::uint64_t now_unix_ns, std::uint64_t popped_ticks) noexcept {
  if (e.instrument >= count_) [[unlikely]] {
    return; // feeds only emit registered instruments; defend the array anyway
  }
  Instrument& in = *instruments_[e.instrument];
  switch (e.kind) {
  case EventKind::snapshot_begin:
    in.book.clear();
    in.in_snapshot = true;
    in.book_dirty = true;
    break;
  case EventKind::book_level:
    (void)in.book.set(e.side, e.level.price, e.level.qty); // a dropped far level is counted by the book
    in.book_dirty = true;
    in.update_id = e.seq;
    break;
  case EventKind::snapshot_end:
    in.in_snapshot = false;
    in.update_id = e.seq;
    in.book_dirty = true;
    break;
  case EventKind::bbo:
    on_bbo(in, e, now_unix_ns);
    break;
  case EventKind::trade:
    on_trade(in, e, now_unix_ns);
    break;
  case EventKind::status:
    on_status(in, e, now_unix_ns);
    break;
  }
  const bool message_end = (e.flags & kFlagLastInMessage) != 0 || e.kind == EventKind::snapshot_end;
  if (message_end && in.book_dirty && !in.in_snapshot) {
    on_book_message_end(in, now_unix_ns);
  }
  ++events_processed_;
  if (popped_ticks != 0) {
    record_latency(e, popped_ticks);
  }
  if (message_end) {
    state_.feeds->engine.update([&](ipc::EngineRecord& r) {
      r.events_processed = events_processed_;
      r.updated_unix_ns = now_unix_ns;
    });
  }
  if (e.kind != EventKind::bbo && e.level.exchange_ns != 0 && now_unix_ns > e.level.exchange_ns) {
    state_.latency->stages[static_cast<std::size_t>(ipc::Stage::exchange_to_receive)].record(now_unix_ns -
                                                                                             e.level.exchange_ns);
  }
}

void Engine::on_book_message_end(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  in.book_dirty = false;
  ++in.book_updates;
  in.last_update_mono_ns = clock_.to_monotonic_ns(clock_.now()); // rdtsc, not a clock_gettime per message
  if (in.book.crossed()) {
    ++in.crossed;
    set_health(in, ipc::BookHealth::crossed, now_unix_ns);
  } else if (in.health == ipc::BookHealth::crossed) {
    set_health(in, in.feed_health, now_unix_ns);
  }
  const std::size_t nb = in.book.top(Side::bid, in.bids.data(), in.bids.size());
  const std::size_t na = in.book.top(Side::ask, in.asks.data(), in.asks.size());
  in.features.on_book(in.bids.data(), nb, in.asks.data(), na, in.price_scale, in.qty_scale, now_unix_ns);
  in.quote.bid_price = nb > 0 ? in.bids[0].price : 0;
  in.quote.bid_qty = nb > 0 ? in.bids[0].qty : 0;
  in.quote.ask_price = na > 0 ? in.asks[0].price : 0;
  in.quote.ask_qty = na > 0 ? in.asks[0].qty : 0;
  in.quote.update_id = in.update_id;
  in.quote.updated_unix_ns = now_unix_ns;
  in.out->quote.store(in.quote);
  publish_book(in, now_unix_ns);
  refresh_signal(in, now_unix_ns);
  publish_features(in, now_unix_ns);
  publish_health(in);
  run_risk(in, now_unix_ns);
}

void Engine::on_bbo(Instrument& in, const Event& e, std::uint64_t now_unix_ns) noexcept {
  in.quote.bid_price = e.bbo.bid_price;
  in.quote.bid_qty = e.bbo.bid_qty;
  in.quote.ask_price = e.bbo.ask_price;
  in.quote.ask_qty = e.bbo.ask_qty;
  in.quote.update_id = e.seq;
  in.quote.updated_unix_ns = now_unix_ns;
  in.out->quote.store(in.quote);
  if (in.book.depth(Side::bid) == 0 && in.book.depth(Side::ask) == 0) {
    // A BBO-only instrument: its features come from the top of book it has.
    const Level bid{e.bbo.bid_price, e.bbo.bid_qty};
    const Level ask{e.bbo.ask_price, e.bbo.ask_qty};
    in.features.on_book(&bid, 1, &ask, 1, in.price_scale, in.qty_scale, now_unix_ns);
    in.bbo_bid = bid;
    in.bbo_ask = ask;
    refresh_signal(in, now_unix_ns);
    publish_features(in, now_unix_ns);
    run_risk(in, now_unix_ns);
  }
}

void Engine::on_trade(Instrument& in, const Event& e, std::uint64_t now_unix_ns) noexcept {
  const double price = static_cast<double>(e.level.price) * in.price_scale;
  const double qty = static_cast<double>(e.level.qty) * in.qty_scale;
  const std::uint64_t t = e.level.exchange_ns != 0 ? e.level.exchange_ns : now_unix_ns;
  in.bars_1s.on_trade(t, price, qty, [&](const Bar& bar, const BarIndicators& ind) { on_bar_close(in, bar, ind); });
  in.bars_1m.on_trade(t, price, qty, [](const Bar&, const BarIndicators&) {});
  in.features.on_trade(price, qty, e.side, t);
  ++in.trades;
  in.quote.last_price = e.level.price;
  in.quote.last_qty = e.level.qty;
  in.quote.last_trade_id = e.seq;
  in.quote.last_trade_unix_ns = t;
  in.quote.last_side = e.side == Side::bid ? 0 : 1;
  in.out->quote.store(in.quote);
  refresh_signal(in, now_unix_ns);
  publish_features(in, now_unix_ns);
  publish_health(in); // carries the trade counter
  run_risk(in, now_unix_ns);
}

void Engine::on_bar_close(Instrument& in, const Bar& bar, const BarIndicators& ind) noexcept {
  in.indicators = ind;
  if (in.prev_bar_close > 0.0 && bar.close > 0.0) {
    Eigen::Matrix<double, kRegimeObs, 1> obs;
    obs << std::log(bar.close / in.prev_bar_close) * 1e4, in.features.values().realized_vol * 1e4;
    in.regime.update(obs);
  }
  in.prev_bar_close = bar.close;
}

void Engine::refresh_signal(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  const FeatureValues& f = in.features.values();
  Eigen::Matrix<double, kSignalFeatures, 1> x;
  x << f.imbalance, f.trade_flow, f.ret_fast, f.ret_slow, in.indicators.bollinger_z;
  in.signal = in.fusion.update(x, in.regime.posterior(), in.health == ipc::BookHealth::live);
  ipc::SignalRecord r{};
  r.signal = in.signal.signal;
  r.confidence = in.signal.confidence;
  for (int k = 0; k < kRegimes; ++k) {
    r.regime[static_cast<std::size_t>(k)] = in.regime.posterior()(k);
  }
  r.regimes = kRegimes;
  r.dominant = static_cast<std::uint32_t>(in.regime.dominant());
  r.updated_unix_ns = now_unix_ns;
  in.out->signal.store(r);
}

void Engine::on_status(Instrument& in, const Event& e, std::uint64_t now_unix_ns) noexcept {
  ipc::BookHealth h = in.feed_health;
  switch (e.status) {
  case FeedStatus::connected:
  case FeedStatus::subscribed:
    h = ipc::BookHealth::syncing;
    break;
  case FeedStatus::book_live:
    h = ipc::BookHealth::live;
    break;
  case FeedStatus::gap:
    h = ipc::BookHealth::gap;
    ++in.gaps;
    note(ipc::NotableKind::gap, in.id, "gap: the feed lost messages; resync if the book needs one", now_unix_ns);
    break;
  case FeedStatus::resync:
    h = ipc::BookHealth::syncing;
    ++in.resyncs;
    break;
  case FeedStatus::stale:
    h = ipc::BookHealth::stale;
    note(ipc::NotableKind::stale, in.id, "no update within the stale limit", now_unix_ns);
    break;
  case FeedStatus::disconnected:
    h = ipc::BookHealth::disconnected;
    break;
  }
  in.feed_health = h;
  set_health(in, h, now_unix_ns);
  publish_health(in);
}

void Engine::set_health(Instrument& in, ipc::BookHealth h, std::uint64_t now_unix_ns) noexcept {
  if (h == in.health) {
    return;
  }
  if (h == ipc::BookHealth::crossed) {
    note(ipc::NotableKind::crossed, in.id, "book crossed: signal faded until it uncrosses", now_unix_ns);
  }
  in.health = h;
  publish_health(in);
}

void Engine::publish_book(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  (void)now_unix_ns;
  in.out->book.update([&](ipc::BookRecord& r) {
    r.bid_levels = 0;
    r.ask_levels = 0;
    for (const Level& l : in.bids) {
      if (l.qty == 0 || r.bid_levels == ipc::kBookDepth) {
        break;
      }
      r.bids[r.bid_levels++] = ipc::PriceLevel{l.price, l.qty};
    }
    for (const Level& l : in.asks) {
      if (l.qty == 0 || r.ask_levels == ipc::kBookDepth) {
        break;
      }
      r.asks[r.ask_levels++] = ipc::PriceLevel{l.price, l.qty};
    }
    r.update_id = in.update_id;
  });
}

void Engine::publish_features(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  const FeatureValues& f = in.features.values();
  const auto bar = [](const Bar& b, std::uint32_t closed) {
    return ipc::BarValues{b.start_ns, b.open, b.high, b.low, b.close, b.volume, b.trades, closed};
  };
  ipc::FeatureRecord r{};
  r.mid = f.mid;
  r.microprice = f.microprice;
  r.spread_bps = f.spread_bps;
  r.imbalance = f.imbalance;
  r.trade_flow = f.trade_flow;
  r.ret_fast = f.ret_fast;
  r.ret_slow = f.ret_slow;
  r.realized_vol = f.realized_vol;
  r.vwap = f.vwap;
  r.rsi = in.indicators.rsi;
  r.bollinger_z = in.indicators.bollinger_z;
  r.atr = in.indicators.atr;
  r.bar_1s = bar(in.bars_1s.last_closed(), in.bars_1s.closed_bars() > 0 ? 1U : 0U);
  r.bar_1m = bar(in.bars_1m.last_closed(), in.bars_1m.closed_bars() > 0 ? 1U : 0U);
  r.updated_unix_ns = now_unix_ns;
  in.out->features.store(r);
}

void Engine::publish_health(Instrument& in) noexcept {
  ipc::HealthRecord r{};
  r.health = in.health;
  r.book_updates = in.book_updates;
  r.trades = in.trades;
  r.gaps = in.gaps;
  r.resyncs = in.resyncs;
  r.crossed = in.crossed;
  r.dropped_levels = in.book.dropped_levels();
  r.last_update_mono_ns = in.last_update_mono_ns;
  in.out->health.store(r);
}

void Engine::record_latency(const Event& e, std::uint64_t popped_ticks) noexcept {
  if (e.recv_ticks == 0) {
    return;
  }
  const std::uint64_t published = clock_.now();
  const std::uint64_t pushed = e.recv_ticks + e.push_delta_ticks;
  auto& stages = state_.latency->stages;
  stages[static_cast<std::size_t>(ipc::Stage::parse)].record(clock_.ticks_to_ns(e.push_delta_ticks));
  stages[static_cast<std::size_t>(ipc::Stage::queue)].record(clock_.delta_ns(pushed, popped_ticks));
  stages[static_cast<std::size_t>(ipc::Stage::process)].record(clock_.delta_ns(popped_ticks, published));
  stages[static_cast<std::size_t>(ipc::Stage::receive_to_publish)].record(clock_.delta_ns(e.recv_ticks, published));
}

void Engine::run_risk(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  const FeatureValues& f = in.features.values();
  MarketView m;
  m.health = in.health;
  m.mid = f.mid;
  m.realized_vol = f.realized_vol;
  m.signal = in.signal.signal;
  m.price_scale = in.price_scale;
  m.qty_scale = in.qty_scale;
  if (in.book.depth(Side::bid) != 0 || in.book.depth(Side::ask) != 0) {
    m.bids = in.bids.data();
    m.n_bids = in.bids.size();
    m.asks = in.asks.data();
    m.n_asks = in.asks.size();
  } else {
    m.bids = &in.bbo_bid;
    m.n_bids = 1;
    m.asks = &in.bbo_ask;
    m.n_asks = 1;
  }
  const std::uint64_t orders_before = trader_->orders();
  const TradeOutcome o = trader_->on_update(in.id, m, now_unix_ns);
  if (o.tripped != KillCause::none) {
    note_trip(o.tripped, in.id, now_unix_ns);
  }
  if (o.marked || o.filled) {
    publish_position(in.id, now_unix_ns);
    publish_portfolio(now_unix_ns);
  }
  if (o.filled && state_.control != nullptr) {
    const Portfolio& p = trader_->portfolio();
    const std::uint64_t n = p.fill_count();
    for (std::uint64_t k = n - std::min<std::uint64_t>(n - fills_published_, kRecentFills); k < n; ++k) {
      const Fill& fl = p.recent(static_cast<std::size_t>(n - 1 - k));
      ipc::FillRecord r{};
      r.unix_ns = fl.unix_ns;
      r.order_id = fl.order_id;
      r.instrument = fl.instrument;
      r.side = fl.side == Side::bid ? 0 : 1;
      r.qty = fl.qty;
      r.price = fl.price;
      r.fee = fl.fee;
      r.realized = fl.realized;
      state_.control->append_fill(r);
    }
    fills_published_ = n;
  }
  if (o.tripped != KillCause::none || o.refused != Refusal::none || trader_->orders() != orders_before) {
    publish_risk(now_unix_ns);
  }
}

void Engine::publish_position(std::size_t i, std::uint64_t now_unix_ns) noexcept {
  const Position& p = trader_->portfolio().position(i);
  ipc::PositionRecord r{};
  r.qty = p.qty;
  r.avg_cost = p.avg_cost;
  r.mark = p.mark;
  r.realized = p.realized;
  r.unrealized = p.qty * (p.mark - p.avg_cost);
  r.fees = p.fees;
  r.target = trader_->target(i);
  r.fills = p.fills;
  r.updated_unix_ns = now_unix_ns;
  state_.records[i].position.store(r);
}

void Engine::publish_portfolio(std::uint64_t now_unix_ns) noexcept {
  if (state_.control == nullptr) {
    return;
  }
  const Portfolio& p = trader_->portfolio();
  ipc::PortfolioRecord r{};
  r.initial_capital = p.initial_capital();
  r.cash = p.cash();
  r.equity = p.equity();
  r.peak_equity = p.peak();
  r.drawdown = p.drawdown();
  r.daily_pnl = p.daily_pnl();
  r.day_start_equity = p.day_start_equity();
  r.realized = p.realized();
  r.unrealized = p.unrealized();
  r.fees = p.fees();
  r.gross_exposure = p.gross_notional();
  r.fills = p.fill_count();
  r.orders = trader_->orders();
  r.updated_unix_ns = now_unix_ns;
  state_.control->portfolio.store(r);
}

void Engine::publish_risk(std::uint64_t now_unix_ns) noexcept {
  if (state_.control == nullptr) {
    return;
  }
  const PaperTrader& t = *trader_;
  const RiskLimits& l = t.config().limits;
  ipc::RiskRecord r{};
  r.kill_mode = static_cast<ipc::KillModeCode>(t.kill_switch().mode());
  r.kill_cause = static_cast<ipc::KillCauseCode>(t.kill_switch().cause());
  r.enabled = t.config().enabled ? 1 : 0;
  r.refusal_reasons = static_cast<std::uint8_t>(kRefusalCount);
  r.kill_since_unix_ns = t.kill_switch().since_ns();
  r.kill_trips = t.kill_switch().trips();
  r.max_drawdown = l.max_drawdown;
  r.daily_loss_limit = l.daily_loss_limit;
  r.max_order_notional = l.max_order_notional;
  r.max_position_notional = l.max_position_notional;
  r.max_gross_notional = l.max_gross_notional;
  r.price_band_bps = l.price_band_bps;
  r.orders_per_s_instrument = l.orders_per_s_instrument;
  r.orders_per_min_instrument = l.orders_per_min_instrument;
  r.orders_per_s_total = l.orders_per_s_total;
  r.orders_per_min_total = l.orders_per_min_total;
  r.orders_last_s = t.rate_guard().total_last_second(now_unix_ns);
  r.orders_last_min = t.rate_guard().total_last_minute(now_unix_ns);
  for (std::size_t k = 0; k < kRefusalCount; ++k) {
    r.refusals[k] = t.refusals(static_cast<Refusal>(k));
  }
  r.updated_unix_ns = now_unix_ns;
  state_.control->risk.store(r);
}

void Engine::note_trip(KillCause cause, std::uint16_t instrument, std::uint64_t now_unix_ns) noexcept {
  const Portfolio& p = trader_->portfolio();
  char line[84];
  std::snprintf(line, sizeof line, "kill switch tripped: %s, mode %s, equity %.2f, drawdown %.2f%%", to_string(cause),
                to_string(trader_->kill_switch().mode()), p.equity(), p.drawdown() * 100.0);
  note(ipc::NotableKind::risk, instrument, line, now_unix_ns);
}

bool Engine::control(const ipc::ControlCommand& command, std::uint64_t now_unix_ns) noexcept {
  bool changed = false;
  switch (command.action) {
  case ipc::ControlAction::kill_on:
    changed = trader_->kill(KillMode::halt, now_unix_ns);
    break;
  case ipc::ControlAction::kill_reduce_only:
    changed = trader_->kill(KillMode::reduce_only, now_unix_ns);
    break;
  case ipc::ControlAction::flatten:
    changed = trader_->kill(KillMode::flatten, now_unix_ns);
    break;
  case ipc::ControlAction::kill_off:
  case ipc::ControlAction::resume:
  case ipc::ControlAction::reset:
    changed = trader_->reset();
    break;
  default:
    return false;
  }
  char text[40];
  std::snprintf(text, sizeof text, "%s; kill switch %s", changed ? "changed" : "unchanged",
                to_string(trader_->kill_switch().mode()));
  // The new state first, then the acknowledgement: a reader that sees `done` sees the result.
  publish_risk(now_unix_ns);
  publish_portfolio(now_unix_ns);
  acknowledge(command, ipc::ControlResult::done, text, now_unix_ns);
  return true;
}

RiskSnapshot Engine::risk_snapshot() const noexcept {
  const Portfolio& p = trader_->portfolio();
  const KillSwitch& k = trader_->kill_switch();
  RiskSnapshot s;
  s.count = static_cast<std::uint32_t>(count_);
  for (std::size_t i = 0; i < count_; ++i) {
    s.positions[i] = p.position(i);
  }
  s.cash = p.cash();
  s.peak = p.peak();
  s.day_start_equity = p.day_start_equity();
  s.fees = p.fees();
  s.day = p.day();
  s.fills = p.fill_count();
  s.kill_mode = k.mode();
  s.kill_cause = k.cause();
  s.kill_since_ns = k.since_ns();
  return s;
}

void Engine::restore(const RiskSnapshot& s, std::uint64_t now_unix_ns) noexcept {
  Portfolio& p = trader_->portfolio_mut();
  for (std::size_t i = 0; i < count_ && i < s.count; ++i) {
    p.position_mut(i) = s.positions[i];
  }
  p.restore_cash(s.cash, s.peak, s.day_start_equity, s.day, s.fees, s.fills);
  trader_->kill_switch_mut().restore(s.kill_mode, s.kill_cause, s.kill_since_ns);
  fills_published_ = s.fills;
  for (std::size_t i = 0; i < count_; ++i) {
    publish_position(i, now_unix_ns);
  }
  publish_portfolio(now_unix_ns);
  publish_risk(now_unix_ns);
  if (trader_->kill_switch().tripped()) {
    char line[84];
    std::snprintf(line, sizeof line, "restored: kill switch %s (%s)", to_string(s.kill_mode), to_string(s.kill_cause));
    note(ipc::NotableKind::risk, ipc::kNoInstrument, line, now_unix_ns);
  }
}

void Engine::note(ipc::NotableKind kind, std::uint16_t instrument, const char* text,
                  std::uint64_t now_unix_ns) noexcept {
  ipc::NotableEvent n{};
  n.unix_ns = now_unix_ns;
  n.instrument = instrument;
  n.kind = kind;
  std::snprintf(n.text.data(), n.text.size(), "%s", text);
  state_.events->append(n);
}

void Engine::acknowledge(const ipc::ControlCommand& command, ipc::ControlResult result, const char* text,
                         std::uint64_t now_unix_ns) noexcept {
  if (state_.control != nullptr) {
    ipc::ControlAck a{};
    a.id = command.id;
    a.unix_ns = now_unix_ns;
    a.action = command.action;
    a.result = result;
    a.instrument = command.instrument;
    std::snprintf(a.text.data(), a.text.size(), "%s", text);
    state_.control->append(a);
  }
  char line[84];
  std::snprintf(line, sizeof line, "control %s: %s (%s)", ipc::to_string(command.action), ipc::to_string(result),
                text);
  note(ipc::NotableKind::control, command.instrument, line, now_unix_ns);
}

} // namespace qf::core
