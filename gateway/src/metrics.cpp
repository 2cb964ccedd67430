#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

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

// name="value" with the value as it is: these values (state names, numbers) need no escaping.
std::string label_pair(std::string_view name, std::string_view value) {
  std::string l(name);
  l += "=\"";
  l += value;
  l += '"';
  return l;
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
  // A family of one unlabelled sample.
  template <typename V>
  void scalar(const char* name, const char* type, const char* help, V value) {
    family(name, type, help);
    sample(name, "", value);
  }
  // A family of one sample per item: labels_of(item), value_of(item) (a callable or a member pointer).
  template <typename Items, typename Labels, typename Value>
  void each(const char* name, const char* type, const char* help, const Items& items, Labels labels_of,
            Value value_of) {
    family(name, type, help);
    for (const auto& item : items) {
      sample(name, labels_of(item), std::invoke(value_of, item));
    }
  }
  // A state set: one sample per value of E from 0 to `last`, labelled `key`="<name>" after
  // `labels`; 1 for `current`, 0 for the others.
  template <typename E>
  void states(std::string_view name, std::string_view labels, const char* key, E last, E current) {
    for (std::uint8_t v = 0; v <= static_cast<std::uint8_t>(last); ++v) {
      std::string l(labels);
      if (!l.empty()) {
        l += ',';
      }
      l += label_pair(key, ipc::to_string(static_cast<E>(v)));
      sample(name, l, std::uint64_t{static_cast<std::uint8_t>(current) == v ? 1U : 0U});
    }
  }
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

// A family of one unlabelled sample read from a member of `Record`.
template <typename Record, typename T>
struct MemberMetric {
  const char* name;
  const char* type;
  const char* help;
  T Record::*value;
};

constexpr MemberMetric<ipc::PortfolioRecord, double> kPortfolioMetrics[] = {
    {"qf_equity", "gauge", "Paper equity: cash plus positions marked to mid (quote currency).",
     &ipc::PortfolioRecord::equity},
    {"qf_peak_equity", "gauge", "Highest equity since start or the last kill-switch reset.",
     &ipc::PortfolioRecord::peak_equity},
    {"qf_drawdown_ratio", "gauge", "Drawdown from the equity peak, (peak - equity) / peak.",
     &ipc::PortfolioRecord::drawdown},
    {"qf_daily_pnl", "gauge", "Equity change since the start of the UTC day.", &ipc::PortfolioRecord::daily_pnl},
    {"qf_gross_exposure", "gauge", "Sum of |position| x mid over instruments.", &ipc::PortfolioRecord::gross_exposure},
    {"qf_fees_paid_total", "counter", "Fees paid by paper fills (quote currency).", &ipc::PortfolioRecord::fees},
};

constexpr MemberMetric<GatewayStats, std::uint64_t> kGatewayMetrics[] = {
    {"qf_gateway_http_requests_total", "counter", "HTTP requests the gateway answered.", &GatewayStats::http_requests},
    {"qf_gateway_ws_clients", "gauge", "Connected WebSocket clients.", &GatewayStats::ws_clients},
    {"qf_gateway_ws_connections_total", "counter", "WebSocket connections accepted.", &GatewayStats::ws_connections},
    {"qf_gateway_ws_messages_sent_total", "counter", "WebSocket messages sent.", &GatewayStats::ws_messages_sent},
    {"qf_gateway_ws_sent_bytes_total", "counter", "WebSocket payload bytes sent.", &GatewayStats::ws_bytes_sent},
    {"qf_gateway_ws_updates_skipped_total", "counter", "Updates a slow client skipped (conflated).",
     &GatewayStats::ws_updates_skipped},
    {"qf_gateway_ws_slow_disconnects_total", "counter", "Clients cut off for not reading.",
     &GatewayStats::ws_slow_disconnects},
    {"qf_gateway_ws_rejected_total", "counter", "WebSocket connections refused at max_clients.",
     &GatewayStats::ws_rejected},
    {"qf_gateway_ws_idle_disconnects_total", "counter", "WebSocket clients closed for never subscribing.",
     &GatewayStats::ws_idle_disconnects},
    {"qf_gateway_http_oversized_total", "counter", "HTTP requests over the header buffer, answered 414 or 431.",
     &GatewayStats::http_oversized},
    {"qf_gateway_http_oversized_unanswered_total", "counter",
     "HTTP requests over the header buffer closed without a status (several requests under way at once).",
     &GatewayStats::http_oversized_unanswered},
};

std::string instrument_labels(const ipc::InstrumentSnapshot& i) {
  return label_pair("venue", label(venue_of(i.info))) + ',' + label_pair("symbol", label(symbol_of(i.info)));
}

std::string feed_labels(const ipc::FeedRecord& f) {
  return label_pair("feed", label(ipc::text_of(f.name)));
}

} // namespace

