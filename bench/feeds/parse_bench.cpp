// Venue message parsing: our simdjson-based parsers against RapidJSON (DOM) and nlohmann::json
// on the same real captured messages, in the same run. Every implementation does the same work
// per message: parse, find the fields, look up the instrument, convert every price and quantity
// to exact fixed point with qf::ipc::parse_fixed, and hand 64-byte events to a sink.
// Messages: BTCUSDT bookTicker, trade and the 75 depthUpdates with exactly 20 levels
// (btcusdt_20240808), Coinbase l2update and ticker (level2_ticker_matches_20210417), OKX tickers
// and books updates (multi_20220513; the capture has no bbo-tbt, tickers are its top-of-book), the
// Bybit orderbook.50 snapshot and delta (btcusdt_orderbook50_20241108, its only two frames), and
// Coinbase Advanced Trade ticker and l2_data updates (no capture of that venue exists: 256 of each
// made from PROTOCOLS.md 3.2's real ticker and docs-form l2_data, prices and 1 to 24 levels
// varied); each benchmark cycles over up to 1024 real messages of its kind. `allocs_per_msg` counts operator
// new calls inside the timed loop (qf_alloc_count replaces operator new). Time per iteration is
// ns per message. A summary with the ratios is printed after the runs.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <rapidjson/document.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/binance/parser.hpp"
#include "qf/feeds/bybit/parser.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/coinbase_advanced/parser.hpp"
#include "qf/feeds/okx/parser.hpp"
#include "qf/ipc/fixed_point.hpp"

#include "alloc_count.hpp" // every operator new of this binary is counted (qf_alloc_count)

using qf::alloc::g_allocations;

namespace {

using qf::core::Event;
using qf::core::EventKind;
using qf::core::Side;
namespace bn = qf::feeds::binance;
namespace cb = qf::feeds::coinbase;
namespace ox = qf::feeds::okx;
namespace by = qf::feeds::bybit;
namespace ca = qf::feeds::coinbase_advanced;

const std::string kCaptures = QF_CAPTURES_DIR;
constexpr int kBtcPrice = 2; // BTCUSDT tick 0.01
constexpr int kBtcQty = 8;
constexpr std::size_t kMaxMessages = 1024;

struct Corpus {
  std::vector<std::string> book_ticker, trade, depth20, l2update, ticker, okx_ticker, okx_books, bybit_books,
      advanced_ticker, advanced_l2;
};

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus out;
    qf::feeds::CaptureRecord r;
    {
      qf::feeds::CaptureReader reader(kCaptures + "/binance-spot/btcusdt_20240808.capture.gz");
      while (reader.next(r)) {
        const std::string_view t = r.text;
        if (r.kind != qf::feeds::CaptureRecord::Kind::ws_frame) {
          continue;
        }
        if (t.find("@bookTicker") != std::string_view::npos && out.book_ticker.size() < kMaxMessages) {
          out.book_ticker.emplace_back(t);
        } else if (t.find("\"e\":\"trade\"") != std::string_view::npos && out.trade.size() < kMaxMessages) {
          out.trade.emplace_back(t);
        } else if (t.find("depthUpdate") != std::string_view::npos) {
          const nlohmann::json j = nlohmann::json::parse(t);
          if (j["data"]["b"].size() + j["data"]["a"].size() == 20) {
            out.depth20.emplace_back(t);
          }
        }
      }
    }
    {
      qf::feeds::CaptureReader reader(kCaptures + "/coinbase-exchange/level2_ticker_matches_20210417.capture");
      while (reader.next(r)) {
        const std::string_view t = r.text;
        if (t.starts_with(R"({"type":"l2update")") && out.l2update.size() < kMaxMessages) {
          out.l2update.emplace_back(t);
        } else if (t.starts_with(R"({"type":"ticker")") && out.ticker.size() < kMaxMessages) {
          out.ticker.emplace_back(t);
        }
      }
    }
    {
      qf::feeds::CaptureReader reader(kCaptures + "/okx/multi_20220513.capture");
      while (reader.next(r)) {
        const std::string_view t = r.text;
        if (t.starts_with(R"({"arg":{"channel":"tickers")") && out.okx_ticker.size() < kMaxMessages) {
          out.okx_ticker.emplace_back(t);
        } else if (t.starts_with(R"({"arg":{"channel":"books")") && t.find(R"("action":"update")") != std::string_view::npos &&
                   out.okx_books.size() < kMaxMessages) {
          out.okx_books.emplace_back(t);
        }
      }
    }
    {
      qf::feeds::CaptureReader reader(kCaptures + "/bybit/btcusdt_orderbook50_20241108.capture");
      while (reader.next(r)) {
        if (r.kind == qf::feeds::CaptureRecord::Kind::ws_frame && r.text.starts_with(R"({"topic":"orderbook.)")) {
          out.bybit_books.emplace_back(r.text);
        }
      }
    }
    for (std::size_t i = 0; i < 256; ++i) {
      const std::string seq = std::to_string(100 + i);
      const std::string cents = std::to_string(10 + i % 90);
      out.advanced_ticker.push_back(
          R"({"channel":"ticker","timestamp":"2026-08-12T19:27:33.829058895Z","sequence_num":)" + seq +
          R"(,"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"63320.73","volume_24_h":"6629.927726","low_24_h":"63235.88","high_24_h":"64416.3","low_52_w":"57717.55","high_52_w":"126296","price_percent_chg_24_h":"0.03813791548644","best_bid":"63318.)" +
          cents + R"(","best_ask":"63319.)" + cents + R"(","best_bid_quantity":"0.2275291","best_ask_quantity":"0.)" +
          std::to_string(49990114 + i) + R"("}]}]})");
      std::string l2 = R"({"channel":"l2_data","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":)" + seq +
                       R"(,"events":[{"type":"update","product_id":"BTC-USD","updates":[)";
      for (std::size_t k = 0; k <= i % 24; ++k) {
        l2 += k > 0 ? "," : "";
        l2 += R"({"side":")" + std::string(k % 2 == 0 ? "bid" : "offer") +
              R"(","event_time":"2023-02-09T20:32:50.714964855Z","price_level":"219)" + std::to_string(10 + k) + "." +
              cents + R"(","new_quantity":")" + (k % 5 == 0 ? std::string("0") : "0.0" + std::to_string(6317902 + k)) +
              R"("})";
      }
      out.advanced_l2.push_back(l2 + "]}]}");
    }
    if (out.book_ticker.empty() || out.trade.empty() || out.depth20.empty() || out.l2update.empty() ||
        out.ticker.empty() || out.okx_ticker.empty() || out.okx_books.empty() || out.bybit_books.empty()) {
      throw std::runtime_error("parse_bench: a message kind is missing from the captures");
    }
    return out;
  }();
  return c;
}

