#include "qf/core/order_book.hpp"
#include "qf/feeds/binance/book_sync.hpp"
#include "qf/feeds/binance/parser.hpp"
#include "qf/feeds/capture.hpp"

#include <gtest/gtest.h>

#include "capture_paths.hpp"
#include "parse_result_printer.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <new>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "alloc_count.hpp" // every operator new of this binary is counted (qf_alloc_count)

using qf::alloc::g_allocations;

namespace qf::feeds::binance {

// Readable gtest failures.
void PrintTo(MessageKind k, std::ostream* os) {
  *os << to_string(k);
}

namespace {

namespace fs = std::filesystem;
using core::Event;
using core::EventKind;
using core::Level;
using core::Side;

using test::kBtcusdt;
using test::kCaptures;
using test::kSpotMulti;
using test::kUsdmMulti;

// One parse through an owned padded copy.
struct Harness {
  explicit Harness(const ParserConfig& config = {}) : parser(config), buffer(config.max_message_bytes + 1024) {}

  ParseResult parse(std::string_view json, std::string_view snapshot_symbol = {}) {
    if (!buffer.assign(json)) {
      ADD_FAILURE() << "payload larger than the test buffer";
    }
    return parser.parse(buffer, message, snapshot_symbol);
  }
  std::vector<Event> events(std::uint64_t recv_ticks = 0) const {
    std::vector<Event> out;
    (void)emit_events(message, recv_ticks, [&](const Event& e) { out.push_back(e); });
    return out;
  }

  Parser parser;
  PaddedBuffer buffer;
  Message message;
};

// Every payload of a capture, with the symbol its REST snapshot belongs to.
struct Payload {
  std::string text;
  std::string snapshot_symbol; // rest_response only
  bool rest = false;
};

std::vector<Payload> payloads(const fs::path& path) {
  CaptureReader reader(path.string());
  SnapshotAttribution attribution;
  std::vector<Payload> out;
  CaptureRecord r;
  while (reader.next(r)) {
    if (r.kind == CaptureRecord::Kind::ws_open) {
      attribution.on_ws_open(r.text);
    } else if (r.kind == CaptureRecord::Kind::ws_frame) {
      out.push_back({std::string(r.text), {}, false});
      // depth frames teach the attribution which symbol an unnamed snapshot belongs to
      if (r.text.find("@depth") != std::string_view::npos) {
        const std::size_t s = r.text.find(R"("s":")");
        attribution.on_depth_symbol(r.text.substr(s + 5, r.text.find('"', s + 5) - s - 5));
      }
    } else if (r.kind == CaptureRecord::Kind::rest_response) {
      out.push_back({std::string(r.text), attribution.symbol_for(r.url), true});
    }
  }
  return out;
}

class binance_captures : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fs::is_directory(kCaptures)) {
      FAIL() << "no captures folder at " << kCaptures << ": ../shared/captures must sit beside the repository";
    }
  }

  // Parses every payload; returns parsed counts by kind and expects no error and no drop.
  static std::map<MessageKind, std::size_t> parse_all(Harness& h, const std::vector<Payload>& all) {
    std::map<MessageKind, std::size_t> kinds;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const ParseResult r = h.parse(all[i].text, all[i].snapshot_symbol);
      EXPECT_EQ(r, ParseResult::ok) << "payload " << i << ": " << to_string(r) << "\n" << all[i].text.substr(0, 300);
      if (r == ParseResult::ok) {
        ++kinds[h.message.kind];
      }
    }
    EXPECT_EQ(h.parser.counters().errors, 0U);
    EXPECT_EQ(h.parser.counters().unknown_instrument, 0U);
    EXPECT_EQ(h.parser.counters().messages, all.size());
    return kinds;
  }
};

// ---- every real message parses ----

