#pragma once
// QuantFlow configuration: plain structs and a strict TOML loader. Strict means an unknown
// key, a wrong type or an out-of-range value is an error that names the key and its line, so
// a typo never silently falls back to a default. Defaults below are the documented ones
// (config/*.toml repeat them). Depends on toml++ only; the engine maps these structs onto its
// own types. Start-up only: the loader throws ConfigError.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace qf::config {

class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class Mode : std::uint8_t { live, sim, replay };
enum class IdleStrategy : std::uint8_t { spin, backoff, sleep };
// inline: the core thread services the feed connections itself (run to completion; needs every
// venue on one feed thread, else the engine falls back to split); split: feed threads -> rings.
enum class ThreadsMode : std::uint8_t { inline_, split };

struct EngineSection {
  std::string instance = "default";
  Mode mode = Mode::live;
  int core_cpu = -1;            // -1: not pinned
  std::vector<int> feed_cpus;   // empty: not pinned
  int numa_node = -1;           // -1: leave placement to the kernel
  bool lock_memory = true;      // mlockall
  int realtime_priority = 0;    // 0: no SCHED_FIFO
  bool huge_pages = false;      // for the state segment
  IdleStrategy idle = IdleStrategy::spin;
  ThreadsMode threads = ThreadsMode::inline_;
};

struct BookSection {
  std::uint32_t window_ticks = 1U << 14;
  std::uint32_t cold_capacity = 8192;
};

struct FeatureSection {
  double fast_halflife_s = 5.0;
  double slow_halflife_s = 60.0;
  double vol_halflife_s = 60.0;
  double flow_halflife_s = 10.0;
  std::uint32_t vwap_window_s = 300;
  std::uint32_t imbalance_levels = 5;
};

struct InstrumentEntry {
  std::string venue; // binance-spot | binance-usdm | coinbase | kraken | okx | bybit-spot | bybit-linear | coinbase-advanced
  std::string symbol;
  int price_decimals = 2;
  int qty_decimals = 8;
};

// One venue's endpoints and connection policy. Every instrument's venue needs one entry;
// a venue without an entry gets the live defaults below (venue_defaults()).
struct VenueEntry {
  std::string venue;    // binance-spot | binance-usdm | coinbase | kraken | okx | bybit-spot | bybit-linear | coinbase-advanced
  std::string ws_url;   // base, e.g. "wss://stream.binance.com:9443"; ws:// only for 127.0.0.1
  std::string rest_url; // base, e.g. "https://api.binance.com"
  std::string ca_file;  // extra trusted CA (qf-venue's self-signed cert); system store always
  std::string depth_stream = "depth@100ms"; // binance: depth@100ms | depth | depth@0ms (USD-M); coinbase: level2_batch; kraken: book; okx: books; bybit-*: orderbook.1|50|200|1000; coinbase-advanced: level2
  int snapshot_limit = 1000;                // levels per REST depth snapshot
  int feed_thread = 0;                      // index of the feed thread that serves it
  int streams_per_connection = 200;         // combined-stream subscriptions per websocket
  int stale_after_ms = 10000;               // no frame for this long: the connection is stale
  int instrument_stale_after_ms = 60000;    // no update of one instrument's book for this long
  int reconnect_min_ms = 250;               // backoff: full jitter in [0, min(max, min * 2^n)]
  int reconnect_max_ms = 30000;
  int max_connection_age_s = 23 * 3600;     // proactive reconnect before Binance's 24 h limit
  int max_frame_bytes = 1 << 20;            // a larger frame is an error and a resync
  std::string record_dir;                   // non-empty: record raw frames into rotating captures
};

// The global REST budget shared by every instrument of every venue (weight-aware).
struct RestBudgetSection {
  int weight_per_minute = 1200;   // Binance's limit is 6000; stay far below it
  int snapshot_weight = 0;        // 0: the venue's documented weight for snapshot_limit
  int max_in_flight = 2;          // concurrent REST requests
};