// Coinbase products of the capture with the decimals their text needs.
struct Product {
  const char* id;
  int price_decimals;
  int qty_decimals;
};
constexpr Product kProducts[] = {
    {"BAND-BTC", 8, 2}, {"BAND-GBP", 4, 2}, {"CRV-EUR", 4, 2}, {"DASH-BTC", 8, 3}, {"NMR-EUR", 4, 3},
    {"NU-GBP", 4, 6},   {"SKL-BTC", 8, 1},  {"SKL-GBP", 4, 1}, {"SKL-USD", 4, 1},  {"YFI-BTC", 5, 6},
};

// OKX instruments of the capture with the decimals their text shows.
constexpr Product kOkxInstruments[] = {{"BTC-USD-220527", 1, 0}, {"UNI-USD-SWAP", 3, 0}, {"BTC-USDT", 1, 8}};

// The sink every implementation feeds: keeps the work observable.
struct Sink {
  std::int64_t sum = 0;
  std::uint64_t events = 0;
  void operator()(const Event& e) noexcept {
    sum += e.level.price ^ e.level.qty ^ static_cast<std::int64_t>(e.seq);
    ++events;
  }
};

std::int64_t fixed(std::string_view text, int decimals) {
  std::int64_t v = 0;
  if (qf::ipc::parse_fixed(text, decimals, v) != qf::ipc::DecimalError::ok) {
    throw std::runtime_error("bad decimal");
  }
  return v;
}

// What the references extract of a book message: (price, size) texts per side.
using LevelTexts = std::vector<std::pair<std::string_view, std::string_view>>;

// The references' book message: one book_level per level, bids then asks, the last flagged.
void emit_book_texts(qf::core::InstrumentId id, const Product& p, std::uint64_t seq, std::uint64_t time_ns,
                     const LevelTexts& bids, const LevelTexts& asks, Sink& sink) {
  Event e{};
  e.instrument = id;
  e.seq = seq;
  const std::size_t total = bids.size() + asks.size();
  std::size_t n = 0;
  for (const auto* side : {&bids, &asks}) {
    for (const auto& [price, qty] : *side) {
      e.kind = EventKind::book_level;
      e.side = side == &bids ? Side::bid : Side::ask;
      e.level.price = fixed(price, p.price_decimals);
      e.level.qty = fixed(qty, p.qty_decimals);
      e.level.exchange_ns = time_ns;
      e.flags = ++n == total ? qf::core::kFlagLastInMessage : 0;
      sink(e);
    }
  }
}

// The references' top of book: one bbo event.
void emit_bbo_texts(qf::core::InstrumentId id, const Product& p, std::string_view bid_px, std::string_view bid_sz,
                    std::string_view ask_px, std::string_view ask_sz, Sink& sink) {
  Event e{};
  e.instrument = id;
  e.kind = EventKind::bbo;
  e.flags = qf::core::kFlagLastInMessage;
  e.bbo.bid_price = fixed(bid_px, p.price_decimals);
  e.bbo.bid_qty = fixed(bid_sz, p.qty_decimals);
  e.bbo.ask_price = fixed(ask_px, p.price_decimals);
  e.bbo.ask_qty = fixed(ask_sz, p.qty_decimals);
  sink(e);
}

