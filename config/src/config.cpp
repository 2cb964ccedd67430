#include "qf/config/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

namespace qf::config {
namespace {

const std::set<std::string> kVenues = {"binance-spot", "binance-usdm", "coinbase", "kraken", "okx", "bybit-spot", "bybit-linear", "coinbase-advanced"};

[[noreturn]] void fail(const std::string& source, const toml::source_region& where, const std::string& key,
                       const std::string& problem) {
  std::ostringstream out;
  out << source << ":" << where.begin.line << ":" << where.begin.column << ": " << key << ": " << problem;
  throw ConfigError(out.str());
}

// Reads the keys of one table, refusing any key it was not asked about.
class TableReader {
public:
  TableReader(const toml::table& table, std::string prefix, const std::string& source)
      : table_(table), prefix_(std::move(prefix)), source_(source) {}
  ~TableReader() noexcept(false) {
    if (std::uncaught_exceptions() != 0) {
      return;
    }
    for (const auto& [key, node] : table_) {
      if (known_.count(std::string(key.str())) == 0) {
        fail(source_, node.source(), name(std::string(key.str())), "unknown key");
      }
    }
  }
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  void text(const char* key, std::string& out) {
    if (const auto* node = find(key)) {
      const auto v = node->value<std::string>();
      if (!v) {
        fail(source_, node->source(), name(key), "must be a string");
      }
      out = *v;
    }
  }
  void boolean(const char* key, bool& out) {
    if (const auto* node = find(key)) {
      const auto* v = node->as_boolean();
      if (v == nullptr) {
        fail(source_, node->source(), name(key), "must be true or false");
      }
      out = v->get();
    }
  }
  template <typename Int>
  void integer(const char* key, Int& out, std::int64_t lo, std::int64_t hi) {
    if (const auto* node = find(key)) {
      const auto* v = node->as_integer();
      if (v == nullptr) {
        fail(source_, node->source(), name(key), "must be an integer");
      }
      if (v->get() < lo || v->get() > hi) {
        fail(source_, node->source(), name(key),
             "must be within " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + std::to_string(v->get()));
      }
      out = static_cast<Int>(v->get());
    }
  }
  void positive(const char* key, double& out) {
    if (const auto* node = find(key)) {
      const auto v = node->value<double>(); // integers are accepted as numbers
      if (!v || !std::isfinite(*v) || *v <= 0.0) {
        fail(source_, node->source(), name(key), "must be a positive number");
      }
      out = *v;
    }
  }
  void number(const char* key, double& out, double lo, double hi) {
    if (const auto* node = find(key)) {
      const auto v = node->value<double>();
      if (!v || !std::isfinite(*v) || *v < lo || *v > hi) {
        fail(source_, node->source(), name(key),
             "must be a number within " + std::to_string(lo) + ".." + std::to_string(hi));
      }
      out = *v;
    }
  }
  void int_list(const char* key, std::vector<int>& out, int lo, int hi) {
    if (const auto* node = find(key)) {
      const auto* arr = node->as_array();
      if (arr == nullptr) {
        fail(source_, node->source(), name(key), "must be an array of integers");
      }
      out.clear();
      for (const auto& item : *arr) {
        const auto* v = item.as_integer();
        if (v == nullptr || v->get() < lo || v->get() > hi) {
          fail(source_, item.source(), name(key),
               "items must be integers within " + std::to_string(lo) + ".." + std::to_string(hi));
        }
        out.push_back(static_cast<int>(v->get()));
      }
    }
  }
  template <typename Enum>
  void choice(const char* key, Enum& out, std::initializer_list<std::pair<const char*, Enum>> options) {
    std::string value;
    const auto* node = find(key);
    if (node == nullptr) {
      return;
    }
    text(key, value);
    std::string allowed;
    for (const auto& [label, e] : options) {
      if (value == label) {
        out = e;
        return;
      }
      allowed += allowed.empty() ? label : std::string(" | ") + label;
    }
    fail(source_, node->source(), name(key), "must be one of " + allowed + ", got '" + value + "'");
  }
  // A key handled by the caller (a sub-table): known, not read here.
  void allow(const char* key) { known_.insert(key); }
  [[nodiscard]] const toml::node* require(const char* key) {
    const auto* node = find(key);
    if (node == nullptr) {
      fail(source_, table_.source(), name(key), "is required");
    }
    return node;
  }

private:
  const toml::node* find(const char* key) {
    known_.insert(key);
    return table_.get(key);
  }
  [[nodiscard]] std::string name(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

  const toml::table& table_;
  std::string prefix_;
  const std::string& source_;
  std::set<std::string> known_;
};

const toml::table* sub_table(const toml::table& root, const char* key, const std::string& source) {
  const toml::node* node = root.get(key);
  if (node == nullptr) {
    return nullptr;
  }
  if (!node->is_table()) {
    fail(source, node->source(), key, "must be a table");
  }
  return node->as_table();
}

Config from_table(const toml::table& root, const std::string& source) {
  Config c;
  TableReader top(root, "", source);
  if (const auto* t = sub_table(root, "engine", source)) {
    top.allow("engine");
    TableReader r(*t, "engine", source);
    r.text("instance", c.engine.instance);
    r.choice("mode", c.engine.mode, {{"live", Mode::live}, {"sim", Mode::sim}, {"replay", Mode::replay}});
    r.integer("core_cpu", c.engine.core_cpu, -1, 4095);
    r.int_list("feed_cpus", c.engine.feed_cpus, 0, 4095);
    r.integer("numa_node", c.engine.numa_node, -1, 1023);
    r.boolean("lock_memory", c.engine.lock_memory);
    r.integer("realtime_priority", c.engine.realtime_priority, 0, 99);
    r.boolean("huge_pages", c.engine.huge_pages);
    r.choice("idle", c.engine.idle,
             {{"spin", IdleStrategy::spin}, {"backoff", IdleStrategy::backoff}, {"sleep", IdleStrategy::sleep}});
    r.choice("threads", c.engine.threads, {{"inline", ThreadsMode::inline_}, {"split", ThreadsMode::split}});
    for (const char ch : c.engine.instance) {
      const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                      ch == '-';
      if (!ok || c.engine.instance.size() > 64) {
        fail(source, t->source(), "engine.instance", "must be 1-64 characters of [A-Za-z0-9_-]");
      }
    }
  }
  if (const auto* t = sub_table(root, "book", source)) {
    top.allow("book");
    TableReader r(*t, "book", source);
    r.integer("window_ticks", c.book.window_ticks, 16, 1 << 24);
    r.integer("cold_capacity", c.book.cold_capacity, 0, 1 << 20);
  }
  if (const auto* t = sub_table(root, "features", source)) {
    top.allow("features");
    TableReader r(*t, "features", source);
    r.positive("fast_halflife_s", c.features.fast_halflife_s);
    r.positive("slow_halflife_s", c.features.slow_halflife_s);
    r.positive("vol_halflife_s", c.features.vol_halflife_s);
    r.positive("flow_halflife_s", c.features.flow_halflife_s);
    r.integer("vwap_window_s", c.features.vwap_window_s, 1, 3600);
    r.integer("imbalance_levels", c.features.imbalance_levels, 1, 20);
  }
  if (const auto* t = sub_table(root, "risk", source)) {
    top.allow("risk");
    TableReader r(*t, "risk", source);
    RiskSection& k = c.risk;
    r.boolean("enabled", k.enabled);
    r.positive("target_vol_annual", k.target_vol_annual);
    r.number("allocation", k.allocation, 0.0, 10.0);
    r.number("vol_floor", k.vol_floor, 0.0, 1.0);
    r.number("lot_size", k.lot_size, 0.0, 1e9);
    r.number("rebalance_notional", k.rebalance_notional, 0.0, 1e15);
    r.number("rebalance_band", k.rebalance_band, 0.0, 1e15);
    r.number("min_hold_s", k.min_hold_s, 0.0, 86'400.0);
    r.number("min_order_gap_ms", k.min_order_gap_ms, 0.0, 3'600'000.0);
    r.positive("price_band_bps", k.price_band_bps);
    r.positive("max_order_notional", k.max_order_notional);
    r.positive("max_position_notional", k.max_position_notional);
    r.positive("max_gross_notional", k.max_gross_notional);
    r.positive("daily_loss_limit", k.daily_loss_limit);
    r.number("max_drawdown", k.max_drawdown, 1e-6, 1.0);
    r.integer("orders_per_s_instrument", k.orders_per_s_instrument, 1, 100'000);
    r.integer("orders_per_min_instrument", k.orders_per_min_instrument, 1, 1'000'000);
    r.integer("orders_per_s_total", k.orders_per_s_total, 1, 100'000);
    r.integer("orders_per_min_total", k.orders_per_min_total, 1, 1'000'000);
    r.choice("trip_mode", k.trip_mode,
             {{"halt", KillModeSetting::halt}, {"reduce-only", KillModeSetting::reduce_only},
              {"flatten", KillModeSetting::flatten}});
    r.text("state_file", k.state_file);
  }
  if (const auto* t = sub_table(root, "paper", source)) {
    top.allow("paper");
    TableReader r(*t, "paper", source);
    r.positive("initial_capital", c.paper.initial_capital);
    r.number("taker_fee_bps", c.paper.taker_fee_bps, 0.0, 1000.0);
    r.number("maker_fee_bps", c.paper.maker_fee_bps, -1000.0, 1000.0);
    r.number("latency_ms", c.paper.latency_ms, 0.0, 60'000.0);
  }
  if (const auto* t = sub_table(root, "backtest", source)) {
    top.allow("backtest");
    TableReader r(*t, "backtest", source);
    r.integer("min_trades", c.backtest.min_trades, 0, 1'000'000'000);
    r.number("min_win_rate", c.backtest.min_win_rate, 0.0, 1.0);
    r.number("max_drawdown", c.backtest.max_drawdown, 1e-6, 1.0);
    r.positive("min_annualize_s", c.backtest.min_annualize_s);
  }
  if (const auto* t = sub_table(root, "signal", source)) {
    top.allow("signal");
    TableReader r(*t, "signal", source);
    r.text("model", c.signal.model);
    r.positive("drift_bound", c.signal.drift_bound);
    r.integer("drift_window", c.signal.drift_window, 50, 86'400);
  }
  if (const auto* t = sub_table(root, "store", source)) {
    top.allow("store");
    TableReader r(*t, "store", source);
    r.boolean("enabled", c.store.enabled);
    r.text("url", c.store.url);
    r.integer("poll_ms", c.store.poll_ms, 1, 10'000);
    r.integer("sample_ms", c.store.sample_ms, 1, 3'600'000);
    r.integer("queue_rows", c.store.queue_rows, 1, 100'000'000);
    r.integer("batch_rows", c.store.batch_rows, 1, 1'000'000);
    r.integer("flush_ms", c.store.flush_ms, 1, 60'000);
    r.integer("retry_max_ms", c.store.retry_max_ms, 10, 600'000);
    r.integer("retention_days", c.store.retention_days, 0, 100'000);
    r.integer("partitions_ahead_days", c.store.partitions_ahead_days, 0, 366);
    r.text("status_file", c.store.status_file);
  }
  if (const toml::node* node = root.get("instruments")) {
    top.allow("instruments");
    const auto* arr = node->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      fail(source, node->source(), "instruments", "must be an array of tables ([[instruments]])");
    }
    std::map<std::string, std::string> seen; // venue:SYMBOL -> "instruments[i], line L, is S"
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& t = *arr->get(i)->as_table();
      const std::string prefix = "instruments[" + std::to_string(i) + "]";
      TableReader r(t, prefix, source);
      InstrumentEntry e;
      (void)r.require("venue");
      (void)r.require("symbol");
      r.text("venue", e.venue);
      r.text("symbol", e.symbol);
      r.integer("price_decimals", e.price_decimals, 0, 18);
      r.integer("qty_decimals", e.qty_decimals, 0, 18);
      if (kVenues.count(e.venue) == 0) {
        fail(source, t.source(), prefix + ".venue", "unknown venue '" + e.venue + "' (binance-spot | binance-usdm | coinbase | kraken | okx | bybit-spot | bybit-linear | coinbase-advanced)");
      }
      if (e.symbol.empty() || e.symbol.size() > 23) {
        fail(source, t.source(), prefix + ".symbol", "must be 1-23 characters");
      }
      // Case-folded: Binance's parser upper-cases symbols, so BTCUSDT and btcusdt are one
      // instrument there; on the other venues a case variant is a typo of the same symbol.
      std::string folded = e.symbol;
      std::transform(folded.begin(), folded.end(), folded.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      const toml::source_region& at = t["symbol"].node()->source(); // required above
      const std::string first = prefix + ", line " + std::to_string(at.begin.line) + ", is " + e.symbol;
      if (const auto [it, fresh] = seen.emplace(e.venue + ":" + folded, first); !fresh) {
        fail(source, at, prefix + ".symbol",
             "duplicate instrument " + e.venue + ":" + e.symbol + " (" + it->second +
                 "; symbols are compared ignoring case)");
      }
      c.instruments.push_back(e);
    }
    if (c.instruments.size() > 64) {
      fail(source, node->source(), "instruments", "at most 64 instruments");
    }
  }
  if (const toml::node* node = root.get("venues")) {
    top.allow("venues");
    const auto* arr = node->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      fail(source, node->source(), "venues", "must be an array of tables ([[venues]])");
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& t = *arr->get(i)->as_table();
      const std::string prefix = "venues[" + std::to_string(i) + "]";
      TableReader r(t, prefix, source);
      std::string venue;
      (void)r.require("venue");
      r.text("venue", venue);
      if (kVenues.count(venue) == 0) {
        fail(source, t.source(), prefix + ".venue", "unknown venue '" + venue + "' (binance-spot | binance-usdm | coinbase | kraken | okx | bybit-spot | bybit-linear | coinbase-advanced)");
      }
      if (find_venue(c, venue) != nullptr) {
        fail(source, t.source(), prefix, "duplicate venue " + venue);
      }
      VenueEntry v = venue_defaults(venue);
      r.text("ws_url", v.ws_url);
      r.text("rest_url", v.rest_url);
      r.text("ca_file", v.ca_file);
      r.text("depth_stream", v.depth_stream);
      r.integer("snapshot_limit", v.snapshot_limit, 5, 5000);
      r.integer("feed_thread", v.feed_thread, 0, 7);
      r.integer("streams_per_connection", v.streams_per_connection, 1, 1024);
      r.integer("stale_after_ms", v.stale_after_ms, 100, 3'600'000);
      r.integer("instrument_stale_after_ms", v.instrument_stale_after_ms, 100, 86'400'000);
      r.integer("reconnect_min_ms", v.reconnect_min_ms, 1, 600'000);
      r.integer("reconnect_max_ms", v.reconnect_max_ms, 1, 3'600'000);
      r.integer("max_connection_age_s", v.max_connection_age_s, 1, 86'400);
      r.integer("max_frame_bytes", v.max_frame_bytes, 4096, 64 << 20);
      r.text("record_dir", v.record_dir);
      for (const std::string* url : {&v.ws_url, &v.rest_url}) {
        const bool ws = url == &v.ws_url;
        const char* secure = ws ? "wss://" : "https://";
        const char* plain = ws ? "ws://" : "http://";
        const bool loopback = url->rfind(std::string(plain) + "127.0.0.1", 0) == 0 ||
                              url->rfind(std::string(plain) + "localhost", 0) == 0;
        if (url->rfind(secure, 0) != 0 && !loopback) {
          fail(source, t.source(), prefix + (ws ? ".ws_url" : ".rest_url"),
               std::string("must start with ") + secure + " (" + plain + " only for 127.0.0.1), got '" + *url + "'");
        }
      }
      if (v.reconnect_max_ms < v.reconnect_min_ms) {
        fail(source, t.source(), prefix + ".reconnect_max_ms", "must be >= reconnect_min_ms");
      }
      if (venue == "kraken" && v.depth_stream != "book") {
        fail(source, t.source(), prefix + ".depth_stream", "must be book (WS v2, depth 10), got '" + v.depth_stream + "'");
      }
      if (venue == "coinbase-advanced" && v.depth_stream != "level2") {
        fail(source, t.source(), prefix + ".depth_stream", "must be level2 (sequence_num checked), got '" + v.depth_stream + "'");
      }
      if (venue == "okx" && v.depth_stream != "books") {
        fail(source, t.source(), prefix + ".depth_stream", "must be books (v5 public, 400 levels), got '" + v.depth_stream + "'");
      }
      const bool bybit = venue == "bybit-spot" || venue == "bybit-linear";
      if (bybit && v.depth_stream != "orderbook.1" && v.depth_stream != "orderbook.50" &&
          v.depth_stream != "orderbook.200" && v.depth_stream != "orderbook.1000") {
        fail(source, t.source(), prefix + ".depth_stream",
             "must be orderbook.1, orderbook.50, orderbook.200 or orderbook.1000, got '" + v.depth_stream + "'");
      }
      if (venue != "coinbase" && venue != "kraken" && venue != "okx" && venue != "coinbase-advanced" && !bybit && v.depth_stream.rfind("depth", 0) != 0) {
        fail(source, t.source(), prefix + ".depth_stream", "must be depth, depth@100ms or depth@0ms");
      }
      if (venue == "coinbase" && v.depth_stream != "level2_batch" && v.depth_stream != "level2") {
        fail(source, t.source(), prefix + ".depth_stream",
             "must be level2_batch (level2 needs authentication since 2023-08-01), got '" + v.depth_stream + "'");
      }
      c.venues.push_back(v);
    }
  }
  for (const InstrumentEntry& e : c.instruments) {
    if (find_venue(c, e.venue) == nullptr) {
      c.venues.push_back(venue_defaults(e.venue));
    }
  }
  if (const auto* t = sub_table(root, "rest_budget", source)) {
    top.allow("rest_budget");
    TableReader r(*t, "rest_budget", source);
    r.integer("weight_per_minute", c.rest_budget.weight_per_minute, 1, 100'000);
    r.integer("snapshot_weight", c.rest_budget.snapshot_weight, 0, 1000);
    r.integer("max_in_flight", c.rest_budget.max_in_flight, 1, 64);
  }
  if (const auto* t = sub_table(root, "gateway", source)) {
    top.allow("gateway");
    TableReader r(*t, "gateway", source);
    r.text("host", c.gateway.host);
    r.integer("port", c.gateway.port, 0, 65535);
    r.text("admin_token_file", c.gateway.admin_token_file);
    r.text("audit_log", c.gateway.audit_log);
    r.text("web_root", c.gateway.web_root);
    r.positive("push_hz", c.gateway.push_hz);
    r.integer("max_clients", c.gateway.max_clients, 1, 100'000);
    r.integer("ws_subscribe_timeout_ms", c.gateway.ws_subscribe_timeout_ms, 100, 3'600'000);
    r.integer("client_buffer_bytes", c.gateway.client_buffer_bytes, 4096, 1 << 30);
    r.integer("stall_after_ms", c.gateway.stall_after_ms, 10, 3'600'000);
    r.text("backtest_data_dir", c.gateway.backtest_data_dir);
    r.text("backtest_dir", c.gateway.backtest_dir);
    r.integer("backtest_queue", c.gateway.backtest_queue, 1, 1000);
    r.text("engine_binary", c.gateway.engine_binary);
  }
  // ---- [bridge] ----
  if (const auto* t = sub_table(root, "bridge", source)) {
    top.allow("bridge");
    TableReader r(*t, "bridge", source);
    r.boolean("enabled", c.bridge.enabled);
    r.text("nats_url", c.bridge.nats_url);
    r.boolean("start_nats", c.bridge.start_nats);
    r.text("nats_store_dir", c.bridge.nats_store_dir);
    r.text("subject_prefix", c.bridge.subject_prefix);
    r.positive("conflate_hz", c.bridge.conflate_hz);
    r.integer("reconnect_min_ms", c.bridge.reconnect_min_ms, 1, 60'000);
    r.integer("reconnect_max_ms", c.bridge.reconnect_max_ms, 1, 600'000);
    r.integer("poll_idle_us", c.bridge.poll_idle_us, 0, 1'000'000);
    r.integer("stream_max_msgs", c.bridge.stream_max_msgs, 1, std::int64_t{1} << 40);
    r.integer("stream_max_bytes", c.bridge.stream_max_bytes, 4096, std::int64_t{1} << 50);
    r.positive("stream_max_age_s", c.bridge.stream_max_age_s);
    if (c.bridge.reconnect_max_ms < c.bridge.reconnect_min_ms) {
      fail(source, t->source(), "bridge.reconnect_max_ms", "must be at least reconnect_min_ms");
    }
    if (c.bridge.subject_prefix.empty() ||
        c.bridge.subject_prefix.find_first_of(". *>\t") != std::string::npos) {
      fail(source, t->source(), "bridge.subject_prefix", "must be one NATS subject token (no '.', ' ', '*', '>')");
    }
  }
  // ---- end [bridge] ----
  // ---- [[composite]] ----
  if (const toml::node* node = root.get("composite")) {
    top.allow("composite");
    const auto* arr = node->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      fail(source, node->source(), "composite", "must be an array of tables ([[composite]])");
    }
    if (arr->size() > kMaxComposites) {
      fail(source, node->source(), "composite", "at most " + std::to_string(kMaxComposites) + " composites");
    }
    std::set<std::string> assets;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const auto& t = *arr->get(i)->as_table();
      const std::string prefix = "composite[" + std::to_string(i) + "]";
      TableReader r(t, prefix, source);
      CompositeEntry e;
      (void)r.require("asset");
      const toml::node* members = r.require("members");
      r.text("asset", e.asset);
      r.integer("stale_after_ms", e.stale_after_ms, 1, 3'600'000);
      if (e.asset.empty() || e.asset.size() > 15 ||
          e.asset.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
              std::string::npos) {
        fail(source, t.source(), prefix + ".asset", "must be 1-15 characters of [A-Za-z0-9_-], got '" + e.asset + "'");
      }
      if (!assets.insert(e.asset).second) {
        fail(source, t.source(), prefix + ".asset", "duplicate composite " + e.asset);
      }
      const auto* list = members->as_array();
      if (list == nullptr) {
        fail(source, members->source(), prefix + ".members", "must be an array of \"venue:symbol\" strings");
      }
      std::set<std::string> seen;
      for (const auto& item : *list) {
        const auto v = item.value<std::string>();
        if (!v) {
          fail(source, item.source(), prefix + ".members", "items must be \"venue:symbol\" strings");
        }
        const std::size_t colon = v->find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == v->size()) {
          fail(source, item.source(), prefix + ".members", "'" + *v + "' is not venue:symbol");
        }
        const std::string venue = v->substr(0, colon);
        const std::string symbol = v->substr(colon + 1);
        const bool known = std::any_of(c.instruments.begin(), c.instruments.end(), [&](const InstrumentEntry& in) {
          return in.venue == venue && in.symbol == symbol;
        });
        if (!known) {
          fail(source, item.source(), prefix + ".members", "'" + *v + "' is not an instrument of [[instruments]]");
        }
        if (!seen.insert(*v).second) {
          fail(source, item.source(), prefix + ".members", "duplicate member '" + *v + "'");
        }
        e.members.push_back(*v);
      }
      if (e.members.size() < 2 || e.members.size() > kMaxCompositeMembers) {
        fail(source, members->source(), prefix + ".members",
             "must name 2.." + std::to_string(kMaxCompositeMembers) + " instruments, got " +
                 std::to_string(e.members.size()));
      }
      c.composites.push_back(std::move(e));
    }
  }
  // ---- end [[composite]] ----
  return c;
}

} // namespace

VenueEntry venue_defaults(const std::string& venue) {
  VenueEntry v;
  v.venue = venue;
  if (venue == "binance-spot") {
    v.ws_url = "wss://stream.binance.com:9443";
    v.rest_url = "https://api.binance.com";
  } else if (venue == "binance-usdm") {
    v.ws_url = "wss://fstream.binance.com";
    v.rest_url = "https://fapi.binance.com";
  } else if (venue == "coinbase") {
    v.ws_url = "wss://ws-feed.exchange.coinbase.com";
    v.rest_url = "https://api.exchange.coinbase.com";
    v.depth_stream = "level2_batch";
  } else if (venue == "kraken") {
    v.ws_url = "wss://ws.kraken.com/v2";
    v.rest_url = "https://api.kraken.com"; // unused by the feed (the websocket sends the snapshot)
    v.depth_stream = "book";
  } else if (venue == "okx") {
    v.ws_url = "wss://ws.okx.com:8443/ws/v5/public";
    v.rest_url = "https://www.okx.com"; // unused by the feed (the websocket sends the snapshot)
    v.depth_stream = "books";
  } else if (venue == "coinbase-advanced") {
    v.ws_url = "wss://advanced-trade-ws.coinbase.com";
    v.rest_url = "https://api.coinbase.com"; // unused by the feed (the websocket sends the snapshot)
    v.depth_stream = "level2";
  } else if (venue == "bybit-spot" || venue == "bybit-linear") {
    v.ws_url = venue == "bybit-spot" ? "wss://stream.bybit.com/v5/public/spot" : "wss://stream.bybit.com/v5/public/linear";
    v.rest_url = "https://api.bybit.com"; // unused by the feed (the websocket sends the snapshot)
    v.depth_stream = "orderbook.50";
  } else {
    throw ConfigError("unknown venue '" + venue + "' (binance-spot | binance-usdm | coinbase | kraken | okx | bybit-spot | bybit-linear | coinbase-advanced)");
  }
  return v;
}

const VenueEntry* find_venue(const Config& config, const std::string& venue) noexcept {
  for (const VenueEntry& v : config.venues) {
    if (v.venue == venue) {
      return &v;
    }
  }
  return nullptr;
}

Config parse_config(const std::string& toml_text, const std::string& source_name) {
  try {
    const toml::table root = toml::parse(toml_text, source_name);
    return from_table(root, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << source_name << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw ConfigError(out.str());
  }
}

Config load_config(const std::string& path) {
  try {
    const toml::table root = toml::parse_file(path);
    Config c = from_table(root, path);
    if (!c.signal.model.empty() && c.signal.model.front() != '/') {
      const std::size_t slash = path.rfind('/');
      c.signal.model = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/" + c.signal.model;
    }
    return c;
  } catch (const toml::parse_error& e) {
    std::ostringstream out;
    out << path << ":";
    if (e.source().begin.line == 0) { // the file itself: missing, unreadable, a directory
      out << " cannot read the config file: " << e.description();
    } else {
      out << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    }
    throw ConfigError(out.str());
  }
}

const char* to_string(Mode m) noexcept {
  switch (m) {
  case Mode::live: return "live";
  case Mode::sim: return "sim";
  case Mode::replay: return "replay";
  }
  return "unknown";
}

} // namespace qf::config

namespace qf::config {
namespace {
bool secret_key(std::string_view k) {
  return k.find("token") != std::string_view::npos || k.find("password") != std::string_view::npos ||
         k.find("secret") != std::string_view::npos;
}
// A URL or libpq string that carries credentials ("user:pass@", "password=").
bool has_credentials(std::string_view v) {
  const std::size_t scheme = v.find("://");
  const std::size_t at = v.find('@');
  return v.find("password") != std::string_view::npos ||
         (scheme != std::string_view::npos && at != std::string_view::npos && at > scheme);
}
void redact(toml::table& t) {
  std::vector<std::string> secrets; // replaced after the walk: the table must not change under it
  for (auto&& [k, v] : t) {
    if (secret_key(k.str()) || (k.str().ends_with("url") && v.is_string() && has_credentials(*v.value<std::string>()))) {
      secrets.emplace_back(k.str());
    } else if (toml::table* sub = v.as_table()) {
      redact(*sub);
    } else if (toml::array* arr = v.as_array()) {
      for (auto& e : *arr) {
        if (toml::table* et = e.as_table()) {
          redact(*et);
        }
      }
    }
  }
  for (const std::string& k : secrets) {
    t.insert_or_assign(k, "<redacted>");
  }
}
} // namespace

std::string redacted_json(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw ConfigError(path + ": " + std::string(e.description()));
  }
  redact(root);
  std::ostringstream out;
  // toml++'s own JSON formatter (no hand-written TOML -> JSON walk), on one line.
  out << toml::json_formatter(root, toml::format_flags::none);
  return out.str();
}
} // namespace qf::config
