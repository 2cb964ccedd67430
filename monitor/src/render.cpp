#include "render.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "qf/ipc/fixed_point.hpp"
#include "qf/ipc/json_writer.hpp"

namespace qf::monitor {
namespace {

const char* side_text(std::uint8_t side) { return side == 0 ? "buy" : "sell"; }

// Spread in bps for the text table: 7 characters at most, "-" when one side is empty.
std::string spread_text(double bps) {
  if (!std::isfinite(bps)) {
    return "-";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", bps);
  return std::string(buf).substr(0, 7);
}

double spread_bps(const ipc::QuoteRecord& q) {
  if (q.bid_qty == 0 || q.ask_qty == 0 || q.bid_price <= 0) {
    return std::nan("");
  }
  const double bid = static_cast<double>(q.bid_price);
  const double ask = static_cast<double>(q.ask_price);
  return (ask - bid) / ((ask + bid) / 2.0) * 1e4;
}

} // namespace

Rates rates_between(const ipc::StateSnapshot& a, const ipc::StateSnapshot& b, double seconds) noexcept {
  Rates r;
  if (seconds <= 0.0 || a.generation != b.generation) {
    return r;
  }
  if (b.engine.events_processed >= a.engine.events_processed) {
    r.events_per_s = static_cast<double>(b.engine.events_processed - a.engine.events_processed) / seconds;
  }
  if (b.engine.messages_in >= a.engine.messages_in) {
    r.messages_per_s = static_cast<double>(b.engine.messages_in - a.engine.messages_in) / seconds;
  }
  return r;
}

std::string price_text(std::int64_t value, int decimals) {
  std::array<char, ipc::kFixedMaxChars + 1> buf{};
  const std::size_t n = ipc::format_fixed(value, decimals, buf.data(), buf.size());
  return std::string(buf.data(), n);
}

std::string duration_text(std::uint64_t ns) {
  char buf[32];
  if (ns < 10'000) {
    std::snprintf(buf, sizeof buf, "%llu ns", static_cast<unsigned long long>(ns));
  } else if (ns < 10'000'000) {
    std::snprintf(buf, sizeof buf, "%.1f us", static_cast<double>(ns) / 1e3);
  } else if (ns < 10'000'000'000ULL) {
    std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(ns) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  }
  return buf;
}

std::string latency_heading() {
  char cell[64];
  std::snprintf(cell, sizeof cell, "%-20s %12s", "stage", "count");
  std::string out = cell;
  for (const auto& rq : ipc::kReportQuantiles) {
    std::snprintf(cell, sizeof cell, " %10s", rq.label);
    out += cell;
  }
  return out;
}

std::string latency_row(ipc::Stage stage, const ipc::HistogramSnapshot& h) {
  char cell[64];
  std::snprintf(cell, sizeof cell, "%-20s %12llu", ipc::to_string(stage), static_cast<unsigned long long>(h.count));
  std::string out = cell;
  for (const auto& rq : ipc::kReportQuantiles) {
    std::snprintf(cell, sizeof cell, " %10s", duration_text(ipc::report_value(h, rq)).c_str());
    out += cell;
  }
  return out;
}

bool kill_tripped(const ipc::StateSnapshot& s) noexcept {
  return s.risk.kill_mode != ipc::KillModeCode::none;
}

std::string risk_line(const ipc::StateSnapshot& s) {
  const ipc::PortfolioRecord& p = s.portfolio;
  char line[192];
  std::snprintf(line, sizeof line, "equity %.2f  drawdown %.2f%%  peak %.2f  day P&L %+.2f  kill switch ", p.equity,
                p.drawdown * 100.0, p.peak_equity, p.daily_pnl);
  std::string out = line;
  if (kill_tripped(s)) {
    std::string mode = ipc::to_string(s.risk.kill_mode);
    for (char& c : mode) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    out += mode;
    out += " (";
    out += ipc::to_string(s.risk.kill_cause);
    out += ')';
  } else {
    out += "off";
  }
  if (s.risk.enabled == 0) {
    out += "  (paper trading off)";
  }
  return out;
}

std::string profile_text(const ipc::EngineRecord& e) {
  char cpu[24] = "";
  char prio[16] = "";
  if (e.hot_cpu >= 0) {
    std::snprintf(cpu, sizeof cpu, ", hot cpu %d", e.hot_cpu);
  }
  if (e.sched_priority > 0) {
    std::snprintf(prio, sizeof prio, " %d", e.sched_priority);
  }
  char out[96];
  std::snprintf(out, sizeof out, "%s (%s%s, %s%s)", ipc::profile_name(e), ipc::to_string(e.threads), cpu,
                ipc::to_string(e.sched_policy), prio);
  return out;
}

namespace {

// "venue:symbol" of member m of composite c ("?" when a damaged segment names no instrument).
std::string member_key(const ipc::StateSnapshot& s, const ipc::CompositeSnapshot& c, std::size_t m) {
  const std::size_t i = c.info.instrument[m];
  if (i >= s.instruments.size()) {
    return "?";
  }
  return std::string(ipc::text_of(s.instruments[i].info.venue)) + ":" + std::string(ipc::text_of(s.instruments[i].info.symbol));
}

std::size_t member_count(const ipc::CompositeSnapshot& c) noexcept {
  return std::min<std::size_t>(c.info.members, ipc::kMaxCompositeMembers);
}

} // namespace

std::vector<std::string> composite_lines(const ipc::StateSnapshot& s) {
  std::vector<std::string> out;
  for (const ipc::CompositeSnapshot& c : s.composites) {
    const ipc::CompositeRecord& r = c.record;
    const int pd = c.info.price_decimals;
    const int qd = c.info.qty_decimals;
    const auto best = [&](std::uint32_t levels, const ipc::CompositeLevel& l, std::uint8_t m) {
      return levels == 0 ? std::string("-")
                         : price_text(l.price, pd) + " x " + price_text(l.qty, qd) + " @ " +
                               (m < member_count(c) ? member_key(s, c, m) : std::string("?"));
    };
    std::string line = std::string(ipc::text_of(c.info.asset)) + "  bid " + best(r.bid_levels, r.bids[0], r.bid_member) +
                       "  ask " + best(r.ask_levels, r.asks[0], r.ask_member) + "  spread " +
                       (r.bid_levels > 0 && r.ask_levels > 0 ? price_text(r.asks[0].price - r.bids[0].price, pd) : "-") +
                       "  venues " + std::to_string(r.included) + "/" + std::to_string(member_count(c));
    if (r.crossed != 0) {
      line += "  CROSSED";
    }
    out.push_back(line);
    std::string excluded;
    for (std::size_t m = 0; m < member_count(c); ++m) {
      if (r.member[m].excluded != ipc::CompositeExclusion::none) {
        excluded += (excluded.empty() ? "" : ", ") + member_key(s, c, m) + " (" + ipc::to_string(r.member[m].excluded) + ")";
      }
    }
    out.push_back(excluded.empty() ? "  all venues in" : "  excluded: " + excluded);
  }
  return out;
}

std::string text_report(const ipc::StateSnapshot& s, std::uint64_t now_unix_ns) {
  std::ostringstream o;
  o << "engine: " << ipc::to_string(s.status);
  if (!ipc::has_engine(s.status)) {
    o << " (" << s.message << ")\n";
    return o.str();
  }
  o << "  mode: " << ipc::to_string(s.mode) << "  generation: " << s.generation << "  pid: " << s.engine_pid
    << "  uptime: " << duration_text(now_unix_ns > s.start_unix_ns ? now_unix_ns - s.start_unix_ns : 0)
    << "  heartbeat age: " << duration_text(s.heartbeat_age_ns) << "  core cpu: " << s.engine.core_cpu << "\n";
  o << "profile: " << profile_text(s.engine) << "\n";
  o << "events processed: " << s.engine.events_processed << "  messages in: " << s.engine.messages_in << "\n";
  o << risk_line(s) << "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-17s %-12s %16s %16s %9s %16s %-6s %-12s %8s %7s\n", "venue", "symbol", "bid", "ask",
                "spread", "last", "side", "health", "signal", "regime");
  o << line;
  for (const auto& in : s.instruments) {
    const int pd = in.info.price_decimals;
    const double sp = spread_bps(in.quote);
    std::snprintf(line, sizeof line, "%-17s %-12s %16s %16s %9s %16s %-6s %-12s %8.3f %7u\n", in.info.venue.data(),
                  in.info.symbol.data(), price_text(in.quote.bid_price, pd).c_str(),
                  price_text(in.quote.ask_price, pd).c_str(), spread_text(sp).c_str(),
                  price_text(in.quote.last_price, pd).c_str(), in.quote.last_qty != 0 ? side_text(in.quote.last_side) : "-",
                  ipc::to_string(in.health.health), in.signal.signal, in.signal.dominant);
    o << line;
  }
  o << "\npositions\n";
  std::snprintf(line, sizeof line, "%-17s %-12s %14s %14s %14s %12s %12s %10s\n", "venue", "symbol", "qty", "avg cost",
                "mark", "realized", "unrealized", "fees");
  o << line;
  for (const auto& in : s.instruments) {
    const auto& p = in.position;
    std::snprintf(line, sizeof line, "%-17s %-12s %14.8g %14.8g %14.8g %12.2f %12.2f %10.2f\n", in.info.venue.data(),
                  in.info.symbol.data(), p.qty, p.avg_cost, p.mark, p.realized, p.unrealized, p.fees);
    o << line;
  }
  if (!s.composites.empty()) {
    o << "\ncomposite books\n";
    for (const std::string& l : composite_lines(s)) {
      o << l << "\n";
    }
  }
  o << "\nlatency (since start)\n" << latency_heading() << "\n";
  for (std::size_t i = 0; i < ipc::kStageCount; ++i) {
    o << latency_row(static_cast<ipc::Stage>(i), *s.latency[i]) << "\n";
  }
  if (!s.feeds.empty()) {
    o << "\nfeeds\n";
    for (const auto& f : s.feeds) {
      o << "  " << f.name.data() << ": messages " << f.messages << ", reconnects " << f.reconnects << ", gaps " << f.gaps
        << ", resyncs " << f.resyncs << ", parse errors " << f.parse_errors << ", ring high-water " << f.ring_high_water
        << "\n";
    }
  }
  o << "\nrecent events\n";
  const std::size_t from = s.events.size() > 10 ? s.events.size() - 10 : 0;
  for (std::size_t i = from; i < s.events.size(); ++i) {
    const auto& e = s.events[i];
    o << "  " << ipc::to_string(e.kind) << " "
      << (e.instrument < s.instruments.size() ? s.instruments[e.instrument].info.symbol.data() : "-") << ": "
      << e.text.data() << "\n";
  }
  return o.str();
}

std::string json_report(const ipc::StateSnapshot& s, std::uint64_t now_unix_ns) {
  ipc::JsonWriter o;
  o.begin_object().key("status").str(ipc::to_string(s.status));
  if (!ipc::has_engine(s.status)) {
    o.key("message").str(s.message).end_object();
    return o.take() + "\n";
  }
  o.key("mode").str(ipc::to_string(s.mode)).key("generation").u64(s.generation).key("pid").i64(s.engine_pid);
  o.key("uptime_ns").u64(now_unix_ns > s.start_unix_ns ? now_unix_ns - s.start_unix_ns : 0);
  o.key("heartbeat_age_ns").u64(s.heartbeat_age_ns).key("core_cpu").i64(s.engine.core_cpu);
  o.key("profile").begin_object().key("name").str(ipc::profile_name(s.engine)).key("hot_cpu").i64(s.engine.hot_cpu);
  o.key("sched_policy").str(ipc::to_string(s.engine.sched_policy)).key("sched_priority").i64(s.engine.sched_priority);
  o.key("threads").str(ipc::to_string(s.engine.threads)).end_object();
  o.key("events_processed").u64(s.engine.events_processed).key("messages_in").u64(s.engine.messages_in);
  const ipc::PortfolioRecord& pf = s.portfolio;
  const ipc::RiskRecord& rk = s.risk;
  o.key("equity").exact(pf.equity).key("drawdown").exact(pf.drawdown);
  o.key("portfolio").begin_object();
  o.key("initial_capital").exact(pf.initial_capital).key("cash").exact(pf.cash).key("equity").exact(pf.equity);
  o.key("peak_equity").exact(pf.peak_equity).key("drawdown").exact(pf.drawdown).key("daily_pnl").exact(pf.daily_pnl);
  o.key("realized").exact(pf.realized).key("unrealized").exact(pf.unrealized).key("fees").exact(pf.fees);
  o.key("gross_exposure").exact(pf.gross_exposure).key("fills").u64(pf.fills).key("orders").u64(pf.orders);
  o.key("updated_ns").u64(pf.updated_unix_ns).end_object();
  o.key("kill_switch").begin_object().key("enabled").boolean(rk.enabled != 0).key("tripped").boolean(kill_tripped(s));
  o.key("mode").str(ipc::to_string(rk.kill_mode)).key("cause").str(ipc::to_string(rk.kill_cause));
  o.key("since_ns").u64(rk.kill_since_unix_ns).key("trips").u64(rk.kill_trips).end_object();
  o.key("instruments").begin_array();
  for (const auto& in : s.instruments) {
    const int pd = in.info.price_decimals;
    const int qd = in.info.qty_decimals;
    o.begin_object().key("venue").str(ipc::text_of(in.info.venue)).key("symbol").str(ipc::text_of(in.info.symbol));
    o.key("health").str(ipc::to_string(in.health.health));
    o.key("bid").decimal(in.quote.bid_price, pd).key("bid_qty").decimal(in.quote.bid_qty, qd);
    o.key("ask").decimal(in.quote.ask_price, pd).key("ask_qty").decimal(in.quote.ask_qty, qd);
    o.key("spread_bps").num(spread_bps(in.quote));
    o.key("last_price").decimal(in.quote.last_price, pd).key("last_qty").decimal(in.quote.last_qty, qd);
    o.key("last_side").str(in.quote.last_qty != 0 ? side_text(in.quote.last_side) : "");
    o.key("updated_ns").u64(in.quote.updated_unix_ns).key("signal").num(in.signal.signal);
    o.key("confidence").num(in.signal.confidence).key("regime").begin_array();
    for (std::uint32_t k = 0; k < in.signal.regimes && k < ipc::kMaxRegimes; ++k) {
      o.num(in.signal.regime[k]);
    }
    o.end_array().key("dominant_regime").u64(in.signal.dominant);
    o.key("book_updates").u64(in.health.book_updates).key("trades").u64(in.health.trades);
    o.key("gaps").u64(in.health.gaps).key("resyncs").u64(in.health.resyncs).key("crossed").u64(in.health.crossed);
    o.key("busy").boolean(in.busy);
    const ipc::PositionRecord& p = in.position;
    o.key("position").begin_object().key("qty").exact(p.qty).key("avg_cost").exact(p.avg_cost);
    o.key("mark").exact(p.mark).key("realized").exact(p.realized).key("unrealized").exact(p.unrealized);
    o.key("fees").exact(p.fees).key("target").exact(p.target).key("fills").u64(p.fills).end_object();
    o.end_object();
  }
  o.end_array().key("composites").begin_array();
  for (const ipc::CompositeSnapshot& c : s.composites) {
    const ipc::CompositeRecord& r = c.record;
    const int pd = c.info.price_decimals;
    const int qd = c.info.qty_decimals;
    o.begin_object().key("asset").str(ipc::text_of(c.info.asset)).key("busy").boolean(c.busy);
    const auto best = [&](const char* name, std::uint32_t levels, const ipc::CompositeLevel& l, std::uint8_t m) {
      o.key(name);
      if (levels == 0) {
        o.null();
        return;
      }
      o.begin_object().key("price").decimal(l.price, pd).key("qty").decimal(l.qty, qd).key("member");
      m < member_count(c) ? o.str(member_key(s, c, m)) : o.null();
      o.end_object();
    };
    best("best_bid", r.bid_levels, r.bids[0], r.bid_member);
    best("best_ask", r.ask_levels, r.asks[0], r.ask_member);
    o.key("crossed").boolean(r.crossed != 0).key("included").u64(r.included).key("updates").u64(r.updates);
    const auto side = [&](const char* name, std::uint32_t levels, const std::array<ipc::CompositeLevel, ipc::kBookDepth>& l) {
      o.key(name).begin_array();
      for (std::size_t k = 0; k < std::min<std::size_t>(levels, ipc::kBookDepth); ++k) {
        o.begin_array().decimal(l[k].price, pd).decimal(l[k].qty, qd).end_array();
      }
      o.end_array();
    };
    side("bids", r.bid_levels, r.bids);
    side("asks", r.ask_levels, r.asks);
    o.key("members").begin_array();
    for (std::size_t m = 0; m < member_count(c); ++m) {
      o.begin_object().key("member").str(member_key(s, c, m)).key("health").str(ipc::to_string(r.member[m].health));
      o.key("excluded");
      r.member[m].excluded == ipc::CompositeExclusion::none ? o.null() : o.str(ipc::to_string(r.member[m].excluded));
      o.end_object();
    }
    o.end_array().end_object();
  }
  o.end_array().key("feeds").begin_array();
  for (const auto& f : s.feeds) {
    o.begin_object().key("name").str(ipc::text_of(f.name)).key("messages").u64(f.messages).key("bytes").u64(f.bytes);
    o.key("parse_errors").u64(f.parse_errors).key("reconnects").u64(f.reconnects).key("gaps").u64(f.gaps);
    o.key("resyncs").u64(f.resyncs).key("drops").u64(f.drops).key("ring_high_water").u64(f.ring_high_water);
    o.key("record_dropped").u64(f.record_dropped).key("record_write_errors").u64(f.record_write_errors);
    o.end_object();
  }
  o.end_array().key("latency_ns").begin_object();
  for (std::size_t i = 0; i < ipc::kStageCount; ++i) {
    const auto& h = *s.latency[i];
    o.key(ipc::to_string(static_cast<ipc::Stage>(i))).begin_object().key("count").u64(h.count);
    for (const auto& rq : ipc::kReportQuantiles) {
      o.key(rq.name).u64(ipc::report_value(h, rq));
    }
    o.end_object();
  }
  o.end_object().key("events").begin_array();
  for (const auto& e : s.events) {
    o.begin_object().key("time_ns").u64(e.unix_ns).key("instrument").u64(e.instrument);
    o.key("kind").str(ipc::to_string(e.kind)).key("text").str(ipc::text_of(e.text)).end_object();
  }
  o.end_array().end_object();
  return o.take() + "\n";
}

} // namespace qf::monitor