// Padded copies for our parsers (simdjson reads past the end).
std::vector<qf::feeds::PaddedBuffer> padded(const std::vector<std::string>& messages) {
  std::vector<qf::feeds::PaddedBuffer> out;
  for (const auto& m : messages) {
    out.emplace_back(m.size());
    if (!out.back().assign(m)) {
      throw std::runtime_error("assign");
    }
  }
  return out;
}

template <typename Body>
void run(benchmark::State& state, std::size_t n, Body&& body) {
  Sink sink;
  std::size_t i = 0;
  for (std::size_t w = 0; w < n; ++w) { // warm-up over every message once
    body(w, sink);
  }
  sink.events = 0;
  const std::uint64_t before = g_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) {
    body(i, sink);
    i = i + 1 == n ? 0 : i + 1;
  }
  const std::uint64_t allocations = g_allocations.load(std::memory_order_relaxed) - before;
  benchmark::DoNotOptimize(sink.sum);
  state.counters["allocs_per_msg"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
  state.counters["events_per_msg"] =
      benchmark::Counter(static_cast<double>(sink.events), benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// ---------------------------------------------------------------------------------------------
// Binance: ours

void binance_ours(benchmark::State& state, const std::vector<std::string>& messages) {
  bn::Parser parser;
  parser.add_instrument("BTCUSDT", 0, kBtcPrice, kBtcQty);
  const auto buffers = padded(messages);
  bn::Message m;
  run(state, buffers.size(), [&](std::size_t i, Sink& sink) {
    if (parser.parse(buffers[i], m) != qf::feeds::ParseResult::ok) {
      state.SkipWithError("parse failed");
    }
    (void)bn::emit_events(m, 0, sink);
  });
}

// Binance: the same extraction over a DOM (RapidJSON or nlohmann), written the usual way.
struct BinanceFields {
  std::string_view e, s, b, B, a, A, p, q;
  std::uint64_t u = 0, U = 0, t = 0, E = 0;
  bool m = false;
};

void emit_binance(const BinanceFields& f, Sink& sink, const std::vector<std::pair<std::string_view, std::string_view>>& bids,
                  const std::vector<std::pair<std::string_view, std::string_view>>& asks) {
  if (f.s != "BTCUSDT") {
    throw std::runtime_error("symbol");
  }
  Event e{};
  e.instrument = 0;
  if (f.e.empty()) { // bookTicker
    e.kind = EventKind::bbo;
    e.seq = f.u;
    e.flags = qf::core::kFlagLastInMessage;
    e.bbo.bid_price = fixed(f.b, kBtcPrice);
    e.bbo.bid_qty = fixed(f.B, kBtcQty);
    e.bbo.ask_price = fixed(f.a, kBtcPrice);
    e.bbo.ask_qty = fixed(f.A, kBtcQty);
    sink(e);
  } else if (f.e == "trade") {
    e.kind = EventKind::trade;
    e.seq = f.t;
    e.flags = qf::core::kFlagLastInMessage;
    e.side = f.m ? Side::ask : Side::bid;
    e.level.price = fixed(f.p, kBtcPrice);
    e.level.qty = fixed(f.q, kBtcQty);
    e.level.exchange_ns = f.E * 1'000'000;
    sink(e);
  } else {
    const std::size_t total = bids.size() + asks.size();
    std::size_t n = 0;
    for (const auto* side : {&bids, &asks}) {
      for (const auto& [price, qty] : *side) {
        e.kind = EventKind::book_level;
        e.side = side == &bids ? Side::bid : Side::ask;
        e.seq = f.u;
        e.level.price = fixed(price, kBtcPrice);
        e.level.qty = fixed(qty, kBtcQty);
        e.level.exchange_ns = f.E * 1'000'000;
        e.flags = ++n == total ? qf::core::kFlagLastInMessage : 0;
        sink(e);
      }
    }
  }
}

void binance_rapidjson(benchmark::State& state, const std::vector<std::string>& messages) {
  rapidjson::Document doc;
  LevelTexts bids, asks;
  bids.reserve(64);
  asks.reserve(64);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const std::string& text = messages[i];
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      state.SkipWithError("parse failed");
      return;
    }
    const rapidjson::Value& d = doc["data"];
    BinanceFields f;
    const auto str = [&](const char* key, std::string_view& out) {
      if (auto it = d.FindMember(key); it != d.MemberEnd() && it->value.IsString()) {
        out = std::string_view(it->value.GetString(), it->value.GetStringLength());
      }
    };
    const auto u64 = [&](const char* key, std::uint64_t& out) {
      if (auto it = d.FindMember(key); it != d.MemberEnd() && it->value.IsUint64()) {
        out = it->value.GetUint64();
      }
    };
    str("e", f.e);
    str("s", f.s);
    u64("u", f.u);
    bids.clear();
    asks.clear();
    if (f.e.empty()) {
      str("b", f.b), str("B", f.B), str("a", f.a), str("A", f.A);
    } else if (f.e == "trade") {
      str("p", f.p), str("q", f.q), u64("t", f.t), u64("E", f.E);
      f.m = d["m"].GetBool();
    } else {
      u64("U", f.U), u64("E", f.E);
      for (const auto& [key, dst] : {std::pair{"b", &bids}, std::pair{"a", &asks}}) {
        for (const auto& level : d[key].GetArray()) {
          dst->emplace_back(std::string_view(level[0].GetString(), level[0].GetStringLength()),
                            std::string_view(level[1].GetString(), level[1].GetStringLength()));
        }
      }
    }
    emit_binance(f, sink, bids, asks);
  });
}

