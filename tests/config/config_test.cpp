#include "qf/config/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qf::config {
namespace {

// Expects parse_config(text) to throw a ConfigError whose message contains `needle`.
void expect_error(const std::string& text, const std::string& needle) {
  try {
    (void)parse_config(text, "test.toml");
    ADD_FAILURE() << "accepted: " << text;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(config, should_use_the_documented_defaults_for_an_empty_file) {
  const Config c = parse_config("");
  EXPECT_EQ(c.engine.instance, "default");
  EXPECT_EQ(c.engine.mode, Mode::live);
  EXPECT_EQ(c.engine.core_cpu, -1);
  EXPECT_EQ(c.engine.threads, ThreadsMode::inline_);
  EXPECT_EQ(c.book.window_ticks, 16384U);
  EXPECT_DOUBLE_EQ(c.features.fast_halflife_s, 5.0);
  EXPECT_TRUE(c.instruments.empty());
}

TEST(config, should_read_every_section) {
  const Config c = parse_config(R"(
[engine]
instance = "sim-1"
mode = "sim"
core_cpu = 1
feed_cpus = [0]
lock_memory = false
idle = "backoff"

[book]
window_ticks = 4096

[features]
fast_halflife_s = 2
vwap_window_s = 60

[[instruments]]
venue = "binance-spot"
symbol = "BTCUSDT"
price_decimals = 2
qty_decimals = 5

[[instruments]]
venue = "coinbase"
symbol = "ETH-USD"
)");
  EXPECT_EQ(c.engine.instance, "sim-1");
  EXPECT_EQ(c.engine.mode, Mode::sim);
  EXPECT_EQ(c.engine.core_cpu, 1);
  EXPECT_EQ(c.engine.feed_cpus, std::vector<int>{0});
  EXPECT_FALSE(c.engine.lock_memory);
  EXPECT_EQ(c.engine.idle, IdleStrategy::backoff);
  EXPECT_EQ(c.book.window_ticks, 4096U);
  EXPECT_DOUBLE_EQ(c.features.fast_halflife_s, 2.0);
  EXPECT_EQ(c.features.vwap_window_s, 60U);
  ASSERT_EQ(c.instruments.size(), 2U);
  EXPECT_EQ(c.instruments[0].qty_decimals, 5);
  EXPECT_EQ(c.instruments[1].price_decimals, 2) << "default";
}

TEST(config, should_read_risk_paper_and_backtest_with_their_defaults) {
  const Config d = parse_config("");
  EXPECT_TRUE(d.risk.enabled);
  EXPECT_DOUBLE_EQ(d.risk.max_drawdown, 0.15);
  EXPECT_DOUBLE_EQ(d.paper.taker_fee_bps, 10.0);
  EXPECT_EQ(d.risk.orders_per_s_instrument, 5U);
  EXPECT_DOUBLE_EQ(d.risk.rebalance_band, 2000.0);
  EXPECT_DOUBLE_EQ(d.risk.min_hold_s, 10.0);
  EXPECT_DOUBLE_EQ(d.risk.min_order_gap_ms, 500.0);
  EXPECT_DOUBLE_EQ(d.backtest.min_annualize_s, 86400.0);
  EXPECT_EQ(d.backtest.min_trades, 10U);
  EXPECT_DOUBLE_EQ(d.backtest.min_win_rate, 0.45);
  EXPECT_DOUBLE_EQ(d.backtest.max_drawdown, 0.20);
  EXPECT_EQ(d.risk.trip_mode, KillModeSetting::halt);
  const Config c = parse_config(R"(
[risk]
enabled = false
max_drawdown = 0.1
daily_loss_limit = 500
orders_per_min_total = 30
trip_mode = "reduce-only"
state_file = "/tmp/x.state"
[paper]
initial_capital = 5000
latency_ms = 2.5
taker_fee_bps = 0
[backtest]
min_trades = 3
)");
  EXPECT_FALSE(c.risk.enabled);
  EXPECT_DOUBLE_EQ(c.risk.max_drawdown, 0.1);
  EXPECT_DOUBLE_EQ(c.risk.daily_loss_limit, 500.0);
  EXPECT_EQ(c.risk.orders_per_min_total, 30U);
  EXPECT_EQ(c.risk.trip_mode, KillModeSetting::reduce_only);
  EXPECT_EQ(c.risk.state_file, "/tmp/x.state");
  EXPECT_DOUBLE_EQ(c.paper.initial_capital, 5000.0);
  EXPECT_DOUBLE_EQ(c.paper.latency_ms, 2.5);
  EXPECT_DOUBLE_EQ(c.paper.taker_fee_bps, 0.0);
  EXPECT_EQ(c.backtest.min_trades, 3U);
  expect_error("[risk]\nrebalance_band = -1\n", "risk.rebalance_band: must be a number within");
  expect_error("[risk]\nmin_hold_s = 100000\n", "risk.min_hold_s: must be a number within");
  expect_error("[risk]\nmin_order_gap_ms = \"fast\"\n", "risk.min_order_gap_ms");
  expect_error("[backtest]\nmin_annualize_s = 0\n", "backtest.min_annualize_s");
  expect_error("[risk]\nmax_drawdown = 1.5\n", "test.toml:2:16: risk.max_drawdown: must be a number within");
  expect_error("[risk]\ntrip_mode = \"panic\"\n", "risk.trip_mode: must be one of halt | reduce-only | flatten");
  expect_error("[risk]\nmax_drawdwn = 0.1\n", "risk.max_drawdwn");
  expect_error("[paper]\ntaker_fee_bps = -1\n", "paper.taker_fee_bps");
  expect_error("[backtest]\nmin_win_rate = \"high\"\n", "backtest.min_win_rate");
}

TEST(config, should_take_a_relative_signal_model_from_the_config_files_folder) {
  EXPECT_TRUE(parse_config("").signal.model.empty());
  EXPECT_EQ(parse_config("[signal]\nmodel = \"m.json\"\n").signal.model, "m.json");
  expect_error("[signal]\nmodels = \"m.json\"\n", "signal.models");
  expect_error("[signal]\nmodel = 3\n", "signal.model");
  const Config sim = load_config(QF_CONFIG_DIR "/sim.toml");
  EXPECT_EQ(sim.signal.model, QF_CONFIG_DIR "/btcusdt_model.json");
  EXPECT_TRUE(load_config(QF_CONFIG_DIR "/default.toml").signal.model.empty());
}

TEST(config, should_read_the_drift_bound_and_window_strictly) {
  const Config d = parse_config("");
  EXPECT_DOUBLE_EQ(d.signal.drift_bound, 0.25);
  EXPECT_EQ(d.signal.drift_window, 300);
  const Config c = parse_config("[signal]\ndrift_bound = 0.4\ndrift_window = 120\n");
  EXPECT_DOUBLE_EQ(c.signal.drift_bound, 0.4);
  EXPECT_EQ(c.signal.drift_window, 120);
  expect_error("[signal]\ndrift_bound = 0\n", "test.toml:2:15: signal.drift_bound: must be a positive number");
  expect_error("[signal]\ndrift_bound = \"high\"\n", "signal.drift_bound: must be a positive number");
  expect_error("[signal]\ndrift_window = 10\n", "signal.drift_window: must be within 50..86400, got 10");
  expect_error("[signal]\ndrift_window = 1.5\n", "signal.drift_window: must be an integer");
  expect_error("[signal]\ndrift_bond = 0.2\n", "signal.drift_bond: unknown key");
}

// [bridge] (qf-bridge, issue 13)
TEST(config, should_read_the_bridge_section_with_its_defaults) {
  const Config d = parse_config("", "test.toml");
  EXPECT_FALSE(d.bridge.enabled);
  EXPECT_EQ(d.bridge.nats_url, "nats://127.0.0.1:4222");
  EXPECT_TRUE(d.bridge.start_nats);
  EXPECT_EQ(d.bridge.subject_prefix, "qf");
  EXPECT_EQ(d.bridge.stream_max_msgs, 1'000'000);
  const Config c = parse_config("[bridge]\nenabled = true\nnats_url = \"nats://127.0.0.1:14222\"\nconflate_hz = 5\n"
                                "reconnect_min_ms = 10\nreconnect_max_ms = 20\nstream_max_bytes = 1048576\n"
                                "stream_max_age_s = 60\nnats_store_dir = \"/tmp/n\"\nstart_nats = false\n",
                                "test.toml");
  EXPECT_TRUE(c.bridge.enabled);
  EXPECT_EQ(c.bridge.nats_url, "nats://127.0.0.1:14222");
  EXPECT_DOUBLE_EQ(c.bridge.conflate_hz, 5.0);
  EXPECT_EQ(c.bridge.reconnect_max_ms, 20);
  EXPECT_EQ(c.bridge.stream_max_bytes, 1'048'576);
  EXPECT_EQ(c.bridge.nats_store_dir, "/tmp/n");
  EXPECT_FALSE(c.bridge.start_nats);
  expect_error("[bridge]\nreconnect_min_ms = 100\nreconnect_max_ms = 10\n", "bridge.reconnect_max_ms: must be at least");
  expect_error("[bridge]\nsubject_prefix = \"a.b\"\n", "bridge.subject_prefix: must be one NATS subject token");
  expect_error("[bridge]\nconflate_hz = 0\n", "bridge.conflate_hz: must be a positive number");
  expect_error("[bridge]\nenabld = true\n", "bridge.enabld: unknown key");
}

// [[composite]] (the cross-venue composite book, issue 13)
TEST(config, should_read_composites_over_configured_instruments) {
  const std::string instruments = "[[instruments]]\nvenue = \"binance-spot\"\nsymbol = \"BTCUSDT\"\n"
                                  "[[instruments]]\nvenue = \"coinbase\"\nsymbol = \"BTC-USD\"\n"
                                  "[[instruments]]\nvenue = \"kraken\"\nsymbol = \"BTC/USD\"\n";
  EXPECT_TRUE(parse_config(instruments).composites.empty());
  const Config c = parse_config(instruments + "[[composite]]\nasset = \"BTC\"\n"
                                "members = [\"binance-spot:BTCUSDT\", \"coinbase:BTC-USD\", \"kraken:BTC/USD\"]\n"
                                "stale_after_ms = 1500\n");
  ASSERT_EQ(c.composites.size(), 1U);
  EXPECT_EQ(c.composites[0].asset, "BTC");
  EXPECT_EQ(c.composites[0].members, (std::vector<std::string>{"binance-spot:BTCUSDT", "coinbase:BTC-USD", "kraken:BTC/USD"}));
  EXPECT_EQ(c.composites[0].stale_after_ms, 1500);
  EXPECT_EQ(parse_config(instruments + "[[composite]]\nasset = \"X\"\nmembers = [\"binance-spot:BTCUSDT\", "
                                       "\"coinbase:BTC-USD\"]\n")
                .composites[0]
                .stale_after_ms,
            5000);
  const std::string two = "members = [\"binance-spot:BTCUSDT\", \"coinbase:BTC-USD\"]\n";
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\nmembers = [\"binance-spot:BTCUSDT\", \"coinbase:ETH-USD\"]\n",
               "test.toml:12:36: composite[0].members: 'coinbase:ETH-USD' is not an instrument of [[instruments]]");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\nmembers = [\"binance-spot:BTCUSDT\", \"BTC-USD\"]\n",
               "composite[0].members: 'BTC-USD' is not venue:symbol");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\nmembers = [\"binance-spot:BTCUSDT\", \"binance-spot:BTCUSDT\"]\n",
               "composite[0].members: duplicate member 'binance-spot:BTCUSDT'");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\nmembers = [\"binance-spot:BTCUSDT\"]\n",
               "composite[0].members: must name 2..8 instruments, got 1");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\nmembers = [\"binance-spot:BTCUSDT\", 3]\n",
               "composite[0].members: items must be \"venue:symbol\" strings");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\nmembers = \"binance-spot:BTCUSDT\"\n",
               "composite[0].members: must be an array");
  expect_error(instruments + "[[composite]]\n" + two, "composite[0].asset: is required");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\n", "composite[0].members: is required");
  expect_error(instruments + "[[composite]]\nasset = \"B.TC\"\n" + two, "composite[0].asset: must be 1-15 characters");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\n" + two + "[[composite]]\nasset = \"BTC\"\n" + two,
               "composite[1].asset: duplicate composite BTC");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\n" + two + "stale_after_ms = 0\n",
               "composite[0].stale_after_ms: must be within 1..3600000");
  expect_error(instruments + "[[composite]]\nasset = \"BTC\"\n" + two + "depth = 5\n", "composite[0].depth: unknown key");
  expect_error(instruments + "[composite]\nasset = \"BTC\"\n", "composite: must be an array of tables");
  EXPECT_EQ(load_config(QF_CONFIG_DIR "/sim.toml").composites.size(), 1U);
  EXPECT_TRUE(load_config(QF_CONFIG_DIR "/default.toml").composites.empty());
}