TEST_F(binance_captures, should_parse_every_btcusdt_message_with_the_readme_counts) {
  Harness h;
  h.parser.add_instrument("BTCUSDT", 0, 2, 8); // tick 0.01; quantities as Binance prints them
  const auto all = payloads(kBtcusdt);
  const auto kinds = parse_all(h, all);
  // captures/README.md: bookTicker 28,040, trade 9,757, depth@100ms 3,451, one REST snapshot.
  EXPECT_EQ(kinds.at(MessageKind::book_ticker), 28'040U);
  EXPECT_EQ(kinds.at(MessageKind::trade), 9'757U);
  EXPECT_EQ(kinds.at(MessageKind::depth_update), 3'451U);
  EXPECT_EQ(kinds.at(MessageKind::depth_snapshot), 1U);
  EXPECT_EQ(kinds.size(), 4U);
  EXPECT_EQ(h.parser.counters().kind(MessageKind::trade), 9'757U);
}

TEST_F(binance_captures, should_parse_every_spot_multi_message) {
  Harness h;
  core::InstrumentId id = 0;
  for (const char* s : {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}) {
    h.parser.add_instrument(s, id++, 8, 8); // spot prints 8 decimals
  }
  const auto kinds = parse_all(h, payloads(kSpotMulti));
  // Counted independently (a Python json walk over the file): 274 lines = 1 `# ws` + 4 `# rest`
  // + 177 depthUpdate + 4 snapshots + 84 bookTicker + 2 aggTrade + 2 kline.
  EXPECT_EQ(kinds.at(MessageKind::depth_update), 177U);
  EXPECT_EQ(kinds.at(MessageKind::depth_snapshot), 4U);
  EXPECT_EQ(kinds.at(MessageKind::book_ticker), 84U);
  EXPECT_EQ(kinds.at(MessageKind::agg_trade), 2U);
  EXPECT_EQ(kinds.at(MessageKind::kline), 2U);
  EXPECT_EQ(h.parser.counters().ignored, 2U); // klines are recognised and ignored
}

TEST_F(binance_captures, should_parse_every_usdm_multi_message) {
  Harness h(ParserConfig{.market = Market::usdm});
  // The decimals the data needs (the largest number of significant decimals per symbol).
  h.parser.add_instrument("SUSHIUSDT", 0, 3, 0);
  h.parser.add_instrument("AKROUSDT", 1, 5, 0);
  h.parser.add_instrument("KEEPUSDT", 2, 4, 0);
  h.parser.add_instrument("CTKUSDT", 3, 5, 0);
  const auto kinds = parse_all(h, payloads(kUsdmMulti));
  // Counted independently: 1,544 lines = 1 `# ws` + 4 `# rest` + 764 depthUpdate + 4 snapshots
  // + 613 bookTicker + 91 aggTrade + 67 kline.
  EXPECT_EQ(kinds.at(MessageKind::depth_update), 764U);
  EXPECT_EQ(kinds.at(MessageKind::depth_snapshot), 4U);
  EXPECT_EQ(kinds.at(MessageKind::book_ticker), 613U);
  EXPECT_EQ(kinds.at(MessageKind::agg_trade), 91U);
  EXPECT_EQ(kinds.at(MessageKind::kline), 67U);
}

TEST_F(binance_captures, should_infer_each_symbols_decimals_from_a_capture) {
  // Expectations from a Python walk over the files (max significant decimals per symbol).
  using Row = std::tuple<std::string, int, int>;
  const auto rows = [](const fs::path& p) {
    std::vector<Row> out;
    for (const auto& d : infer_capture_decimals(p.string())) {
      out.emplace_back(d.symbol, d.price_decimals, d.qty_decimals);
    }
    return out;
  };
  EXPECT_EQ(rows(kBtcusdt), (std::vector<Row>{{"BTCUSDT", 2, 6}}));
  EXPECT_EQ(rows(kSpotMulti),
            (std::vector<Row>{{"BLZETH", 8, 0}, {"LRCBTC", 8, 0}, {"NKNUSDT", 5, 1}, {"RUNEEUR", 3, 1}}));
  EXPECT_EQ(rows(kUsdmMulti),
            (std::vector<Row>{{"AKROUSDT", 5, 0}, {"CTKUSDT", 5, 0}, {"KEEPUSDT", 4, 0}, {"SUSHIUSDT", 3, 0}}));
}

TEST_F(binance_captures, should_parse_a_capture_with_inferred_decimals_and_reject_one_decimal_less) {
  const auto all = payloads(kBtcusdt);
  const auto inferred = infer_capture_decimals(kBtcusdt.string());
  ASSERT_EQ(inferred.size(), 1U);
  Harness exact;
  exact.parser.add_instrument("BTCUSDT", 0, inferred[0].price_decimals, inferred[0].qty_decimals);
  (void)parse_all(exact, all);

  Harness coarse; // one quantity decimal short: some real quantity must be too precise
  coarse.parser.add_instrument("BTCUSDT", 0, inferred[0].price_decimals, inferred[0].qty_decimals - 1);
  for (const auto& p : all) {
    (void)coarse.parse(p.text, p.snapshot_symbol);
  }
  EXPECT_GT(coarse.parser.counters().result(ParseResult::too_precise), 0U);
  EXPECT_EQ(coarse.parser.counters().result(ParseResult::too_precise), coarse.parser.counters().errors);
}

// ---- zero allocation after warm-up ----

TEST_F(binance_captures, should_not_allocate_while_parsing_btcusdt_after_warm_up) {
  const auto all = payloads(kBtcusdt);
  // All payloads in one arena, each followed by kPadding bytes, built before counting.
  std::string arena;
  struct Span {
    std::size_t offset;
    std::size_t size;
    std::string_view snapshot_symbol;
  };
  std::vector<Span> spans;
  for (const auto& p : all) {
    spans.push_back({arena.size(), p.text.size(), p.snapshot_symbol});
    arena += p.text;
    arena.append(kPadding, '\0');
  }
  Parser parser;
  parser.add_instrument("BTCUSDT", 0, 2, 8);
  core::OrderBook book;
  std::uint64_t events = 0;
  const auto sink = [&](const Event& e) {
    ++events;
    if (e.kind == EventKind::snapshot_begin) {
      book.clear();
    } else if (e.kind == EventKind::book_level) {
      (void)book.set(e.side, e.level.price, e.level.qty);
    }
  };
  const auto run = [&](BookSync& sync) {
    Message m;
    std::size_t errors = 0;
    for (const Span& s : spans) {
      const PaddedView view{arena.data() + s.offset, s.size, arena.size() - s.offset};
      if (parser.parse(view, m, s.snapshot_symbol) != ParseResult::ok) {
        ++errors;
        continue;
      }
      if (m.kind == MessageKind::depth_update || m.kind == MessageKind::depth_snapshot) {
        (void)sync.on_message(m, 0, sink);
      } else {
        (void)emit_events(m, 0, sink);
      }
    }
    return errors;
  };
  BookSync warm_sync(0);
  EXPECT_EQ(run(warm_sync), 0U); // warm-up: simdjson and the book touch their memory once
  BookSync sync(0);
  events = 0;
  const std::uint64_t before = g_allocations.load();
  const std::size_t errors = run(sync);
  const std::uint64_t allocations = g_allocations.load() - before;
  EXPECT_EQ(errors, 0U);
  EXPECT_EQ(allocations, 0U);
  EXPECT_EQ(sync.state(), BookState::live);
  EXPECT_GT(events, all.size()); // the work really happened
}

std::unique_ptr<int> g_escape; // a global owner, so the allocation cannot be elided

TEST(binance_parser, should_count_allocations_in_this_binary) { // the counter above is live
  const std::uint64_t before = g_allocations.load();
  g_escape = std::make_unique<int>(7);
  EXPECT_EQ(g_allocations.load() - before, 1U);
  EXPECT_EQ(*g_escape, 7);
}

// ---- exact decimals ----

TEST(binance_parser, should_convert_real_decimal_strings_exactly) {
  // Real strings from the captures and PROTOCOLS.md, at a scale, to hand-computed integers.
  struct Row {
    const char* price;
    const char* qty;
    int price_decimals;
    int qty_decimals;
    std::int64_t expected_price;
    std::int64_t expected_qty;
  };
  const Row rows[] = {
      {"61837.63000000", "3.78826000", 2, 8, 6183763, 378826000},
      {"61837.64000000", "1.54698000", 2, 5, 6183764, 154698},
      {"55653.87000000", "0.00000000", 2, 8, 5565387, 0},
      {"0.35280000", "58.00000000", 4, 0, 3528, 58},
      {"0.00006421", "0.00000000", 8, 0, 6421, 0},
      {"0.00006547", "100.00000000", 8, 8, 6547, 10000000000},
      {"7.6110", "297", 3, 0, 7611, 297},
      {"61800.20", "2.507", 1, 3, 618002, 2507},
      {"1000.00", "606.825", 2, 3, 100000, 606825},
      {"59763.20", "0.000", 2, 3, 5976320, 0},
      {"61837.63000000", "0.02000000", 14, 2, 6183763000000000000, 2}, // 6.18e18 < 2^63
  };
  for (const Row& row : rows) {
    Harness h;
    h.parser.add_instrument("BTCUSDT", 3, row.price_decimals, row.qty_decimals);
    const std::string json = std::string(R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,)") +
                             R"("s":"BTCUSDT","t":3735683259,"p":")" + row.price + R"(","q":")" + row.qty +
                             R"(","T":1723161255342,"m":true,"M":true}})";
    ASSERT_EQ(h.parse(json), ParseResult::ok) << row.price << " " << row.qty;
    EXPECT_EQ(h.message.price, row.expected_price) << row.price;
    EXPECT_EQ(h.message.qty, row.expected_qty) << row.qty;
  }
}

