#include "render.hpp"

#include <algorithm>

namespace qf::bridge {

namespace {

void ident(ipc::JsonWriter& w, const ipc::InstrumentInfo& info) {
  w.key("venue").str(ipc::text_of(info.venue)).key("symbol").str(ipc::text_of(info.symbol));
}

} // namespace

std::string subject_token(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '.' || c == ' ' || c == '*' || c == '>' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = '_';
    }
  }
  return out.empty() ? std::string("_") : out;
}

std::string instrument_subject(std::string_view prefix, std::string_view instance, std::string_view kind,
                               const ipc::InstrumentInfo& info) {
  std::string s;
  s.reserve(64);
  s.append(prefix).append(".").append(instance).append(".").append(kind).append(".");
  s.append(subject_token(ipc::text_of(info.venue))).append(".").append(subject_token(ipc::text_of(info.symbol)));
  return s;
}

void render_tick(ipc::JsonWriter& w, const ipc::TickRecord& t, const ipc::InstrumentInfo& info, std::uint64_t seq) {
  const int pd = info.price_decimals;
  const int qd = info.qty_decimals;
  w.clear();
  w.begin_object();
  ident(w, info);
  w.key("seq").u64(seq);
  switch (t.kind) {
  case ipc::TickKind::trade:
    w.key("price").decimal(t.price, pd).key("qty").decimal(t.qty, qd);
    w.key("side").str(t.side == 0 ? "buy" : "sell").key("trade_id").u64(t.id);
    break;
  case ipc::TickKind::bbo:
    w.key("u").u64(t.id).key("source").str(ipc::to_string(t.source));
    if (t.qty != 0) { // an empty side is left out, as the replay's tap does
      w.key("bid").decimal(t.price, pd).key("bid_qty").decimal(t.qty, qd);
    }
    if (t.ask_qty != 0) {
      w.key("ask").decimal(t.ask_price, pd).key("ask_qty").decimal(t.ask_qty, qd);
    }
    break;
  case ipc::TickKind::health:
    break;
  }
  w.key("health").str(ipc::to_string(t.health));
  w.time("time", t.unix_ns);
  w.end_object();
}

void render_bar(ipc::JsonWriter& w, const ipc::BarValues& b, const ipc::InstrumentInfo& info,
                std::string_view interval) {
  w.clear();
  w.begin_object();
  ident(w, info);
  w.key("interval").str(interval);
  w.time("start", b.start_unix_ns);
  w.key("open").exact(b.open).key("high").exact(b.high).key("low").exact(b.low).key("close").exact(b.close);
  w.key("volume").exact(b.volume).key("trades").u64(b.trades);
  w.end_object();
}

void render_signal(ipc::JsonWriter& w, const ipc::SignalRecord& s, const ipc::InstrumentInfo& info) {
  w.clear();
  w.begin_object();
  ident(w, info);
  w.key("signal").num(s.signal).key("confidence").num(s.confidence);
  w.time("updated", s.updated_unix_ns);
  w.end_object();
}

void render_regime(ipc::JsonWriter& w, const ipc::SignalRecord& s, const ipc::InstrumentInfo& info) {
  w.clear();
  w.begin_object();
  ident(w, info);
  const std::size_t k = std::min<std::size_t>(s.regimes, ipc::kMaxRegimes);
  w.key("regimes").u64(k).key("dominant");
  k > 0 ? w.u64(s.dominant) : w.null();
  w.key("posterior").begin_array();
  for (std::size_t r = 0; r < k; ++r) {
    w.num(s.regime[r]);
  }
  w.end_array();
  w.time("updated", s.updated_unix_ns);
  w.end_object();
}

void render_health(ipc::JsonWriter& w, const ipc::HealthRecord& h, const ipc::InstrumentInfo& info) {
  w.clear();
  w.begin_object();
  ident(w, info);
  w.key("health").str(ipc::to_string(h.health));
  w.key("book_updates").u64(h.book_updates).key("trades").u64(h.trades).key("gaps").u64(h.gaps);
  w.key("resyncs").u64(h.resyncs).key("crossed").u64(h.crossed).key("dropped_levels").u64(h.dropped_levels);
  w.end_object();
}

void render_fill(ipc::JsonWriter& w, const ipc::FillRecord& f, const ipc::InstrumentInfo& info, std::uint64_t seq) {
  w.clear();
  w.begin_object();
  ident(w, info);
  w.key("seq").u64(seq).key("order_id").u64(f.order_id).key("side").str(f.side == 0 ? "buy" : "sell");
  w.key("qty").exact(f.qty).key("price").exact(f.price).key("fee").exact(f.fee).key("realized").exact(f.realized);
  w.time("time", f.unix_ns);
  w.end_object();
}