std::string render_metrics(const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns) {
  Prom p;
  const bool attached = ipc::has_engine(s.status);
  p.family("qf_engine_status", "gauge", "Engine status as seen by the gateway (1 for the current status).");
  p.states("qf_engine_status", "", "status", ipc::EngineStatus::damaged, s.status);
  p.scalar("qf_engine_up", "gauge", "1 when the engine is running and heart-beating.",
           std::uint64_t{s.status == ipc::EngineStatus::running ? 1U : 0U});
  if (attached) {
    p.family("qf_engine_info", "gauge", "Engine identity: mode (LIVE/SIM/REPLAY), pid and generation.");
    p.sample("qf_engine_info",
             label_pair("mode", ipc::to_string(s.mode)) + ',' + label_pair("pid", std::to_string(s.engine_pid)) + ',' +
                 label_pair("generation", std::to_string(s.generation)),
             std::uint64_t{1});
    p.scalar("qf_engine_heartbeat_age_seconds", "gauge", "Age of the engine's last heartbeat.",
             seconds(s.heartbeat_age_ns));
    p.scalar("qf_engine_start_time_seconds", "gauge", "Engine start time, Unix seconds.", seconds(s.start_unix_ns));
    p.scalar("qf_engine_messages_in_total", "counter", "Venue messages the engine parsed.", s.engine.messages_in);
    p.scalar("qf_engine_events_processed_total", "counter", "Normalized events the core applied.",
             s.engine.events_processed);
  }
  if (!s.feeds.empty()) {
    const auto feeds = [&](const char* name, const char* type, const char* help, auto value_of) {
      p.each(name, type, help, s.feeds, feed_labels, value_of);
    };
    feeds("qf_feed_connected", "gauge", "1 while the feed's connection is up.", [](const ipc::FeedRecord& f) {
      return std::uint64_t{f.state == ipc::ConnectionState::connected ? 1U : 0U};
    });
    feeds("qf_feed_messages_total", "counter", "Messages received on the feed.", &ipc::FeedRecord::messages);
    feeds("qf_feed_received_bytes_total", "counter", "Bytes received on the feed.", &ipc::FeedRecord::bytes);
    feeds("qf_feed_parse_errors_total", "counter", "Messages the parser rejected.", &ipc::FeedRecord::parse_errors);
    feeds("qf_feed_reconnects_total", "counter", "Reconnections of the feed.", &ipc::FeedRecord::reconnects);
    feeds("qf_feed_gaps_total", "counter", "Sequence gaps detected on the feed.", &ipc::FeedRecord::gaps);
    feeds("qf_feed_resyncs_total", "counter", "Book resynchronisations on the feed.", &ipc::FeedRecord::resyncs);
    feeds("qf_feed_drops_total", "counter", "Messages dropped by the feed.", &ipc::FeedRecord::drops);
    feeds("qf_feed_ring_high_water", "gauge", "Highest fill of the feed-to-core ring, in events.",
          &ipc::FeedRecord::ring_high_water);
    feeds("qf_feed_record_dropped_total", "counter", "Frames the recorder's full queue refused (not recorded).",
          &ipc::FeedRecord::record_dropped);
    feeds("qf_feed_record_write_errors_total", "counter", "Write errors of the feed's recorder (record_dir).",
          &ipc::FeedRecord::record_write_errors);
  }
  if (!s.instruments.empty()) {
    const auto instruments = [&](const char* name, const char* type, const char* help, auto value_of) {
      p.each(name, type, help, s.instruments, instrument_labels, value_of);
    };
    p.family("qf_instrument_book_health", "gauge", "Book health per instrument (1 for the current state).");
    for (const auto& i : s.instruments) {
      p.states("qf_instrument_book_health", instrument_labels(i), "health", ipc::BookHealth::crossed, i.health.health);
    }
    const auto counter = [&](const char* name, const char* help, auto field) {
      instruments(name, "counter", help, [field](const ipc::InstrumentSnapshot& i) { return i.health.*field; });
    };
    counter("qf_instrument_book_updates_total", "Book updates applied.", &ipc::HealthRecord::book_updates);
    counter("qf_instrument_trades_total", "Trades seen.", &ipc::HealthRecord::trades);
    counter("qf_instrument_gaps_total", "Sequence gaps of the instrument's book.", &ipc::HealthRecord::gaps);
    counter("qf_instrument_resyncs_total", "Resynchronisations of the instrument's book.", &ipc::HealthRecord::resyncs);
    counter("qf_instrument_crossed_total", "Times the book was seen crossed.", &ipc::HealthRecord::crossed);
    counter("qf_instrument_dropped_levels_total", "Book levels dropped (cold store full).",
            &ipc::HealthRecord::dropped_levels);
    instruments("qf_instrument_signal", "gauge", "Fused signal in [-1, 1].",
                [](const ipc::InstrumentSnapshot& i) { return i.signal.signal; });
    instruments("qf_instrument_signal_confidence", "gauge", "Confidence of the fused signal in [0, 1].",
                [](const ipc::InstrumentSnapshot& i) { return i.signal.confidence; });
    p.family("qf_instrument_regime_probability", "gauge", "Posterior probability of each regime.");
    for (const auto& i : s.instruments) {
      for (std::size_t r = 0; r < std::min<std::size_t>(i.signal.regimes, ipc::kMaxRegimes); ++r) {
        p.sample("qf_instrument_regime_probability",
                 instrument_labels(i) + ',' + label_pair("regime", std::to_string(r)), i.signal.regime[r]);
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
    p.family("qf_latency_seconds", "histogram",
             "Engine latency per stage (log-linear histogram, <= 0.78% bucket error).");
    for (std::size_t st = 0; st < ipc::kStageCount; ++st) {
      const ipc::HistogramSnapshot& h = *s.latency[st];
      const std::string base = label_pair("stage", ipc::to_string(static_cast<ipc::Stage>(st)));
      std::uint64_t cumulative = 0;
      std::size_t b = 0;
      // A histogram bucket counts under `le` when its highest value is <= le: cumulative counts
      // never exceed the truth, so quantiles estimated from them never under-report.
      for (const std::uint64_t bound : kLatencyBoundsNs) {
        while (b < h.buckets.size() && ipc::HistogramBucketing::upper_bound(b) <= bound) {
          cumulative += h.buckets[b];
          ++b;
        }
        p.sample("qf_latency_seconds_bucket", base + ',' + label_pair("le", ns_as_seconds(bound)), cumulative);
      }
      p.sample("qf_latency_seconds_bucket", base + ',' + label_pair("le", "+Inf"), h.count);
      p.sample("qf_latency_seconds_sum", base, seconds(h.sum));
      p.sample("qf_latency_seconds_count", base, h.count);
    }
    const ipc::PortfolioRecord& pf = s.portfolio;
    const ipc::RiskRecord& rk = s.risk;
    for (const auto& m : kPortfolioMetrics) {
      p.scalar(m.name, m.type, m.help, pf.*m.value);
    }
    p.scalar("qf_paper_fills_total", "counter", "Paper fills.", pf.fills);
    p.scalar("qf_paper_orders_total", "counter", "Paper orders sent.", pf.orders);
    if (!s.instruments.empty()) {
      p.each("qf_position", "gauge", "Signed paper position per instrument, base units.", s.instruments,
             instrument_labels, [](const ipc::InstrumentSnapshot& i) { return i.position.qty; });
      p.each("qf_position_notional", "gauge", "Paper position per instrument at its mark, quote currency.",
             s.instruments, instrument_labels,
             [](const ipc::InstrumentSnapshot& i) { return i.position.qty * i.position.mark; });
    }
    p.family("qf_risk_refusals_total", "counter", "Orders refused by the pre-trade checks, by reason.");
    const std::size_t nr = std::min<std::size_t>(rk.refusal_reasons, ipc::kMaxRefusalReasons);
    for (std::size_t k = 1; k < nr; ++k) {
      if (ipc::kRefusalNames[k][0] != '\0') {
        p.sample("qf_risk_refusals_total", label_pair("reason", ipc::kRefusalNames[k]), rk.refusals[k]);
      }
    }
    p.scalar("qf_kill_switch_tripped", "gauge", "1 while the kill switch is tripped.",
             std::uint64_t{rk.kill_mode != ipc::KillModeCode::none ? 1U : 0U});
    p.family("qf_kill_switch_mode", "gauge", "Kill-switch mode (1 for the current one; none = not tripped).");
    p.states("qf_kill_switch_mode", "", "mode", ipc::KillModeCode::flatten, rk.kill_mode);
    p.family("qf_kill_switch_cause", "gauge", "Cause of the current trip (1 for the current one; none = not tripped).");
    p.states("qf_kill_switch_cause", "", "cause", ipc::KillCauseCode::command, rk.kill_cause);
    p.scalar("qf_kill_switch_trips_total", "counter", "Kill-switch trips since the engine started.", rk.kill_trips);
  }
  for (const auto& m : kGatewayMetrics) {
    p.scalar(m.name, m.type, m.help, g.*m.value);
  }
  p.family("qf_gateway_control_requests_total", "counter", "Control requests by result.");
  for (const char* r : {"done", "unknown_instrument", "unsupported", "rejected", "unauthorized", "forbidden",
                        "timeout", "unavailable", "bad_request"}) {
    const auto it = g.control_results.find(r);
    p.sample("qf_gateway_control_requests_total", label_pair("result", r),
             it == g.control_results.end() ? 0 : it->second);
  }
  return p.take();
}

} // namespace qf::gateway
