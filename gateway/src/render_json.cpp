#include "render_json.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "qf/ipc/fixed_point.hpp"

namespace qf::gateway {
namespace {

double seconds(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }

// A double that was computed from exact fixed-point values (bar OHLC), back to its decimal.
void decimal_from_double(ipc::JsonWriter& o, double v, int decimals) {
  if (!std::isfinite(v) || decimals < 0 || decimals > ipc::kMaxDecimals) {
    o.null();
    return;
  }
  const double scaled = std::round(v * std::pow(10.0, decimals));
  if (std::fabs(scaled) >= 9.2e18) {
    o.null();
    return;
  }
  o.decimal(static_cast<std::int64_t>(scaled), decimals);
}

void instrument_head(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i) {
  o.key("venue").str(venue_of(i.info)).key("symbol").str(symbol_of(i.info));
}

void keyed_instrument_head(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i) {
  o.key("key").str(instrument_key(i.info));
  instrument_head(o, i);
}

} // namespace

std::string_view venue_of(const ipc::InstrumentInfo& i) noexcept { return ipc::text_of(i.venue); }
std::string_view symbol_of(const ipc::InstrumentInfo& i) noexcept { return ipc::text_of(i.symbol); }
std::string instrument_key(const ipc::InstrumentInfo& i) {
  std::string k(venue_of(i));
  k += ':';
  k += symbol_of(i);
  return k;
}

void render_engine_head(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  o.key("engine").str(ipc::to_string(s.status));
  o.key("mode");
  ipc::has_engine(s.status) ? o.str(ipc::to_string(s.mode)) : o.null();
  o.key("generation").u64(s.generation);
}

void render_health(ipc::JsonWriter& o, const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns) {
  const bool attached = ipc::has_engine(s.status);
  o.begin_object();
  o.key("status").str(ipc::to_string(s.status));
  o.key("message").str(s.message);
  o.key("mode");
  attached ? o.str(ipc::to_string(s.mode)) : o.null();
  o.key("generation").u64(s.generation);
  o.key("engine_pid").i64(s.engine_pid);
  o.key("history").boolean(g.history);
  o.time("engine_start", attached ? s.start_unix_ns : 0);
  o.key("uptime_s");
  if (attached && s.status != ipc::EngineStatus::stopped && now_unix_ns >= s.start_unix_ns) {
    o.num(seconds(now_unix_ns - s.start_unix_ns));
  } else {
    o.null();
  }
  o.key("heartbeat_age_s");
  attached ? o.num(seconds(s.heartbeat_age_ns)) : o.null();
  o.key("heartbeat_age_ns");
  attached ? o.u64(s.heartbeat_age_ns) : o.null();
  o.key("profile"); // the hot thread's profile in force (scripts/run.sh --tuned)
  if (attached) {
    o.begin_object().key("name").str(ipc::profile_name(s.engine)).key("hot_cpu").i64(s.engine.hot_cpu);
    o.key("sched_policy").str(ipc::to_string(s.engine.sched_policy)).key("sched_priority").i64(s.engine.sched_priority);
    o.key("threads").str(ipc::to_string(s.engine.threads)).end_object();
  } else {
    o.null();
  }
  o.key("feeds").begin_array();
  for (const ipc::FeedRecord& f : s.feeds) {
    o.begin_object().key("name").str(ipc::text_of(f.name));
    o.key("state").str(ipc::to_string(f.state)).end_object();
  }
  o.end_array();
  o.key("instruments").begin_array();
  for (const ipc::InstrumentSnapshot& i : s.instruments) {
    o.begin_object();
    instrument_head(o, i);
    o.key("health").str(ipc::to_string(i.health.health));
    o.key("busy").boolean(i.busy).end_object();
  }
  o.end_array();
  o.key("model"); // the learned model in force (layout v9)
  render_model(o, s);
  o.key("gateway").begin_object();
  o.time("now", now_unix_ns);
  o.key("uptime_s").num(seconds(now_unix_ns >= g.start_unix_ns ? now_unix_ns - g.start_unix_ns : 0));
  o.key("ws_clients").u64(g.ws_clients);
  o.end_object();
  o.end_object();
}

void render_model(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  if (!ipc::has_engine(s.status)) {
    o.null();
    return;
  }
  const ipc::ModelRecord& m = s.model;
  const bool loaded = m.loaded != 0;
  o.begin_object();
  o.key("loaded").boolean(loaded);
  o.key("id");
  loaded ? o.str(ipc::text_of(m.id)) : o.null();
  o.key("path");
  loaded ? o.str(ipc::text_of(m.path)) : o.null();
  o.time("loaded_at", loaded ? m.loaded_unix_ns : 0);
  o.key("features").begin_array();
  for (std::size_t f = 0; f < m.features; ++f) {
    o.str(ipc::text_of(m.feature_names[f]));
  }
  o.end_array();
  o.key("trees");
  loaded ? o.boolean(m.trees != 0) : o.null();
  o.key("trees_weight");
  loaded ? o.num(m.trees_weight) : o.null();
  o.key("training");
  if (loaded) {
    o.begin_object().key("rows").u64(m.train_rows);
    o.time("start", m.train_start_ns);
    o.time("end", m.train_end_ns);
    o.end_object();
  } else {
    o.null();
  }
  o.key("validation");
  if (loaded) {
    double ic = 0, hit = 0, ret = 0, bh = 0;
    for (std::size_t k = 0; k < m.folds; ++k) {
      ic += m.fold[k].ic;
      hit += m.fold[k].hit_rate;
      ret += m.fold[k].return_bps;
      bh += m.fold[k].buy_and_hold_bps;
    }
    const double n = m.folds > 0 ? static_cast<double>(m.folds) : 1.0;
    o.begin_object().key("folds").u64(m.validation_folds);
    o.key("ic_mean");
    m.folds > 0 ? o.num(ic / n) : o.null();
    o.key("hit_rate_mean");
    m.folds > 0 ? o.num(hit / n) : o.null();
    o.key("return_bps").num(ret).key("buy_and_hold_bps").num(bh);
    o.key("per_fold").begin_array();
    for (std::size_t k = 0; k < m.folds; ++k) {
      const ipc::ModelFold& f = m.fold[k];
      o.begin_object().key("test_rows").u64(f.test_rows).key("ic").num(f.ic).key("hit_rate").num(f.hit_rate);
      o.key("return_bps").num(f.return_bps).key("sharpe_per_bar").num(f.sharpe_per_bar);
      o.key("max_drawdown_bps").num(f.max_drawdown_bps).key("buy_and_hold_bps").num(f.buy_and_hold_bps).end_object();
    }
    o.end_array().end_object();
  } else {
    o.null();
  }
  o.key("drift_bound").num(m.drift_bound).key("drift_window").u64(m.drift_window);
  o.key("reloads").u64(m.reloads).key("refusals").u64(m.refusals);
  o.key("last_refusal");
  m.last_refusal[0] != '\0' ? o.str(ipc::text_of(m.last_refusal)) : o.null();
  o.time("last_refusal_at", m.last_refusal_unix_ns);
  o.end_object();
}

void render_drift(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  const ipc::ModelRecord& m = s.model;
  o.key("model");
  m.loaded != 0 ? o.str(ipc::text_of(m.id)) : o.null();
  o.key("bound").num(m.drift_bound).key("window").u64(m.drift_window);
  o.key("features").begin_array();
  for (std::size_t f = 0; f < m.features; ++f) {
    o.str(ipc::text_of(m.feature_names[f]));
  }
  o.end_array();
  o.key("drift").begin_array();
  for (const ipc::InstrumentSnapshot& i : s.instruments) {
    const ipc::DriftRecord& d = i.drift;
    const std::size_t n = std::min<std::size_t>(d.features, m.features);
    o.begin_object();
    keyed_instrument_head(o, i);
    o.key("judged").boolean(n > 0 && d.bars >= d.window);
    o.key("drifting").boolean(d.drifting != 0);
    o.key("worst");
    d.worst < n ? o.str(ipc::text_of(m.feature_names[d.worst])) : o.null();
    o.key("fade").num(d.fade).key("bars").u64(d.bars).key("window").u64(d.window).key("alarms").u64(d.alarms);
    o.key("psi").begin_object();
    for (std::size_t f = 0; f < n; ++f) {
      o.key(ipc::text_of(m.feature_names[f])).num(d.psi[f]);
    }
    o.end_object();
    o.key("samples").begin_object();
    for (std::size_t f = 0; f < n; ++f) {
      o.key(ipc::text_of(m.feature_names[f])).u64(d.samples[f]);
    }
    o.end_object();
    o.time("updated", d.updated_unix_ns);
    o.end_object();
  }
  o.end_array();
}

void render_instruments(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  o.begin_array();
  for (std::size_t k = 0; k < s.instruments.size(); ++k) {
    const ipc::InstrumentSnapshot& i = s.instruments[k];
    o.begin_object();
    o.key("id").u64(k);
    keyed_instrument_head(o, i);
    o.key("price_decimals").i64(i.info.price_decimals);
    o.key("qty_decimals").i64(i.info.qty_decimals);
    o.key("feed").u64(i.info.feed);
    o.key("health").str(ipc::to_string(i.health.health));
    o.end_object();
  }
  o.end_array();
}

void render_quote(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i, std::uint64_t now_unix_ns) {
  const ipc::QuoteRecord& q = i.quote;
  const int pd = i.info.price_decimals;
  const int qd = i.info.qty_decimals;
  const bool has_bid = q.bid_qty != 0;
  const bool has_ask = q.ask_qty != 0;
  o.begin_object();
  keyed_instrument_head(o, i);
  o.key("bid");
  has_bid ? o.decimal(q.bid_price, pd) : o.null();
  o.key("bid_qty");
  has_bid ? o.decimal(q.bid_qty, qd) : o.null();
  o.key("ask");
  has_ask ? o.decimal(q.ask_price, pd) : o.null();
  o.key("ask_qty");
  has_ask ? o.decimal(q.ask_qty, qd) : o.null();
  o.key("spread");
  has_bid && has_ask ? o.decimal(q.ask_price - q.bid_price, pd) : o.null();
  // (bid + ask) / 2 is exact with one more decimal.
  o.key("mid");
  has_bid && has_ask && pd < ipc::kMaxDecimals ? o.decimal((q.bid_price + q.ask_price) * 5, pd + 1) : o.null();
  o.key("spread_bps");
  if (has_bid && has_ask && q.bid_price > 0) {
    const double b = static_cast<double>(q.bid_price);
    const double a = static_cast<double>(q.ask_price);
    o.num((a - b) / ((a + b) / 2.0) * 1e4);
  } else {
    o.null();
  }
  const bool has_trade = q.last_trade_unix_ns != 0 || q.last_qty != 0;
  o.key("last_price");
  has_trade ? o.decimal(q.last_price, pd) : o.null();
  o.key("last_qty");
  has_trade ? o.decimal(q.last_qty, qd) : o.null();
  o.key("last_side");
  has_trade ? o.str(q.last_side == 0 ? "buy" : "sell") : o.null();
  o.key("last_trade_id").u64(q.last_trade_id);
  o.time("last_trade", q.last_trade_unix_ns);
  o.key("update_id").u64(q.update_id);
  o.time("updated", q.updated_unix_ns);
  o.key("age_s");
  q.updated_unix_ns != 0 ? o.num(seconds(now_unix_ns > q.updated_unix_ns ? now_unix_ns - q.updated_unix_ns : 0))
                         : o.null();
  o.key("health").str(ipc::to_string(i.health.health));
  o.end_object();
}

void render_book(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i, std::size_t depth) {
  const ipc::BookRecord& b = i.book;
  const int pd = i.info.price_decimals;
  const int qd = i.info.qty_decimals;
  o.begin_object();
  keyed_instrument_head(o, i);
  o.key("depth").u64(depth);
  o.key("update_id").u64(b.update_id);
  o.key("health").str(ipc::to_string(i.health.health));
  const auto side = [&](const char* name, std::uint32_t levels, const std::array<ipc::PriceLevel, ipc::kBookDepth>& l) {
    o.key(name).begin_array();
    const std::size_t n = std::min<std::size_t>({levels, depth, ipc::kBookDepth});
    for (std::size_t k = 0; k < n; ++k) {
      o.begin_array().decimal(l[k].price, pd).decimal(l[k].qty, qd).end_array();
    }
    o.end_array();
  };
  side("bids", b.bid_levels, b.bids);
  side("asks", b.ask_levels, b.asks);
  o.end_object();
}

void render_bar(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i, bool one_minute) {
  const ipc::BarValues& b = one_minute ? i.features.bar_1m : i.features.bar_1s;
  o.begin_object();
  keyed_instrument_head(o, i);
  o.key("interval").str(one_minute ? "1m" : "1s");
  o.key("bar");
  if (b.start_unix_ns == 0) {
    o.null(); // no bar closed yet
  } else {
    o.begin_object();
    o.time("start", b.start_unix_ns);
    o.key("open");
    decimal_from_double(o, b.open, i.info.price_decimals);
    o.key("high");
    decimal_from_double(o, b.high, i.info.price_decimals);
    o.key("low");
    decimal_from_double(o, b.low, i.info.price_decimals);
    o.key("close");
    decimal_from_double(o, b.close, i.info.price_decimals);
    o.key("volume");
    decimal_from_double(o, b.volume, i.info.qty_decimals);
    o.key("trades").u64(b.trades);
    o.key("closed").boolean(b.closed != 0);
    o.end_object();
  }
  if (!one_minute) { // indicators run on the 1 s bars
    o.key("indicators").begin_object();
    o.key("rsi").num(i.features.rsi).key("bollinger_z").num(i.features.bollinger_z);
    o.key("atr").num(i.features.atr).end_object();
  }
  o.end_object();
}

void render_features(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i) {
  const ipc::FeatureRecord& f = i.features;
  o.begin_object();
  keyed_instrument_head(o, i);
  o.key("mid").num(f.mid).key("microprice").num(f.microprice).key("spread_bps").num(f.spread_bps);
  o.key("imbalance").num(f.imbalance).key("trade_flow").num(f.trade_flow);
  o.key("ret_fast").num(f.ret_fast).key("ret_slow").num(f.ret_slow).key("realized_vol").num(f.realized_vol);
  o.key("vwap").num(f.vwap).key("rsi").num(f.rsi).key("bollinger_z").num(f.bollinger_z).key("atr").num(f.atr);
  o.time("updated", f.updated_unix_ns);
  o.end_object();
}

void render_signal(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i) {
  const ipc::SignalRecord& s = i.signal;
  o.begin_object();
  keyed_instrument_head(o, i);
  o.key("signal").num(s.signal).key("confidence").num(s.confidence);
  const std::size_t k = std::min<std::size_t>(s.regimes, ipc::kMaxRegimes);
  o.key("regimes").u64(k);
  o.key("dominant");
  k > 0 ? o.u64(s.dominant) : o.null();
  o.key("posterior").begin_array();
  for (std::size_t r = 0; r < k; ++r) {
    o.num(s.regime[r]);
  }
  o.end_array();
  o.time("updated", s.updated_unix_ns);
  o.key("health").str(ipc::to_string(i.health.health));
  o.end_object();
}

void render_feeds(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  o.begin_object();
  o.key("engine").begin_object();
  o.key("messages_in").u64(s.engine.messages_in).key("events_processed").u64(s.engine.events_processed);
  o.key("core_cpu").i64(s.engine.core_cpu);
  o.time("updated", s.engine.updated_unix_ns);
  o.end_object();
  o.key("feeds").begin_array();
  for (const ipc::FeedRecord& f : s.feeds) {
    o.begin_object().key("name").str(ipc::text_of(f.name));
    o.key("state").str(ipc::to_string(f.state));
    o.key("messages").u64(f.messages).key("bytes").u64(f.bytes).key("parse_errors").u64(f.parse_errors);
    o.key("reconnects").u64(f.reconnects).key("gaps").u64(f.gaps).key("resyncs").u64(f.resyncs);
    o.key("drops").u64(f.drops).key("ring_high_water").u64(f.ring_high_water);
    o.key("record_dropped").u64(f.record_dropped).key("record_write_errors").u64(f.record_write_errors);
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

void render_latency(ipc::JsonWriter& o, const ipc::StateSnapshot& s, LatencyDetail detail) {
  o.begin_array();
  for (std::size_t st = 0; st < ipc::kStageCount; ++st) {
    const ipc::HistogramSnapshot& h = *s.latency[st];
    o.begin_object();
    o.key("stage").str(ipc::to_string(static_cast<ipc::Stage>(st)));
    o.key("count").u64(h.count).key("sum_ns").u64(h.sum).key("min_ns").u64(h.min);
    o.key("mean_ns").num(h.mean());
    for (const auto& rq : ipc::kReportQuantiles) {
      o.key(fmt::format("{}_ns", rq.name)).u64(ipc::report_value(h, rq));
    }
    o.key("overflow").u64(h.overflow);
    if (detail == LatencyDetail::full) {
      // Non-empty buckets: [lowest value, highest value, count], ascending.
      o.key("buckets").begin_array();
      for (std::size_t b = 0; b < h.buckets.size(); ++b) {
        if (h.buckets[b] != 0) {
          o.begin_array().u64(ipc::HistogramBucketing::lower_bound(b)).u64(ipc::HistogramBucketing::upper_bound(b));
          o.u64(h.buckets[b]).end_array();
        }
      }
      o.end_array();
    } else if (detail == LatencyDetail::coarse) {
      // Counts between consecutive kLatencyBoundsNs (a bucket goes where its upper edge falls).
      o.key("bounds_ns").begin_array();
      for (const std::uint64_t b : kLatencyBoundsNs) {
        o.u64(b);
      }
      o.end_array();
      std::array<std::uint64_t, std::size(kLatencyBoundsNs) + 1> bins{};
      std::size_t bin = 0;
      for (std::size_t b = 0; b < h.buckets.size(); ++b) {
        if (h.buckets[b] == 0) {
          continue;
        }
        const std::uint64_t up = ipc::HistogramBucketing::upper_bound(b);
        while (bin < std::size(kLatencyBoundsNs) && up > kLatencyBoundsNs[bin]) {
          ++bin;
        }
        bins[bin] += h.buckets[b];
      }
      o.key("counts").begin_array();
      for (const std::uint64_t c : bins) {
        o.u64(c);
      }
      o.end_array();
    }
    o.end_object();
  }
  o.end_array();
}

void render_events(ipc::JsonWriter& o, const ipc::StateSnapshot& s, std::size_t limit) {
  o.begin_array();
  std::size_t n = 0;
  for (auto it = s.events.rbegin(); it != s.events.rend() && n < limit; ++it, ++n) { // newest first
    const ipc::NotableEvent& e = *it;
    o.begin_object();
    o.time("time", e.unix_ns);
    o.key("kind").str(ipc::to_string(e.kind));
    o.key("instrument");
    if (e.instrument < s.instruments.size()) {
      o.str(instrument_key(s.instruments[e.instrument].info));
    } else {
      o.null();
    }
    o.key("text").str(ipc::text_of(e.text));
    o.end_object();
  }
  o.end_array();
}

bool engine_attached(const ipc::StateSnapshot& s) noexcept {
  return ipc::has_engine(s.status);
}

void render_portfolio(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  if (!engine_attached(s)) {
    o.null();
    return;
  }
  const ipc::PortfolioRecord& p = s.portfolio;
  o.begin_object();
  o.key("initial_capital").exact(p.initial_capital).key("cash").exact(p.cash).key("equity").exact(p.equity);
  o.key("peak_equity").exact(p.peak_equity).key("drawdown").exact(p.drawdown);
  o.key("daily_pnl").exact(p.daily_pnl).key("day_start_equity").exact(p.day_start_equity);
  o.key("realized").exact(p.realized).key("unrealized").exact(p.unrealized).key("fees").exact(p.fees);
  o.key("total_pnl").exact(p.equity - p.initial_capital);
  o.key("gross_exposure").exact(p.gross_exposure);
  o.key("fills").u64(p.fills).key("orders").u64(p.orders);
  o.time("updated", p.updated_unix_ns);
  o.end_object();
}

void render_positions(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  o.begin_array();
  for (const ipc::InstrumentSnapshot& i : s.instruments) {
    const ipc::PositionRecord& p = i.position;
    o.begin_object();
    keyed_instrument_head(o, i);
    o.key("qty").exact(p.qty).key("side").str(p.qty > 0 ? "long" : p.qty < 0 ? "short" : "flat");
    o.key("avg_cost").exact(p.avg_cost).key("mark").exact(p.mark).key("notional").exact(p.qty * p.mark);
    o.key("realized").exact(p.realized).key("unrealized").exact(p.unrealized).key("fees").exact(p.fees);
    o.key("target").exact(p.target).key("fills").u64(p.fills);
    o.time("updated", p.updated_unix_ns);
    o.end_object();
  }
  o.end_array();
}

void render_fills(ipc::JsonWriter& o, const ipc::StateSnapshot& s, std::size_t limit) {
  o.begin_array();
  std::size_t n = 0;
  for (auto it = s.fills.rbegin(); it != s.fills.rend() && n < limit; ++it, ++n) {
    const ipc::FillRecord& f = *it;
    o.begin_object();
    o.time("time", f.unix_ns);
    o.key("order_id").u64(f.order_id);
    o.key("instrument");
    if (f.instrument < s.instruments.size()) {
      o.str(instrument_key(s.instruments[f.instrument].info));
    } else {
      o.null();
    }
    o.key("side").str(f.side == 0 ? "buy" : "sell");
    o.key("qty").exact(f.qty).key("price").exact(f.price).key("notional").exact(f.qty * f.price);
    o.key("fee").exact(f.fee).key("realized").exact(f.realized);
    o.end_object();
  }
  o.end_array();
}

void render_risk(ipc::JsonWriter& o, const ipc::StateSnapshot& s) {
  if (!engine_attached(s)) {
    o.null();
    return;
  }
  const ipc::RiskRecord& r = s.risk;
  const ipc::PortfolioRecord& p = s.portfolio;
  o.begin_object();
  o.key("enabled").boolean(r.enabled != 0);
  o.key("kill_switch").begin_object();
  o.key("tripped").boolean(r.kill_mode != ipc::KillModeCode::none);
  o.key("mode").str(ipc::to_string(r.kill_mode));
  o.key("cause").str(ipc::to_string(r.kill_cause));
  o.time("since", r.kill_since_unix_ns);
  o.key("trips").u64(r.kill_trips);
  o.end_object();
  o.key("limits").begin_object();
  o.key("max_drawdown").exact(r.max_drawdown).key("daily_loss_limit").exact(r.daily_loss_limit);
  o.key("max_order_notional").exact(r.max_order_notional).key("max_position_notional").exact(r.max_position_notional);
  o.key("max_gross_notional").exact(r.max_gross_notional).key("price_band_bps").exact(r.price_band_bps);
  o.key("orders_per_s_instrument").u64(r.orders_per_s_instrument);
  o.key("orders_per_min_instrument").u64(r.orders_per_min_instrument);
  o.key("orders_per_s_total").u64(r.orders_per_s_total).key("orders_per_min_total").u64(r.orders_per_min_total);
  o.end_object();
  o.key("usage").begin_object();
  o.key("drawdown").exact(p.drawdown);
  o.key("daily_loss").exact(p.daily_pnl < 0 ? -p.daily_pnl : 0.0);
  o.key("gross_exposure").exact(p.gross_exposure);
  o.key("orders_last_s").u64(r.orders_last_s).key("orders_last_min").u64(r.orders_last_min);
  o.end_object();
  o.key("refusals").begin_object();
  const std::size_t n = std::min<std::size_t>(r.refusal_reasons, ipc::kMaxRefusalReasons);
  for (std::size_t k = 1; k < n; ++k) { // 0 is "none"
    if (ipc::kRefusalNames[k][0] != '\0') {
      o.key(ipc::kRefusalNames[k]).u64(r.refusals[k]);
    }
  }
  o.end_object();
  o.time("updated", r.updated_unix_ns);
  o.end_object();
}

// ---- composite books (issue 13 item 4) ----
void render_composite(ipc::JsonWriter& o, const ipc::StateSnapshot& s, const ipc::CompositeSnapshot& c,
                      std::size_t depth) {
  const ipc::CompositeRecord& r = c.record;
  const int pd = c.info.price_decimals;
  const int qd = c.info.qty_decimals;
  const std::size_t members = std::min<std::size_t>(c.info.members, ipc::kMaxCompositeMembers);
  // A member's instrument (nullptr when a damaged segment names none).
  const auto member = [&](std::size_t m) -> const ipc::InstrumentSnapshot* {
    const std::size_t i = c.info.instrument[m];
    return m < members && i < s.instruments.size() ? &s.instruments[i] : nullptr;
  };
  const auto member_head = [&](std::size_t m) {
    const ipc::InstrumentSnapshot* i = member(m);
    if (i == nullptr) {
      o.key("key").null().key("venue").null().key("symbol").null();
    } else {
      keyed_instrument_head(o, *i);
    }
  };
  const auto best = [&](const char* name, std::uint32_t levels, const std::array<ipc::CompositeLevel, ipc::kBookDepth>& l,
                        std::uint8_t m) {
    o.key(name);
    if (levels == 0) {
      o.null();
      return;
    }
    o.begin_object().key("price").decimal(l[0].price, pd).key("qty").decimal(l[0].qty, qd);
    member_head(m); // the member with the largest share at the best price
    o.end_object();
  };
  o.begin_object();
  o.key("asset").str(ipc::text_of(c.info.asset));
  o.key("price_decimals").i64(pd).key("qty_decimals").i64(qd);
  o.key("stale_after_ms").u64(c.info.stale_after_ms);
  o.key("busy").boolean(c.busy);
  best("best_bid", r.bid_levels, r.bids, r.bid_member);
  best("best_ask", r.ask_levels, r.asks, r.ask_member);
  const bool both = r.bid_levels > 0 && r.ask_levels > 0;
  o.key("spread");
  both ? o.decimal(r.asks[0].price - r.bids[0].price, pd) : o.null();
  o.key("crossed").boolean(r.crossed != 0);
  o.key("included").u64(r.included).key("members_total").u64(members);
  o.key("updates").u64(r.updates);
  o.time("updated", r.updated_unix_ns);
  o.key("depth").u64(depth);
  const auto side = [&](const char* name, std::uint32_t levels, const std::array<ipc::CompositeLevel, ipc::kBookDepth>& l) {
    o.key(name).begin_array();
    const std::size_t n = std::min<std::size_t>({levels, depth, ipc::kBookDepth});
    for (std::size_t k = 0; k < n; ++k) {
      o.begin_object().key("price").decimal(l[k].price, pd).key("qty").decimal(l[k].qty, qd);
      o.key("members").begin_object(); // each member's share, by instrument key
      for (std::size_t m = 0; m < members; ++m) {
        if (l[k].member_qty[m] != 0 && member(m) != nullptr) {
          o.key(instrument_key(member(m)->info)).decimal(l[k].member_qty[m], qd);
        }
      }
      o.end_object().end_object();
    }
    o.end_array();
  };
  side("bids", r.bid_levels, r.bids);
  side("asks", r.ask_levels, r.asks);
  o.key("members").begin_array();
  for (std::size_t m = 0; m < members; ++m) {
    const ipc::CompositeMemberState& ms = r.member[m];
    o.begin_object();
    member_head(m);
    o.key("health").str(ipc::to_string(ms.health));
    o.key("included").boolean(ms.excluded == ipc::CompositeExclusion::none);
    o.key("excluded");
    ms.excluded == ipc::CompositeExclusion::none ? o.null() : o.str(ipc::to_string(ms.excluded));
    o.key("bid_price");
    ms.bid_qty != 0 ? o.decimal(ms.bid_price, pd) : o.null();
    o.key("bid_qty");
    ms.bid_qty != 0 ? o.decimal(ms.bid_qty, qd) : o.null();
    o.key("ask_price");
    ms.ask_qty != 0 ? o.decimal(ms.ask_price, pd) : o.null();
    o.key("ask_qty");
    ms.ask_qty != 0 ? o.decimal(ms.ask_qty, qd) : o.null();
    o.time("updated", ms.updated_unix_ns);
    o.end_object();
  }
  o.end_array();
  o.end_object();
}
// ---- end composite books ----

} // namespace qf::gateway