void binance_nlohmann(benchmark::State& state, const std::vector<std::string>& messages) {
  LevelTexts bids, asks;
  bids.reserve(64);
  asks.reserve(64);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const nlohmann::json doc = nlohmann::json::parse(messages[i]);
    const nlohmann::json& d = doc.at("data");
    BinanceFields f;
    const auto str = [&](const char* key, std::string_view& out) {
      if (auto it = d.find(key); it != d.end() && it->is_string()) {
        out = it->get_ref<const std::string&>();
      }
    };
    const auto u64 = [&](const char* key, std::uint64_t& out) {
      if (auto it = d.find(key); it != d.end() && it->is_number_unsigned()) {
        out = it->get<std::uint64_t>();
      }
    };
    str("e", f.e);
    str("s", f.s);
    u64("u", f.u);
    bids.clear();
    asks.clear();
    if (f.e.empty()) {
      str("b", f.b), str("B", f.B), str("a", f.a), str("A", f.A);
    } else if (f.e == "trade") {
      str("p", f.p), str("q", f.q), u64("t", f.t), u64("E", f.E);
      f.m = d.at("m").get<bool>();
    } else {
      u64("U", f.U), u64("E", f.E);
      for (const auto& [key, dst] : {std::pair{"b", &bids}, std::pair{"a", &asks}}) {
        for (const auto& level : d.at(key)) {
          dst->emplace_back(level[0].get_ref<const std::string&>(), level[1].get_ref<const std::string&>());
        }
      }
    }
    emit_binance(f, sink, bids, asks);
  });
}

// ---------------------------------------------------------------------------------------------
// Coinbase

void coinbase_ours(benchmark::State& state, const std::vector<std::string>& messages) {
  cb::Parser parser;
  for (std::size_t i = 0; i < std::size(kProducts); ++i) {
    parser.add_instrument(kProducts[i].id, static_cast<qf::core::InstrumentId>(i), kProducts[i].price_decimals,
                          kProducts[i].qty_decimals);
  }
  const auto buffers = padded(messages);
  cb::Message m;
  run(state, buffers.size(), [&](std::size_t i, Sink& sink) {
    if (parser.parse(buffers[i], m) != qf::feeds::ParseResult::ok) {
      state.SkipWithError("parse failed");
    }
    (void)cb::emit_events(m, 0, sink);
  });
}

// The product lookup the references use: a linear scan over 10 ids (cheaper than hashing them).
const Product& product(std::string_view id) {
  for (const Product& p : kProducts) {
    if (id == p.id) {
      return p;
    }
  }
  throw std::runtime_error("product");
}

struct CoinbaseFields {
  std::string_view type, product, time, best_bid, best_ask;
  std::uint64_t sequence = 0;
};

void emit_coinbase(const CoinbaseFields& f, Sink& sink,
                   const std::vector<std::pair<bool, std::pair<std::string_view, std::string_view>>>& changes) {
  const Product& p = product(f.product);
  const auto id = static_cast<qf::core::InstrumentId>(&p - kProducts);
  std::uint64_t time_ns = 0;
  if (!f.time.empty() && !cb::parse_time(f.time, time_ns)) {
    throw std::runtime_error("time");
  }
  Event e{};
  e.instrument = id;
  if (f.type == "ticker") {
    e.kind = EventKind::bbo;
    e.seq = f.sequence;
    e.flags = qf::core::kFlagLastInMessage;
    e.bbo.bid_price = fixed(f.best_bid, p.price_decimals);
    e.bbo.ask_price = fixed(f.best_ask, p.price_decimals);
    sink(e);
    return;
  }
  std::size_t n = 0;
  for (const auto& [bid, level] : changes) {
    e.kind = EventKind::book_level;
    e.side = bid ? Side::bid : Side::ask;
    e.level.price = fixed(level.first, p.price_decimals);
    e.level.qty = fixed(level.second, p.qty_decimals);
    e.level.exchange_ns = time_ns;
    e.flags = ++n == changes.size() ? qf::core::kFlagLastInMessage : 0;
    sink(e);
  }
}

