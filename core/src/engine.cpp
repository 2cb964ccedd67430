#include "qf/core/engine.hpp"

#include "engine_instrument.hpp"

#include <cmath>
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

void CoreConfig::use_model(const SignalModel& m) {
  model = std::make_shared<const SignalModel>(m);
  apply_model(*model);
}

void CoreConfig::apply_model(const SignalModel& m) noexcept {
  hmm = m.hmm;
  fusion.weights = m.weights;
  fusion.bias = m.bias;
  fusion.fixed_standardization = true;
  fusion.mean = m.mean;
  fusion.sd = m.sd;
  trees = m.trees;
  fusion.trees = trees.get();
  fusion.trees_weight = m.trees != nullptr ? m.trees_weight : 0.0;
}

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
    : config_(config), publisher_(state, clock), clock_(clock), batch_(config.batch == 0 ? 1 : config.batch),
      trader_(std::make_unique<PaperTrader>(config.risk)) {
  if (instruments.empty() || instruments.size() > ipc::kMaxInstruments) {
    throw std::invalid_argument("engine: between 1 and " + std::to_string(ipc::kMaxInstruments) +
                                " instruments are supported, got " + std::to_string(instruments.size()));
  }
  count_ = instruments.size();
  state.instruments->count = static_cast<std::uint32_t>(count_);
  instruments_.reserve(count_);
  for (std::size_t i = 0; i < count_; ++i) {
    const InstrumentSpec& spec = instruments[i];
    if (spec.price_decimals < 0 || spec.price_decimals > 18 || spec.qty_decimals < 0 || spec.qty_decimals > 18) {
      throw std::invalid_argument("engine: decimals of " + spec.symbol + " must be within 0..18");
    }
    ipc::InstrumentInfo& info = state.instruments->items[i];
    copy_name(info.venue, spec.venue, "venue");
    copy_name(info.symbol, spec.symbol, "symbol");
    info.price_decimals = static_cast<std::int8_t>(spec.price_decimals);
    info.qty_decimals = static_cast<std::int8_t>(spec.qty_decimals);
    info.feed = spec.feed;
    auto in = std::make_unique<Instrument>(config_);
    in->id = static_cast<std::uint16_t>(i);
    in->price_scale = pow10_neg(spec.price_decimals);
    in->qty_scale = pow10_neg(spec.qty_decimals);
    instruments_.push_back(std::move(in));
    publish_health(*instruments_.back());
    publish_drift(*instruments_.back(), 0);
    trader_->set_lot(i, config_.risk.sizing.lot > 0 ? config_.risk.sizing.lot : pow10_neg(spec.qty_decimals));
    publisher_.position(i, *trader_, 0);
  }
  ipc::seal(*state.instruments); // complete: readers check it (layout v10)
  publisher_.portfolio(*trader_, 0);
  publisher_.risk(*trader_, 0);
  if (config_.model != nullptr) {
    model_loaded_unix_ns_ = ipc::realtime_ns();
  }
  publish_model(model_loaded_unix_ns_);
  if (config_.composites.size() > ipc::kMaxComposites) {
    throw std::invalid_argument("engine: at most " + std::to_string(ipc::kMaxComposites) + " composites");
  }
  for (std::size_t c = 0; c < config_.composites.size(); ++c) {
    const CompositeSpec& spec = config_.composites[c];
    std::vector<CompositeBook::MemberDecimals> decimals;
    for (const std::size_t m : spec.members) {
      if (m >= count_) {
        throw std::invalid_argument("engine: composite " + spec.asset + " names instrument " + std::to_string(m) +
                                    " of " + std::to_string(count_));
      }
      decimals.push_back({instruments[m].price_decimals, instruments[m].qty_decimals});
    }
    composites_.push_back(std::make_unique<CompositeBook>(spec, decimals));
    for (std::size_t m = 0; m < spec.members.size(); ++m) {
      Instrument& in = *instruments_[spec.members[m]];
      in.composites[in.n_composites++] = {static_cast<std::uint8_t>(c), static_cast<std::uint8_t>(m)};
    }
    CompositeBook& book = *composites_.back();
    publisher_.composite_info(c, book.info());
    (void)book.refresh(0);
    publisher_.composite(c, book.record());
  }
}

Engine::~Engine() = default;

const OrderBook& Engine::book(std::size_t i) const noexcept { return instruments_[i]->book; }
ipc::BookHealth Engine::health(std::size_t i) const noexcept { return instruments_[i]->health; }
const FeatureValues& Engine::features(std::size_t i) const noexcept { return instruments_[i]->features.values(); }
SignalOutput Engine::signal(std::size_t i) const noexcept { return instruments_[i]->signal; }
const Eigen::Matrix<double, kRegimes, 1>& Engine::regime(std::size_t i) const noexcept {
  return instruments_[i]->regime.posterior();
}
Eigen::Matrix<double, kSignalFeatures, 1> Engine::signal_inputs(std::size_t i) const noexcept {
  return signal_inputs(*instruments_[i]);
}
const Eigen::Matrix<double, kRegimeObs, 1>& Engine::regime_observation(std::size_t i) const noexcept {
  return instruments_[i]->regime_obs;
}
const BarBuilder& Engine::bars_1s(std::size_t i) const noexcept { return instruments_[i]->bars_1s; }
const BarBuilder& Engine::bars_1m(std::size_t i) const noexcept { return instruments_[i]->bars_1m; }
std::uint64_t Engine::crossed_count(std::size_t i) const noexcept { return instruments_[i]->counts.crossed; }

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
    publisher_.latency(e, popped_ticks);
  }
  if (message_end) {
    publisher_.progress(events_processed_, now_unix_ns);
  }
  publisher_.exchange_to_receive(e, now_unix_ns);
}