TEST(binance_parser, should_reject_too_precise_prices_and_quantities) {
  Harness h;
  h.parser.add_instrument("BTCUSDT", 0, 2, 4);
  // "61837.635" at 2 decimals and "3.78826" at 4 would need truncation: refused, never rounded.
  EXPECT_EQ(h.parse(R"({"u":1,"s":"BTCUSDT","b":"61837.635","B":"1","a":"61837.64","A":"1"})"),
            ParseResult::too_precise);
  EXPECT_EQ(h.parse(R"({"u":1,"s":"BTCUSDT","b":"61837.63","B":"3.78826000","a":"61837.64","A":"1"})"),
            ParseResult::too_precise);
  EXPECT_EQ(h.parse(R"({"u":1,"s":"BTCUSDT","b":"61837.63","B":"3.78820000","a":"61837.64","A":"1"})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.bid.qty, 37882);
  EXPECT_EQ(h.parse(R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[["1.001","1"]]})"),
            ParseResult::too_precise);
  EXPECT_EQ(h.parse(R"({"u":1,"s":"BTCUSDT","b":"1e5","B":"1","a":"2","A":"1"})"), ParseResult::bad_decimal);
  EXPECT_EQ(h.parse(R"({"u":1,"s":"BTCUSDT","b":"99999999999999999","B":"1","a":"2","A":"1"})"),
            ParseResult::bad_decimal); // 10^19 - 1 scaled by 100 overflows int64
  EXPECT_EQ(h.parser.counters().result(ParseResult::too_precise), 3U);
  EXPECT_EQ(h.parser.counters().errors, 5U);
}

// ---- message kinds ----

TEST(binance_parser, should_parse_a_spot_book_ticker_without_event_time) {
  Harness h;
  h.parser.add_instrument("BTCUSDT", 7, 2, 8);
  ASSERT_EQ(h.parse(R"({"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000",)"
                    R"("B":"3.78826000","a":"61837.64000000","A":"1.54698000"}})"),
            ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::book_ticker);
  EXPECT_EQ(m.stream, "btcusdt@bookTicker");
  EXPECT_EQ(m.symbol, "BTCUSDT");
  EXPECT_EQ(m.instrument, 7);
  EXPECT_EQ(m.last_update_id, 50093239212U);
  EXPECT_EQ(m.event_ns, 0U);
  EXPECT_EQ(m.bid, (Level{6183763, 378826000}));
  EXPECT_EQ(m.ask, (Level{6183764, 154698000}));
  const auto events = h.events(99);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kind, EventKind::bbo);
  EXPECT_EQ(events[0].instrument, 7);
  EXPECT_EQ(events[0].seq, 50093239212U);
  EXPECT_EQ(events[0].recv_ticks, 99U);
  EXPECT_EQ(events[0].flags, core::kFlagLastInMessage);
  EXPECT_EQ(events[0].bbo.bid_price, 6183763);
  EXPECT_EQ(events[0].bbo.bid_qty, 378826000);
  EXPECT_EQ(events[0].bbo.ask_price, 6183764);
  EXPECT_EQ(events[0].bbo.ask_qty, 154698000);
}