void coinbase_rapidjson(benchmark::State& state, const std::vector<std::string>& messages) {
  rapidjson::Document doc;
  std::vector<std::pair<bool, std::pair<std::string_view, std::string_view>>> changes;
  changes.reserve(64);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const std::string& text = messages[i];
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      state.SkipWithError("parse failed");
      return;
    }
    CoinbaseFields f;
    const auto str = [&](const char* key, std::string_view& out) {
      if (auto it = doc.FindMember(key); it != doc.MemberEnd() && it->value.IsString()) {
        out = std::string_view(it->value.GetString(), it->value.GetStringLength());
      }
    };
    str("type", f.type);
    str("product_id", f.product);
    str("time", f.time);
    changes.clear();
    if (f.type == "ticker") {
      str("best_bid", f.best_bid), str("best_ask", f.best_ask);
      f.sequence = doc["sequence"].GetUint64();
    } else {
      for (const auto& c : doc["changes"].GetArray()) {
        const std::string_view side(c[0].GetString(), c[0].GetStringLength());
        changes.push_back({side == "buy", {std::string_view(c[1].GetString(), c[1].GetStringLength()),
                                           std::string_view(c[2].GetString(), c[2].GetStringLength())}});
      }
    }
    emit_coinbase(f, sink, changes);
  });
}

void coinbase_nlohmann(benchmark::State& state, const std::vector<std::string>& messages) {
  std::vector<std::pair<bool, std::pair<std::string_view, std::string_view>>> changes;
  changes.reserve(64);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const nlohmann::json doc = nlohmann::json::parse(messages[i]);
    CoinbaseFields f;
    const auto str = [&](const char* key, std::string_view& out) {
      if (auto it = doc.find(key); it != doc.end() && it->is_string()) {
        out = it->get_ref<const std::string&>();
      }
    };
    str("type", f.type);
    str("product_id", f.product);
    str("time", f.time);
    changes.clear();
    if (f.type == "ticker") {
      str("best_bid", f.best_bid), str("best_ask", f.best_ask);
      f.sequence = doc.at("sequence").get<std::uint64_t>();
    } else {
      for (const auto& c : doc.at("changes")) {
        changes.push_back({c[0].get_ref<const std::string&>() == "buy",
                           {c[1].get_ref<const std::string&>(), c[2].get_ref<const std::string&>()}});
      }
    }
    emit_coinbase(f, sink, changes);
  });
}

// ---------------------------------------------------------------------------------------------
// OKX

void okx_ours(benchmark::State& state, const std::vector<std::string>& messages) {
  ox::Parser parser;
  for (std::size_t i = 0; i < std::size(kOkxInstruments); ++i) {
    parser.add_instrument(kOkxInstruments[i].id, static_cast<qf::core::InstrumentId>(i),
                          kOkxInstruments[i].price_decimals, kOkxInstruments[i].qty_decimals);
  }
  const auto buffers = padded(messages);
  ox::Message m;
  run(state, buffers.size(), [&](std::size_t i, Sink& sink) {
    if (parser.parse(buffers[i], m) != qf::feeds::ParseResult::ok) {
      state.SkipWithError("parse failed");
    }
    (void)ox::emit_events(m, 0, sink);
  });
}

const Product& okx_instrument(std::string_view id) {
  for (const Product& p : kOkxInstruments) {
    if (id == p.id) {
      return p;
    }
  }
  throw std::runtime_error("instId");
}

struct OkxFields {
  std::string_view channel, inst_id, action, ts, bid_px, bid_sz, ask_px, ask_sz;
  std::int64_t checksum = 0;
};

void emit_okx(const OkxFields& f, Sink& sink, const LevelTexts& bids, const LevelTexts& asks) {
  const Product& p = okx_instrument(f.inst_id);
  const auto id = static_cast<qf::core::InstrumentId>(&p - kOkxInstruments);
  if (f.channel == "tickers") {
    emit_bbo_texts(id, p, f.bid_px, f.bid_sz, f.ask_px, f.ask_sz, sink);
    return;
  }
  emit_book_texts(id, p, 0, static_cast<std::uint64_t>(fixed(f.ts, 0)) * 1'000'000, bids, asks, sink);
}

void okx_rapidjson(benchmark::State& state, const std::vector<std::string>& messages) {
  rapidjson::Document doc;
  LevelTexts bids, asks;
  bids.reserve(512);
  asks.reserve(512);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const std::string& text = messages[i];
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      state.SkipWithError("parse failed");
      return;
    }
    const auto str = [](const rapidjson::Value& o, const char* key, std::string_view& out) {
      if (auto it = o.FindMember(key); it != o.MemberEnd() && it->value.IsString()) {
        out = std::string_view(it->value.GetString(), it->value.GetStringLength());
      }
    };
    OkxFields f;
    const rapidjson::Value& arg = doc["arg"];
    str(arg, "channel", f.channel);
    str(arg, "instId", f.inst_id);
    str(doc, "action", f.action);
    const rapidjson::Value& d = doc["data"][0];
    str(d, "ts", f.ts);
    bids.clear();
    asks.clear();
    if (f.channel == "tickers") {
      str(d, "bidPx", f.bid_px), str(d, "bidSz", f.bid_sz), str(d, "askPx", f.ask_px), str(d, "askSz", f.ask_sz);
    } else {
      f.checksum = d["checksum"].GetInt64();
      for (const auto& [key, dst] : {std::pair{"bids", &bids}, std::pair{"asks", &asks}}) {
        for (const auto& level : d[key].GetArray()) {
          dst->emplace_back(std::string_view(level[0].GetString(), level[0].GetStringLength()),
                            std::string_view(level[1].GetString(), level[1].GetStringLength()));
        }
      }
    }
    emit_okx(f, sink, bids, asks);
  });
}

