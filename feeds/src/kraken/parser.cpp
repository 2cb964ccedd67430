#include "qf/feeds/kraken/parser.hpp"

#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <stdexcept>
#include <vector>

#include "qf/feeds/capture.hpp"
#include "qf/feeds/coinbase/parser.hpp" // parse_time: the same ISO-8601 UTC form
#include "qf/feeds/emitters.hpp"
#include "json_fields.hpp"

namespace qf::feeds::kraken {

static_assert(static_cast<std::size_t>(MessageKind::method) + 1 == kMessageKinds);

namespace {

namespace od = simdjson::ondemand;
using core::Side;
using detail::LevelText;
using detail::read_fields;
using detail::read_u64_token;
using detail::string_token;
using detail::to_fixed;

enum Bit : std::uint32_t {
  kChannel = 1U << 0,
  kType = 1U << 1,
  kData = 1U << 2,
  kMethod = 1U << 3,
  kSuccess = 1U << 4,
  kSymbol = 1U << 5,
  kBids = 1U << 6,
  kAsks = 1U << 7,
  kChecksum = 1U << 8,
  kTimestamp = 1U << 9,
  kSide = 1U << 10,
  kPrice = 1U << 11,
  kQty = 1U << 12,
  kTradeId = 1U << 13,
  kBid = 1U << 14,
  kBidQty = 1U << 15,
  kAsk = 1U << 16,
  kAskQty = 1U << 17,
};

// One element of `data`, as read (texts are views into the input).
struct Entry {
  std::uint32_t seen = 0;
  std::string_view symbol;
  std::string_view side;
  std::string_view price;
  std::string_view qty;
  std::string_view bid;
  std::string_view bid_qty;
  std::string_view ask;
  std::string_view ask_qty;
  std::string_view timestamp;
  std::uint64_t trade_id = 0;
  std::uint64_t checksum = 0;
  std::size_t bid_levels = 0;
  std::size_t ask_levels = 0;
};

struct Fields {
  std::uint32_t seen = 0;
  std::string_view channel;
  std::string_view type;
  std::string_view method;
  bool success = true;
  std::size_t entries = 0;
};

// The text of a JSON number token (a string or other value is a wrong type), trailing
// whitespace removed; parse_fixed judges the digits.
[[nodiscard]] ParseResult number_token(od::value& v, std::string_view& out) noexcept {
  std::string_view raw = v.raw_json_token();
  if (raw.empty()) {
    return ParseResult::malformed_json;
  }
  const char first = raw.front();
  if (first != '-' && (first < '0' || first > '9')) {
    return ParseResult::wrong_type;
  }
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' || raw.back() == '\n')) {
    raw.remove_suffix(1);
  }
  out = raw;
  return ParseResult::ok;
}

const ParserConfig& checked(const ParserConfig& config) {
  if (config.max_message_bytes == 0 || config.max_levels == 0 || config.max_trades == 0 ||
      config.max_instruments == 0 || config.max_instruments > 0x8000) {
    throw std::invalid_argument("kraken::Parser: max_message_bytes, max_levels, max_trades and max_instruments "
                                "(<= 32768) must be positive");
  }
  return config;
}

} // namespace

std::string_view to_string(MessageKind kind) noexcept {
  static constexpr std::array<std::string_view, kMessageKinds> kNames = {
      "none", "book_snapshot", "book_update", "trade", "ticker", "heartbeat", "status", "method",
  };
  static_assert(kNames.back() == "method", "one name per kind");
  return detail::name_of(kNames, kind);
}

// ---------------------------------------------------------------------------------------------
// Parser

struct ParserImpl : detail::ParserState {
  explicit ParserImpl(const ParserConfig& config)
      : ParserState(config.max_message_bytes, config.max_levels), entries(config.max_trades),
        trades(config.max_trades) {}

  [[nodiscard]] ParseResult read_field(std::string_view key, od::value& v, Fields& f) noexcept;
  [[nodiscard]] ParseResult read_data(od::value& v, Fields& f) noexcept;
  [[nodiscard]] ParseResult read_entry_field(std::string_view key, od::value& v, Entry& e, bool first) noexcept;
  [[nodiscard]] static ParseResult read_book_side(od::value& v, std::vector<LevelText>& dst,
                                                  std::size_t& count) noexcept;

  std::vector<Entry> entries;
  std::vector<Trade> trades;
};