TEST(binance_parser, should_parse_a_usdm_book_ticker_with_its_times) {
  Harness h(ParserConfig{.market = Market::usdm});
  h.parser.add_instrument("BTCUSDT", 1, 1, 3);
  ASSERT_EQ(h.parse(R"({"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT",)"
                    R"("b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256314}})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::book_ticker);
  EXPECT_EQ(h.message.last_update_id, 5123107839020U);
  EXPECT_EQ(h.message.event_ns, 1723161256314000000U);
  EXPECT_EQ(h.message.transaction_ns, 1723161256313000000U);
  EXPECT_EQ(h.message.bid, (Level{618002, 2507}));
  EXPECT_EQ(h.message.ask, (Level{618003, 2510}));
}

TEST(binance_parser, should_parse_trades_with_the_taker_side) {
  Harness h;
  h.parser.add_instrument("BTCUSDT", 2, 2, 8);
  // m:true: the buyer is the maker, so the taker sold.
  ASSERT_EQ(h.parse(R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,)"
                    R"("p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::trade);
  EXPECT_EQ(h.message.trade_id, 3735683259U);
  EXPECT_EQ(h.message.taker_side, Side::ask);
  EXPECT_EQ(h.message.event_ns, 1723161255343000000U);
  EXPECT_EQ(h.message.transaction_ns, 1723161255342000000U);
  auto events = h.events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].kind, EventKind::trade);
  EXPECT_EQ(events[0].side, Side::ask);
  EXPECT_EQ(events[0].seq, 3735683259U);
  EXPECT_EQ(events[0].level.price, 6183763);
  EXPECT_EQ(events[0].level.qty, 2000000);
  EXPECT_EQ(events[0].level.exchange_ns, 1723161255343000000U);
  EXPECT_EQ(events[0].flags, core::kFlagLastInMessage);

  // USD-M trade: X, no M; m:false, so the taker bought.
  Harness u(ParserConfig{.market = Market::usdm});
  u.parser.add_instrument("BTCUSDT", 2, 1, 3);
  ASSERT_EQ(u.parse(R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,)"
                    R"("s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}})"),
            ParseResult::ok);
  EXPECT_EQ(u.message.taker_side, Side::bid);
  EXPECT_EQ(u.message.price, 618003);
  EXPECT_EQ(u.message.qty, 6);
  EXPECT_EQ(u.events()[0].side, Side::bid);
}

TEST(binance_parser, should_parse_an_agg_trade_with_its_trade_range) {
  Harness h;
  h.parser.add_instrument("NKNUSDT", 4, 4, 0);
  ASSERT_EQ(h.parse(R"({"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"NKNUSDT",)"
                    R"("a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862791,)"
                    R"("T":1633998523963,"m":false,"M":true}})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::agg_trade);
  EXPECT_EQ(h.message.trade_id, 15683430U);
  EXPECT_EQ(h.message.first_trade_id, 19862790U);
  EXPECT_EQ(h.message.last_trade_id, 19862791U);
  EXPECT_EQ(h.message.price, 3528);
  EXPECT_EQ(h.message.qty, 58);
  EXPECT_EQ(h.message.taker_side, Side::bid);
  EXPECT_EQ(h.events()[0].seq, 15683430U);
}