void okx_nlohmann(benchmark::State& state, const std::vector<std::string>& messages) {
  LevelTexts bids, asks;
  bids.reserve(512);
  asks.reserve(512);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const nlohmann::json doc = nlohmann::json::parse(messages[i]);
    const auto str = [](const nlohmann::json& o, const char* key, std::string_view& out) {
      if (auto it = o.find(key); it != o.end() && it->is_string()) {
        out = it->get_ref<const std::string&>();
      }
    };
    OkxFields f;
    const nlohmann::json& arg = doc.at("arg");
    str(arg, "channel", f.channel);
    str(arg, "instId", f.inst_id);
    str(doc, "action", f.action);
    const nlohmann::json& d = doc.at("data").at(0);
    str(d, "ts", f.ts);
    bids.clear();
    asks.clear();
    if (f.channel == "tickers") {
      str(d, "bidPx", f.bid_px), str(d, "bidSz", f.bid_sz), str(d, "askPx", f.ask_px), str(d, "askSz", f.ask_sz);
    } else {
      f.checksum = d.at("checksum").get<std::int64_t>();
      for (const auto& [key, dst] : {std::pair{"bids", &bids}, std::pair{"asks", &asks}}) {
        for (const auto& level : d.at(key)) {
          dst->emplace_back(level[0].get_ref<const std::string&>(), level[1].get_ref<const std::string&>());
        }
      }
    }
    emit_okx(f, sink, bids, asks);
  });
}

// ---------------------------------------------------------------------------------------------
// Bybit (BTCUSDT of the capture: prices at 2 decimals, sizes at 6). Every implementation emits
// one book_level per level; ours adds snapshot_begin / snapshot_end around a snapshot.

constexpr Product kBybit{"BTCUSDT", 2, 6};

void bybit_ours(benchmark::State& state, const std::vector<std::string>& messages) {
  by::Parser parser;
  parser.add_instrument(kBybit.id, 0, kBybit.price_decimals, kBybit.qty_decimals);
  const auto buffers = padded(messages);
  by::Message m;
  run(state, buffers.size(), [&](std::size_t i, Sink& sink) {
    if (parser.parse(buffers[i], m) != qf::feeds::ParseResult::ok) {
      state.SkipWithError("parse failed");
    }
    (void)by::emit_events(m, 0, sink);
  });
}

struct BybitFields {
  std::string_view topic, type, symbol;
  std::uint64_t ts = 0, u = 0, seq = 0;
};

void emit_bybit(const BybitFields& f, Sink& sink, const LevelTexts& bids, const LevelTexts& asks) {
  if (f.symbol != kBybit.id || f.topic.substr(f.topic.rfind('.') + 1) != f.symbol) {
    throw std::runtime_error("symbol");
  }
  emit_book_texts(0, kBybit, f.u, f.ts * 1'000'000, bids, asks, sink);
}

void bybit_rapidjson(benchmark::State& state, const std::vector<std::string>& messages) {
  rapidjson::Document doc;
  LevelTexts bids, asks;
  bids.reserve(512);
  asks.reserve(512);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const std::string& text = messages[i];
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      state.SkipWithError("parse failed");
      return;
    }
    const auto str = [](const rapidjson::Value& v) { return std::string_view(v.GetString(), v.GetStringLength()); };
    BybitFields f;
    f.topic = str(doc["topic"]);
    f.type = str(doc["type"]);
    f.ts = doc["ts"].GetUint64();
    const rapidjson::Value& d = doc["data"];
    f.symbol = str(d["s"]);
    f.u = d["u"].GetUint64();
    f.seq = d["seq"].GetUint64();
    bids.clear();
    asks.clear();
    for (const auto& [key, dst] : {std::pair{"b", &bids}, std::pair{"a", &asks}}) {
      for (const auto& level : d[key].GetArray()) {
        dst->emplace_back(str(level[0]), str(level[1]));
      }
    }
    emit_bybit(f, sink, bids, asks);
  });
}

