#include "render.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qf/ipc/fixed_point.hpp"

namespace qf::gateway {
namespace {

constexpr std::array<double, 6> kQuantiles = {0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};
constexpr std::array<const char*, 6> kQuantileKeys = {"p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns"};

std::string_view c_text(const char* p, std::size_t cap) noexcept {
  return {p, strnlen(p, cap)};
}

const char* connection_text(ipc::ConnectionState c) noexcept {
  switch (c) {
  case ipc::ConnectionState::idle: return "idle";
  case ipc::ConnectionState::connecting: return "connecting";
  case ipc::ConnectionState::connected: return "connected";
  case ipc::ConnectionState::disconnected: return "disconnected";
  }
  return "unknown";
}

const char* kind_text(ipc::NotableKind k) noexcept {
  switch (k) {
  case ipc::NotableKind::info: return "info";
  case ipc::NotableKind::gap: return "gap";
  case ipc::NotableKind::resync: return "resync";
  case ipc::NotableKind::reconnect: return "reconnect";
  case ipc::NotableKind::stale: return "stale";
  case ipc::NotableKind::crossed: return "crossed";
  case ipc::NotableKind::control: return "control";
  case ipc::NotableKind::risk: return "risk";
  }
  return "unknown";
}

double seconds(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }

// A double that was computed from exact fixed-point values (bar OHLC), back to its decimal.
void decimal_from_double(JsonOut& o, double v, int decimals) {
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

void instrument_head(JsonOut& o, const ipc::InstrumentSnapshot& i) {
  o.key("venue").str(venue_of(i.info)).key("symbol").str(symbol_of(i.info));
}

// Prometheus label value escaping: backslash, quote, newline.
std::string label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prom_number(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v); // shortest text that reads back as v
  if (std::strtod(buf, nullptr) != v) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

// Nanoseconds as exact decimal seconds without trailing zeros: 2500 -> "0.0000025".
std::string ns_as_seconds(std::uint64_t ns) {
  std::string s = ipc::to_decimal_string(static_cast<std::int64_t>(ns), 9);
  while (s.back() == '0') {
    s.pop_back();
  }
  if (s.back() == '.') {
    s.pop_back();
  }
  return s;
}

std::string prom_number(std::uint64_t v) {
  return std::to_string(v);
}

class Prom {
public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  template <typename V>
  void sample(std::string_view name, std::string_view labels, V value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += prom_number(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

std::string instrument_labels(const ipc::InstrumentSnapshot& i) {
  std::string l = "venue=\"";
  l += label(venue_of(i.info));
  l += "\",symbol=\"";
  l += label(symbol_of(i.info));
  l += '"';
  return l;
}

std::string feed_labels(const ipc::FeedRecord& f) {
  std::string l = "feed=\"";
  l += label(c_text(f.name.data(), f.name.size()));
  l += '"';
  return l;
}

} // namespace

std::string_view venue_of(const ipc::InstrumentInfo& i) noexcept {
  return c_text(i.venue.data(), i.venue.size());
}
std::string_view symbol_of(const ipc::InstrumentInfo& i) noexcept {
  return c_text(i.symbol.data(), i.symbol.size());
}
std::string instrument_key(const ipc::InstrumentInfo& i) {
  std::string k(venue_of(i));
  k += ':';
  k += symbol_of(i);
  return k;
}

const char* status_text(ipc::EngineStatus s) noexcept {
  switch (s) {
  case ipc::EngineStatus::awaiting: return "awaiting engine";
  case ipc::EngineStatus::running: return "running";
  case ipc::EngineStatus::stalled: return "stalled";
  case ipc::EngineStatus::stopped: return "stopped";
  case ipc::EngineStatus::version_mismatch: return "version mismatch";
  }
  return "unknown";
}

void render_health(JsonOut& o, const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns) {
  const bool attached = s.status != ipc::EngineStatus::awaiting && s.status != ipc::EngineStatus::version_mismatch;
  o.begin_object();
  o.key("status").str(status_text(s.status));
  o.key("message").str(s.message);
  o.key("mode");
  attached ? o.str(ipc::to_string(s.mode)) : o.null();
  o.key("generation").u64(s.generation);
  o.key("engine_pid").i64(s.engine_pid);
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
  o.key("feeds").begin_array();
  for (const ipc::FeedRecord& f : s.feeds) {
    o.begin_object().key("name").str(c_text(f.name.data(), f.name.size()));
    o.key("state").str(connection_text(f.state)).end_object();
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
  o.key("gateway").begin_object();
  o.time("now", now_unix_ns);
  o.key("uptime_s").num(seconds(now_unix_ns >= g.start_unix_ns ? now_unix_ns - g.start_unix_ns : 0));
  o.key("ws_clients").u64(g.ws_clients);
  o.end_object();
  o.end_object();
}

void render_instruments(JsonOut& o, const ipc::StateSnapshot& s) {
  o.begin_array();
  for (std::size_t k = 0; k < s.instruments.size(); ++k) {
    const ipc::InstrumentSnapshot& i = s.instruments[k];
    o.begin_object();
    o.key("id").u64(k);
    o.key("key").str(instrument_key(i.info));
    instrument_head(o, i);
    o.key("price_decimals").i64(i.info.price_decimals);
    o.key("qty_decimals").i64(i.info.qty_decimals);
    o.key("feed").u64(i.info.feed);
    o.key("health").str(ipc::to_string(i.health.health));
    o.end_object();
  }
  o.end_array();
}

void render_quote(JsonOut& o, const ipc::InstrumentSnapshot& i, std::uint64_t now_unix_ns) {
  const ipc::QuoteRecord& q = i.quote;
  const int pd = i.info.price_decimals;
  const int qd = i.info.qty_decimals;
  const bool has_bid = q.bid_qty != 0;
  const bool has_ask = q.ask_qty != 0;
  o.begin_object();
  o.key("key").str(instrument_key(i.info));
  instrument_head(o, i);
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

void render_book(JsonOut& o, const ipc::InstrumentSnapshot& i, std::size_t depth) {
  const ipc::BookRecord& b = i.book;
  const int pd = i.info.price_decimals;
  const int qd = i.info.qty_decimals;
  o.begin_object();
  o.key("key").str(instrument_key(i.info));
  instrument_head(o, i);
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

void render_bar(JsonOut& o, const ipc::InstrumentSnapshot& i, bool one_minute) {
  const ipc::BarValues& b = one_minute ? i.features.bar_1m : i.features.bar_1s;
  o.begin_object();
  o.key("key").str(instrument_key(i.info));
  instrument_head(o, i);
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

void render_features(JsonOut& o, const ipc::InstrumentSnapshot& i) {
  const ipc::FeatureRecord& f = i.features;
  o.begin_object();
  o.key("key").str(instrument_key(i.info));
  instrument_head(o, i);
  o.key("mid").num(f.mid).key("microprice").num(f.microprice).key("spread_bps").num(f.spread_bps);
  o.key("imbalance").num(f.imbalance).key("trade_flow").num(f.trade_flow);
  o.key("ret_fast").num(f.ret_fast).key("ret_slow").num(f.ret_slow).key("realized_vol").num(f.realized_vol);
  o.key("vwap").num(f.vwap).key("rsi").num(f.rsi).key("bollinger_z").num(f.bollinger_z).key("atr").num(f.atr);
  o.time("updated", f.updated_unix_ns);
  o.end_object();
}

void render_signal(JsonOut& o, const ipc::InstrumentSnapshot& i) {
  const ipc::SignalRecord& s = i.signal;
  o.begin_object();
  o.key("key").str(instrument_key(i.info));
  instrument_head(o, i);
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

void render_feeds(JsonOut& o, const ipc::StateSnapshot& s) {
  o.begin_object();
  o.key("engine").begin_object();
  o.key("messages_in").u64(s.engine.messages_in).key("events_processed").u64(s.engine.events_processed);
  o.key("core_cpu").i64(s.engine.core_cpu);
  o.time("updated", s.engine.updated_unix_ns);
  o.end_object();
  o.key("feeds").begin_array();
  for (const ipc::FeedRecord& f : s.feeds) {
    o.begin_object().key("name").str(c_text(f.name.data(), f.name.size()));
    o.key("state").str(connection_text(f.state));
    o.key("messages").u64(f.messages).key("bytes").u64(f.bytes).key("parse_errors").u64(f.parse_errors);
    o.key("reconnects").u64(f.reconnects).key("gaps").u64(f.gaps).key("resyncs").u64(f.resyncs);
    o.key("drops").u64(f.drops).key("ring_high_water").u64(f.ring_high_water);
    o.end_object();
  }
  o.end_array();
  o.end_object();
}

void render_latency(JsonOut& o, const ipc::StateSnapshot& s, LatencyDetail detail) {
  o.begin_array();
  for (std::size_t st = 0; st < ipc::kStageCount; ++st) {
    const ipc::HistogramSnapshot& h = *s.latency[st];
    o.begin_object();
    o.key("stage").str(ipc::to_string(static_cast<ipc::Stage>(st)));
    o.key("count").u64(h.count).key("sum_ns").u64(h.sum).key("min_ns").u64(h.min);
    o.key("mean_ns").num(h.mean());
    for (std::size_t q = 0; q < kQuantiles.size(); ++q) {
      o.key(kQuantileKeys[q]).u64(h.percentile(kQuantiles[q]));
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

void render_events(JsonOut& o, const ipc::StateSnapshot& s, std::size_t limit) {
  o.begin_array();
  std::size_t n = 0;
  for (auto it = s.events.rbegin(); it != s.events.rend() && n < limit; ++it, ++n) { // newest first
    const ipc::NotableEvent& e = *it;
    o.begin_object();
    o.time("time", e.unix_ns);
    o.key("kind").str(kind_text(e.kind));
    o.key("instrument");
    if (e.instrument < s.instruments.size()) {
      o.str(instrument_key(s.instruments[e.instrument].info));
    } else {
      o.null();
    }
    o.key("text").str(c_text(e.text.data(), e.text.size()));
    o.end_object();
  }
  o.end_array();
}

bool engine_attached(const ipc::StateSnapshot& s) noexcept {
  return s.status != ipc::EngineStatus::awaiting && s.status != ipc::EngineStatus::version_mismatch;
}

void render_portfolio(JsonOut& o, const ipc::StateSnapshot& s) {
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

void render_positions(JsonOut& o, const ipc::StateSnapshot& s) {
  o.begin_array();
  for (const ipc::InstrumentSnapshot& i : s.instruments) {
    const ipc::PositionRecord& p = i.position;
    o.begin_object();
    o.key("key").str(instrument_key(i.info));
    instrument_head(o, i);
    o.key("qty").exact(p.qty).key("side").str(p.qty > 0 ? "long" : p.qty < 0 ? "short" : "flat");
    o.key("avg_cost").exact(p.avg_cost).key("mark").exact(p.mark).key("notional").exact(p.qty * p.mark);
    o.key("realized").exact(p.realized).key("unrealized").exact(p.unrealized).key("fees").exact(p.fees);
    o.key("target").exact(p.target).key("fills").u64(p.fills);
    o.time("updated", p.updated_unix_ns);
    o.end_object();
  }
  o.end_array();
}

void render_fills(JsonOut& o, const ipc::StateSnapshot& s, std::size_t limit) {
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

void render_risk(JsonOut& o, const ipc::StateSnapshot& s) {
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

std::string render_metrics(const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns) {
  Prom p;
  const bool attached = s.status != ipc::EngineStatus::awaiting && s.status != ipc::EngineStatus::version_mismatch;
  p.family("qf_engine_status", "gauge", "Engine status as seen by the gateway (1 for the current status).");
  for (const auto st : {ipc::EngineStatus::awaiting, ipc::EngineStatus::running, ipc::EngineStatus::stalled,
                        ipc::EngineStatus::stopped, ipc::EngineStatus::version_mismatch}) {
    std::string l = "status=\"";
    l += ipc::to_string(st);
    l += '"';
    p.sample("qf_engine_status", l, std::uint64_t{s.status == st ? 1U : 0U});
  }
  p.family("qf_engine_up", "gauge", "1 when the engine is running and heart-beating.");
  p.sample("qf_engine_up", "", std::uint64_t{s.status == ipc::EngineStatus::running ? 1U : 0U});
  if (attached) {
    p.family("qf_engine_info", "gauge", "Engine identity: mode (LIVE/SIM/REPLAY), pid and generation.");
    std::string l = "mode=\"";
    l += ipc::to_string(s.mode);
    l += "\",pid=\"";
    l += std::to_string(s.engine_pid);
    l += "\",generation=\"";
    l += std::to_string(s.generation);
    l += '"';
    p.sample("qf_engine_info", l, std::uint64_t{1});
    p.family("qf_engine_heartbeat_age_seconds", "gauge", "Age of the engine's last heartbeat.");
    p.sample("qf_engine_heartbeat_age_seconds", "", seconds(s.heartbeat_age_ns));
    p.family("qf_engine_start_time_seconds", "gauge", "Engine start time, Unix seconds.");
    p.sample("qf_engine_start_time_seconds", "", seconds(s.start_unix_ns));
    p.family("qf_engine_messages_in_total", "counter", "Venue messages the engine parsed.");
    p.sample("qf_engine_messages_in_total", "", s.engine.messages_in);
    p.family("qf_engine_events_processed_total", "counter", "Normalized events the core applied.");
    p.sample("qf_engine_events_processed_total", "", s.engine.events_processed);
  }
  if (!s.feeds.empty()) {
    p.family("qf_feed_connected", "gauge", "1 while the feed's connection is up.");
    for (const auto& f : s.feeds) {
      p.sample("qf_feed_connected", feed_labels(f), std::uint64_t{f.state == ipc::ConnectionState::connected ? 1U : 0U});
    }
    const auto counter = [&](const char* name, const char* help, auto field) {
      p.family(name, "counter", help);
      for (const auto& f : s.feeds) {
        p.sample(name, feed_labels(f), f.*field);
      }
    };
    counter("qf_feed_messages_total", "Messages received on the feed.", &ipc::FeedRecord::messages);
    counter("qf_feed_received_bytes_total", "Bytes received on the feed.", &ipc::FeedRecord::bytes);
    counter("qf_feed_parse_errors_total", "Messages the parser rejected.", &ipc::FeedRecord::parse_errors);
    counter("qf_feed_reconnects_total", "Reconnections of the feed.", &ipc::FeedRecord::reconnects);
    counter("qf_feed_gaps_total", "Sequence gaps detected on the feed.", &ipc::FeedRecord::gaps);
    counter("qf_feed_resyncs_total", "Book resynchronisations on the feed.", &ipc::FeedRecord::resyncs);
    counter("qf_feed_drops_total", "Messages dropped by the feed.", &ipc::FeedRecord::drops);
    p.family("qf_feed_ring_high_water", "gauge", "Highest fill of the feed-to-core ring, in events.");
    for (const auto& f : s.feeds) {
      p.sample("qf_feed_ring_high_water", feed_labels(f), f.ring_high_water);
    }
  }
  if (!s.instruments.empty()) {
    p.family("qf_instrument_book_health", "gauge", "Book health per instrument (1 for the current state).");
    for (const auto& i : s.instruments) {
      for (std::uint8_t h = 0; h <= static_cast<std::uint8_t>(ipc::BookHealth::crossed); ++h) {
        std::string l = instrument_labels(i) + ",health=\"";
        l += ipc::to_string(static_cast<ipc::BookHealth>(h));
        l += '"';
        p.sample("qf_instrument_book_health", l, std::uint64_t{static_cast<std::uint8_t>(i.health.health) == h ? 1U : 0U});
      }
    }
    const auto counter = [&](const char* name, const char* help, auto field) {
      p.family(name, "counter", help);
      for (const auto& i : s.instruments) {
        p.sample(name, instrument_labels(i), i.health.*field);
      }
    };
    counter("qf_instrument_book_updates_total", "Book updates applied.", &ipc::HealthRecord::book_updates);
    counter("qf_instrument_trades_total", "Trades seen.", &ipc::HealthRecord::trades);
    counter("qf_instrument_gaps_total", "Sequence gaps of the instrument's book.", &ipc::HealthRecord::gaps);
    counter("qf_instrument_resyncs_total", "Resynchronisations of the instrument's book.", &ipc::HealthRecord::resyncs);
    counter("qf_instrument_crossed_total", "Times the book was seen crossed.", &ipc::HealthRecord::crossed);
    counter("qf_instrument_dropped_levels_total", "Book levels dropped (cold store full).",
            &ipc::HealthRecord::dropped_levels);
    p.family("qf_instrument_signal", "gauge", "Fused signal in [-1, 1].");
    for (const auto& i : s.instruments) {
      p.sample("qf_instrument_signal", instrument_labels(i), i.signal.signal);
    }
    p.family("qf_instrument_signal_confidence", "gauge", "Confidence of the fused signal in [0, 1].");
    for (const auto& i : s.instruments) {
      p.sample("qf_instrument_signal_confidence", instrument_labels(i), i.signal.confidence);
    }
    p.family("qf_instrument_regime_probability", "gauge", "Posterior probability of each regime.");
    for (const auto& i : s.instruments) {
      for (std::size_t r = 0; r < std::min<std::size_t>(i.signal.regimes, ipc::kMaxRegimes); ++r) {
        p.sample("qf_instrument_regime_probability", instrument_labels(i) + ",regime=\"" + std::to_string(r) + "\"",
                 i.signal.regime[r]);
      }
    }
    p.family("qf_instrument_quote_age_seconds", "gauge", "Time since the instrument's quote last changed.");
    for (const auto& i : s.instruments) {
      if (i.quote.updated_unix_ns != 0) {
        const std::uint64_t age = now_unix_ns > i.quote.updated_unix_ns ? now_unix_ns - i.quote.updated_unix_ns : 0;
        p.sample("qf_instrument_quote_age_seconds", instrument_labels(i), seconds(age));
      }
    }
  }
  if (attached) {
    p.family("qf_latency_seconds", "histogram", "Engine latency per stage (log-linear histogram, <= 0.78% bucket error).");
    for (std::size_t st = 0; st < ipc::kStageCount; ++st) {
      const ipc::HistogramSnapshot& h = *s.latency[st];
      std::string base = "stage=\"";
      base += ipc::to_string(static_cast<ipc::Stage>(st));
      base += '"';
      std::uint64_t cumulative = 0;
      std::size_t b = 0;
      // A histogram bucket counts under `le` when its highest value is <= le: cumulative counts
      // never exceed the truth, so quantiles estimated from them never under-report.
      for (const std::uint64_t bound : kLatencyBoundsNs) {
        while (b < h.buckets.size() && ipc::HistogramBucketing::upper_bound(b) <= bound) {
          cumulative += h.buckets[b];
          ++b;
        }
        std::string l = base + ",le=\"" + ns_as_seconds(bound) + "\"";
        p.sample("qf_latency_seconds_bucket", l, cumulative);
      }
      p.sample("qf_latency_seconds_bucket", base + ",le=\"+Inf\"", h.count);
      p.sample("qf_latency_seconds_sum", base, seconds(h.sum));
      p.sample("qf_latency_seconds_count", base, h.count);
    }
  }
  if (attached) {
    const ipc::PortfolioRecord& pf = s.portfolio;
    const ipc::RiskRecord& rk = s.risk;
    p.family("qf_equity", "gauge", "Paper equity: cash plus positions marked to mid (quote currency).");
    p.sample("qf_equity", "", pf.equity);
    p.family("qf_peak_equity", "gauge", "Highest equity since start or the last kill-switch reset.");
    p.sample("qf_peak_equity", "", pf.peak_equity);
    p.family("qf_drawdown_ratio", "gauge", "Drawdown from the equity peak, (peak - equity) / peak.");
    p.sample("qf_drawdown_ratio", "", pf.drawdown);
    p.family("qf_daily_pnl", "gauge", "Equity change since the start of the UTC day.");
    p.sample("qf_daily_pnl", "", pf.daily_pnl);
    p.family("qf_gross_exposure", "gauge", "Sum of |position| x mid over instruments.");
    p.sample("qf_gross_exposure", "", pf.gross_exposure);
    p.family("qf_fees_paid_total", "counter", "Fees paid by paper fills (quote currency).");
    p.sample("qf_fees_paid_total", "", pf.fees);
    p.family("qf_paper_fills_total", "counter", "Paper fills.");
    p.sample("qf_paper_fills_total", "", pf.fills);
    p.family("qf_paper_orders_total", "counter", "Paper orders sent.");
    p.sample("qf_paper_orders_total", "", pf.orders);
    if (!s.instruments.empty()) {
      p.family("qf_position", "gauge", "Signed paper position per instrument, base units.");
      for (const auto& i : s.instruments) {
        p.sample("qf_position", instrument_labels(i), i.position.qty);
      }
      p.family("qf_position_notional", "gauge", "Paper position per instrument at its mark, quote currency.");
      for (const auto& i : s.instruments) {
        p.sample("qf_position_notional", instrument_labels(i), i.position.qty * i.position.mark);
      }
    }
    p.family("qf_risk_refusals_total", "counter", "Orders refused by the pre-trade checks, by reason.");
    const std::size_t nr = std::min<std::size_t>(rk.refusal_reasons, ipc::kMaxRefusalReasons);
    for (std::size_t k = 1; k < nr; ++k) {
      if (ipc::kRefusalNames[k][0] != '\0') {
        std::string l = "reason=\"";
        l += ipc::kRefusalNames[k];
        l += '"';
        p.sample("qf_risk_refusals_total", l, rk.refusals[k]);
      }
    }
    p.family("qf_kill_switch_tripped", "gauge", "1 while the kill switch is tripped.");
    p.sample("qf_kill_switch_tripped", "", std::uint64_t{rk.kill_mode != ipc::KillModeCode::none ? 1U : 0U});
    p.family("qf_kill_switch_mode", "gauge", "Kill-switch mode (1 for the current one; none = not tripped).");
    for (std::uint8_t m = 0; m <= static_cast<std::uint8_t>(ipc::KillModeCode::flatten); ++m) {
      std::string l = "mode=\"";
      l += ipc::to_string(static_cast<ipc::KillModeCode>(m));
      l += '"';
      p.sample("qf_kill_switch_mode", l, std::uint64_t{static_cast<std::uint8_t>(rk.kill_mode) == m ? 1U : 0U});
    }
    p.family("qf_kill_switch_cause", "gauge", "Cause of the current trip (1 for the current one; none = not tripped).");
    for (std::uint8_t c = 0; c <= static_cast<std::uint8_t>(ipc::KillCauseCode::command); ++c) {
      std::string l = "cause=\"";
      l += ipc::to_string(static_cast<ipc::KillCauseCode>(c));
      l += '"';
      p.sample("qf_kill_switch_cause", l, std::uint64_t{static_cast<std::uint8_t>(rk.kill_cause) == c ? 1U : 0U});
    }
    p.family("qf_kill_switch_trips_total", "counter", "Kill-switch trips since the engine started.");
    p.sample("qf_kill_switch_trips_total", "", rk.kill_trips);
  }
  p.family("qf_gateway_http_requests_total", "counter", "HTTP requests the gateway answered.");
  p.sample("qf_gateway_http_requests_total", "", g.http_requests);
  p.family("qf_gateway_ws_clients", "gauge", "Connected WebSocket clients.");
  p.sample("qf_gateway_ws_clients", "", g.ws_clients);
  p.family("qf_gateway_ws_connections_total", "counter", "WebSocket connections accepted.");
  p.sample("qf_gateway_ws_connections_total", "", g.ws_connections);
  p.family("qf_gateway_ws_messages_sent_total", "counter", "WebSocket messages sent.");
  p.sample("qf_gateway_ws_messages_sent_total", "", g.ws_messages_sent);
  p.family("qf_gateway_ws_sent_bytes_total", "counter", "WebSocket payload bytes sent.");
  p.sample("qf_gateway_ws_sent_bytes_total", "", g.ws_bytes_sent);
  p.family("qf_gateway_ws_updates_skipped_total", "counter", "Updates a slow client skipped (conflated).");
  p.sample("qf_gateway_ws_updates_skipped_total", "", g.ws_updates_skipped);
  p.family("qf_gateway_ws_slow_disconnects_total", "counter", "Clients cut off for not reading.");
  p.sample("qf_gateway_ws_slow_disconnects_total", "", g.ws_slow_disconnects);
  p.family("qf_gateway_ws_rejected_total", "counter", "WebSocket connections refused at max_clients.");
  p.sample("qf_gateway_ws_rejected_total", "", g.ws_rejected);
  p.family("qf_gateway_control_requests_total", "counter", "Control requests by result.");
  for (const char* r : {"done", "unknown_instrument", "unsupported", "rejected", "unauthorized", "forbidden",
                        "timeout", "unavailable", "bad_request"}) {
    const auto it = g.control_results.find(r);
    std::string l = "result=\"";
    l += r;
    l += '"';
    p.sample("qf_gateway_control_requests_total", l, it == g.control_results.end() ? 0 : it->second);
  }
  return p.take();
}

} // namespace qf::gateway