TEST(config, should_name_the_key_and_line_of_an_unknown_key) {
  expect_error("[engine]\ncore_cpuu = 1\n", "test.toml:2:");
  expect_error("[engine]\ncore_cpuu = 1\n", "engine.core_cpuu: unknown key");
  expect_error("[enigne]\n", "enigne: unknown key");
}

TEST(config, should_refuse_wrong_types_and_out_of_range_values) {
  expect_error("[engine]\ncore_cpu = \"one\"\n", "engine.core_cpu: must be an integer");
  expect_error("[engine]\nrealtime_priority = 120\n", "must be within 0..99, got 120");
  expect_error("[engine]\nmode = \"paper\"\n", "must be one of live | sim | replay, got 'paper'");
  expect_error("[features]\nslow_halflife_s = -1\n", "features.slow_halflife_s: must be a positive number");
  expect_error("[engine]\ninstance = \"a/b\"\n", "engine.instance");
}

TEST(config, should_read_the_engine_threads_mode_and_name_the_line_of_a_bad_one) {
  EXPECT_EQ(parse_config("[engine]\nthreads = \"split\"\n").engine.threads, ThreadsMode::split);
  EXPECT_EQ(parse_config("[engine]\nthreads = \"inline\"\n").engine.threads, ThreadsMode::inline_);
  expect_error("[engine]\nmode = \"sim\"\nthreads = \"many\"\n", "test.toml:3:");
  expect_error("[engine]\nthreads = \"many\"\n", "engine.threads: must be one of inline | split, got 'many'");
}

