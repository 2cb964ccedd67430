#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "qf/ipc/fixed_point.hpp"

namespace qf::gateway {
namespace {

double seconds(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }

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
  l += label(ipc::text_of(f.name));
  l += '"';
  return l;
}

} // namespace

std::string render_metrics(const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns) {
  Prom p;
  const bool attached = ipc::has_engine(s.status);
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
