#include "qf/feeds/binance/parser.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>

#include "qf/feeds/capture.hpp"
#include "qf/feeds/emitters.hpp"
#include "qf/ipc/fixed_point.hpp"
#include "flat_json.hpp"
#include "json_fields.hpp"

namespace qf::feeds::binance {

static_assert(static_cast<std::size_t>(MessageKind::kline) + 1 == kMessageKinds);

namespace {

namespace od = simdjson::ondemand;
using core::Side;
using detail::from_json_error;
using detail::read_levels;
using detail::read_string;
using detail::read_u64;
using detail::string_token;
using detail::to_fixed;

constexpr std::size_t kMaxSymbol = InstrumentTable::kMaxName;

// Which fields a payload carried: one bit each.
enum Bit : std::uint32_t {
  kEventType = 1U << 0,  // e
  kEventTime = 1U << 1,  // E
  kTxTime = 1U << 2,     // T
  kSymbol = 1U << 3,     // s
  kFirstId = 1U << 4,    // U
  kLastId = 1U << 5,     // u
  kPrevId = 1U << 6,     // pu
  kTradeId = 1U << 7,    // t
  kFirstTrade = 1U << 8, // f
  kLastTrade = 1U << 9,  // l
  kSnapshotId = 1U << 10, // lastUpdateId
  kBidsB = 1U << 11,     // b as an array (depth)
  kAsksA = 1U << 12,     // a as an array (depth)
  kBidText = 1U << 13,   // b as a string (bookTicker)
  kAskText = 1U << 14,   // a as a string (bookTicker)
  kAggId = 1U << 15,     // a as a number (aggTrade)
  kBidQty = 1U << 16,    // B
  kAskQty = 1U << 17,    // A
  kPrice = 1U << 18,     // p
  kQty = 1U << 19,       // q
  kMaker = 1U << 20,     // m
  kResult = 1U << 21,    // result
  kId = 1U << 22,        // id
  kCode = 1U << 23,      // code
  kMsg = 1U << 24,       // msg
  kBidsKey = 1U << 25,   // bids
  kAsksKey = 1U << 26,   // asks
};

struct Fields {
  std::uint32_t seen = 0;
  std::string_view event_type;
  std::string_view symbol;
  std::string_view stream;
  std::uint64_t event_time = 0;
  std::uint64_t tx_time = 0;
  std::uint64_t first_id = 0;
  std::uint64_t last_id = 0;
  std::uint64_t prev_id = 0;
  std::uint64_t trade_id = 0;
  std::uint64_t first_trade = 0;
  std::uint64_t last_trade = 0;
  std::uint64_t snapshot_id = 0;
  std::uint64_t agg_id = 0;
  std::string_view bid_text;
  std::string_view ask_text;
  std::string_view bid_qty;
  std::string_view ask_qty;
  std::string_view price;
  std::string_view qty;
  bool maker = false;
  std::int64_t code = 0;
  std::string_view msg;
  std::string_view id;
  std::size_t bid_levels = 0;
  std::size_t ask_levels = 0;
};

// The one-letter keys that hold a plain string or an unsigned integer: where each goes and the
// bit it sets, shared by the simdjson path and the fast path so the two read them alike.
struct Slot {
  Bit bit = Bit{};
  std::string_view Fields::*text = nullptr;  // a string field, or
  std::uint64_t Fields::*number = nullptr; // an unsigned integer field (neither: not a slot)
};

constexpr Slot slot_of(char key) noexcept {
  switch (key) {
  case 'e': return {kEventType, &Fields::event_type, nullptr};
  case 's': return {kSymbol, &Fields::symbol, nullptr};
  case 'B': return {kBidQty, &Fields::bid_qty, nullptr};
  case 'A': return {kAskQty, &Fields::ask_qty, nullptr};
  case 'p': return {kPrice, &Fields::price, nullptr};
  case 'q': return {kQty, &Fields::qty, nullptr};
  case 'E': return {kEventTime, nullptr, &Fields::event_time};
  case 'T': return {kTxTime, nullptr, &Fields::tx_time};
  case 'U': return {kFirstId, nullptr, &Fields::first_id};
  case 'u': return {kLastId, nullptr, &Fields::last_id};
  case 't': return {kTradeId, nullptr, &Fields::trade_id};
  case 'f': return {kFirstTrade, nullptr, &Fields::first_trade};
  case 'l': return {kLastTrade, nullptr, &Fields::last_trade};
  default: return {};
  }
}

void upper_into(std::string_view text, std::array<char, 32>& buffer, std::string_view& out) noexcept {
  const std::size_t n = std::min(text.size(), kMaxSymbol);
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    buffer[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  out = std::string_view(buffer.data(), n);
}

const ParserConfig& checked(const ParserConfig& config) {
  if (config.max_message_bytes == 0 || config.max_levels == 0 || config.max_instruments == 0 ||
      config.max_instruments > 0x8000 || config.time_unit_ns == 0) {
    throw std::invalid_argument("binance::Parser: max_message_bytes, max_levels, max_instruments "
                                "(<= 32768) and time_unit_ns must be positive");
  }
  return config;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Names

std::string_view to_string(MessageKind kind) noexcept {
  static constexpr std::array<std::string_view, kMessageKinds> kNames = {
      "none",         "book_ticker",    "trade",           "agg_trade",
      "depth_update", "depth_snapshot", "server_shutdown", "subscription_ack",
      "error",        "kline",
  };
  static_assert(kNames.back() == "kline", "one name per kind");
  return detail::name_of(kNames, kind);
}

// ---------------------------------------------------------------------------------------------
// Parser

struct ParserImpl : detail::ParserState {
  explicit ParserImpl(const ParserConfig& config) : ParserState(config.max_message_bytes, config.max_levels) {}

  [[nodiscard]] ParseResult read_object(od::object& object, Fields& f, bool top) noexcept {
    return detail::read_fields(object,
                               [&](std::string_view key, od::value& v) noexcept { return read_field(key, v, f, top); });
  }
  [[nodiscard]] ParseResult read_field(std::string_view key, od::value& v, Fields& f, bool top) noexcept;
  // The fast path (flat_json.hpp): the object at `c` into `f` exactly as read_object would fill
  // it, or false for anything outside the cursor's subset (the caller then reads it with simdjson).
  [[nodiscard]] bool flat_object(detail::FlatCursor& c, Fields& f, bool top) noexcept;
  [[nodiscard]] bool flat_field(detail::FlatCursor& c, std::string_view key, Fields& f, bool top) noexcept;

  std::array<char, 32> derived_symbol{}; // a snapshot's symbol from the caller or its stream name
};

// One field of a payload (or of the combined-stream envelope when `top`). Unknown keys (M, X,
// k, ...) are skipped by simdjson when the loop moves on.
ParseResult ParserImpl::read_field(std::string_view key, od::value& v, Fields& f, bool top) noexcept {
  const auto text = [&](std::string_view& out, Bit bit) noexcept {
    f.seen |= bit;
    return string_token(v, out);
  };
  const auto number = [&](std::uint64_t& out, Bit bit) noexcept {
    f.seen |= bit;
    return read_u64(v, out);
  };
  if (key.size() == 1) {
    if (const Slot slot = slot_of(key[0]); slot.text != nullptr) {
      return text(f.*slot.text, slot.bit);
    } else if (slot.number != nullptr) {
      return number(f.*slot.number, slot.bit);
    }
    switch (key[0]) {
    case 'm': {
      f.seen |= kMaker;
      if (const auto e = v.get_bool().get(f.maker); e != simdjson::SUCCESS) {
        return from_json_error(e);
      }
      return ParseResult::ok;
    }
    case 'b':
    case 'a': {
      // depth: an array of levels; bookTicker: a price string; aggTrade `a`: the trade id.
      const bool bid = key[0] == 'b';
      od::json_type type{};
      if (const auto e = v.type().get(type); e != simdjson::SUCCESS) {
        return from_json_error(e);
      }
      if (type == od::json_type::array) {
        f.seen |= bid ? kBidsB : kAsksA;
        return bid ? read_levels(v, bid_text, f.bid_levels) : read_levels(v, ask_text, f.ask_levels);
      }
      if (type == od::json_type::string) {
        return bid ? text(f.bid_text, kBidText) : text(f.ask_text, kAskText);
      }
      if (type == od::json_type::number && !bid) {
        return number(f.agg_id, kAggId);
      }
      return ParseResult::wrong_type;
    }
    default:
      return ParseResult::ok;
    }
  }
  if (key == "pu") {
    return number(f.prev_id, kPrevId);
  }
  if (key == "lastUpdateId") {
    return number(f.snapshot_id, kSnapshotId);
  }
  if (key == "bids") {
    f.seen |= kBidsKey;
    return read_levels(v, bid_text, f.bid_levels);
  }
  if (key == "asks") {
    f.seen |= kAsksKey;
    return read_levels(v, ask_text, f.ask_levels);
  }
  if (key == "result") {
    f.seen |= kResult; // null, or a list for LIST_SUBSCRIPTIONS: not needed
    return ParseResult::ok;
  }
  if (key == "id") {
    f.seen |= kId;
    const std::string_view raw = v.raw_json_token();
    f.id = raw.substr(0, raw.find_last_not_of(" \t\r\n") + 1);
    return ParseResult::ok;
  }
  if (key == "code") {
    f.seen |= kCode;
    if (const auto e = v.get_int64().get(f.code); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    return ParseResult::ok;
  }
  if (key == "msg") {
    f.seen |= kMsg;
    return read_string(v, f.msg);
  }
  if (top && (key == "data" || key == "error")) {
    // Combined-stream payload, or a websocket API error object {"error":{"code","msg"},"id"}.
    od::object inner;
    if (const auto e = v.get_object().get(inner); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    return read_object(inner, f, false);
  }
  if (top && key == "stream") {
    return string_token(v, f.stream);
  }
  return ParseResult::ok;
}

bool ParserImpl::flat_object(detail::FlatCursor& c, Fields& f, bool top) noexcept {
  if (!c.eat('{')) {
    return false;
  }
  do {
    std::string_view key;
    if (!c.key(key) || !flat_field(c, key, f, top)) {
      return false;
    }
  } while (c.eat(','));
  return c.eat('}');
}

// read_field's cases for the hot messages (bookTicker, trade, aggTrade, depthUpdate and their
// combined-stream envelope), with the same bits and fields; every other key goes to simdjson.
bool ParserImpl::flat_field(detail::FlatCursor& c, std::string_view key, Fields& f, bool top) noexcept {
  const auto text = [&](std::string_view& out, Bit bit) noexcept {
    f.seen |= bit;
    return c.string(out);
  };
  const auto number = [&](std::uint64_t& out, Bit bit) noexcept {
    f.seen |= bit;
    return c.uint(out);
  };
  if (key.size() == 1) {
    if (const Slot slot = slot_of(key[0]); slot.text != nullptr) {
      return text(f.*slot.text, slot.bit);
    } else if (slot.number != nullptr) {
      return number(f.*slot.number, slot.bit);
    }
    switch (key[0]) {
    case 'm':
      f.seen |= kMaker;
      return c.boolean(f.maker);
    case 'b':
    case 'a': {
      const bool bid = key[0] == 'b';
      const char next = c.peek();
      if (next == '[') {
        f.seen |= bid ? kBidsB : kAsksA;
        return bid ? c.levels(bid_text, f.bid_levels) : c.levels(ask_text, f.ask_levels);
      }
      if (next == '"') {
        return bid ? text(f.bid_text, kBidText) : text(f.ask_text, kAskText);
      }
      return !bid && number(f.agg_id, kAggId);
    }
    default:
      return c.skip_scalar(); // M, X, ...: not needed
    }
  }
  if (key == "pu") {
    return number(f.prev_id, kPrevId);
  }
  if (top && key == "stream") {
    return c.string(f.stream);
  }
  if (top && key == "data") {
    return flat_object(c, f, false);
  }
  return false;
}

Parser::Parser(const ParserConfig& config) : ParserShell(checked(config), "binance::Parser", "symbol") {}

void Parser::add_instrument(std::string_view symbol, core::InstrumentId id, int price_decimals, int qty_decimals) {
  // Stored upper case, as Binance's `s` spells it; a name too long to store goes in as it is so
  // the table refuses it.
  std::array<char, 32> buffer{};
  std::string_view upper = symbol;
  if (symbol.size() <= kMaxSymbol) {
    upper_into(symbol, buffer, upper);
  }
  ParserShell::add_instrument(upper, id, price_decimals, qty_decimals);
}

ParseResult Parser::parse(PaddedView input, Message& out, std::string_view snapshot_symbol) noexcept {
  const ParseResult r = parse_impl(input, out, snapshot_symbol);
  counters_.count(r, out.kind);
  if (r == ParseResult::ok && out.kind == MessageKind::kline) {
    ++counters_.ignored;
  }
  return r;
}

ParseResult Parser::parse_impl(PaddedView input, Message& out, std::string_view snapshot_symbol) noexcept {
  out = Message{};
  ParserImpl& im = *impl_;
  Fields f;
  const auto flat = [&]() noexcept {
    if (!config_.fast_path || input.size > im.max_bytes || input.data == nullptr || input.capacity < input.size ||
        input.capacity - input.size < kPadding) { // simdjson's path names what is wrong
      return false;
    }
    detail::FlatCursor c(input.data, input.size);
    return im.flat_object(c, f, true) && c.at_end();
  };
  if (flat()) {
    ++counters_.flat;
  } else {
    f = Fields{};
    const auto field = [&](std::string_view key, od::value& v) noexcept { return im.read_field(key, v, f, true); };
    if (const ParseResult r = im.read_document(input, field); r != ParseResult::ok) {
      return r;
    }
  }
  out.stream = f.stream;

  // Classify.
  std::uint32_t required = 0;
  if ((f.seen & kEventType) != 0) {
    const std::string_view e = f.event_type;
    if (e == "depthUpdate") {
      out.kind = MessageKind::depth_update;
      required = kSymbol | kFirstId | kLastId | kBidsB | kAsksA | kEventTime;
      if (config_.market == Market::usdm) {
        required |= kPrevId;
      }
    } else if (e == "trade") {
      out.kind = MessageKind::trade;
      required = kSymbol | kTradeId | kPrice | kQty | kMaker | kEventTime;
    } else if (e == "aggTrade") {
      out.kind = MessageKind::agg_trade;
      required = kSymbol | kAggId | kPrice | kQty | kMaker | kEventTime;
    } else if (e == "bookTicker") {
      out.kind = MessageKind::book_ticker;
      required = kSymbol | kLastId | kBidText | kBidQty | kAskText | kAskQty;
    } else if (e == "serverShutdown") {
      out.kind = MessageKind::server_shutdown;
    } else if (e == "kline") {
      out.kind = MessageKind::kline;
    } else {
      return ParseResult::unknown_message;
    }
  } else if ((f.seen & kSnapshotId) != 0) {
    out.kind = MessageKind::depth_snapshot;
    required = kBidsKey | kAsksKey;
  } else if ((f.seen & kLastId) != 0 && (f.seen & kSymbol) != 0 &&
             (f.seen & (kBidText | kAskText | kBidQty | kAskQty)) != 0) {
    out.kind = MessageKind::book_ticker; // spot: no e, no E
    required = kBidText | kBidQty | kAskText | kAskQty;
  } else if ((f.seen & kResult) != 0) {
    out.kind = MessageKind::subscription_ack;
    required = kId;
  } else if ((f.seen & kCode) != 0) {
    out.kind = MessageKind::error;
  } else {
    return ParseResult::unknown_message;
  }
  if (const std::uint32_t missing = required & ~f.seen; missing != 0) {
    // `b` and `a` change type with the kind: present with another type is a wrong type.
    constexpr std::uint32_t kBidGroup = kBidsB | kBidText;
    constexpr std::uint32_t kAskGroup = kAsksA | kAskText | kAggId;
    if (((missing & kBidGroup) != 0 && (f.seen & kBidGroup) != 0) ||
        ((missing & kAskGroup) != 0 && (f.seen & kAskGroup) != 0)) {
      return ParseResult::wrong_type;
    }
    return ParseResult::missing_field;
  }

  // Ids and times.
  const std::uint64_t unit = config_.time_unit_ns;
  const std::uint64_t max_time = std::numeric_limits<std::uint64_t>::max() / unit;
  if (f.event_time > max_time || f.tx_time > max_time) {
    return ParseResult::bad_number;
  }
  out.event_ns = f.event_time * unit;
  out.transaction_ns = f.tx_time * unit;
  out.first_update_id = f.first_id;
  out.last_update_id = out.kind == MessageKind::depth_snapshot ? f.snapshot_id : f.last_id;
  out.prev_update_id = f.prev_id;
  out.has_prev_update_id = (f.seen & kPrevId) != 0;
  out.trade_id = out.kind == MessageKind::agg_trade ? f.agg_id : f.trade_id;
  out.first_trade_id = f.first_trade;
  out.last_trade_id = f.last_trade;
  out.error_code = f.code;
  out.error_msg = f.msg;
  out.request_id = f.id;

  // The instrument.
  switch (out.kind) {
  case MessageKind::book_ticker:
  case MessageKind::trade:
  case MessageKind::agg_trade:
  case MessageKind::depth_update:
    out.symbol = f.symbol;
    break;
  case MessageKind::depth_snapshot:
    if (snapshot_symbol.size() > kMaxSymbol) {
      return ParseResult::unknown_instrument;
    }
    if (!snapshot_symbol.empty()) {
      upper_into(snapshot_symbol, im.derived_symbol, out.symbol);
    } else if (!f.stream.empty()) {
      upper_into(f.stream.substr(0, f.stream.find('@')), im.derived_symbol, out.symbol);
    } else {
      return ParseResult::unknown_instrument; // a REST body nobody named
    }
    break;
  case MessageKind::kline:
    out.symbol = f.symbol;
    return ParseResult::ok;
  default:
    return ParseResult::ok;
  }
  const InstrumentEntry* entry = table_.find(out.symbol);
  if (entry == nullptr) {
    return ParseResult::unknown_instrument;
  }
  out.instrument = entry->id;
  const int pd = entry->price_decimals;
  const int qd = entry->qty_decimals;

  // Prices and quantities, exactly.
  ParseResult r = ParseResult::ok;
  switch (out.kind) {
  case MessageKind::book_ticker:
    if ((r = to_fixed(f.bid_text, pd, out.bid.price)) != ParseResult::ok ||
        (r = to_fixed(f.bid_qty, qd, out.bid.qty)) != ParseResult::ok ||
        (r = to_fixed(f.ask_text, pd, out.ask.price)) != ParseResult::ok ||
        (r = to_fixed(f.ask_qty, qd, out.ask.qty)) != ParseResult::ok) {
      return r;
    }
    break;
  case MessageKind::trade:
  case MessageKind::agg_trade:
    if ((r = to_fixed(f.price, pd, out.price)) != ParseResult::ok ||
        (r = to_fixed(f.qty, qd, out.qty)) != ParseResult::ok) {
      return r;
    }
    out.taker_side = f.maker ? Side::ask : Side::bid; // m: the buyer is the maker, so the taker sold
    break;
  case MessageKind::depth_update:
  case MessageKind::depth_snapshot:
    return im.levels(f.bid_levels, f.ask_levels, pd, qd, out.bids, out.asks);
  default:
    break;
  }
  return ParseResult::ok;
}

bool same_message(const Message& a, const Message& b) noexcept {
  return a.kind == b.kind && a.instrument == b.instrument && a.taker_side == b.taker_side &&
         a.has_prev_update_id == b.has_prev_update_id && a.stream == b.stream && a.symbol == b.symbol &&
         a.first_update_id == b.first_update_id && a.last_update_id == b.last_update_id &&
         a.prev_update_id == b.prev_update_id && a.trade_id == b.trade_id && a.first_trade_id == b.first_trade_id &&
         a.last_trade_id == b.last_trade_id && a.event_ns == b.event_ns && a.transaction_ns == b.transaction_ns &&
         a.price == b.price && a.qty == b.qty && a.bid == b.bid && a.ask == b.ask &&
         std::equal(a.bids.begin(), a.bids.end(), b.bids.begin(), b.bids.end()) &&
         std::equal(a.asks.begin(), a.asks.end(), b.asks.begin(), b.asks.end()) && a.error_code == b.error_code &&
         a.error_msg == b.error_msg && a.request_id == b.request_id;
}

// ---------------------------------------------------------------------------------------------
// Events

std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  switch (m.kind) {
  case MessageKind::book_ticker:
    return emit_bbo(m.instrument, m.last_update_id, m.bid, m.ask, recv_ticks, sink);
  case MessageKind::trade:
  case MessageKind::agg_trade:
    return emit_trade(m.instrument, m.trade_id, m.taker_side, m.price, m.qty, m.event_ns, recv_ticks, sink);
  case MessageKind::depth_update:
    return emit_levels(m.instrument, m.bids, m.asks, m.last_update_id, m.event_ns, recv_ticks, true, sink);
  case MessageKind::depth_snapshot:
    return emit_snapshot(m.instrument, m.bids, m.asks, m.last_update_id, m.event_ns, recv_ticks, sink);
  default:
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold helpers

std::string_view symbol_from_rest_url(std::string_view url) noexcept {
  std::size_t at = url.find('?');
  while (at != std::string_view::npos) {
    const std::string_view rest = url.substr(at + 1);
    if (rest.starts_with("symbol=")) {
      const std::string_view value = rest.substr(7);
      return value.substr(0, value.find_first_of("&#"));
    }
    at = url.find('&', at + 1);
  }
  return {};
}

namespace {

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return out;
}

} // namespace

void SnapshotAttribution::on_ws_open(std::string_view url) {
  // .../stream?streams=btcusdt@depth@100ms/btcusdt@trade or .../ws/btcusdt@depth
  std::size_t begin = url.find("streams=");
  begin = begin != std::string_view::npos ? begin + 8 : url.rfind('/') + 1;
  const std::string_view streams = url.substr(begin);
  std::size_t pos = 0;
  while (pos <= streams.size()) {
    const std::size_t end = std::min(streams.find('/', pos), streams.size());
    const std::string_view stream = streams.substr(pos, end - pos);
    const std::size_t at = stream.find('@');
    if (at != std::string_view::npos && stream.substr(at + 1).starts_with("depth")) {
      const std::string_view rest = stream.substr(at + 1 + 5);
      if (rest.empty() || rest.front() == '@') { // diff depth: @depth, @depth@100ms (not @depth5)
        on_depth_symbol(stream.substr(0, at));
      }
    }
    pos = end + 1;
  }
}

void SnapshotAttribution::on_depth_symbol(std::string_view symbol) {
  std::string upper = to_upper(symbol);
  if (std::find(depth_symbols_.begin(), depth_symbols_.end(), upper) == depth_symbols_.end()) {
    depth_symbols_.push_back(std::move(upper));
  }
}

std::string SnapshotAttribution::symbol_for(std::string_view rest_url) const {
  if (const std::string_view s = symbol_from_rest_url(rest_url); !s.empty()) {
    return to_upper(s);
  }
  return depth_symbols_.size() == 1 ? depth_symbols_.front() : std::string();
}

std::vector<SymbolDecimals> infer_capture_decimals(const std::string& path) {
  CaptureReader reader(path);
  simdjson::dom::parser json;
  SnapshotAttribution attribution;
  std::map<std::string, detail::DecimalScan, std::less<>> scans;
  CaptureRecord record;
  const auto fail = [&](const char* reason) {
    throw CaptureError(path + ":" + std::to_string(record.line) + ": " + reason);
  };
  while (reader.next(record)) {
    if (record.kind == CaptureRecord::Kind::ws_open) {
      attribution.on_ws_open(record.text);
      continue;
    }
    if (record.kind == CaptureRecord::Kind::sent) {
      continue;
    }
    simdjson::dom::element root;
    if (json.parse(record.text.data(), record.text.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
      fail("not a JSON object");
    }
    simdjson::dom::element data = root;
    if (simdjson::dom::element inner; root["data"].get(inner) == simdjson::SUCCESS) {
      data = inner;
    }
    std::string_view symbol;
    bool ok = true;
    if (simdjson::dom::element bids; data["lastUpdateId"].error() == simdjson::SUCCESS &&
                                      data["bids"].get(bids) == simdjson::SUCCESS) {
      std::string owner = attribution.symbol_for(record.url);
      if (owner.empty()) {
        std::string_view stream;
        if (root["stream"].get_string().get(stream) == simdjson::SUCCESS) {
          owner = to_upper(stream.substr(0, stream.find('@')));
        } else {
          fail("depth snapshot with no symbol: no `# rest GET` url and not exactly one depth symbol");
        }
      }
      detail::DecimalScan& scan = scans[owner];
      simdjson::dom::element asks;
      ok = data["asks"].get(asks) == simdjson::SUCCESS && scan.add_rows(bids, 0) && scan.add_rows(asks, 0);
      if (!ok) {
        fail("depth snapshot with malformed levels");
      }
      continue;
    }
    if (data["s"].get_string().get(symbol) != simdjson::SUCCESS) {
      continue; // acks, errors, serverShutdown: no prices
    }
    std::string_view event;
    if (data["e"].get_string().get(event) != simdjson::SUCCESS) {
      event = {};
    }
    if (event == "kline") {
      continue;
    }
    detail::DecimalScan& scan = scans[std::string(symbol)];
    if (event == "depthUpdate") {
      attribution.on_depth_symbol(symbol);
    }
    for (const auto& [key, is_price] : {std::pair<const char*, bool>{"b", true}, {"a", true}, {"B", false},
                                        {"A", false}, {"p", true}, {"q", false}}) {
      simdjson::dom::element value;
      if (data[key].get(value) != simdjson::SUCCESS) {
        continue;
      }
      if (value.is_array()) {
        ok = ok && scan.add_rows(value, 0);
      } else if (value.is_string()) {
        ok = ok && scan.add(value.get_string().value_unsafe(), is_price);
      }
    }
    if (!ok) {
      fail("a price or quantity that is not a decimal number");
    }
  }
  std::vector<SymbolDecimals> out;
  for (const auto& [symbol, scan] : scans) {
    out.push_back({symbol, scan.price, scan.qty, scan.values});
  }
  return out;
}

} // namespace qf::feeds::binance