TEST(config, should_refuse_bad_instruments) {
  expect_error("[[instruments]]\nsymbol = \"BTCUSDT\"\n", "instruments[0].venue: is required");
  expect_error("[[instruments]]\nvenue = \"kucoin\"\nsymbol = \"X\"\n", "unknown venue 'kucoin'");
  expect_error("[[instruments]]\nvenue = \"coinbase\"\nsymbol = \"A\"\n[[instruments]]\nvenue = \"coinbase\"\nsymbol = \"A\"\n",
               "duplicate instrument coinbase:A");
  expect_error("instruments = 3\n", "must be an array of tables");
}

// Binance's parser upper-cases symbols: a case variant is the same instrument, refused by the loader
// at the second symbol's position (not at run time by the parser, after the segments exist).
TEST(config, should_refuse_a_case_variant_duplicate_symbol_at_its_line) {
  expect_error("[[instruments]]\nvenue = \"binance-spot\"\nsymbol = \"BTCUSDT\"\n"
               "[[instruments]]\nvenue = \"binance-spot\"\nsymbol = \"btcusdt\"\n",
               "test.toml:6:10: instruments[1].symbol: duplicate instrument binance-spot:btcusdt (instruments[0], "
               "line 3, is BTCUSDT; symbols are compared ignoring case)");
  EXPECT_EQ(parse_config("[[instruments]]\nvenue = \"binance-spot\"\nsymbol = \"BTCUSDT\"\n"
                         "[[instruments]]\nvenue = \"coinbase\"\nsymbol = \"btcusdt\"\n")
                .instruments.size(),
            2U); // the same symbol on two venues is two instruments
}