struct GatewaySection {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string admin_token_file;   // QF_ADMIN_TOKEN (environment) wins when set
  std::string audit_log = "run/qf-gateway-audit.jsonl"; // relative to the working directory; created 0600
  std::string web_root;           // empty: the gateway/web folder next to the sources
  double push_hz = 20.0;          // per-client WebSocket push rate limit
  int max_clients = 1024;
  int ws_subscribe_timeout_ms = 10000; // a WebSocket client that never subscribes is closed (1008) after this
  int client_buffer_bytes = 1 << 20; // a client that lets this much pile up is cut off
  int stall_after_ms = 2000;         // heartbeat age that makes the engine "stalled"
  // Backtest jobs (POST /api/backtests): captures named relative to backtest_data_dir, one
  // folder per job under backtest_dir, at most backtest_queue waiting; engine_binary empty: the
  // qf-engine next to qf-gateway.
  std::string backtest_data_dir = "../shared/captures";
  std::string backtest_dir = "run/backtests";
  int backtest_queue = 4;
  std::string engine_binary;
};

// ---- [bridge] (qf-bridge: the state and the tick journal to NATS; issue 13) ----
struct BridgeSection {
  bool enabled = false;                     // scripts/run.sh starts nats-server and qf-bridge
  std::string nats_url = "nats://127.0.0.1:4222";
  bool start_nats = true;                   // scripts/run.sh starts a local nats-server for nats_url
  std::string nats_store_dir = "run/nats";  // that server's JetStream store (relative to the working directory)
  std::string subject_prefix = "qf";        // subjects are <prefix>.<instance>.<kind>...
  double conflate_hz = 10.0;                // signals, regime, health counters, portfolio, risk: at most this often
  int reconnect_min_ms = 100;               // backoff after a lost connection, doubled per attempt, full jitter
  int reconnect_max_ms = 5000;
  int poll_idle_us = 200;                   // the bridge's sleep when the journal is empty
  // JetStream streams <PREFIX>_<INSTANCE>_{BARS,SIGNALS,FILLS,EVENTS}: file storage, these limits each.
  std::int64_t stream_max_msgs = 1'000'000;
  std::int64_t stream_max_bytes = 1LL << 30;
  double stream_max_age_s = 86'400;
};
// ---- end [bridge] ----

// ---- [[composite]] (the cross-venue composite book, NBBO; issue 13 item 4) ----
// One asset consolidated over instruments of several venues: best bid and ask with their venue,
// the merged top levels, stale or unhealthy members excluded. Prices are compared as given: no
// FX conversion, so a USDT and a USD book are merged as if 1 USDT = 1 USD (config/README.md).
inline constexpr std::size_t kMaxComposites = 8;        // = ipc::kMaxComposites (config does not see ipc)
inline constexpr std::size_t kMaxCompositeMembers = 8;  // = ipc::kMaxCompositeMembers
struct CompositeEntry {
  std::string asset;                // "BTC": 1-15 characters of [A-Za-z0-9_-] (a URL and NATS token)
  std::vector<std::string> members; // "venue:symbol" of configured instruments, 2..8, each once
  int stale_after_ms = 5000;        // a member whose book has not changed for this long is excluded
};
// ---- end [[composite]] ----

