#include "qf/feeds/bybit/parser.hpp"

#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "json_fields.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/emitters.hpp"

namespace qf::feeds::bybit {

static_assert(static_cast<std::size_t>(MessageKind::op_answer) + 1 == kMessageKinds);

namespace {

namespace od = simdjson::ondemand;
using core::Side;
using detail::digits_u64;
using detail::ms_to_ns;
using detail::read_fields;
using detail::read_u64;
using detail::string_token;
using detail::to_fixed;

enum Bit : std::uint32_t {
  kTopic = 1U << 0,
  kType = 1U << 1,
  kTs = 1U << 2,
  kData = 1U << 3,
  kOp = 1U << 4,
  kSuccess = 1U << 5,
  kCts = 1U << 6,
  // data entries
  kS = 1U << 7,
  kBids = 1U << 8,
  kAsks = 1U << 9,
  kU = 1U << 10,
  kSeq = 1U << 11,
  kTime = 1U << 12,
  kSide = 1U << 13,
  kPrice = 1U << 14,
  kVolume = 1U << 15,
  kTradeId = 1U << 16,
  kBid1Price = 1U << 17,
  kBid1Size = 1U << 18,
  kAsk1Price = 1U << 19,
  kAsk1Size = 1U << 20,
};

// One data object (the book's or ticker's `data`, or one element of publicTrade's array).
struct Entry {
  std::uint32_t seen = 0;
  std::string_view s; // `s` (book, trade) or `symbol` (ticker)
  std::string_view side;
  std::string_view price;
  std::string_view volume;
  std::string_view trade_id;
  std::string_view bid1_price, bid1_size, ask1_price, ask1_size;
  std::uint64_t u = 0;
  std::uint64_t seq = 0;
  std::uint64_t time_ms = 0;
  std::size_t bid_levels = 0;
  std::size_t ask_levels = 0;
};

struct Fields {
  std::uint32_t seen = 0;
  std::string_view topic;
  std::string_view type;
  std::string_view op;
  bool success = true;
  bool data_array = false;
  std::uint64_t ts_ms = 0;
  std::uint64_t cts_ms = 0;
  std::size_t entries = 0;
};

// "orderbook.50.BTCUSDT" -> channel "orderbook", depth 50, symbol "BTCUSDT";
// "publicTrade.BTCUSDT" / "tickers.BTCUSDT" -> depth 0. False on another shape.
[[nodiscard]] bool split_topic(std::string_view topic, std::string_view& channel, std::size_t& depth,
                               std::string_view& symbol) noexcept {
  const std::size_t dot = topic.find('.');
  if (dot == std::string_view::npos) {
    return false;
  }
  channel = topic.substr(0, dot);
  std::string_view rest = topic.substr(dot + 1);
  depth = 0;
  if (channel == "orderbook") {
    const std::size_t next = rest.find('.');
    std::uint64_t d = 0;
    if (next == std::string_view::npos || !digits_u64(rest.substr(0, next), d) || d == 0 || d > 100'000) {
      return false;
    }
    depth = static_cast<std::size_t>(d);
    rest = rest.substr(next + 1);
  }
  symbol = rest;
  return !symbol.empty();
}

const ParserConfig& checked(const ParserConfig& config) {
  if (config.max_message_bytes == 0 || config.max_levels == 0 || config.max_trades == 0 ||
      config.max_instruments == 0 || config.max_instruments > 0x8000) {
    throw std::invalid_argument("bybit::Parser: max_message_bytes, max_levels, max_trades and max_instruments "
                                "(<= 32768) must be positive");
  }
  return config;
}

} // namespace

std::string_view to_string(MessageKind kind) noexcept {
  static constexpr std::array<std::string_view, kMessageKinds> kNames = {
      "none", "book_snapshot", "book_update", "trade", "ticker", "op_answer",
  };
  static_assert(kNames.back() == "op_answer", "one name per kind");
  return detail::name_of(kNames, kind);
}

// ---------------------------------------------------------------------------------------------
// Parser

struct ParserImpl : detail::ParserState {
  explicit ParserImpl(const ParserConfig& config)
      : ParserState(config.max_message_bytes, config.max_levels), entries(config.max_trades),
        trades(config.max_trades) {}