void render_portfolio(ipc::JsonWriter& w, const ipc::PortfolioRecord& p) {
  w.clear();
  w.begin_object();
  w.key("initial_capital").exact(p.initial_capital).key("cash").exact(p.cash).key("equity").exact(p.equity);
  w.key("peak_equity").exact(p.peak_equity).key("drawdown").num(p.drawdown).key("daily_pnl").exact(p.daily_pnl);
  w.key("realized").exact(p.realized).key("unrealized").exact(p.unrealized).key("fees").exact(p.fees);
  w.key("gross_exposure").exact(p.gross_exposure).key("fills").u64(p.fills).key("orders").u64(p.orders);
  w.time("updated", p.updated_unix_ns);
  w.end_object();
}

void render_risk(ipc::JsonWriter& w, const ipc::RiskRecord& r) {
  w.clear();
  w.begin_object();
  w.key("enabled").boolean(r.enabled != 0);
  w.key("kill_switch").begin_object();
  w.key("mode").str(ipc::to_string(r.kill_mode)).key("cause").str(ipc::to_string(r.kill_cause));
  w.key("trips").u64(r.kill_trips);
  w.time("since", r.kill_since_unix_ns);
  w.end_object();
  w.key("orders_last_s").u64(r.orders_last_s).key("orders_last_min").u64(r.orders_last_min);
  w.key("refusals").begin_object();
  const std::size_t n = std::min<std::size_t>(r.refusal_reasons, ipc::kMaxRefusalReasons);
  for (std::size_t k = 1; k < n; ++k) { // 0 is "none"
    w.key(ipc::kRefusalNames[k]).u64(r.refusals[k]);
  }
  w.end_object();
  w.time("updated", r.updated_unix_ns);
  w.end_object();
}

void render_event(ipc::JsonWriter& w, const ipc::NotableEvent& e, const ipc::InstrumentTable& table,
                  std::uint64_t seq) {
  w.clear();
  w.begin_object();
  w.key("seq").u64(seq).key("kind").str(ipc::to_string(e.kind));
  if (e.instrument < std::min<std::size_t>(table.count, ipc::kMaxInstruments)) {
    ident(w, table.items[e.instrument]);
  }
  w.key("text").str(ipc::text_of(e.text));
  w.time("time", e.unix_ns);
  w.end_object();
}

void render_composite(ipc::JsonWriter& w, const ipc::CompositeInfo& info, const ipc::CompositeRecord& r,
                      const ipc::InstrumentInfo* infos, std::size_t n) {
  const int pd = info.price_decimals;
  const int qd = info.qty_decimals;
  const std::size_t members = std::min<std::size_t>(info.members, ipc::kMaxCompositeMembers);
  const auto member = [&](std::size_t m) {
    if (m < members && info.instrument[m] < n) {
      ident(w, infos[info.instrument[m]]);
    } else {
      w.key("venue").null().key("symbol").null();
    }
  };
  w.clear();
  w.begin_object();
  w.key("asset").str(ipc::text_of(info.asset));
  const auto best = [&](const char* name, std::uint32_t levels, const ipc::CompositeLevel& l, std::uint8_t m) {
    w.key(name);
    if (levels == 0) {
      w.null();
      return;
    }
    w.begin_object().key("price").decimal(l.price, pd).key("qty").decimal(l.qty, qd);
    member(m);
    w.end_object();
  };
  best("best_bid", r.bid_levels, r.bids[0], r.bid_member);
  best("best_ask", r.ask_levels, r.asks[0], r.ask_member);
  w.key("crossed").boolean(r.crossed != 0).key("included").u64(r.included).key("updates").u64(r.updates);
  const auto side = [&](const char* name, std::uint32_t levels, const std::array<ipc::CompositeLevel, ipc::kBookDepth>& l) {
    w.key(name).begin_array();
    for (std::size_t k = 0; k < std::min<std::size_t>(levels, ipc::kBookDepth); ++k) {
      w.begin_array().decimal(l[k].price, pd).decimal(l[k].qty, qd).end_array();
    }
    w.end_array();
  };
  side("bids", r.bid_levels, r.bids);
  side("asks", r.ask_levels, r.asks);
  w.key("members").begin_array();
  for (std::size_t m = 0; m < members; ++m) {
    w.begin_object();
    member(m);
    w.key("health").str(ipc::to_string(r.member[m].health)).key("excluded");
    r.member[m].excluded == ipc::CompositeExclusion::none ? w.null() : w.str(ipc::to_string(r.member[m].excluded));
    w.end_object();
  }
  w.end_array();
  w.time("time", r.updated_unix_ns);
  w.end_object();
}

} // namespace qf::bridge