// Paper trading: volatility-target sizing, pre-trade limits and the kill switch.
enum class KillModeSetting : std::uint8_t { halt, reduce_only, flatten };
struct RiskSection {
  bool enabled = true;                  // paper trading on the fused signal
  double target_vol_annual = 0.20;      // target volatility of a position, annualized
  double allocation = 0.10;             // fraction of capital per instrument at full signal
  double vol_floor = 1e-6;              // realized vol (per sqrt s) below this: no position
  double lot_size = 0.0;                // 0: the instrument's quantity step
  double rebalance_notional = 500;      // no order unless |target - position| * mid exceeds it
  double rebalance_band = 2'000;        // the traded target moves only when the target moved more (notional)
  double min_hold_s = 10;               // at most one order per instrument per this many seconds
  double min_order_gap_ms = 500;        // at most one order over all instruments per this many ms
  double price_band_bps = 50;           // order price within this of the mid
  double max_order_notional = 10'000;
  double max_position_notional = 20'000; // per instrument
  double max_gross_notional = 50'000;
  double daily_loss_limit = 2'000;       // UTC day, quote currency
  double max_drawdown = 0.15;            // from the equity peak
  std::uint32_t orders_per_s_instrument = 5;
  std::uint32_t orders_per_min_instrument = 60;
  std::uint32_t orders_per_s_total = 10;
  std::uint32_t orders_per_min_total = 200;
  KillModeSetting trip_mode = KillModeSetting::halt; // mode of automatic trips
  std::string state_file;                // live: persisted portfolio + kill switch; empty: none
};
struct PaperSection {
  double initial_capital = 100'000;
  double taker_fee_bps = 10;
  double maker_fee_bps = 10;
  double latency_ms = 0; // engine time before an order reaches the book
};
struct BacktestSection {
  std::uint32_t min_trades = 10;
  double min_win_rate = 0.45;
  double max_drawdown = 0.20; // strictly below
  double min_annualize_s = 86'400; // Sharpe/Sortino annualized only for runs at least this long
};

struct SignalSection {
  // A qf-train model file (train/qf_train.py); a relative path is taken from the config file's
  // folder. Empty: the built-in regime and expert parameters.
  std::string model;
  // Drift of the model's inputs (core/README.md, "Drift"): the population stability index of each
  // input over the last drift_window 1 s bars against training; above drift_bound the instrument's
  // signal confidence fades (x bound / PSI) and a notable event names the input.
  double drift_bound = 0.25;
  int drift_window = 300;
};

// qf-store: history in PostgreSQL (store/README.md).
struct StoreSection {
  bool enabled = false;            // scripts/run.sh starts qf-store
  std::string url;                 // libpq URL; empty: run.sh's private cluster under run/
  int poll_ms = 5;                 // state segment poll period (bars, fills, events)
  int sample_ms = 1000;            // signal, regime, equity and risk sampling period
  int queue_rows = 100'000;        // bounded queue between the source and the writer; beyond it: counted drops
  int batch_rows = 5'000;          // rows per COPY batch at most
  int flush_ms = 200;              // a partial batch is written after this long
  int retry_max_ms = 5'000;        // reconnect backoff ceiling
  int retention_days = 90;         // partitions older than this are dropped; 0 keeps everything
  int partitions_ahead_days = 3;   // daily partitions created ahead of today
  std::string status_file = "run/qf-store-status.json"; // counters, rewritten every second
};

struct Config {
  EngineSection engine;
  BookSection book;
  FeatureSection features;
  std::vector<InstrumentEntry> instruments;
  std::vector<VenueEntry> venues; // one per venue used by an instrument (defaults filled in)
  RestBudgetSection rest_budget;
  GatewaySection gateway;
  BridgeSection bridge; // [bridge]
  std::vector<CompositeEntry> composites; // [[composite]]
  RiskSection risk;
  PaperSection paper;
  BacktestSection backtest;
  SignalSection signal;
  StoreSection store;
};

// The live endpoints of a venue (throws ConfigError for an unknown venue name).
[[nodiscard]] VenueEntry venue_defaults(const std::string& venue);
// The entry for `venue` in config.venues, or nullptr.
[[nodiscard]] const VenueEntry* find_venue(const Config& config, const std::string& venue) noexcept;

// Throws ConfigError ("FILE:LINE:COL: key: problem") on any error.
[[nodiscard]] Config load_config(const std::string& path);
[[nodiscard]] Config parse_config(const std::string& toml_text, const std::string& source_name = "<string>");

[[nodiscard]] const char* to_string(Mode m) noexcept;

// The configuration file as written, as one JSON object (GET /api/config), with secrets
// redacted: every key naming a token, password or secret, and store.url / bridge.nats_url
// when they carry credentials, become "<redacted>". Throws ConfigError like load_config.
[[nodiscard]] std::string redacted_json(const std::string& path);

} // namespace qf::config