void bybit_nlohmann(benchmark::State& state, const std::vector<std::string>& messages) {
  LevelTexts bids, asks;
  bids.reserve(512);
  asks.reserve(512);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const nlohmann::json doc = nlohmann::json::parse(messages[i]);
    BybitFields f;
    f.topic = doc.at("topic").get_ref<const std::string&>();
    f.type = doc.at("type").get_ref<const std::string&>();
    f.ts = doc.at("ts").get<std::uint64_t>();
    const nlohmann::json& d = doc.at("data");
    f.symbol = d.at("s").get_ref<const std::string&>();
    f.u = d.at("u").get<std::uint64_t>();
    f.seq = d.at("seq").get<std::uint64_t>();
    bids.clear();
    asks.clear();
    for (const auto& [key, dst] : {std::pair{"b", &bids}, std::pair{"a", &asks}}) {
      for (const auto& level : d.at(key)) {
        dst->emplace_back(level[0].get_ref<const std::string&>(), level[1].get_ref<const std::string&>());
      }
    }
    emit_bybit(f, sink, bids, asks);
  });
}

// ---------------------------------------------------------------------------------------------
// Coinbase Advanced Trade (BTC-USD at 2 and 8 decimals): the envelope's timestamp and
// sequence_num, then the first event's ticker (one bbo) or level2 updates (one book_level each,
// bids then asks, as ours emits them).

constexpr Product kAdvanced{"BTC-USD", 2, 8};

void advanced_ours(benchmark::State& state, const std::vector<std::string>& messages) {
  ca::Parser parser;
  parser.add_instrument(kAdvanced.id, 0, kAdvanced.price_decimals, kAdvanced.qty_decimals);
  const auto buffers = padded(messages);
  ca::Message m;
  run(state, buffers.size(), [&](std::size_t i, Sink& sink) {
    if (parser.parse(buffers[i], m) != qf::feeds::ParseResult::ok) {
      state.SkipWithError("parse failed");
    }
    (void)ca::emit_events(m, 0, sink);
  });
}

struct AdvancedFields {
  std::string_view channel, timestamp, product, bid_px, bid_sz, ask_px, ask_sz;
  std::uint64_t sequence = 0;
};

void emit_advanced(const AdvancedFields& f, Sink& sink, const LevelTexts& bids, const LevelTexts& asks) {
  if (f.product != kAdvanced.id) {
    throw std::runtime_error("product_id");
  }
  std::uint64_t time_ns = 0;
  if (!cb::parse_time(f.timestamp, time_ns)) {
    throw std::runtime_error("timestamp");
  }
  if (f.channel == "ticker") {
    emit_bbo_texts(0, kAdvanced, f.bid_px, f.bid_sz, f.ask_px, f.ask_sz, sink);
    return;
  }
  emit_book_texts(0, kAdvanced, f.sequence, time_ns, bids, asks, sink);
}

void advanced_rapidjson(benchmark::State& state, const std::vector<std::string>& messages) {
  rapidjson::Document doc;
  LevelTexts bids, asks;
  bids.reserve(512);
  asks.reserve(512);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const std::string& text = messages[i];
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      state.SkipWithError("parse failed");
      return;
    }
    const auto str = [](const rapidjson::Value& v) { return std::string_view(v.GetString(), v.GetStringLength()); };
    AdvancedFields f;
    f.channel = str(doc["channel"]);
    f.timestamp = str(doc["timestamp"]);
    f.sequence = doc["sequence_num"].GetUint64();
    const rapidjson::Value& event = doc["events"][0];
    bids.clear();
    asks.clear();
    if (f.channel == "ticker") {
      const rapidjson::Value& t = event["tickers"][0];
      f.product = str(t["product_id"]);
      f.bid_px = str(t["best_bid"]), f.bid_sz = str(t["best_bid_quantity"]);
      f.ask_px = str(t["best_ask"]), f.ask_sz = str(t["best_ask_quantity"]);
    } else {
      f.product = str(event["product_id"]);
      for (const auto& u : event["updates"].GetArray()) {
        (str(u["side"]) == "bid" ? bids : asks).emplace_back(str(u["price_level"]), str(u["new_quantity"]));
      }
    }
    emit_advanced(f, sink, bids, asks);
  });
}

void advanced_nlohmann(benchmark::State& state, const std::vector<std::string>& messages) {
  LevelTexts bids, asks;
  bids.reserve(512);
  asks.reserve(512);
  run(state, messages.size(), [&](std::size_t i, Sink& sink) {
    const nlohmann::json doc = nlohmann::json::parse(messages[i]);
    const auto str = [](const nlohmann::json& o, const char* key) -> std::string_view {
      return o.at(key).get_ref<const std::string&>();
    };
    AdvancedFields f;
    f.channel = str(doc, "channel");
    f.timestamp = str(doc, "timestamp");
    f.sequence = doc.at("sequence_num").get<std::uint64_t>();
    const nlohmann::json& event = doc.at("events").at(0);
    bids.clear();
    asks.clear();
    if (f.channel == "ticker") {
      const nlohmann::json& t = event.at("tickers").at(0);
      f.product = str(t, "product_id");
      f.bid_px = str(t, "best_bid"), f.bid_sz = str(t, "best_bid_quantity");
      f.ask_px = str(t, "best_ask"), f.ask_sz = str(t, "best_ask_quantity");
    } else {
      f.product = str(event, "product_id");
      for (const auto& u : event.at("updates")) {
        (str(u, "side") == "bid" ? bids : asks).emplace_back(str(u, "price_level"), str(u, "new_quantity"));
      }
    }
    emit_advanced(f, sink, bids, asks);
  });
}

