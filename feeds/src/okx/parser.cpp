#include "qf/feeds/okx/parser.hpp"

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "json_fields.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/emitters.hpp"

namespace qf::feeds::okx {

static_assert(static_cast<std::size_t>(MessageKind::pong) + 1 == kMessageKinds);

namespace {

namespace od = simdjson::ondemand;
using core::Side;
using detail::digits_u64;
using detail::LevelText;
using detail::read_fields;
using detail::string_token;
using detail::to_fixed;

enum Bit : std::uint32_t {
  kArg = 1U << 0,
  kAction = 1U << 1,
  kData = 1U << 2,
  kEvent = 1U << 3,
  kChannel = 1U << 4,
  kInstId = 1U << 5,
  kBids = 1U << 6,
  kAsks = 1U << 7,
  kChecksum = 1U << 8,
  kSeqId = 1U << 9,
  kPrevSeqId = 1U << 10,
  kTs = 1U << 11,
  kTradeId = 1U << 12,
  kPx = 1U << 13,
  kSz = 1U << 14,
  kSide = 1U << 15,
  kBidPx = 1U << 16,
  kBidSz = 1U << 17,
  kAskPx = 1U << 18,
  kAskSz = 1U << 19,
};

// One element of `data`, as read (texts are views into the input).
struct Entry {
  std::uint32_t seen = 0;
  std::string_view inst_id;
  std::string_view ts;
  std::string_view trade_id;
  std::string_view px;
  std::string_view sz;
  std::string_view side;
  std::string_view bid_px;
  std::string_view bid_sz;
  std::string_view ask_px;
  std::string_view ask_sz;
  std::int64_t checksum = 0;
  std::int64_t seq_id = 0;
  std::int64_t prev_seq_id = 0;
  std::size_t bid_levels = 0;
  std::size_t ask_levels = 0;
};

struct Fields {
  std::uint32_t seen = 0;
  std::string_view channel;
  std::string_view inst_id;
  std::string_view action;
  std::string_view event;
  std::string_view code;
  std::string_view msg;
  std::size_t entries = 0;
  bool foreign_data = false; // a data element that is not an object
};

// A JSON integer through simdjson (a string is a wrong type, a fraction or beyond int64 its error).
[[nodiscard]] ParseResult read_i64(od::value& v, std::int64_t& out) noexcept {
  if (const auto e = v.get_int64().get(out); e != simdjson::SUCCESS) {
    return detail::from_json_error(e);
  }
  return ParseResult::ok;
}

// `ts`: Unix milliseconds in a string, as ns.
[[nodiscard]] ParseResult ms_to_ns(std::string_view text, std::uint64_t& out) noexcept {
  std::uint64_t ms = 0;
  return digits_u64(text, ms) ? detail::ms_to_ns(ms, out) : ParseResult::bad_number;
}

// A ticker's price and size: both empty (OKX sends "" for an empty side) is the zero level.
[[nodiscard]] ParseResult level_of(std::string_view px, std::string_view sz, int pd, int qd,
                                   core::Level& out) noexcept {
  if (px.empty() && sz.empty()) {
    out = core::Level{};
    return ParseResult::ok;
  }
  ParseResult r = ParseResult::ok;
  if ((r = to_fixed(px, pd, out.price)) != ParseResult::ok || (r = to_fixed(sz, qd, out.qty)) != ParseResult::ok) {
    return r;
  }
  return ParseResult::ok;
}

const ParserConfig& checked(const ParserConfig& config) {
  if (config.max_message_bytes == 0 || config.max_levels == 0 || config.max_trades == 0 ||
      config.max_instruments == 0 || config.max_instruments > 0x8000) {
    throw std::invalid_argument("okx::Parser: max_message_bytes, max_levels, max_trades and max_instruments "
                                "(<= 32768) must be positive");
  }
  return config;
}

} // namespace

std::string_view to_string(MessageKind kind) noexcept {
  static constexpr std::array<std::string_view, kMessageKinds> kNames = {
      "none",       "book_snapshot", "book_update", "bbo",    "trade", "ticker",
      "subscribed", "unsubscribed",  "error",       "notice", "pong",
  };
  static_assert(kNames.back() == "pong", "one name per kind");
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

  std::vector<Entry> entries;
  std::vector<Trade> trades;
};

ParseResult ParserImpl::read_entry_field(std::string_view key, od::value& v, Entry& e, bool first) noexcept {
  const auto text = [&](std::string_view& out, Bit bit) noexcept {
    e.seen |= bit;
    return string_token(v, out);
  };
  if (key == "asks" || key == "bids") {
    if (!first) {
      return ParseResult::unknown_message; // one book per message, as OKX sends it
    }
    const bool is_bids = key == "bids";
    e.seen |= is_bids ? kBids : kAsks;
    // [px, sz, "0" (deprecated), numOrders]: the first two
    return detail::read_levels(v, is_bids ? bid_text : ask_text, is_bids ? e.bid_levels : e.ask_levels);
  }
  if (key == "ts") {
    return text(e.ts, kTs);
  }
  if (key == "checksum") {
    e.seen |= kChecksum;
    const ParseResult r = read_i64(v, e.checksum);
    return r == ParseResult::ok && (e.checksum < std::numeric_limits<std::int32_t>::min() ||
                                    e.checksum > std::numeric_limits<std::int32_t>::max())
               ? ParseResult::bad_number
               : r;
  }
  if (key == "seqId") {
    e.seen |= kSeqId;
    return read_i64(v, e.seq_id);
  }
  if (key == "prevSeqId") {
    e.seen |= kPrevSeqId;
    return read_i64(v, e.prev_seq_id);
  }
  if (key == "instId") {
    return text(e.inst_id, kInstId);
  }
  if (key == "tradeId") {
    return text(e.trade_id, kTradeId);
  }
  if (key == "px") {
    return text(e.px, kPx);
  }
  if (key == "sz") {
    return text(e.sz, kSz);
  }
  if (key == "side") {
    return text(e.side, kSide);
  }
  if (key == "bidPx") {
    return text(e.bid_px, kBidPx);
  }
  if (key == "bidSz") {
    return text(e.bid_sz, kBidSz);
  }
  if (key == "askPx") {
    return text(e.ask_px, kAskPx);
  }
  if (key == "askSz") {
    return text(e.ask_sz, kAskSz);
  }
  return ParseResult::ok; // instType, last, lastSz, open24h, vol24h, count, ...: not needed
}

ParseResult ParserImpl::read_data(od::value& v, Fields& f) noexcept {
  f.seen |= kData; // candles send arrays: judged (foreign_data) once the channel is known
  return detail::read_objects(v, entries.size(), f.entries, &f.foreign_data,
                              [&](std::size_t i, od::object& object) noexcept {
                                Entry& entry = entries[i];
                                entry = Entry{};
                                return read_fields(object, [&](std::string_view key, od::value& x) noexcept {
                                  return read_entry_field(key, x, entry, i == 0);
                                });
                              });
}

ParseResult ParserImpl::read_field(std::string_view key, od::value& v, Fields& f) noexcept {
  if (key == "arg") {
    f.seen |= kArg;
    od::object arg;
    if (const auto e = v.get_object().get(arg); e != simdjson::SUCCESS) {
      return detail::from_json_error(e);
    }
    return read_fields(arg, [&](std::string_view k, od::value& x) noexcept {
      if (k == "channel") {
        f.seen |= kChannel;
        return string_token(x, f.channel);
      }
      if (k == "instId") {
        f.seen |= kInstId;
        return string_token(x, f.inst_id);
      }
      return ParseResult::ok; // instType, instFamily, uid
    });
  }
  if (key == "data") {
    return read_data(v, f);
  }
  if (key == "action") {
    f.seen |= kAction;
    return string_token(v, f.action);
  }
  if (key == "event") {
    f.seen |= kEvent;
    return string_token(v, f.event);
  }
  if (key == "code") { // a string ("60012"); a number is taken as its text
    const std::string_view raw = v.raw_json_token();
    if (!raw.empty() && raw.front() == '"') {
      return string_token(v, f.code);
    }
    f.code = raw.substr(0, raw.find_first_of(" \t\r\n"));
    return ParseResult::ok;
  }
  if (key == "msg") {
    return detail::read_string(v, f.msg);
  }
  return ParseResult::ok; // connId, ...
}

Parser::Parser(const ParserConfig& config) : ParserShell(checked(config), "okx::Parser", "instId") {
}

ParseResult Parser::parse(PaddedView input, Message& out) noexcept {
  const ParseResult r = parse_impl(input, out);
  counters_.count(r, out.kind);
  if (r == ParseResult::ok && out.kind == MessageKind::error) {
    ++counters_.venue_errors;
  }
  return r;
}

ParseResult Parser::parse_impl(PaddedView input, Message& out) noexcept {
  out = Message{};
  if (input.size <= config_.max_message_bytes && input.data != nullptr &&
      std::string_view(input.data, input.size) == "pong") {
    out.kind = MessageKind::pong; // the keepalive answer is text, not JSON
    return ParseResult::ok;
  }
  ParserImpl& im = *impl_;
  Fields f;
  const auto field = [&](std::string_view key, od::value& v) noexcept { return im.read_field(key, v, f); };
  if (const ParseResult r = im.read_document(input, field); r != ParseResult::ok) {
    return r;
  }

  // Classify: the event answers first.
  out.channel = f.channel;
  out.inst_id = f.inst_id;
  out.code = f.code;
  out.text = f.msg;
  if ((f.seen & kEvent) != 0) {
    if (f.event == "subscribe") {
      out.kind = MessageKind::subscribed;
    } else if (f.event == "unsubscribe") {
      out.kind = MessageKind::unsubscribed;
    } else if (f.event == "error") {
      out.kind = MessageKind::error;
    } else if (f.event == "notice") {
      out.kind = MessageKind::notice;
    } else {
      return ParseResult::unknown_message; // login, channel-conn-count, ...: not ours
    }
    return ParseResult::ok;
  }
  if ((f.seen & kArg) == 0) {
    return ParseResult::unknown_message;
  }
  if ((f.seen & kChannel) == 0) {
    return ParseResult::missing_field;
  }
  const std::string_view channel = f.channel;
  std::uint32_t required = 0;
  if (channel == "books") {
    if (f.action == "snapshot") {
      out.kind = MessageKind::book_snapshot;
    } else if (f.action == "update") {
      out.kind = MessageKind::book_update;
    } else {
      return (f.seen & kAction) == 0 ? ParseResult::missing_field : ParseResult::unknown_message;
    }
    required = kBids | kAsks;
  } else if (channel == "bbo-tbt") {
    out.kind = MessageKind::bbo;
    required = kBids | kAsks;
  } else if (channel == "trades") {
    out.kind = MessageKind::trade;
    required = kTradeId | kPx | kSz | kSide | kTs;
  } else if (channel == "tickers") {
    out.kind = MessageKind::ticker;
    required = kBidPx | kBidSz | kAskPx | kAskSz;
  } else {
    return ParseResult::unknown_message; // books5, candles, ...: not subscribed by us
  }
  if (f.foreign_data) {
    return ParseResult::wrong_type;
  }
  if ((f.seen & kInstId) == 0 || (f.seen & kData) == 0 || f.entries == 0) {
    return ParseResult::missing_field;
  }
  for (std::size_t i = 0; i < f.entries; ++i) {
    const Entry& e = im.entries[i];
    if ((required & ~e.seen) != 0) {
      return ParseResult::missing_field;
    }
    if ((e.seen & kInstId) != 0 && e.inst_id != f.inst_id) {
      return ParseResult::unknown_message; // one instrument per push, the arg's
    }
  }
  if (out.kind != MessageKind::trade && f.entries != 1) {
    return ParseResult::unknown_message; // one book / bbo / ticker per message
  }

  const InstrumentEntry* entry = table_.find(f.inst_id);
  if (entry == nullptr) {
    return ParseResult::unknown_instrument;
  }
  out.instrument = entry->id;
  const Entry& e = im.entries[0];
  if ((e.seen & kTs) != 0) {
    if (const ParseResult r = ms_to_ns(e.ts, out.time_ns); r != ParseResult::ok) {
      return r;
    }
  }
  const int pd = entry->price_decimals;
  const int qd = entry->qty_decimals;
  ParseResult r = ParseResult::ok;
  switch (out.kind) {
  case MessageKind::book_snapshot:
  case MessageKind::book_update:
    if (((e.seen & kSeqId) != 0) != ((e.seen & kPrevSeqId) != 0)) {
      return ParseResult::missing_field; // the chain needs both
    }
    out.has_seq = (e.seen & kSeqId) != 0;
    out.seq_id = e.seq_id;
    out.prev_seq_id = e.prev_seq_id;
    out.has_checksum = (e.seen & kChecksum) != 0 && e.checksum != 0;
    out.checksum = static_cast<std::int32_t>(e.checksum);
    return im.levels(e.bid_levels, e.ask_levels, pd, qd, out.bids, out.asks);
  case MessageKind::bbo:
    if (e.bid_levels > 1 || e.ask_levels > 1) {
      return ParseResult::too_many_levels;
    }
    out.has_seq = (e.seen & kSeqId) != 0;
    out.seq_id = e.seq_id;
    if ((r = im.levels(e.bid_levels, e.ask_levels, pd, qd, out.bids, out.asks)) != ParseResult::ok) {
      return r;
    }
    out.bid = out.bids.empty() ? core::Level{} : out.bids.front();
    out.ask = out.asks.empty() ? core::Level{} : out.asks.front();
    return ParseResult::ok;
  case MessageKind::ticker:
    if ((r = level_of(e.bid_px, e.bid_sz, pd, qd, out.bid)) != ParseResult::ok ||
        (r = level_of(e.ask_px, e.ask_sz, pd, qd, out.ask)) != ParseResult::ok) {
      return r;
    }
    return ParseResult::ok;
  case MessageKind::trade:
    for (std::size_t i = 0; i < f.entries; ++i) {
      const Entry& t = im.entries[i];
      Trade& trade = im.trades[i];
      trade = Trade{};
      if (!digits_u64(t.trade_id, trade.trade_id)) {
        return ParseResult::bad_number;
      }
      if (t.side == "buy") {
        trade.taker_side = Side::bid;
      } else if (t.side == "sell") {
        trade.taker_side = Side::ask;
      } else {
        return ParseResult::bad_side;
      }
      if ((r = ms_to_ns(t.ts, trade.time_ns)) != ParseResult::ok ||
          (r = to_fixed(t.px, pd, trade.price)) != ParseResult::ok ||
          (r = to_fixed(t.sz, qd, trade.qty)) != ParseResult::ok) {
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
  const std::uint64_t seq = m.has_seq && m.seq_id > 0 ? static_cast<std::uint64_t>(m.seq_id) : 0;
  switch (m.kind) {
  case MessageKind::book_snapshot:
    return emit_snapshot(m.instrument, m.bids, m.asks, seq, m.time_ns, recv_ticks, sink);
  case MessageKind::book_update:
    return emit_levels(m.instrument, m.bids, m.asks, seq, m.time_ns, recv_ticks, true, sink);
  case MessageKind::bbo:
  case MessageKind::ticker:
    return emit_bbo(m.instrument, seq, m.bid, m.ask, recv_ticks, sink);
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

std::vector<InstrumentDecimals> infer_capture_decimals(const std::string& path) {
  detail::DomDecimalScan capture(path);
  simdjson::dom::object root;
  while (capture.next(root, "pong")) {
    std::string_view inst_id;
    simdjson::dom::array data;
    if (root["arg"]["instId"].get_string().get(inst_id) != simdjson::SUCCESS ||
        root["data"].get_array().get(data) != simdjson::SUCCESS) {
      continue; // event answers
    }
    detail::DecimalScan& scan = capture.of(inst_id);
    for (simdjson::dom::element item : data) {
      simdjson::dom::object entry;
      if (item.get_object().get(entry) != simdjson::SUCCESS) {
        capture.fail("a data element that is not an object");
      }
      capture.add_rows(scan, entry, "bids");
      capture.add_rows(scan, entry, "asks");
      for (const char* key : {"px", "bidPx", "askPx", "last"}) {
        capture.add(scan, entry, key, true);
      }
      for (const char* key : {"sz", "bidSz", "askSz", "lastSz"}) {
        capture.add(scan, entry, key, false);
      }
    }
  }
  return capture.results<InstrumentDecimals>();
}

} // namespace qf::feeds::okx
