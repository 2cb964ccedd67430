#include "render.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "qf/ipc/fixed_point.hpp"
#include "qf/ipc/json_text.hpp"

namespace qf::monitor {
namespace {

constexpr std::array<double, 5> kQuantiles = {0.5, 0.9, 0.99, 0.999, 1.0};
constexpr std::array<const char*, 5> kQuantileNames = {"p50", "p90", "p99", "p999", "max"};

const char* side_text(std::uint8_t side) { return side == 0 ? "buy" : "sell"; }

const char* kind_text(ipc::NotableKind k) {
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

double spread_bps(const ipc::QuoteRecord& q) {
  if (q.bid_qty == 0 || q.ask_qty == 0 || q.bid_price <= 0) {
    return std::nan("");
  }
  const double bid = static_cast<double>(q.bid_price);
  const double ask = static_cast<double>(q.ask_price);
  return (ask - bid) / ((ask + bid) / 2.0) * 1e4;
}

// Money and positions: the shortest text that reads back as v (json_number keeps 10 digits).
std::string exact_number(double v) {
  if (!std::isfinite(v)) {
    return "null";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
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

std::string text_report(const ipc::StateSnapshot& s, std::uint64_t now_unix_ns) {
  std::ostringstream o;
  o << "engine: " << ipc::to_string(s.status);
  if (s.status == ipc::EngineStatus::awaiting || s.status == ipc::EngineStatus::version_mismatch) {
    o << " (" << s.message << ")\n";
    return o.str();
  }
  o << "  mode: " << ipc::to_string(s.mode) << "  generation: " << s.generation << "  pid: " << s.engine_pid
    << "  uptime: " << duration_text(now_unix_ns > s.start_unix_ns ? now_unix_ns - s.start_unix_ns : 0)
    << "  heartbeat age: " << duration_text(s.heartbeat_age_ns) << "  core cpu: " << s.engine.core_cpu << "\n";
  o << "events processed: " << s.engine.events_processed << "  messages in: " << s.engine.messages_in << "\n";
  o << risk_line(s) << "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-14s %-12s %16s %16s %9s %16s %-6s %-12s %8s %7s\n", "venue", "symbol", "bid", "ask",
                "spread", "last", "side", "health", "signal", "regime");
  o << line;
  for (const auto& in : s.instruments) {
    const int pd = in.info.price_decimals;
    const double sp = spread_bps(in.quote);
    std::snprintf(line, sizeof line, "%-14s %-12s %16s %16s %9s %16s %-6s %-12s %8.3f %7u\n", in.info.venue.data(),
                  in.info.symbol.data(), price_text(in.quote.bid_price, pd).c_str(),
                  price_text(in.quote.ask_price, pd).c_str(), std::isfinite(sp) ? ipc::json_number(sp).substr(0, 7).c_str() : "-",
                  price_text(in.quote.last_price, pd).c_str(), in.quote.last_qty != 0 ? side_text(in.quote.last_side) : "-",
                  ipc::to_string(in.health.health), in.signal.signal, in.signal.dominant);
    o << line;
  }
  o << "\npositions\n";
  std::snprintf(line, sizeof line, "%-14s %-12s %14s %14s %14s %12s %12s %10s\n", "venue", "symbol", "qty", "avg cost",
                "mark", "realized", "unrealized", "fees");
  o << line;
  for (const auto& in : s.instruments) {
    const auto& p = in.position;
    std::snprintf(line, sizeof line, "%-14s %-12s %14.8g %14.8g %14.8g %12.2f %12.2f %10.2f\n", in.info.venue.data(),
                  in.info.symbol.data(), p.qty, p.avg_cost, p.mark, p.realized, p.unrealized, p.fees);
    o << line;
  }
  o << "\nlatency (since start)\n";
  std::snprintf(line, sizeof line, "%-20s %12s %10s %10s %10s %10s %10s\n", "stage", "count", "p50", "p90", "p99", "p99.9",
                "max");
  o << line;
  for (std::size_t i = 0; i < ipc::kStageCount; ++i) {
    const auto& h = *s.latency[i];
    std::snprintf(line, sizeof line, "%-20s %12llu %10s %10s %10s %10s %10s\n", ipc::to_string(static_cast<ipc::Stage>(i)),
                  static_cast<unsigned long long>(h.count), duration_text(h.percentile(0.5)).c_str(),
                  duration_text(h.percentile(0.9)).c_str(), duration_text(h.percentile(0.99)).c_str(),
                  duration_text(h.percentile(0.999)).c_str(), duration_text(h.max).c_str());
    o << line;
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
    o << "  " << kind_text(e.kind) << " "
      << (e.instrument < s.instruments.size() ? s.instruments[e.instrument].info.symbol.data() : "-") << ": "
      << e.text.data() << "\n";
  }
  return o.str();
}

std::string json_report(const ipc::StateSnapshot& s, std::uint64_t now_unix_ns) {
  std::ostringstream o;
  o << "{\"status\":\"" << ipc::to_string(s.status) << "\"";
  if (s.status == ipc::EngineStatus::awaiting || s.status == ipc::EngineStatus::version_mismatch) {
    o << ",\"message\":\"" << ipc::json_escape(s.message.c_str()) << "\"}\n";
    return o.str();
  }
  o << ",\"mode\":\"" << ipc::to_string(s.mode) << "\",\"generation\":" << s.generation << ",\"pid\":" << s.engine_pid
    << ",\"uptime_ns\":" << (now_unix_ns > s.start_unix_ns ? now_unix_ns - s.start_unix_ns : 0)
    << ",\"heartbeat_age_ns\":" << s.heartbeat_age_ns << ",\"core_cpu\":" << s.engine.core_cpu
    << ",\"events_processed\":" << s.engine.events_processed << ",\"messages_in\":" << s.engine.messages_in;
  const ipc::PortfolioRecord& pf = s.portfolio;
  const ipc::RiskRecord& rk = s.risk;
  o << ",\"equity\":" << exact_number(pf.equity) << ",\"drawdown\":" << exact_number(pf.drawdown)
    << ",\"portfolio\":{\"initial_capital\":" << exact_number(pf.initial_capital)
    << ",\"cash\":" << exact_number(pf.cash) << ",\"equity\":" << exact_number(pf.equity)
    << ",\"peak_equity\":" << exact_number(pf.peak_equity) << ",\"drawdown\":" << exact_number(pf.drawdown)
    << ",\"daily_pnl\":" << exact_number(pf.daily_pnl) << ",\"realized\":" << exact_number(pf.realized)
    << ",\"unrealized\":" << exact_number(pf.unrealized) << ",\"fees\":" << exact_number(pf.fees)
    << ",\"gross_exposure\":" << exact_number(pf.gross_exposure) << ",\"fills\":" << pf.fills
    << ",\"orders\":" << pf.orders << ",\"updated_ns\":" << pf.updated_unix_ns << "}";
  o << ",\"kill_switch\":{\"enabled\":" << (rk.enabled != 0 ? "true" : "false")
    << ",\"tripped\":" << (kill_tripped(s) ? "true" : "false") << ",\"mode\":\"" << ipc::to_string(rk.kill_mode)
    << "\",\"cause\":\"" << ipc::to_string(rk.kill_cause) << "\",\"since_ns\":" << rk.kill_since_unix_ns
    << ",\"trips\":" << rk.kill_trips << "}";
  o << ",\"instruments\":[";
  for (std::size_t i = 0; i < s.instruments.size(); ++i) {
    const auto& in = s.instruments[i];
    const int pd = in.info.price_decimals;
    const int qd = in.info.qty_decimals;
    o << (i ? "," : "") << "{\"venue\":\"" << ipc::json_escape(in.info.venue.data()) << "\",\"symbol\":\""
      << ipc::json_escape(in.info.symbol.data()) << "\",\"health\":\"" << ipc::to_string(in.health.health)
      << "\",\"bid\":\"" << price_text(in.quote.bid_price, pd) << "\",\"bid_qty\":\"" << price_text(in.quote.bid_qty, qd)
      << "\",\"ask\":\"" << price_text(in.quote.ask_price, pd) << "\",\"ask_qty\":\"" << price_text(in.quote.ask_qty, qd)
      << "\",\"spread_bps\":" << ipc::json_number(spread_bps(in.quote)) << ",\"last_price\":\""
      << price_text(in.quote.last_price, pd) << "\",\"last_qty\":\"" << price_text(in.quote.last_qty, qd)
      << "\",\"last_side\":\"" << (in.quote.last_qty != 0 ? side_text(in.quote.last_side) : "") << "\""
      << ",\"updated_ns\":" << in.quote.updated_unix_ns << ",\"signal\":" << ipc::json_number(in.signal.signal)
      << ",\"confidence\":" << ipc::json_number(in.signal.confidence) << ",\"regime\":[";
    for (std::uint32_t k = 0; k < in.signal.regimes && k < ipc::kMaxRegimes; ++k) {
      o << (k ? "," : "") << ipc::json_number(in.signal.regime[k]);
    }
    o << "],\"dominant_regime\":" << in.signal.dominant << ",\"book_updates\":" << in.health.book_updates
      << ",\"trades\":" << in.health.trades << ",\"gaps\":" << in.health.gaps << ",\"resyncs\":" << in.health.resyncs
      << ",\"crossed\":" << in.health.crossed << ",\"busy\":" << (in.busy ? "true" : "false");
    const ipc::PositionRecord& p = in.position;
    o << ",\"position\":{\"qty\":" << exact_number(p.qty) << ",\"avg_cost\":" << exact_number(p.avg_cost)
      << ",\"mark\":" << exact_number(p.mark) << ",\"realized\":" << exact_number(p.realized)
      << ",\"unrealized\":" << exact_number(p.unrealized) << ",\"fees\":" << exact_number(p.fees)
      << ",\"target\":" << exact_number(p.target) << ",\"fills\":" << p.fills << "}}";
  }
  o << "],\"feeds\":[";
  for (std::size_t i = 0; i < s.feeds.size(); ++i) {
    const auto& f = s.feeds[i];
    o << (i ? "," : "") << "{\"name\":\"" << ipc::json_escape(f.name.data()) << "\",\"messages\":" << f.messages
      << ",\"bytes\":" << f.bytes << ",\"parse_errors\":" << f.parse_errors << ",\"reconnects\":" << f.reconnects
      << ",\"gaps\":" << f.gaps << ",\"resyncs\":" << f.resyncs << ",\"drops\":" << f.drops
      << ",\"ring_high_water\":" << f.ring_high_water << "}";
  }
  o << "],\"latency_ns\":{";
  for (std::size_t i = 0; i < ipc::kStageCount; ++i) {
    const auto& h = *s.latency[i];
    o << (i ? "," : "") << "\"" << ipc::to_string(static_cast<ipc::Stage>(i)) << "\":{\"count\":" << h.count;
    for (std::size_t q = 0; q < kQuantiles.size(); ++q) {
      o << ",\"" << kQuantileNames[q] << "\":" << (kQuantiles[q] >= 1.0 ? h.max : h.percentile(kQuantiles[q]));
    }
    o << "}";
  }
  o << "},\"events\":[";
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    const auto& e = s.events[i];
    o << (i ? "," : "") << "{\"time_ns\":" << e.unix_ns << ",\"instrument\":" << e.instrument << ",\"kind\":\""
      << kind_text(e.kind) << "\",\"text\":\"" << ipc::json_escape(e.text.data()) << "\"}";
  }
  o << "]}\n";
  return o.str();
}

} // namespace qf::monitor