// ---------------------------------------------------------------------------------------------
// Registration and the ratio summary

enum class Venue { binance, coinbase, okx, bybit, coinbase_advanced };
struct Kind {
  const char* name;
  const std::vector<std::string>& (*messages)();
  Venue venue;
};
const Kind kKinds[] = {
    {"binance_book_ticker", []() -> const std::vector<std::string>& { return corpus().book_ticker; }, Venue::binance},
    {"binance_trade", []() -> const std::vector<std::string>& { return corpus().trade; }, Venue::binance},
    {"binance_depth20", []() -> const std::vector<std::string>& { return corpus().depth20; }, Venue::binance},
    {"coinbase_l2update", []() -> const std::vector<std::string>& { return corpus().l2update; }, Venue::coinbase},
    {"coinbase_ticker", []() -> const std::vector<std::string>& { return corpus().ticker; }, Venue::coinbase},
    {"okx_tickers", []() -> const std::vector<std::string>& { return corpus().okx_ticker; }, Venue::okx},
    {"okx_books_update", []() -> const std::vector<std::string>& { return corpus().okx_books; }, Venue::okx},
    {"bybit_orderbook50", []() -> const std::vector<std::string>& { return corpus().bybit_books; }, Venue::bybit},
    {"cbadv_ticker", []() -> const std::vector<std::string>& { return corpus().advanced_ticker; },
     Venue::coinbase_advanced},
    {"cbadv_l2_data_update", []() -> const std::vector<std::string>& { return corpus().advanced_l2; },
     Venue::coinbase_advanced},
};
const char* const kImpls[] = {"qf", "rapidjson", "nlohmann"};

// Keeps each run's ns/message (the median when repetitions ran) for the summary.
class Collector : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") {
        continue;
      }
      Row& row = rows[r.run_name.str()];
      row.ns = r.GetAdjustedRealTime(); // ns per iteration = per message
      if (auto it = r.counters.find("allocs_per_msg"); it != r.counters.end()) {
        row.allocs = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  struct Row {
    double ns = 0;
    double allocs = 0;
  };
  std::map<std::string, Row> rows;
};

} // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (const Kind& kind : kKinds) {
    for (const char* impl : kImpls) {
      const std::string name = std::string("parse/") + kind.name + "/" + impl;
      const std::string which = impl;
      const Kind* k = &kind;
      benchmark::RegisterBenchmark(name.c_str(), [k, which](benchmark::State& state) {
        const auto& messages = k->messages();
        if (k->venue == Venue::coinbase) {
          which == "qf" ? coinbase_ours(state, messages)
                        : which == "rapidjson" ? coinbase_rapidjson(state, messages) : coinbase_nlohmann(state, messages);
        } else if (k->venue == Venue::okx) {
          which == "qf" ? okx_ours(state, messages)
                        : which == "rapidjson" ? okx_rapidjson(state, messages) : okx_nlohmann(state, messages);
        } else if (k->venue == Venue::coinbase_advanced) {
          which == "qf" ? advanced_ours(state, messages)
                        : which == "rapidjson" ? advanced_rapidjson(state, messages) : advanced_nlohmann(state, messages);
        } else if (k->venue == Venue::bybit) {
          which == "qf" ? bybit_ours(state, messages)
                        : which == "rapidjson" ? bybit_rapidjson(state, messages) : bybit_nlohmann(state, messages);
        } else {
          which == "qf" ? binance_ours(state, messages)
                        : which == "rapidjson" ? binance_rapidjson(state, messages) : binance_nlohmann(state, messages);
        }
      })->Unit(benchmark::kNanosecond);
    }
  }
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();

  std::printf("\nparse_bench summary (ns per message, parse + fixed point + events; ratio = reference / qf)\n");
  std::printf("%-22s %10s %12s %12s %10s %10s  %s\n", "message", "qf", "rapidjson", "nlohmann", "x rapidjson",
              "x nlohmann", "allocs/msg qf rapidjson nlohmann");
  for (const Kind& kind : kKinds) {
    const auto get = [&](const char* impl) {
      const auto it = collector.rows.find(std::string("parse/") + kind.name + "/" + impl);
      return it != collector.rows.end() ? it->second : Collector::Row{};
    };
    const auto ours = get("qf");
    const auto rj = get("rapidjson");
    const auto nl = get("nlohmann");
    if (ours.ns <= 0) {
      continue; // filtered out
    }
    std::printf("%-22s %10.1f %12.1f %12.1f %9.2fx %9.2fx  %.2f %.2f %.2f\n", kind.name, ours.ns, rj.ns, nl.ns,
                rj.ns / ours.ns, nl.ns / ours.ns, ours.allocs, rj.allocs, nl.allocs);
  }
  std::printf("targets (bookTicker): >= 4x RapidJSON, >= 10x nlohmann\n");
  return 0;
}