TEST(config, should_read_kraken_instruments_with_the_live_v2_endpoint_by_default) {
  const Config c = parse_config("[[instruments]]\nvenue = \"kraken\"\nsymbol = \"BTC/USD\"\nprice_decimals = 1\n");
  ASSERT_EQ(c.instruments.size(), 1U);
  EXPECT_EQ(c.instruments[0].symbol, "BTC/USD");
  EXPECT_EQ(c.instruments[0].price_decimals, 1);
  const VenueEntry* v = find_venue(c, "kraken");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->ws_url, "wss://ws.kraken.com/v2");
  EXPECT_EQ(v->depth_stream, "book");
  expect_error("[[venues]]\nvenue = \"kraken\"\ndepth_stream = \"book25\"\n", "venues[0].depth_stream: must be book");
}

TEST(config, should_read_okx_instruments_with_the_live_v5_endpoint_by_default) {
  const Config c = parse_config("[[instruments]]\nvenue = \"okx\"\nsymbol = \"BTC-USDT\"\nprice_decimals = 1\n");
  ASSERT_EQ(c.instruments.size(), 1U);
  EXPECT_EQ(c.instruments[0].symbol, "BTC-USDT");
  const VenueEntry* v = find_venue(c, "okx");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->ws_url, "wss://ws.okx.com:8443/ws/v5/public");
  EXPECT_EQ(v->depth_stream, "books");
  expect_error("[[venues]]\nvenue = \"okx\"\ndepth_stream = \"books5\"\n", "venues[0].depth_stream: must be books");
  // Both shipped configurations name it: sim.toml on qf-venue, default.toml on the live endpoint.
  const Config sim_config = load_config(QF_CONFIG_DIR "/sim.toml");
  const VenueEntry* sim = find_venue(sim_config, "okx");
  ASSERT_NE(sim, nullptr);
  EXPECT_EQ(sim->ws_url, "ws://127.0.0.1:18083/ws/v5/public");
  const Config live_config = load_config(QF_CONFIG_DIR "/default.toml");
  const VenueEntry* live = find_venue(live_config, "okx");
  ASSERT_NE(live, nullptr);
  EXPECT_EQ(live->ws_url, "wss://ws.okx.com:8443/ws/v5/public");
}