void Engine::on_book_message_end(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  in.book_dirty = false;
  ++in.counts.book_updates;
  in.counts.last_update_mono_ns = clock_.to_monotonic_ns(clock_.now()); // rdtsc, not a clock_gettime per message
  if (in.book.crossed()) {
    ++in.counts.crossed;
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
  publisher_.quote(in.id, in.quote);
  journal_top(in, ipc::TickSource::book);
  publisher_.book(in.id, in.bids, in.asks, in.update_id);
  if (in.n_composites != 0) {
    update_composites(in, in.bids.data(), nb, in.asks.data(), na, now_unix_ns);
  }
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
  publisher_.quote(in.id, in.quote);
  journal_top(in, ipc::TickSource::ticker);
  if (in.book.depth(Side::bid) == 0 && in.book.depth(Side::ask) == 0) {
    // A BBO-only instrument: its features come from the top of book it has.
    const Level bid{e.bbo.bid_price, e.bbo.bid_qty};
    const Level ask{e.bbo.ask_price, e.bbo.ask_qty};
    in.features.on_book(&bid, 1, &ask, 1, in.price_scale, in.qty_scale, now_unix_ns);
    in.bbo_bid = bid;
    in.bbo_ask = ask;
    if (in.n_composites != 0) {
      update_composites(in, &bid, 1, &ask, 1, now_unix_ns);
    }
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
  if (in.bar_closed) { // after the trade, as `qf-engine features` writes the row training saw
    in.bar_closed = false;
    update_drift(in, now_unix_ns);
  }
  ++in.counts.trades;
  in.quote.last_price = e.level.price;
  in.quote.last_qty = e.level.qty;
  in.quote.last_trade_id = e.seq;
  in.quote.last_trade_unix_ns = t;
  in.quote.last_side = e.side == Side::bid ? 0 : 1;
  publisher_.quote(in.id, in.quote);
  publisher_.trade_tick(in.id, e, t, in.health);
  refresh_signal(in, now_unix_ns);
  publish_features(in, now_unix_ns);
  publish_health(in); // carries the trade counter
  run_risk(in, now_unix_ns);
}

void Engine::on_bar_close(Instrument& in, const Bar& bar, const BarIndicators& ind) noexcept {
  in.indicators = ind;
  in.bar_closed = true;
  if (in.prev_bar_close > 0.0 && bar.close > 0.0) {
    in.regime_obs << std::log(bar.close / in.prev_bar_close) * 1e4, in.features.values().realized_vol * 1e4;
    in.regime.update(in.regime_obs);
  }
  in.prev_bar_close = bar.close;
}

Eigen::Matrix<double, kSignalFeatures, 1> Engine::signal_inputs(const Instrument& in) noexcept {
  const FeatureValues& f = in.features.values();
  Eigen::Matrix<double, kSignalFeatures, 1> x;
  x << f.imbalance, f.trade_flow, f.ret_fast, f.ret_slow, in.indicators.bollinger_z;
  return x;
}

void Engine::refresh_signal(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  in.signal = in.fusion.update(signal_inputs(in), in.regime.posterior(), in.health == ipc::BookHealth::live);
  in.signal.confidence *= in.fade; // 1 unless the model's inputs drifted past the bound
  publisher_.signal(in.id, in.signal, in.regime, now_unix_ns);
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
    ++in.counts.gaps;
    note(ipc::NotableKind::gap, in.id, "gap: the feed lost messages; resync if the book needs one", now_unix_ns);
    break;
  case FeedStatus::resync:
    h = ipc::BookHealth::syncing;
    ++in.counts.resyncs;
    note(ipc::NotableKind::resync, in.id, "resync: the book is rebuilt from a new snapshot", now_unix_ns);
    break;
  case FeedStatus::stale:
    h = ipc::BookHealth::stale;
    note(ipc::NotableKind::stale, in.id, "no update within the stale limit", now_unix_ns);
    break;
  case FeedStatus::disconnected:
    if (in.feed_health != ipc::BookHealth::disconnected) { // once per lost connection, not per retry
      note(ipc::NotableKind::reconnect, in.id, "disconnected: the feed reconnects", now_unix_ns);
    }
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
  publisher_.health_tick(in.id, h, now_unix_ns);
  publish_health(in);
  if (in.n_composites != 0) {
    composites_health(in, now_unix_ns);
  }
}

void Engine::update_composites(Instrument& in, const Level* bids, std::size_t n_bids, const Level* asks,
                               std::size_t n_asks, std::uint64_t now_unix_ns) noexcept {
  for (std::size_t k = 0; k < in.n_composites; ++k) {
    const auto [c, m] = in.composites[k];
    CompositeBook& book = *composites_[c];
    (void)book.set_top(m, bids, n_bids, asks, n_asks, now_unix_ns);
    if (book.refresh(now_unix_ns)) {
      publisher_.composite(c, book.record());
    }
  }
}

void Engine::composites_health(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  for (std::size_t k = 0; k < in.n_composites; ++k) {
    const auto [c, m] = in.composites[k];
    CompositeBook& book = *composites_[c];
    book.set_health(m, in.health);
    if (book.refresh(now_unix_ns)) {
      publisher_.composite(c, book.record());
    }
  }
}

void Engine::refresh_composites(std::uint64_t now_unix_ns) noexcept {
  for (std::size_t c = 0; c < composites_.size(); ++c) {
    if (composites_[c]->refresh(now_unix_ns)) {
      publisher_.composite(c, composites_[c]->record());
    }
  }
}

void Engine::journal_top(Instrument& in, ipc::TickSource source) noexcept {
  const std::array<std::int64_t, 4> top{in.quote.bid_price, in.quote.bid_qty, in.quote.ask_price, in.quote.ask_qty};
  auto& last = in.journaled_top[static_cast<std::size_t>(source)];
  if (top != last) {
    last = top;
    publisher_.bbo_tick(in.id, in.quote, source, in.health);
  }
}

void Engine::publish_features(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  publisher_.features(in.id, in.features.values(), in.indicators, in.bars_1s, in.bars_1m, now_unix_ns);
}

void Engine::publish_health(Instrument& in) noexcept {
  publisher_.health(in.id, in.health, in.counts, in.book.dropped_levels());
}

MarketView Engine::market_view(const Instrument& in) const noexcept {
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
  return m;
}

void Engine::run_risk(Instrument& in, std::uint64_t now_unix_ns) noexcept {
  const std::uint64_t orders_before = trader_->orders();
  const TradeOutcome o = trader_->on_update(in.id, market_view(in), now_unix_ns);
  publish_trade(in, o, orders_before, now_unix_ns);
}

void Engine::publish_trade(const Instrument& in, const TradeOutcome& o, std::uint64_t orders_before,
                           std::uint64_t now_unix_ns) noexcept {
  if (o.tripped != KillCause::none) {
    note_trip(o.tripped, in.id, now_unix_ns);
  }
  if (o.marked || o.filled) {
    publisher_.position(in.id, *trader_, now_unix_ns);
    publisher_.portfolio(*trader_, now_unix_ns);
  }
  if (o.filled) {
    publisher_.fills(trader_->portfolio());
  }
  if (o.tripped != KillCause::none || o.refused != Refusal::none || trader_->orders() != orders_before) {
    publisher_.risk(*trader_, now_unix_ns);
  }
}

void Engine::paper_order(const ipc::ControlCommand& c, std::uint64_t now_unix_ns) noexcept {
  if (c.instrument >= count_) {
    acknowledge(c, ipc::ControlResult::unknown_instrument, "no such instrument", now_unix_ns);
    return;
  }
  const Instrument& in = *instruments_[c.instrument];
  const double qty = static_cast<double>(c.qty) * in.qty_scale;
  const double limit = c.order_type == ipc::OrderType::limit ? static_cast<double>(c.price) * in.price_scale : 0.0;
  if (c.side > 1 || !(qty > 0) || (c.order_type == ipc::OrderType::limit && !(limit > 0))) {
    acknowledge(c, ipc::ControlResult::rejected, "bad order: side, qty or price", now_unix_ns);
    return;
  }
  const std::uint64_t orders_before = trader_->orders();
  TradeOutcome out;
  const OrderOutcome o =
      trader_->place(in.id, market_view(in), c.side == 0 ? Side::bid : Side::ask, qty, limit, now_unix_ns, out);
  publish_trade(in, out, orders_before, now_unix_ns);
  char text[64]; // the acknowledgement keeps 39 characters
  if (o.refused == Refusal::below_lot) {
    std::snprintf(text, sizeof text, "refused: below_lot (lot %.10g)", trader_->lot(in.id, market_view(in)));
  } else if (o.refused != Refusal::none) {
    std::snprintf(text, sizeof text, "refused: %s", to_string(o.refused));
  } else if (o.pending) {
    std::snprintf(text, sizeof text, "accepted: order %llu pending", static_cast<unsigned long long>(o.order_id));
  } else if (o.exec.filled_qty > 0) {
    std::snprintf(text, sizeof text, "filled %.8g @ %.10g", o.exec.filled_qty, o.exec.avg_price);
  } else {
    std::snprintf(text, sizeof text, "accepted: nothing filled (IOC)");
  }
  publisher_.acknowledge_order(c, o.refused == Refusal::none ? ipc::ControlResult::done : ipc::ControlResult::rejected,
                               text, o, now_unix_ns);
}

} // namespace qf::core
