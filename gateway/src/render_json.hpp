#pragma once
// JSON rendering of a StateSnapshot for the gateway: the documents of the REST API and the
// WebSocket pushes (the Prometheus exposition of /metrics is in metrics.hpp). Pure functions
// of the snapshot and the reader's clock, so the same bytes come out for the same state.
// Conventions: prices and quantities are exact decimal strings (null for an empty side),
// times are "<name>_unix_ns" plus "<name>" in ISO-8601, durations are seconds (double) or
// "_ns" integers. Event-loop thread only (they allocate).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "qf/ipc/json_writer.hpp"
#include "qf/ipc/state_reader.hpp"

namespace qf::gateway {

// The gateway's own counters, shown in /api/health and /metrics.
struct GatewayStats {
  std::uint64_t start_unix_ns = 0;
  std::uint64_t http_requests = 0;
  std::uint64_t http_oversized = 0;            // answered 414 or 431 after lws's header buffer overflowed
  std::uint64_t http_oversized_unanswered = 0; // overflows lws closed unanswered (several requests under way)
  std::uint64_t ws_clients = 0;
  std::uint64_t ws_connections = 0;
  std::uint64_t ws_messages_sent = 0;
  std::uint64_t ws_bytes_sent = 0;
  std::uint64_t ws_updates_skipped = 0;   // a newer state replaced one the client had not taken
  std::uint64_t ws_slow_disconnects = 0;  // clients cut off for not reading
  std::uint64_t ws_rejected = 0;          // refused at max_clients
  std::uint64_t ws_idle_disconnects = 0;  // closed for not subscribing within ws_subscribe_timeout_ms
  std::map<std::string, std::uint64_t> control_results; // by result ("done", "unauthorized", ...)
  bool history = false; // /api/history/... has a store to read (the dashboard shows its charts)
};

enum class LatencyDetail : std::uint8_t { summary, coarse, full };

[[nodiscard]] std::string_view venue_of(const ipc::InstrumentInfo& i) noexcept;
[[nodiscard]] std::string_view symbol_of(const ipc::InstrumentInfo& i) noexcept;
[[nodiscard]] std::string instrument_key(const ipc::InstrumentInfo& i); // "binance-spot:BTCUSDT"

// The members "engine" (ipc::to_string of the status), "mode" (null when no engine is attached) and
// "generation" of the object being written: the head of REST documents and WebSocket updates.
void render_engine_head(ipc::JsonWriter& o, const ipc::StateSnapshot& s);
void render_health(ipc::JsonWriter& o, const ipc::StateSnapshot& s, const GatewayStats& g, std::uint64_t now_unix_ns);
void render_instruments(ipc::JsonWriter& o, const ipc::StateSnapshot& s);
void render_quote(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i, std::uint64_t now_unix_ns);
void render_book(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i, std::size_t depth);
void render_bar(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i, bool one_minute);
void render_features(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i);
void render_signal(ipc::JsonWriter& o, const ipc::InstrumentSnapshot& i);
void render_feeds(ipc::JsonWriter& o, const ipc::StateSnapshot& s);
void render_latency(ipc::JsonWriter& o, const ipc::StateSnapshot& s, LatencyDetail detail);
void render_events(ipc::JsonWriter& o, const ipc::StateSnapshot& s, std::size_t limit);
// Risk and paper execution (money in quote currency as JSON numbers: computed doubles, not
// venue prices). Portfolio and risk are null when no engine is attached.
void render_portfolio(ipc::JsonWriter& o, const ipc::StateSnapshot& s);
void render_positions(ipc::JsonWriter& o, const ipc::StateSnapshot& s);
void render_fills(ipc::JsonWriter& o, const ipc::StateSnapshot& s, std::size_t limit); // newest first
void render_risk(ipc::JsonWriter& o, const ipc::StateSnapshot& s);
[[nodiscard]] bool engine_attached(const ipc::StateSnapshot& s) noexcept;
// A composite book (cross-venue NBBO, layout v7): best bid and ask with their member, the top
// `depth` merged levels with each member's share, every member with its health and exclusion.
void render_composite(ipc::JsonWriter& o, const ipc::StateSnapshot& s, const ipc::CompositeSnapshot& c,
                      std::size_t depth);

// The learned model in force (layout v9): id, path, training period and rows, the validation summary
// (means over the folds and each fold), the feature names, reloads and the last refusal; "loaded"
// false (and nulls) with the built-in parameters. Null when no engine is attached.
void render_model(ipc::JsonWriter& o, const ipc::StateSnapshot& s);
// /api/drift: the bound and window, then per instrument each input's PSI (null until judged), its
// samples in the window, whether the instrument is drifting, the worst input and the confidence fade.
void render_drift(ipc::JsonWriter& o, const ipc::StateSnapshot& s);

// Latency bucket bounds (ns) shared by /metrics and the dashboard's coarse histograms.
inline constexpr std::uint64_t kLatencyBoundsNs[] = {
    100,         250,         500,         1'000,         2'500,         5'000,         10'000,
    25'000,      50'000,      100'000,     250'000,       500'000,       1'000'000,     2'500'000,
    5'000'000,   10'000'000,  25'000'000,  50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

} // namespace qf::gateway