TEST(config, should_read_bybit_instruments_with_the_live_v5_endpoints_by_default) {
  const Config c = parse_config("[[instruments]]\nvenue = \"bybit-spot\"\nsymbol = \"BTCUSDT\"\nprice_decimals = 2\n"
                                "[[instruments]]\nvenue = \"bybit-linear\"\nsymbol = \"BTCUSDT\"\nprice_decimals = 1\n");
  ASSERT_EQ(c.instruments.size(), 2U);
  const VenueEntry* spot = find_venue(c, "bybit-spot");
  ASSERT_NE(spot, nullptr);
  EXPECT_EQ(spot->ws_url, "wss://stream.bybit.com/v5/public/spot");
  EXPECT_EQ(spot->depth_stream, "orderbook.50");
  const VenueEntry* linear = find_venue(c, "bybit-linear");
  ASSERT_NE(linear, nullptr);
  EXPECT_EQ(linear->ws_url, "wss://stream.bybit.com/v5/public/linear");
  expect_error("[[venues]]\nvenue = \"bybit-spot\"\ndepth_stream = \"orderbook.500\"\n",
               "venues[0].depth_stream: must be orderbook.1, orderbook.50, orderbook.200 or orderbook.1000");
  expect_error("[[venues]]\nvenue = \"bybit-inverse\"\n", "unknown venue 'bybit-inverse'");
  // Both shipped configurations name them: sim.toml on qf-venue, default.toml on the live endpoints.
  const Config sim_config = load_config(QF_CONFIG_DIR "/sim.toml");
  ASSERT_NE(find_venue(sim_config, "bybit-spot"), nullptr);
  EXPECT_EQ(find_venue(sim_config, "bybit-spot")->ws_url, "ws://127.0.0.1:18084/v5/public/spot");
  ASSERT_NE(find_venue(sim_config, "bybit-linear"), nullptr);
  EXPECT_EQ(find_venue(sim_config, "bybit-linear")->ws_url, "ws://127.0.0.1:18085/v5/public/linear");
  const Config live_config = load_config(QF_CONFIG_DIR "/default.toml");
  for (const char* venue : {"bybit-spot", "bybit-linear"}) {
    const VenueEntry* live = find_venue(live_config, venue);
    ASSERT_NE(live, nullptr) << venue;
    EXPECT_EQ(live->ws_url, std::string("wss://stream.bybit.com/v5/public/") + (venue[6] == 's' ? "spot" : "linear"));
  }
}