// [{"price":n,"qty":n}, ...] into `dst`.
ParseResult ParserImpl::read_book_side(od::value& v, std::vector<LevelText>& dst, std::size_t& count) noexcept {
  count = 0;
  od::array rows;
  if (const auto e = v.get_array().get(rows); e != simdjson::SUCCESS) {
    return detail::from_json_error(e);
  }
  for (auto row_result : rows) {
    od::object row;
    if (const auto e = std::move(row_result).get_object().get(row); e != simdjson::SUCCESS) {
      return detail::from_json_error(e);
    }
    LevelText level;
    std::uint32_t seen = 0;
    const ParseResult r = read_fields(row, [&](std::string_view key, od::value& item) noexcept {
      if (key == "price") {
        seen |= kPrice;
        return number_token(item, level.price);
      }
      if (key == "qty") {
        seen |= kQty;
        return number_token(item, level.qty);
      }
      return ParseResult::ok;
    });
    if (r != ParseResult::ok) {
      return r;
    }
    if (seen != (kPrice | kQty)) {
      return ParseResult::missing_field;
    }
    if (count == dst.size()) {
      return ParseResult::too_many_levels;
    }
    dst[count++] = level;
  }
  return ParseResult::ok;
}

ParseResult ParserImpl::read_entry_field(std::string_view key, od::value& v, Entry& e, bool first) noexcept {
  const auto text = [&](std::string_view& out, Bit bit) noexcept {
    e.seen |= bit;
    return string_token(v, out);
  };
  const auto number = [&](std::string_view& out, Bit bit) noexcept {
    e.seen |= bit;
    return number_token(v, out);
  };
  if (key == "symbol") {
    return text(e.symbol, kSymbol);
  }
  if (key == "bids" || key == "asks") {
    if (!first) {
      return ParseResult::unknown_message; // one book per message, as Kraken sends it
    }
    const bool is_bids = key == "bids";
    e.seen |= is_bids ? kBids : kAsks;
    return read_book_side(v, is_bids ? bid_text : ask_text, is_bids ? e.bid_levels : e.ask_levels);
  }
  if (key == "checksum") {
    e.seen |= kChecksum;
    const ParseResult r = read_u64_token(v, e.checksum);
    return r == ParseResult::ok && e.checksum > std::numeric_limits<std::uint32_t>::max() ? ParseResult::bad_number
                                                                                            : r;
  }
  if (key == "timestamp") {
    return text(e.timestamp, kTimestamp);
  }
  if (key == "side") {
    return text(e.side, kSide);
  }
  if (key == "price") {
    return number(e.price, kPrice);
  }
  if (key == "qty") {
    return number(e.qty, kQty);
  }
  if (key == "trade_id") {
    e.seen |= kTradeId;
    return read_u64_token(v, e.trade_id);
  }
  if (key == "bid") {
    return number(e.bid, kBid);
  }
  if (key == "bid_qty") {
    return number(e.bid_qty, kBidQty);
  }
  if (key == "ask") {
    return number(e.ask, kAsk);
  }
  if (key == "ask_qty") {
    return number(e.ask_qty, kAskQty);
  }
  return ParseResult::ok; // last, volume, ord_type, connection_id, ...: not needed
}

ParseResult ParserImpl::read_data(od::value& v, Fields& f) noexcept {
  f.seen |= kData;
  return detail::read_objects(v, entries.size(), f.entries, nullptr, [&](std::size_t i, od::object& object) noexcept {
    Entry& entry = entries[i];
    entry = Entry{};
    return read_fields(
        object, [&](std::string_view key, od::value& x) noexcept { return read_entry_field(key, x, entry, i == 0); });
  });
}

ParseResult ParserImpl::read_field(std::string_view key, od::value& v, Fields& f) noexcept {
  if (key == "channel") {
    f.seen |= kChannel;
    return string_token(v, f.channel);
  }
  if (key == "type") {
    f.seen |= kType;
    return string_token(v, f.type);
  }
  if (key == "data") {
    return read_data(v, f);
  }
  if (key == "method") {
    f.seen |= kMethod;
    return string_token(v, f.method);
  }
  if (key == "success") {
    f.seen |= kSuccess;
    if (const auto e = v.get_bool().get(f.success); e != simdjson::SUCCESS) {
      return detail::from_json_error(e);
    }
  }
  return ParseResult::ok; // req_id, result, time_in, time_out, error, ...
}

Parser::Parser(const ParserConfig& config) : ParserShell(checked(config), "kraken::Parser", "symbol") {}