  [[nodiscard]] ParseResult read_field(std::string_view key, od::value& v, Fields& f) noexcept;
  [[nodiscard]] ParseResult read_entry_field(std::string_view key, od::value& v, Entry& e, bool book) noexcept;

  std::vector<Entry> entries;
  std::vector<Trade> trades;
};

ParseResult ParserImpl::read_entry_field(std::string_view key, od::value& v, Entry& e, bool book) noexcept {
  const auto text = [&](std::string_view& out, Bit bit) noexcept {
    e.seen |= bit;
    return string_token(v, out);
  };
  const auto number = [&](std::uint64_t& out, Bit bit) noexcept {
    e.seen |= bit;
    return read_u64(v, out);
  };
  if (book && (key == "b" || key == "a")) {
    const bool is_bids = key == "b";
    e.seen |= is_bids ? kBids : kAsks;
    return detail::read_levels(v, is_bids ? bid_text : ask_text, is_bids ? e.bid_levels : e.ask_levels);
  }
  if (key == "s" || key == "symbol") {
    return text(e.s, kS);
  }
  if (key == "u") {
    return number(e.u, kU);
  }
  if (key == "seq") {
    return number(e.seq, kSeq);
  }
  if (key == "T") {
    return number(e.time_ms, kTime);
  }
  if (key == "S") {
    return text(e.side, kSide);
  }
  if (key == "p") {
    return text(e.price, kPrice);
  }
  if (key == "v") {
    return text(e.volume, kVolume);
  }
  if (key == "i") {
    return text(e.trade_id, kTradeId);
  }
  if (key == "bid1Price") {
    return text(e.bid1_price, kBid1Price);
  }
  if (key == "bid1Size") {
    return text(e.bid1_size, kBid1Size);
  }
  if (key == "ask1Price") {
    return text(e.ask1_price, kAsk1Price);
  }
  if (key == "ask1Size") {
    return text(e.ask1_size, kAsk1Size);
  }
  return ParseResult::ok; // L, BT, RPI, lastPrice, volume24h, ...: not needed
}

ParseResult ParserImpl::read_field(std::string_view key, od::value& v, Fields& f) noexcept {
  if (key == "topic") {
    f.seen |= kTopic;
    return string_token(v, f.topic);
  }
  if (key == "type") {
    f.seen |= kType;
    return string_token(v, f.type);
  }
  if (key == "ts") {
    f.seen |= kTs;
    return read_u64(v, f.ts_ms);
  }
  if (key == "cts") {
    f.seen |= kCts;
    return read_u64(v, f.cts_ms);
  }
  if (key == "op") {
    f.seen |= kOp;
    return string_token(v, f.op);
  }
  if (key == "success") {
    f.seen |= kSuccess;
    if (const auto e = v.get_bool().get(f.success); e != simdjson::SUCCESS) {
      return detail::from_json_error(e);
    }
    return ParseResult::ok;
  }
  if (key == "data") {
    f.seen |= kData;
    od::json_type type{};
    if (const auto e = v.type().get(type); e != simdjson::SUCCESS) {
      return detail::from_json_error(e);
    }
    if (type == od::json_type::array) { // publicTrade
      f.data_array = true;
      return detail::read_objects(v, entries.size(), f.entries, nullptr,
                                  [&](std::size_t i, od::object& object) noexcept {
                                    Entry& entry = entries[i];
                                    entry = Entry{};
                                    return read_fields(object, [&](std::string_view k, od::value& x) noexcept {
                                      return read_entry_field(k, x, entry, false);
                                    });
                                  });
    }
    od::object object; // orderbook, tickers
    if (const auto e = v.get_object().get(object); e != simdjson::SUCCESS) {
      return detail::from_json_error(e);
    }
    Entry& entry = entries[0];
    entry = Entry{};
    f.entries = 1;
    return read_fields(object,
                       [&](std::string_view k, od::value& x) noexcept { return read_entry_field(k, x, entry, true); });
  }
  return ParseResult::ok; // req_id, conn_id, ret_msg, args, cs, ...
}

Parser::Parser(const ParserConfig& config) : ParserShell(checked(config), "bybit::Parser", "symbol") {}

ParseResult Parser::parse(PaddedView input, Message& out) noexcept {
  const ParseResult r = parse_impl(input, out);
  counters_.count(r, out.kind);
  if (r == ParseResult::ok && out.kind == MessageKind::op_answer && !out.success) {
    ++counters_.refused;
  }
  return r;
}

ParseResult Parser::parse_impl(PaddedView input, Message& out) noexcept {
  out = Message{};
  ParserImpl& im = *impl_;
  Fields f;
  const auto field = [&](std::string_view key, od::value& v) noexcept { return im.read_field(key, v, f); };
  if (const ParseResult r = im.read_document(input, field); r != ParseResult::ok) {
    return r;
  }
  if ((f.seen & kTopic) == 0) {
    if ((f.seen & kOp) != 0) {
      out.kind = MessageKind::op_answer;
      out.op = f.op;
      out.success = f.success;
      return ParseResult::ok;
    }
    return ParseResult::unknown_message;
  }
  out.topic = f.topic;
  std::string_view channel;
  if (!split_topic(f.topic, channel, out.depth, out.symbol)) {
    return ParseResult::unknown_message;
  }
  std::uint32_t required = 0;
  if (channel == "orderbook") {
    if (f.type == "snapshot") {
      out.kind = MessageKind::book_snapshot;
    } else if (f.type == "delta") {
      out.kind = MessageKind::book_update;
    } else {
      return (f.seen & kType) == 0 ? ParseResult::missing_field : ParseResult::unknown_message;
    }
    required = kS | kBids | kAsks | kU | kSeq;
  } else if (channel == "publicTrade") {
    out.kind = MessageKind::trade;
    required = kTime | kS | kSide | kPrice | kVolume;
  } else if (channel == "tickers") {
    out.kind = MessageKind::ticker;
    out.delta = f.type == "delta";
  } else {
    return ParseResult::unknown_message; // kline, liquidation, ...: not subscribed by us
  }
  if ((f.seen & kData) == 0 || (f.seen & kTs) == 0 || f.entries == 0) {
    return ParseResult::missing_field;
  }
  if (f.data_array != (out.kind == MessageKind::trade)) {
    return ParseResult::wrong_type; // trades come as an array, books and tickers as an object
  }
  for (std::size_t i = 0; i < f.entries; ++i) {
    const Entry& e = im.entries[i];
    if ((required & ~e.seen) != 0) {
      return ParseResult::missing_field;
    }
    if ((e.seen & kS) != 0 && e.s != out.symbol) {
      return ParseResult::unknown_message; // one instrument per push, the topic's
    }
  }
  const InstrumentEntry* entry = table_.find(out.symbol);
  if (entry == nullptr) {
    return ParseResult::unknown_instrument;
  }
  out.instrument = entry->id;
  if (const ParseResult r = ms_to_ns(f.ts_ms, out.time_ns); r != ParseResult::ok) {
    return r;
  }
  if (const ParseResult r = ms_to_ns(f.cts_ms, out.match_ns); r != ParseResult::ok) {
    return r;
  }
  const int pd = entry->price_decimals;
  const int qd = entry->qty_decimals;
  const Entry& e = im.entries[0];
  ParseResult r = ParseResult::ok;
  switch (out.kind) {
  case MessageKind::book_snapshot:
  case MessageKind::book_update:
    out.update_id = e.u;
    out.seq = e.seq;
    return im.levels(e.bid_levels, e.ask_levels, pd, qd, out.bids, out.asks);
  case MessageKind::ticker: {
    const auto put = [&](std::uint32_t bit, std::string_view text, int decimals, std::int64_t& dst,
                         TickerField flag) noexcept {
      if ((e.seen & bit) == 0 || text.empty()) {
        return ParseResult::ok; // absent from this delta, or an empty side
      }
      out.ticker_fields |= flag;
      return to_fixed(text, decimals, dst);
    };
    if ((r = put(kBid1Price, e.bid1_price, pd, out.bid.price, kBidPrice)) != ParseResult::ok ||
        (r = put(kBid1Size, e.bid1_size, qd, out.bid.qty, kBidSize)) != ParseResult::ok ||
        (r = put(kAsk1Price, e.ask1_price, pd, out.ask.price, kAskPrice)) != ParseResult::ok ||
        (r = put(kAsk1Size, e.ask1_size, qd, out.ask.qty, kAskSize)) != ParseResult::ok) {
      return r;
    }
    return ParseResult::ok;
  }
  case MessageKind::trade:
    for (std::size_t i = 0; i < f.entries; ++i) {
      const Entry& t = im.entries[i];
      Trade& trade = im.trades[i];
      trade = Trade{};
      if (!digits_u64(t.trade_id, trade.trade_id)) {
        trade.trade_id = t.seq; // a uuid: the trade's cross sequence identifies it
      }
      if (t.side == "Buy") {
        trade.taker_side = Side::bid;
      } else if (t.side == "Sell") {
        trade.taker_side = Side::ask;
      } else {
        return ParseResult::bad_side;
      }
      if ((r = ms_to_ns(t.time_ms, trade.time_ns)) != ParseResult::ok ||
          (r = to_fixed(t.price, pd, trade.price)) != ParseResult::ok ||
          (r = to_fixed(t.volume, qd, trade.qty)) != ParseResult::ok) {
        return r;
      }
    }
    out.trades = std::span<const Trade>(im.trades.data(), f.entries);
    return ParseResult::ok;
  default:
    return ParseResult::ok;
  }
}

// ---------------------------------------------------------------------------------------------
// Events

std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  switch (m.kind) {
  case MessageKind::book_snapshot:
    return emit_snapshot(m.instrument, m.bids, m.asks, m.update_id, m.time_ns, recv_ticks, sink);
  case MessageKind::book_update:
    return emit_levels(m.instrument, m.bids, m.asks, m.update_id, m.time_ns, recv_ticks, true, sink);
  case MessageKind::ticker:
    if (m.ticker_fields != (kBidPrice | kBidSize | kAskPrice | kAskSize)) {
      return 0; // a partial delta (BookSync merges it) or a spot ticker without bid/ask
    }
    return emit_bbo(m.instrument, 0, m.bid, m.ask, recv_ticks, sink);
  case MessageKind::trade: {
    std::size_t n = 0;
    for (const Trade& t : m.trades) {
      n += emit_trade(m.instrument, t.trade_id, t.taker_side, t.price, t.qty, t.time_ns, recv_ticks, sink);
    }
    return n;
  }
  default:
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold helpers

std::vector<SymbolDecimals> infer_capture_decimals(const std::string& path) {
  detail::DomDecimalScan capture(path);
  simdjson::dom::object root;
  while (capture.next(root)) {
    std::string_view topic;
    std::string_view channel;
    std::string_view symbol;
    std::size_t depth = 0;
    if (root["topic"].get_string().get(topic) != simdjson::SUCCESS || !split_topic(topic, channel, depth, symbol)) {
      continue; // op answers
    }
    detail::DecimalScan& scan = capture.of(symbol);
    const auto scan_entry = [&](simdjson::dom::object entry) {
      capture.add_rows(scan, entry, "b");
      capture.add_rows(scan, entry, "a");
      for (const char* key : {"p", "bid1Price", "ask1Price", "lastPrice"}) {
        capture.add(scan, entry, key, true);
      }
      for (const char* key : {"v", "bid1Size", "ask1Size"}) {
        capture.add(scan, entry, key, false);
      }
    };
    simdjson::dom::object object;
    simdjson::dom::array array;
    if (root["data"].get_object().get(object) == simdjson::SUCCESS) {
      scan_entry(object);
    } else if (root["data"].get_array().get(array) == simdjson::SUCCESS) {
      for (simdjson::dom::element item : array) {
        if (item.get_object().get(object) != simdjson::SUCCESS) {
          capture.fail("a data element that is not an object");
        }
        scan_entry(object);
      }
    }
  }
  return capture.results<SymbolDecimals>();
}

} // namespace qf::feeds::bybit