TEST(binance_parser, should_parse_a_spot_depth_update_into_levels_and_events) {
  Harness h;
  h.parser.add_instrument("BTCUSDT", 5, 2, 8);
  ASSERT_EQ(h.parse(R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT",)"
                    R"("U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],)"
                    R"("a":[["61838.04000000","0.32332000"],["61844.30000000","0.40163000"],)"
                    R"(["61862.50000000","0.05019000"],["61862.51000000","0.00000000"]]}})"),
            ParseResult::ok);
  const Message& m = h.message;
  EXPECT_EQ(m.kind, MessageKind::depth_update);
  EXPECT_EQ(m.first_update_id, 50093239203U);
  EXPECT_EQ(m.last_update_id, 50093239207U);
  EXPECT_FALSE(m.has_prev_update_id);
  ASSERT_EQ(m.bids.size(), 1U);
  ASSERT_EQ(m.asks.size(), 4U);
  EXPECT_EQ(m.bids[0], (Level{5565387, 0}));
  EXPECT_EQ(m.asks[0], (Level{6183804, 32332000}));
  EXPECT_EQ(m.asks[3], (Level{6186251, 0}));
  const auto events = h.events(3);
  ASSERT_EQ(events.size(), 5U);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].kind, EventKind::book_level);
    EXPECT_EQ(events[i].instrument, 5);
    EXPECT_EQ(events[i].seq, 50093239207U);
    EXPECT_EQ(events[i].level.exchange_ns, 1723161255308000000U);
    EXPECT_EQ(events[i].side, i == 0 ? Side::bid : Side::ask);
    EXPECT_EQ(events[i].flags, i + 1 == events.size() ? core::kFlagLastInMessage : 0);
  }
  EXPECT_EQ(events[2].level.price, 6184430);
  EXPECT_EQ(events[2].level.qty, 40163000);
}