TEST(config, should_read_coinbase_advanced_instruments_with_the_live_endpoint_by_default) {
  const Config c = parse_config("[[instruments]]\nvenue = \"coinbase-advanced\"\nsymbol = \"BTC-USD\"\nprice_decimals = 2\n");
  ASSERT_EQ(c.instruments.size(), 1U);
  const VenueEntry* v = find_venue(c, "coinbase-advanced");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->ws_url, "wss://advanced-trade-ws.coinbase.com");
  EXPECT_EQ(v->depth_stream, "level2");
  expect_error("[[venues]]\nvenue = \"coinbase-advanced\"\ndepth_stream = \"level2_batch\"\n",
               "venues[0].depth_stream: must be level2");
  // Both shipped configurations name it: sim.toml on qf-venue, default.toml on the live endpoint.
  const Config sim_config = load_config(QF_CONFIG_DIR "/sim.toml");
  ASSERT_NE(find_venue(sim_config, "coinbase-advanced"), nullptr);
  EXPECT_EQ(find_venue(sim_config, "coinbase-advanced")->ws_url, "ws://127.0.0.1:18086");
  const Config live_config = load_config(QF_CONFIG_DIR "/default.toml");
  ASSERT_NE(find_venue(live_config, "coinbase-advanced"), nullptr);
  EXPECT_EQ(find_venue(live_config, "coinbase-advanced")->ws_url, "wss://advanced-trade-ws.coinbase.com");
}

TEST(config, should_refuse_bad_venues) {
  expect_error("[[venues]]\nvenue = \"coinbase\"\ndepth_stream = \"full\"\n", "venues[0].depth_stream: must be level2_batch");
  expect_error("[[venues]]\nvenue = \"binance-spot\"\nws_url = \"ws://example.com\"\n",
               "venues[0].ws_url: must start with wss://");
  expect_error("[[venues]]\nvenue = \"binance-spot\"\nreconnect_min_ms = 500\nreconnect_max_ms = 100\n",
               "venues[0].reconnect_max_ms: must be >= reconnect_min_ms");
  expect_error("[[venues]]\nvenue = \"binance-spot\"\n[[venues]]\nvenue = \"binance-spot\"\n",
               "duplicate venue binance-spot");
}

TEST(config, should_fill_in_live_endpoints_for_a_venue_without_an_entry) {
  const Config c = parse_config("[[instruments]]\nvenue = \"binance-usdm\"\nsymbol = \"BTCUSDT\"\n");
  ASSERT_EQ(c.venues.size(), 1U);
  EXPECT_EQ(c.venues[0].ws_url, "wss://fstream.binance.com");
  EXPECT_EQ(c.venues[0].rest_url, "https://fapi.binance.com");
}

TEST(config, should_report_toml_syntax_errors_with_their_position) {
  expect_error("[engine\n", "test.toml:1:");
}

TEST(config, should_name_a_missing_file) {
  try {
    (void)load_config("/nonexistent/qf.toml");
    ADD_FAILURE();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/qf.toml: cannot read the config file"), std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace qf::config

namespace qf::config {

TEST(config, should_read_the_store_section_with_its_defaults) {
  const Config d = parse_config("", "test.toml");
  EXPECT_FALSE(d.store.enabled);
  EXPECT_EQ(d.store.url, "");
  EXPECT_EQ(d.store.sample_ms, 1000);
  EXPECT_EQ(d.store.queue_rows, 100000);
  EXPECT_EQ(d.store.retention_days, 90);
  EXPECT_EQ(d.store.status_file, "run/qf-store-status.json");
  const Config c = parse_config("[store]\nenabled = true\nurl = \"host=/tmp/pg dbname=q\"\npoll_ms = 2\n"
                                "sample_ms = 250\nqueue_rows = 50\nbatch_rows = 10\nflush_ms = 20\n"
                                "retry_max_ms = 100\nretention_days = 0\npartitions_ahead_days = 1\n"
                                "status_file = \"s.json\"\n",
                                "test.toml");
  EXPECT_TRUE(c.store.enabled);
  EXPECT_EQ(c.store.url, "host=/tmp/pg dbname=q");
  EXPECT_EQ((std::vector<int>{c.store.poll_ms, c.store.sample_ms, c.store.queue_rows, c.store.batch_rows,
                              c.store.flush_ms, c.store.retry_max_ms, c.store.retention_days,
                              c.store.partitions_ahead_days}),
            (std::vector<int>{2, 250, 50, 10, 20, 100, 0, 1}));
  EXPECT_EQ(c.store.status_file, "s.json");
  expect_error("[store]\nqueue_rows = 0\n", "test.toml:2:14: store.queue_rows: must be within 1..100000000, got 0");
  expect_error("[store]\nenabled = 1\n", "store.enabled: must be true or false");
  expect_error("[store]\nsample_rate = 1\n", "store.sample_rate: unknown key");
}

} // namespace qf::config
