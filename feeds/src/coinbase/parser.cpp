#include "qf/feeds/coinbase/parser.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>

#include "qf/feeds/capture.hpp"
#include "qf/feeds/emitters.hpp"
#include "qf/ipc/fixed_point.hpp"
#include "json_fields.hpp"

namespace qf::feeds::coinbase {

static_assert(static_cast<std::size_t>(MessageKind::error) + 1 == kMessageKinds);

namespace {

namespace od = simdjson::ondemand;
using core::Side;
using detail::LevelText;
using detail::read_levels;
using detail::read_string;
using detail::read_u64_token;
using detail::string_token;
using detail::to_fixed;


enum Bit : std::uint32_t {
  kType = 1U << 0,
  kProduct = 1U << 1,
  kSequence = 1U << 2,
  kTime = 1U << 3,
  kTradeId = 1U << 4,
  kLastTradeId = 1U << 5,
  kSide = 1U << 6,
  kSize = 1U << 7,
  kPrice = 1U << 8,
  kBestBid = 1U << 9,
  kBestAsk = 1U << 10,
  kBestBidSize = 1U << 11,
  kBestAskSize = 1U << 12,
  kLastSize = 1U << 13,
  kBids = 1U << 14,
  kAsks = 1U << 15,
  kChanges = 1U << 16,
  kMessage = 1U << 17,
  kReason = 1U << 18,
  kChannels = 1U << 19,
};

struct Fields {
  std::uint32_t seen = 0;
  std::string_view type;
  std::string_view product;
  std::string_view time;
  std::string_view side;
  std::string_view size;
  std::string_view price;
  std::string_view best_bid;
  std::string_view best_ask;
  std::string_view best_bid_size;
  std::string_view best_ask_size;
  std::string_view last_size;
  std::string_view message;
  std::string_view reason;
  std::uint64_t sequence = 0;
  std::uint64_t trade_id = 0;
  std::uint64_t last_trade_id = 0;
  std::size_t bid_levels = 0;
  std::size_t ask_levels = 0;
};

[[nodiscard]] ParseResult read_side(std::string_view text, Side& out) noexcept {
  if (text == "buy") {
    out = Side::bid;
    return ParseResult::ok;
  }
  if (text == "sell") {
    out = Side::ask;
    return ParseResult::ok;
  }
  return ParseResult::bad_side;
}

const ParserConfig& checked(const ParserConfig& config) {
  if (config.max_message_bytes == 0 || config.max_levels == 0 || config.max_instruments == 0 ||
      config.max_instruments > 0x8000) {
    throw std::invalid_argument("coinbase::Parser: max_message_bytes, max_levels and max_instruments "
                                "(<= 32768) must be positive");
  }
  return config;
}

// Fixed-width digits at text[at, at + n); false on a non-digit.
[[nodiscard]] bool digits(std::string_view text, std::size_t at, std::size_t n, std::uint32_t& out) noexcept {
  std::uint32_t v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
[[nodiscard]] std::int64_t days_from_civil(std::int64_t y, std::uint32_t m, std::uint32_t d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<std::uint32_t>(y - era * 400);
  const std::uint32_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const std::uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

} // namespace

bool parse_time(std::string_view t, std::uint64_t& out_ns) noexcept {
  // 2021-04-17T16:43:37.075687Z: 20 characters without a fraction, up to 30 with 9 digits.
  if (t.size() < 20 || t.size() > 30 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
      t[16] != ':' || t.back() != 'Z') {
    return false;
  }
  std::uint32_t year = 0;
  std::uint32_t month = 0;
  std::uint32_t day = 0;
  std::uint32_t hour = 0;
  std::uint32_t minute = 0;
  std::uint32_t second = 0;
  if (!digits(t, 0, 4, year) || !digits(t, 5, 2, month) || !digits(t, 8, 2, day) || !digits(t, 11, 2, hour) ||
      !digits(t, 14, 2, minute) || !digits(t, 17, 2, second)) {
    return false;
  }
  std::uint64_t fraction = 0;
  if (t.size() > 20) {
    const std::size_t n = t.size() - 21; // digits between '.' and 'Z'
    std::uint32_t part = 0;
    if (t[19] != '.' || n == 0 || !digits(t, 20, n, part)) {
      return false;
    }
    fraction = part;
    for (std::size_t i = n; i < 9; ++i) {
      fraction *= 10;
    }
  }
  static constexpr std::uint32_t kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1970 || year > 2500 || month < 1 || month > 12 || day < 1 ||
      day > kDays[month - 1] + ((month == 2 && leap) ? 1U : 0U) || hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  const auto days = static_cast<std::uint64_t>(days_from_civil(year, month, day));
  const std::uint64_t seconds = days * 86'400 + hour * 3'600ULL + minute * 60ULL + second;
  out_ns = seconds * 1'000'000'000ULL + fraction;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Names

std::string_view to_string(MessageKind kind) noexcept {
  static constexpr std::array<std::string_view, kMessageKinds> kNames = {
      "none", "snapshot", "l2update", "ticker", "match", "heartbeat", "subscriptions", "error",
  };
  static_assert(kNames.back() == "error", "one name per kind");
  return detail::name_of(kNames, kind);
}

// ---------------------------------------------------------------------------------------------
// Parser

struct ParserImpl : detail::ParserState {
  explicit ParserImpl(const ParserConfig& config) : ParserState(config.max_message_bytes, config.max_levels) {}

  [[nodiscard]] ParseResult read_field(std::string_view key, od::value& v, Fields& f) noexcept;
  [[nodiscard]] ParseResult read_changes(od::value& v, Fields& f) noexcept;
};

ParseResult ParserImpl::read_changes(od::value& v, Fields& f) noexcept {
  f.bid_levels = 0;
  f.ask_levels = 0;
  return detail::read_rows<3>(v, [&](const std::string_view* text) noexcept {
    Side side{};
    if (const ParseResult r = read_side(text[0], side); r != ParseResult::ok) {
      return r;
    }
    std::vector<LevelText>& dst = side == Side::bid ? bid_text : ask_text;
    std::size_t& count = side == Side::bid ? f.bid_levels : f.ask_levels;
    if (count == dst.size()) {
      return ParseResult::too_many_levels;
    }
    dst[count++] = LevelText{text[1], text[2]};
    return ParseResult::ok;
  });
}

// One top-level field. Unknown keys (maker_order_id, open_24h, ...) are skipped by simdjson
// when the loop moves on. Dispatch on length first: most keys are told apart by it.
ParseResult ParserImpl::read_field(std::string_view key, od::value& v, Fields& f) noexcept {
  const auto text = [&](std::string_view& out, Bit bit) noexcept {
    f.seen |= bit;
    return string_token(v, out);
  };
  const auto number = [&](std::uint64_t& out, Bit bit) noexcept {
    f.seen |= bit;
    return read_u64_token(v, out);
  };
  const auto message_text = [&](std::string_view& out, Bit bit) noexcept {
    f.seen |= bit;
    return read_string(v, out);
  };
  switch (key.size()) {
  case 4:
    if (key == "type") {
      return text(f.type, kType);
    }
    if (key == "time") {
      return text(f.time, kTime);
    }
    if (key == "side") {
      return text(f.side, kSide);
    }
    if (key == "size") {
      return text(f.size, kSize);
    }
    if (key == "bids") {
      f.seen |= kBids;
      return read_levels(v, bid_text, f.bid_levels);
    }
    if (key == "asks") {
      f.seen |= kAsks;
      return read_levels(v, ask_text, f.ask_levels);
    }
    break;
  case 5:
    if (key == "price") {
      return text(f.price, kPrice);
    }
    break;
  case 6:
    if (key == "reason") {
      return message_text(f.reason, kReason);
    }
    break;
  case 7:
    if (key == "changes") {
      f.seen |= kChanges;
      return read_changes(v, f);
    }
    if (key == "message") {
      return message_text(f.message, kMessage);
    }
    break;
  case 8:
    if (key == "sequence") {
      return number(f.sequence, kSequence);
    }
    if (key == "trade_id") {
      return number(f.trade_id, kTradeId);
    }
    if (key == "best_bid") {
      return text(f.best_bid, kBestBid);
    }
    if (key == "best_ask") {
      return text(f.best_ask, kBestAsk);
    }
    if (key == "channels") {
      f.seen |= kChannels; // the subscription list: not needed on the hot path
      return ParseResult::ok;
    }
    break;
  case 9:
    if (key == "last_size") {
      return text(f.last_size, kLastSize);
    }
    break;
  case 10:
    if (key == "product_id") {
      return text(f.product, kProduct);
    }
    break;
  case 13:
    if (key == "last_trade_id") {
      return number(f.last_trade_id, kLastTradeId);
    }
    if (key == "best_bid_size") {
      return text(f.best_bid_size, kBestBidSize);
    }
    if (key == "best_ask_size") {
      return text(f.best_ask_size, kBestAskSize);
    }
    break;
  default:
    break;
  }
  return ParseResult::ok;
}

Parser::Parser(const ParserConfig& config) : ParserShell(checked(config), "coinbase::Parser", "product id") {}

ParseResult Parser::parse(PaddedView input, Message& out) noexcept {
  const ParseResult r = parse_impl(input, out);
  counters_.count(r, out.kind);
  if (r == ParseResult::ok && out.kind == MessageKind::error) {
    ++counters_.venue_errors;
    keep_error(out);
  }
  return r;
}

void Parser::keep_error(const Message& m) noexcept {
  std::size_t n = 0;
  const auto put = [&](std::string_view s) noexcept {
    const std::size_t k = std::min(s.size(), last_error_.size() - 1 - n);
    std::memcpy(last_error_.data() + n, s.data(), k);
    n += k;
  };
  put(m.error_message);
  if (!m.error_reason.empty()) {
    put(": ");
    put(m.error_reason);
  }
  last_error_size_ = n;
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
  if ((f.seen & kType) == 0) {
    return ParseResult::unknown_message;
  }
  out.type = f.type;
  std::uint32_t required = 0;
  const std::string_view type = f.type;
  if (type == "l2update") {
    out.kind = MessageKind::l2update;
    required = kProduct | kChanges;
  } else if (type == "ticker") {
    out.kind = MessageKind::ticker;
    required = kProduct | kSequence | kBestBid | kBestAsk;
  } else if (type == "match" || type == "last_match") {
    out.kind = MessageKind::match;
    out.last_match = type.size() == 10;
    required = kProduct | kTradeId | kSide | kSize | kPrice | kTime;
  } else if (type == "snapshot") {
    out.kind = MessageKind::snapshot;
    required = kProduct | kBids | kAsks;
  } else if (type == "heartbeat") {
    out.kind = MessageKind::heartbeat;
    required = kProduct | kSequence | kLastTradeId | kTime;
  } else if (type == "subscriptions") {
    out.kind = MessageKind::subscriptions;
  } else if (type == "error") {
    out.kind = MessageKind::error;
    required = kMessage;
  } else {
    return ParseResult::unknown_message;
  }
  if ((required & ~f.seen) != 0) {
    return ParseResult::missing_field;
  }
  out.product = f.product;
  out.sequence = f.sequence;
  out.has_sequence = (f.seen & kSequence) != 0;
  out.trade_id = f.trade_id;
  out.last_trade_id = f.last_trade_id;
  out.error_message = f.message;
  out.error_reason = f.reason;
  if ((f.seen & kTime) != 0 && !parse_time(f.time, out.time_ns)) {
    return ParseResult::bad_time;
  }
  if (out.kind == MessageKind::subscriptions || out.kind == MessageKind::error) {
    return ParseResult::ok;
  }

  // The instrument.
  const InstrumentEntry* entry = table_.find(f.product);
  if (entry == nullptr) {
    return ParseResult::unknown_instrument;
  }
  out.instrument = entry->id;
  const int pd = entry->price_decimals;
  const int qd = entry->qty_decimals;

  // Prices and sizes, exactly.
  ParseResult r = ParseResult::ok;
  switch (out.kind) {
  case MessageKind::snapshot:
  case MessageKind::l2update:
    return im.levels(f.bid_levels, f.ask_levels, pd, qd, out.bids, out.asks);
  case MessageKind::ticker:
    if ((r = to_fixed(f.best_bid, pd, out.bid.price)) != ParseResult::ok ||
        (r = to_fixed(f.best_ask, pd, out.ask.price)) != ParseResult::ok) {
      return r;
    }
    if ((f.seen & kBestBidSize) != 0 && (f.seen & kBestAskSize) != 0) {
      if ((r = to_fixed(f.best_bid_size, qd, out.bid.qty)) != ParseResult::ok ||
          (r = to_fixed(f.best_ask_size, qd, out.ask.qty)) != ParseResult::ok) {
        return r;
      }
      out.has_bbo_sizes = true;
    }
    if ((f.seen & kSide) != 0 && (r = read_side(f.side, out.taker_side)) != ParseResult::ok) {
      return r; // a ticker's side is the taker's (its trade's match carries the maker's)
    }
    if ((f.seen & (kPrice | kLastSize | kTradeId)) == (kPrice | kLastSize | kTradeId)) {
      if ((r = to_fixed(f.price, pd, out.price)) != ParseResult::ok ||
          (r = to_fixed(f.last_size, qd, out.qty)) != ParseResult::ok) {
        return r;
      }
      out.has_trade = true;
    }
    break;
  case MessageKind::match: {
    if ((r = to_fixed(f.price, pd, out.price)) != ParseResult::ok ||
        (r = to_fixed(f.size, qd, out.qty)) != ParseResult::ok) {
      return r;
    }
    Side maker{};
    if ((r = read_side(f.side, maker)) != ParseResult::ok) {
      return r;
    }
    out.taker_side = maker == Side::bid ? Side::ask : Side::bid; // `side` is the maker order's
    break;
  }
  default:
    break;
  }
  return ParseResult::ok;
}

// ---------------------------------------------------------------------------------------------
// Events

std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  switch (m.kind) {
  case MessageKind::snapshot:
    return emit_snapshot(m.instrument, m.bids, m.asks, 0, m.time_ns, recv_ticks, sink);
  case MessageKind::l2update:
    return emit_levels(m.instrument, m.bids, m.asks, 0, m.time_ns, recv_ticks, true, sink);
  case MessageKind::ticker:
    return emit_bbo(m.instrument, m.sequence, m.bid, m.ask, recv_ticks, sink);
  case MessageKind::match:
    return emit_trade(m.instrument, m.trade_id, m.taker_side, m.price, m.qty, m.time_ns, recv_ticks, sink);
  default:
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold helper

std::vector<ProductDecimals> infer_capture_decimals(const std::string& path) {
  CaptureReader reader(path);
  simdjson::dom::parser json;
  std::map<std::string, detail::DecimalScan, std::less<>> scans;
  CaptureRecord record;
  const auto fail = [&](const char* reason) {
    std::string why = path;
    why.append(":").append(std::to_string(record.line)).append(": ").append(reason);
    throw CaptureError(why);
  };
  while (reader.next(record)) {
    if (record.kind != CaptureRecord::Kind::ws_frame && record.kind != CaptureRecord::Kind::rest_response) {
      continue;
    }
    simdjson::dom::element root;
    if (json.parse(record.text.data(), record.text.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
      fail("not a JSON object");
    }
    std::string_view product;
    if (root["product_id"].get_string().get(product) != simdjson::SUCCESS) {
      continue; // subscriptions, errors: no prices
    }
    std::string_view type;
    if (root["type"].get_string().get(type) != simdjson::SUCCESS) {
      continue;
    }
    detail::DecimalScan& scan = scans[std::string(product)];
    bool ok = true;
    if (type == "snapshot") {
      ok = root["bids"].error() == simdjson::SUCCESS && root["asks"].error() == simdjson::SUCCESS &&
           scan.add_rows(root["bids"].value_unsafe(), 0) && scan.add_rows(root["asks"].value_unsafe(), 0);
    } else if (type == "l2update") {
      ok = root["changes"].error() == simdjson::SUCCESS && scan.add_rows(root["changes"].value_unsafe(), 1);
    } else if (type == "ticker" || type == "match" || type == "last_match") {
      for (const auto& [key, is_price] :
           {std::pair<const char*, bool>{"price", true}, {"best_bid", true}, {"best_ask", true}, {"size", false},
            {"last_size", false}, {"best_bid_size", false}, {"best_ask_size", false}}) {
        std::string_view value;
        if (root[key].get_string().get(value) == simdjson::SUCCESS) {
          ok = ok && scan.add(value, is_price);
        }
      }
    }
    if (!ok) {
      fail("a price or size that is not a decimal number");
    }
  }
  std::vector<ProductDecimals> out;
  for (const auto& [product, scan] : scans) {
    out.push_back({product, scan.price, scan.qty, scan.values});
  }
  return out;
}

} // namespace qf::feeds::coinbase