ParseResult Parser::parse(PaddedView input, Message& out) noexcept {
  const ParseResult r = parse_impl(input, out);
  counters_.count(r, out.kind);
  if (r == ParseResult::ok && out.kind == MessageKind::method && !out.success) {
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

  // Classify.
  out.channel = f.channel;
  out.method = f.method;
  out.success = f.success;
  if ((f.seen & kChannel) == 0) {
    if ((f.seen & kMethod) != 0) {
      out.kind = MessageKind::method;
      return ParseResult::ok;
    }
    return ParseResult::unknown_message;
  }
  const std::string_view channel = f.channel;
  if (channel == "heartbeat") {
    out.kind = MessageKind::heartbeat;
    return ParseResult::ok;
  }
  if (channel == "status") {
    out.kind = MessageKind::status;
    return ParseResult::ok;
  }
  std::uint32_t required = 0;
  if (channel == "book") {
    if (f.type == "snapshot") {
      out.kind = MessageKind::book_snapshot;
    } else if (f.type == "update") {
      out.kind = MessageKind::book_update;
    } else {
      return (f.seen & kType) == 0 ? ParseResult::missing_field : ParseResult::unknown_message;
    }
    required = kSymbol | kBids | kAsks;
  } else if (channel == "trade") {
    out.kind = MessageKind::trade;
    required = kSymbol | kSide | kPrice | kQty | kTradeId | kTimestamp;
  } else if (channel == "ticker") {
    out.kind = MessageKind::ticker;
    required = kSymbol | kBid | kBidQty | kAsk | kAskQty;
  } else {
    return ParseResult::unknown_message;
  }
  if ((f.seen & kData) == 0 || f.entries == 0) {
    return ParseResult::missing_field;
  }
  for (std::size_t i = 0; i < f.entries; ++i) {
    if ((required & ~im.entries[i].seen) != 0) {
      return ParseResult::missing_field;
    }
  }
  if (out.kind != MessageKind::trade && f.entries != 1) {
    return ParseResult::unknown_message; // one book / ticker per message
  }

  // The instrument(s), prices and quantities.
  const Entry& e = im.entries[0];
  const InstrumentEntry* entry = table_.find(e.symbol);
  if (entry == nullptr) {
    return ParseResult::unknown_instrument;
  }
  out.instrument = entry->id;
  out.symbol = e.symbol;
  if ((e.seen & kTimestamp) != 0 && !coinbase::parse_time(e.timestamp, out.time_ns)) {
    return ParseResult::bad_time;
  }
  const int pd = entry->price_decimals;
  const int qd = entry->qty_decimals;
  ParseResult r = ParseResult::ok;
  switch (out.kind) {
  case MessageKind::book_snapshot:
  case MessageKind::book_update:
    out.has_checksum = (e.seen & kChecksum) != 0;
    out.checksum = static_cast<std::uint32_t>(e.checksum);
    return im.levels(e.bid_levels, e.ask_levels, pd, qd, out.bids, out.asks);
  case MessageKind::ticker:
    if ((r = to_fixed(e.bid, pd, out.bid.price)) != ParseResult::ok ||
        (r = to_fixed(e.bid_qty, qd, out.bid.qty)) != ParseResult::ok ||
        (r = to_fixed(e.ask, pd, out.ask.price)) != ParseResult::ok ||
        (r = to_fixed(e.ask_qty, qd, out.ask.qty)) != ParseResult::ok) {
      return r;
    }
    return ParseResult::ok;
  case MessageKind::trade:
    for (std::size_t i = 0; i < f.entries; ++i) {
      const Entry& t = im.entries[i];
      const InstrumentEntry* te = i == 0 ? entry : table_.find(t.symbol);
      if (te == nullptr) {
        return ParseResult::unknown_instrument;
      }
      Trade& trade = im.trades[i];
      trade = Trade{};
      trade.instrument = te->id;
      trade.trade_id = t.trade_id;
      if (t.side == "buy") {
        trade.taker_side = Side::bid;
      } else if (t.side == "sell") {
        trade.taker_side = Side::ask;
      } else {
        return ParseResult::bad_side;
      }
      if (!coinbase::parse_time(t.timestamp, trade.time_ns)) {
        return ParseResult::bad_time;
      }
      if ((r = to_fixed(t.price, te->price_decimals, trade.price)) != ParseResult::ok ||
          (r = to_fixed(t.qty, te->qty_decimals, trade.qty)) != ParseResult::ok) {
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
    return emit_snapshot(m.instrument, m.bids, m.asks, 0, m.time_ns, recv_ticks, sink);
  case MessageKind::book_update:
    return emit_levels(m.instrument, m.bids, m.asks, 0, m.time_ns, recv_ticks, true, sink);
  case MessageKind::ticker:
    return emit_bbo(m.instrument, 0, m.bid, m.ask, recv_ticks, sink);
  case MessageKind::trade: {
    std::size_t n = 0;
    for (const Trade& t : m.trades) {
      n += emit_trade(t.instrument, t.trade_id, t.taker_side, t.price, t.qty, t.time_ns, recv_ticks, sink);
    }
    return n;
  }
  default:
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold helpers

bool known_precision(std::string_view symbol, int& price_precision, int& qty_precision) noexcept {
  static constexpr struct {
    std::string_view symbol;
    int price;
    int qty;
  } kKnown[] = {{"BTC/USD", 1, 8}, {"DOGE/USDT", 5, 8}, {"ALGO/USD", 5, 8}};
  for (const auto& k : kKnown) {
    if (k.symbol == symbol) {
      price_precision = k.price;
      qty_precision = k.qty;
      return true;
    }
  }
  return false;
}

std::vector<SymbolDecimals> infer_capture_decimals(const std::string& path) {
  CaptureReader reader(path);
  od::parser json;
  std::map<std::string, detail::DecimalScan, std::less<>> scans;
  CaptureRecord record;
  const auto fail = [&](const char* reason) {
    std::string why = path;
    why.append(":").append(std::to_string(record.line)).append(": ").append(reason);
    throw CaptureError(why);
  };
  // A number's token text, trailing whitespace removed; false when it is not a number.
  const auto add = [&](detail::DecimalScan& scan, od::value v, bool is_price) {
    std::string_view text;
    return number_token(v, text) == ParseResult::ok && scan.add(text, is_price);
  };
  while (reader.next(record)) {
    if (record.kind != CaptureRecord::Kind::ws_frame) {
      continue;
    }
    const simdjson::padded_string padded(record.text);
    od::document doc;
    od::object root;
    if (json.iterate(padded).get(doc) != simdjson::SUCCESS || doc.get_object().get(root) != simdjson::SUCCESS) {
      fail("not a JSON object");
    }
    od::array data;
    if (root.find_field_unordered("data").get_array().get(data) != simdjson::SUCCESS) {
      continue; // heartbeat, method answers
    }
    for (auto item : data) {
      od::object entry;
      if (item.get_object().get(entry) != simdjson::SUCCESS) {
        fail("a data element that is not an object");
      }
      std::string_view symbol;
      detail::DecimalScan* scan = nullptr;
      bool ok = true;
      for (auto field_result : entry) {
        od::field field;
        if (std::move(field_result).get(field) != simdjson::SUCCESS) {
          fail("malformed JSON");
        }
        const std::string_view key = detail::key_of(field);
        if (key == "symbol") {
          if (field.value().get_string().get(symbol) != simdjson::SUCCESS) {
            fail("a symbol that is not a string");
          }
          scan = &scans[std::string(symbol)];
          continue;
        }
        if (scan == nullptr) {
          continue; // Kraken puts `symbol` first; status data has none
        }
        if (key == "bids" || key == "asks") {
          od::array levels;
          if (field.value().get_array().get(levels) != simdjson::SUCCESS) {
            fail("book levels that are not an array");
          }
          for (auto level : levels) {
            od::object l;
            if (level.get_object().get(l) != simdjson::SUCCESS) {
              fail("a book level that is not an object");
            }
            for (auto lf : l) {
              od::field f;
              if (std::move(lf).get(f) != simdjson::SUCCESS) {
                fail("malformed JSON");
              }
              const std::string_view k = detail::key_of(f);
              if (k == "price" || k == "qty") {
                ok = ok && add(*scan, f.value(), k == "price");
              }
            }
          }
        } else if (key == "price" || key == "bid" || key == "ask") {
          ok = ok && add(*scan, field.value(), true);
        } else if (key == "qty" || key == "bid_qty" || key == "ask_qty") {
          ok = ok && add(*scan, field.value(), false);
        }
      }
      if (!ok) {
        fail("a price or qty that is not a plain decimal number");
      }
    }
  }
  std::vector<SymbolDecimals> out;
  for (const auto& [symbol, scan] : scans) {
    out.push_back({symbol, scan.price, scan.qty, scan.values});
  }
  return out;
}

} // namespace qf::feeds::kraken