TEST(binance_parser, should_parse_a_usdm_depth_update_with_pu_and_require_it) {
  Harness h(ParserConfig{.market = Market::usdm});
  h.parser.add_instrument("BTCUSDT", 1, 1, 3);
  ASSERT_EQ(h.parse(R"({"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161258022,"T":1723161258020,)"
                    R"("s":"BTCUSDT","U":5123107964215,"u":5123107967117,"pu":5123107963925,)"
                    R"("b":[["1000.00","606.825"],["59763.20","0.000"]],"a":[["61805.60","0.026"]]}})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.prev_update_id, 5123107963925U);
  EXPECT_TRUE(h.message.has_prev_update_id);
  EXPECT_EQ(h.message.transaction_ns, 1723161258020000000U);
  EXPECT_EQ(h.message.bids[0], (Level{10000, 606825}));
  EXPECT_EQ(h.message.asks[0], (Level{618056, 26}));
  // Without pu a USD-M diff cannot be chained: a missing field.
  EXPECT_EQ(h.parse(R"({"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":5,"u":6,"b":[],"a":[]})"),
            ParseResult::missing_field);
}

TEST(binance_parser, should_parse_rest_snapshots_for_the_named_symbol) {
  Harness h;
  h.parser.add_instrument("BTCUSDT", 9, 2, 8);
  const std::string body = R"({"lastUpdateId":50093239218,"bids":[["61837.63000000","3.78826000"],)"
                           R"(["61837.62000000","0.61700000"]],"asks":[["61837.64000000","1.54698000"]]})";
  ASSERT_EQ(h.parse(body, "btcusdt"), ParseResult::ok); // any case
  EXPECT_EQ(h.message.kind, MessageKind::depth_snapshot);
  EXPECT_EQ(h.message.symbol, "BTCUSDT");
  EXPECT_EQ(h.message.instrument, 9);
  EXPECT_EQ(h.message.last_update_id, 50093239218U);
  ASSERT_EQ(h.message.bids.size(), 2U);
  EXPECT_EQ(h.message.bids[1], (Level{6183762, 61700000}));
  const auto events = h.events();
  ASSERT_EQ(events.size(), 5U);
  EXPECT_EQ(events.front().kind, EventKind::snapshot_begin);
  EXPECT_EQ(events[1].kind, EventKind::book_level);
  EXPECT_EQ(events[3].side, Side::ask);
  EXPECT_EQ(events.back().kind, EventKind::snapshot_end);
  EXPECT_EQ(events.back().flags, core::kFlagLastInMessage);
  for (const Event& e : events) {
    EXPECT_EQ(e.seq, 50093239218U);
  }
  // A body with no symbol is a drop, not an error; USD-M snapshots carry E and T.
  EXPECT_EQ(h.parse(body), ParseResult::unknown_instrument);
  EXPECT_EQ(h.parser.counters().unknown_instrument, 1U);
  Harness u(ParserConfig{.market = Market::usdm});
  u.parser.add_instrument("SUSHIUSDT", 0, 3, 0);
  ASSERT_EQ(u.parse(R"({"lastUpdateId":600859605926,"E":1626992741264,"T":1626992741261,"bids":[["7.6110","6"]],)"
                    R"("asks":[]})",
                    "SUSHIUSDT"),
            ParseResult::ok);
  EXPECT_EQ(u.message.event_ns, 1626992741264000000U);
  EXPECT_EQ(u.message.bids[0], (Level{7611, 6}));
  EXPECT_TRUE(u.message.asks.empty());
}

TEST(binance_parser, should_take_a_partial_depth_frames_symbol_from_its_stream) {
  Harness h;
  h.parser.add_instrument("BTCUSDT", 1, 2, 8);
  ASSERT_EQ(h.parse(R"({"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":160,"bids":[["61837.63","10"]],)"
                    R"("asks":[["61837.64","100"]]}})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::depth_snapshot);
  EXPECT_EQ(h.message.symbol, "BTCUSDT");
  EXPECT_EQ(h.message.instrument, 1);
}

TEST(binance_parser, should_recognise_control_messages) {
  Harness h;
  ASSERT_EQ(h.parse(R"({"result":null,"id":1})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::subscription_ack);
  EXPECT_EQ(h.message.request_id, "1");
  ASSERT_EQ(h.parse(R"({"result":["btcusdt@trade"],"id":"list-1"})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::subscription_ack);
  EXPECT_EQ(h.message.request_id, R"("list-1")");
  ASSERT_EQ(h.parse(R"({"code": 2, "msg": "Invalid request: \"x\"", "id": 7})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::error);
  EXPECT_EQ(h.message.error_code, 2);
  EXPECT_EQ(h.message.error_msg, "Invalid request: \"x\"");
  ASSERT_EQ(h.parse(R"({"error":{"code":-1121,"msg":"Invalid symbol."},"id":3})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::error);
  EXPECT_EQ(h.message.error_code, -1121);
  EXPECT_EQ(h.message.error_msg, "Invalid symbol.");
  ASSERT_EQ(h.parse(R"({"e":"serverShutdown","E":1723161255343})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::server_shutdown);
  EXPECT_EQ(h.message.event_ns, 1723161255343000000U);
  ASSERT_EQ(h.parse(R"({"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1}})"), ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::server_shutdown);
  EXPECT_TRUE(h.events().empty());
  // kline: recognised, counted, ignored (even for a symbol nobody registered).
  ASSERT_EQ(h.parse(R"({"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1633998512068,"s":"NKNUSDT",)"
                    R"("k":{"t":1633998480000,"o":"0.35170000","x":false}}})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.kind, MessageKind::kline);
  EXPECT_TRUE(h.events().empty());
  EXPECT_EQ(h.parser.counters().ignored, 1U);
  EXPECT_EQ(h.parser.counters().kind(MessageKind::subscription_ack), 2U);
  EXPECT_EQ(h.parser.counters().kind(MessageKind::error), 2U);
  EXPECT_EQ(h.parser.counters().errors, 0U);
}

TEST(binance_parser, should_scale_event_times_by_the_configured_unit) {
  Harness h(ParserConfig{.time_unit_ns = 1'000}); // timeUnit=MICROSECOND
  h.parser.add_instrument("BTCUSDT", 0, 2, 8);
  ASSERT_EQ(h.parse(R"({"e":"trade","E":1723161255343123,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":false})"),
            ParseResult::ok);
  EXPECT_EQ(h.message.event_ns, 1723161255343123000U);
  // A time that does not fit in uint64 nanoseconds.
  EXPECT_EQ(h.parse(R"({"e":"trade","E":18446744073709552,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":false})"),
            ParseResult::bad_number);
}

// ---- the fast path (feeds/src/flat_json.hpp) reads exactly what simdjson reads ----

// Parses `text` with the fast path on (`fast`) and off (`slow`); both must agree on the result
// and, when it is ok, on every field.
void expect_same_as_simdjson(Harness& fast, Harness& slow, std::string_view text, std::string_view snapshot_symbol,
                             std::string_view what) {
  const ParseResult a = fast.parse(text, snapshot_symbol);
  const ParseResult b = slow.parse(text, snapshot_symbol);
  ASSERT_EQ(a, b) << what << "\n" << text.substr(0, 300);
  if (a == ParseResult::ok) {
    ASSERT_TRUE(same_message(fast.message, slow.message)) << what << "\n" << text.substr(0, 300);
  }
}

TEST_F(binance_captures, should_read_every_capture_message_the_same_on_the_fast_path_as_through_simdjson) {
  struct Capture {
    fs::path path;
    Market market;
    std::vector<std::pair<const char*, std::pair<int, int>>> instruments;
    std::uint64_t flat; // messages of the kinds the fast path reads, counted independently above
  };
  const std::vector<Capture> captures = {
      // bookTicker 28,040 + trade 9,757 + depth 3,451 (the REST snapshot is simdjson's)
      {kBtcusdt, Market::spot, {{"BTCUSDT", {2, 8}}}, 28'040U + 9'757U + 3'451U},
      // 177 depthUpdate + 84 bookTicker + 2 aggTrade (klines and snapshots are simdjson's)
      {kSpotMulti, Market::spot, {{"NKNUSDT", {8, 8}}, {"BLZETH", {8, 8}}, {"LRCBTC", {8, 8}}, {"RUNEEUR", {8, 8}}},
       177U + 84U + 2U},
      // 764 depthUpdate + 613 bookTicker + 91 aggTrade
      {kUsdmMulti, Market::usdm, {{"SUSHIUSDT", {3, 0}}, {"AKROUSDT", {5, 0}}, {"KEEPUSDT", {4, 0}}, {"CTKUSDT", {5, 0}}},
       764U + 613U + 91U},
  };
  for (const Capture& c : captures) {
    Harness fast(ParserConfig{.market = c.market});
    Harness slow(ParserConfig{.market = c.market, .fast_path = false});
    core::InstrumentId id = 0;
    for (const auto& [symbol, decimals] : c.instruments) {
      fast.parser.add_instrument(symbol, id, decimals.first, decimals.second);
      slow.parser.add_instrument(symbol, id++, decimals.first, decimals.second);
    }
    const auto all = payloads(c.path);
    for (std::size_t i = 0; i < all.size(); ++i) {
      expect_same_as_simdjson(fast, slow, all[i].text, all[i].snapshot_symbol,
                              c.path.filename().string() + " payload " + std::to_string(i));
    }
    EXPECT_EQ(fast.parser.counters().flat, c.flat) << c.path;
    EXPECT_EQ(slow.parser.counters().flat, 0U) << c.path;
    EXPECT_EQ(fast.parser.counters().errors, 0U) << c.path;
  }
}

TEST_F(binance_captures, should_agree_with_simdjson_on_every_one_byte_change_of_real_messages) {
  // The first messages of each kind, each byte in turn replaced by a character that changes the
  // JSON's structure or a value's type; whatever either path makes of it, both make the same.
  Harness fast;
  Harness slow(ParserConfig{.fast_path = false});
  fast.parser.add_instrument("BTCUSDT", 0, 2, 8);
  slow.parser.add_instrument("BTCUSDT", 0, 2, 8);
  std::map<std::string, int> taken;
  std::size_t mutated = 0;
  for (const Payload& p : payloads(kBtcusdt)) {
    const std::string kind = p.rest ? "rest" : p.text.substr(0, p.text.find('@') + 6);
    if (p.rest || taken[kind]++ >= 4) {
      continue;
    }
    for (std::size_t at = 0; at < p.text.size(); ++at) {
      for (const char c : std::string_view(" \"\\,:}]{[0-9x-.e\x7f\x01\xc3")) {
        std::string m = p.text;
        m[at] = c;
        expect_same_as_simdjson(fast, slow, m, {}, "byte " + std::to_string(at) + " -> " + std::to_string(c));
        ++mutated;
      }
      expect_same_as_simdjson(fast, slow, std::string_view(p.text).substr(0, at), {}, "cut at " + std::to_string(at));
    }
  }
  EXPECT_EQ(taken.size(), 3U); // bookTicker, trade, depth
  EXPECT_GT(mutated, 10'000U);
}

TEST(binance_parser, should_refuse_a_boolean_run_into_another_literal_on_both_paths) {
  // Found by binance_parser_fuzz: the fast path matched "true", refused the 'f' after it, then
  // matched "false" where it stood and read `truefalse` as false; simdjson refuses it.
  Harness fast;
  Harness slow(ParserConfig{.fast_path = false});
  fast.parser.add_instrument("BTCUSDT", 0, 2, 8);
  slow.parser.add_instrument("BTCUSDT", 0, 2, 8);
  for (const std::string_view value : {"truefalse", "falsetrue", "truetrue", "true1", "truex", "tru", "fals"}) {
    const std::string maker = std::string(R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":)") +
                              std::string(value) + "}";
    expect_same_as_simdjson(fast, slow, maker, {}, maker);
    EXPECT_NE(fast.parse(maker), ParseResult::ok) << maker;
    const std::string skipped = std::string(R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":true,"M":)") +
                                std::string(value) + "}";
    expect_same_as_simdjson(fast, slow, skipped, {}, skipped);
  }
  EXPECT_EQ(fast.parser.counters().flat, 0U); // none of them is the fast path's to read
}

// ---- errors: counted, never thrown, and the next message still parses ----

TEST(binance_parser, should_count_bad_messages_and_keep_parsing) {
  Harness h(ParserConfig{.max_message_bytes = 512, .max_levels = 3});
  h.parser.add_instrument("BTCUSDT", 0, 2, 8);
  const std::string good = R"({"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.00","B":"2",)"
                           R"("a":"1.01","A":"3"}})";
  struct Case {
    std::string json;
    ParseResult expected;
  };
  const std::vector<Case> cases = {
      {R"({"stream":"btcusdt@trade","data":{"e":"trade",)", ParseResult::malformed_json},
      {R"({"u":1,"s":"BTCUSDT","b":"1.00","B":"2","a":"1.01","A":"3",})", ParseResult::malformed_json},
      {R"({"u":1 "s":"BTCUSDT"})", ParseResult::malformed_json},
      {good + " x", ParseResult::malformed_json},
      {good + good, ParseResult::malformed_json},
      {"", ParseResult::malformed_json},
      {"nonsense", ParseResult::malformed_json},
      {"[1,2]", ParseResult::unknown_message},
      {R"({"hello":"world"})", ParseResult::unknown_message},
      {R"({"e":"24hrTicker","E":1,"s":"BTCUSDT"})", ParseResult::unknown_message},
      {R"({"u":"1","s":"BTCUSDT","b":"1.00","B":"2","a":"1.01","A":"3"})", ParseResult::wrong_type},
      {R"({"u":-1,"s":"BTCUSDT","b":"1.00","B":"2","a":"1.01","A":"3"})", ParseResult::wrong_type},
      {R"({"u":1,"s":"BTCUSDT","b":1.00,"B":"2","a":"1.01","A":"3"})", ParseResult::wrong_type},
      {R"({"u":1,"s":"BTCUSDT","b":"1.00","B":2,"a":"1.01","A":"3"})", ParseResult::wrong_type},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":"true"})", ParseResult::wrong_type},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":"1.00","a":[]})", ParseResult::wrong_type},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.00"]],"a":[]})", ParseResult::wrong_type},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.00",1]],"a":[]})", ParseResult::wrong_type},
      {R"({"e":"aggTrade","E":1,"s":"BTCUSDT","a":"7","p":"1","q":"1","m":true})", ParseResult::wrong_type},
      {R"({"u":1,"s":"BTCUSDT","b":"1.00","a":"1.01","A":"3"})", ParseResult::missing_field},
      {R"({"e":"trade","E":1,"s":"BTCUSDT","p":"1","q":"1","m":true})", ParseResult::missing_field},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"b":[],"a":[]})", ParseResult::missing_field},
      {R"({"lastUpdateId":1,"bids":[]})", ParseResult::missing_field},
      {R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1","1"],["2","1"],["3","1"],["4","1"]],"a":[]})",
       ParseResult::too_many_levels},
      {std::string(R"({"u":1,"s":"BTCUSDT","b":"1.00","B":"2","a":"1.01","A":"3","pad":")") + std::string(500, 'x') +
           R"("})",
       ParseResult::oversized},
      {R"({"u":1,"s":"ETHUSDT","b":"1.00","B":"2","a":"1.01","A":"3"})", ParseResult::unknown_instrument},
  };
  std::uint64_t expected_errors = 0;
  for (const Case& c : cases) {
    EXPECT_EQ(h.parse(c.json), c.expected) << c.json.substr(0, 120);
    expected_errors += is_error(c.expected) ? 1U : 0U;
    ASSERT_EQ(h.parse(good), ParseResult::ok) << "after " << c.json.substr(0, 120);
    EXPECT_EQ(h.message.bid, (Level{100, 200000000}));
  }
  EXPECT_EQ(h.parser.counters().errors, expected_errors);
  EXPECT_EQ(h.parser.counters().unknown_instrument, 1U);
  EXPECT_EQ(h.parser.counters().result(ParseResult::oversized), 1U);
  EXPECT_EQ(h.parser.counters().kind(MessageKind::book_ticker), cases.size());
  EXPECT_EQ(h.parser.counters().messages, cases.size() * 2);
}

TEST(binance_parser, should_refuse_input_without_padding) {
  Parser parser;
  parser.add_instrument("BTCUSDT", 0, 2, 8);
  const std::string json = R"({"result":null,"id":1})";
  Message m;
  EXPECT_EQ(parser.parse(PaddedView{json.data(), json.size(), json.size()}, m), ParseResult::insufficient_padding);
  std::string padded = json + std::string(kPadding, ' ');
  EXPECT_EQ(parser.parse(PaddedView{padded.data(), json.size(), padded.size()}, m), ParseResult::ok);
}

TEST(binance_parser, should_refuse_bad_instrument_registrations) {
  Parser parser(ParserConfig{.max_instruments = 2});
  parser.add_instrument("btcusdt", 0, 2, 8);
  EXPECT_EQ(parser.find("BTCUSDT"), 0);
  EXPECT_EQ(parser.find("ETHUSDT"), kNoInstrument);
  EXPECT_THROW(parser.add_instrument("BTCUSDT", 1, 2, 8), std::invalid_argument); // duplicate
  EXPECT_THROW(parser.add_instrument("", 1, 2, 8), std::invalid_argument);
  EXPECT_THROW(parser.add_instrument(std::string(32, 'A'), 1, 2, 8), std::invalid_argument);
  EXPECT_THROW(parser.add_instrument("ETHUSDT", 1, 19, 8), std::invalid_argument);
  EXPECT_THROW(parser.add_instrument("ETHUSDT", 1, 2, -1), std::invalid_argument);
  EXPECT_THROW(parser.add_instrument("ETHUSDT", kNoInstrument, 2, 8), std::invalid_argument);
  parser.add_instrument("ETHUSDT", 1, 2, 8);
  EXPECT_THROW(parser.add_instrument("SOLUSDT", 2, 2, 8), std::invalid_argument); // full
  EXPECT_EQ(parser.find("ETHUSDT"), 1);
}

TEST(binance_parser, should_find_a_snapshots_symbol_in_a_capture) {
  EXPECT_EQ(symbol_from_rest_url("https://api.binance.com/api/v3/depth?symbol=BLZETH&limit=1000"), "BLZETH");
  EXPECT_EQ(symbol_from_rest_url("https://fapi.binance.com/fapi/v1/depth?limit=1000&symbol=CTKUSDT"), "CTKUSDT");
  EXPECT_EQ(symbol_from_rest_url("https://api.binance.com/api/v3/depth"), "");
  SnapshotAttribution a;
  EXPECT_EQ(a.symbol_for(""), "");
  a.on_ws_open("wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms/btcusdt@trade/ethusdt@depth5");
  EXPECT_EQ(a.symbol_for(""), "BTCUSDT"); // partial depth (depth5) is not a diff subscription
  EXPECT_EQ(a.symbol_for("https://api.binance.com/api/v3/depth?symbol=ethusdt"), "ETHUSDT");
  a.on_depth_symbol("SOLUSDT");
  EXPECT_EQ(a.symbol_for(""), ""); // two depth symbols: ambiguous
}

} // namespace
} // namespace qf::feeds::binance
