#include "qf/feeds/coinbase_advanced/parser.hpp"

#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "json_fields.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/coinbase/parser.hpp"
#include "qf/feeds/emitters.hpp"

namespace qf::feeds::coinbase_advanced {

static_assert(static_cast<std::size_t>(MessageKind::error) + 1 == kMessageKinds);

namespace {

namespace od = simdjson::ondemand;
using core::Side;
using detail::digits_u64;
using detail::read_fields;
using detail::string_token;
using detail::to_fixed;

enum Bit : std::uint32_t {
  // envelope
  kChannel = 1U << 0,
  kType = 1U << 1,
  kTimestamp = 1U << 2,
  kSequence = 1U << 3,
  kEvents = 1U << 4,
  kMessage = 1U << 5,
  // events
  kProduct = 1U << 6,
  kUpdates = 1U << 7,
  kTickers = 1U << 8,
  kTrades = 1U << 9,
  kCounter = 1U << 10,
  // updates, tickers, trades
  kSide = 1U << 11,
  kPriceLevel = 1U << 12,
  kNewQuantity = 1U << 13,
  kBestBid = 1U << 14,
  kBestBidQty = 1U << 15,
  kBestAsk = 1U << 16,
  kBestAskQty = 1U << 17,
  kTradeId = 1U << 18,
  kPrice = 1U << 19,
  kSize = 1U << 20,
  kTime = 1U << 21,
};

// One element of `events` as read (its levels, tickers and trades are ranges of the scratch).
struct EventText {
  std::uint32_t seen = 0;
  std::string_view type;
  std::string_view product;
  std::size_t bid_first = 0, bid_count = 0;
  std::size_t ask_first = 0, ask_count = 0;
  std::size_t item_first = 0, item_count = 0; // tickers or trades
  std::uint64_t counter = 0;
};

// One ticker or trade object as read.
struct ItemText {
  std::uint32_t seen = 0;
  std::string_view product;
  std::string_view a, a_qty, b, b_qty; // ticker: best_bid, its qty, best_ask, its qty
  std::string_view trade_id, price, size, time, side;
};

struct Fields {
  std::uint32_t seen = 0;
  std::string_view channel;
  std::string_view type;
  std::string_view message;
  std::string_view timestamp;
  std::uint64_t sequence = 0;
  std::size_t events = 0;
};

const ParserConfig& checked(const ParserConfig& config) {
  if (config.max_message_bytes == 0 || config.max_levels == 0 || config.max_events == 0 ||
      config.max_instruments == 0 || config.max_instruments > 0x8000) {
    throw std::invalid_argument("coinbase_advanced::Parser: max_message_bytes, max_levels, max_events and "
                                "max_instruments (<= 32768) must be positive");
  }
  return config;
}

// heartbeat_counter: "3049" in the docs' examples, 3049 in production (PROTOCOLS 3.2).
[[nodiscard]] ParseResult read_counter(od::value& v, std::uint64_t& out) noexcept {
  const std::string_view raw = v.raw_json_token();
  if (!raw.empty() && raw.front() == '"') {
    std::string_view text;
    if (const ParseResult r = string_token(v, text); r != ParseResult::ok) {
      return r;
    }
    return digits_u64(text, out) ? ParseResult::ok : ParseResult::bad_number;
  }
  return detail::read_u64_token(v, out);
}

} // namespace

std::string_view to_string(MessageKind kind) noexcept {
  static constexpr std::array<std::string_view, kMessageKinds> kNames = {
      "none", "level2", "ticker", "trades", "heartbeat", "subscriptions", "error",
  };
  static_assert(kNames.back() == "error", "one name per kind");
  return detail::name_of(kNames, kind);
}

// ---------------------------------------------------------------------------------------------
// Parser

struct ParserImpl : detail::ParserState {
  explicit ParserImpl(const ParserConfig& config)
      : ParserState(config.max_message_bytes, config.max_levels), events(config.max_events),
        items(kMaxItems), books(config.max_events), tickers(kMaxItems), trades(kMaxItems) {}

  // market_trades snapshots list the recent trades (tens to a few hundred).
  static constexpr std::size_t kMaxItems = 1'024;

  [[nodiscard]] ParseResult read_field(std::string_view key, od::value& v, Fields& f) noexcept;
  [[nodiscard]] ParseResult read_event_field(std::string_view key, od::value& v, EventText& e) noexcept;
  [[nodiscard]] ParseResult read_update(od::object& object) noexcept;
  [[nodiscard]] ParseResult read_items(od::value& v, EventText& e) noexcept;
  [[nodiscard]] ParseResult read_item_field(std::string_view key, od::value& v, ItemText& t) noexcept;

  std::vector<EventText> events;
  std::vector<ItemText> items; // every event's tickers or trades, in order
  std::size_t item_count = 0;
  std::size_t bid_count = 0; // levels read so far in bid_text / ask_text (all events)
  std::size_t ask_count = 0;
  std::vector<BookEvent> books;
  std::vector<Ticker> tickers;
  std::vector<Trade> trades;
};

ParseResult ParserImpl::read_update(od::object& object) noexcept {
  std::uint32_t seen = 0;
  std::string_view side, price, qty;
  const ParseResult r = read_fields(object, [&](std::string_view key, od::value& v) noexcept {
    if (key == "side") {
      seen |= kSide;
      return string_token(v, side);
    }
    if (key == "price_level") {
      seen |= kPriceLevel;
      return string_token(v, price);
    }
    if (key == "new_quantity") {
      seen |= kNewQuantity;
      return string_token(v, qty);
    }
    return ParseResult::ok; // event_time: the envelope's timestamp is the message's time
  });
  if (r != ParseResult::ok) {
    return r;
  }
  if ((seen & (kSide | kPriceLevel | kNewQuantity)) != (kSide | kPriceLevel | kNewQuantity)) {
    return ParseResult::missing_field;
  }
  const bool bid = side == "bid";
  if (!bid && side != "offer") {
    return ParseResult::bad_side;
  }
  std::size_t& count = bid ? bid_count : ask_count;
  std::vector<detail::LevelText>& text = bid ? bid_text : ask_text;
  if (count == text.size()) {
    return ParseResult::too_many_levels;
  }
  text[count++] = detail::LevelText{price, qty};
  return ParseResult::ok;
}

ParseResult ParserImpl::read_item_field(std::string_view key, od::value& v, ItemText& t) noexcept {
  const auto text = [&](std::string_view& out, Bit bit) noexcept {
    t.seen |= bit;
    return string_token(v, out);
  };
  if (key == "product_id") {
    return text(t.product, kProduct);
  }
  if (key == "best_bid") {
    return text(t.a, kBestBid);
  }
  if (key == "best_bid_quantity") {
    return text(t.a_qty, kBestBidQty);
  }
  if (key == "best_ask") {
    return text(t.b, kBestAsk);
  }
  if (key == "best_ask_quantity") {
    return text(t.b_qty, kBestAskQty);
  }
  if (key == "trade_id") {
    return text(t.trade_id, kTradeId);
  }
  if (key == "price") {
    return text(t.price, kPrice);
  }
  if (key == "size") {
    return text(t.size, kSize);
  }
  if (key == "time") {
    return text(t.time, kTime);
  }
  if (key == "side") {
    return text(t.side, kSide);
  }
  return ParseResult::ok; // type, volume_24_h, low_24_h, high_52_w, price_percent_chg_24_h, ...
}

ParseResult ParserImpl::read_items(od::value& v, EventText& e) noexcept {
  e.item_first = item_count;
  std::size_t n = 0;
  const ParseResult r = detail::read_objects(v, items.size() - item_count, n, nullptr,
                                             [&](std::size_t i, od::object& object) noexcept {
                                               ItemText& t = items[item_count + i];
                                               t = ItemText{};
                                               return read_fields(object, [&](std::string_view k, od::value& x) noexcept {
                                                 return read_item_field(k, x, t);
                                               });
                                             });
  e.item_count = n;
  item_count += n;
  return r;
}

ParseResult ParserImpl::read_event_field(std::string_view key, od::value& v, EventText& e) noexcept {
  if (key == "type") {
    e.seen |= kType;
    return string_token(v, e.type);
  }
  if (key == "product_id") {
    e.seen |= kProduct;
    return string_token(v, e.product);
  }
  if (key == "updates") {
    e.seen |= kUpdates;
    e.bid_first = bid_count;
    e.ask_first = ask_count;
    std::size_t n = 0;
    const ParseResult r = detail::read_objects(v, SIZE_MAX, n, nullptr, [&](std::size_t, od::object& object) noexcept {
      return read_update(object);
    });
    e.bid_count = bid_count - e.bid_first;
    e.ask_count = ask_count - e.ask_first;
    return r;
  }
  if (key == "tickers" || key == "trades") {
    if ((e.seen & (kTickers | kTrades)) != 0) {
      return ParseResult::unknown_message; // one list per event
    }
    e.seen |= key == "tickers" ? kTickers : kTrades;
    return read_items(v, e);
  }
  if (key == "heartbeat_counter") {
    e.seen |= kCounter;
    return read_counter(v, e.counter);
  }
  return ParseResult::ok; // current_time, subscriptions
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
  if (key == "message") {
    f.seen |= kMessage;
    return detail::read_string(v, f.message);
  }
  if (key == "timestamp") {
    f.seen |= kTimestamp;
    return string_token(v, f.timestamp);
  }
  if (key == "sequence_num") {
    f.seen |= kSequence;
    return detail::read_u64_token(v, f.sequence);
  }
  if (key == "events") {
    if ((f.seen & kEvents) != 0) {
      return ParseResult::unknown_message; // one events list per message
    }
    f.seen |= kEvents;
    return detail::read_objects(v, events.size(), f.events, nullptr, [&](std::size_t i, od::object& object) noexcept {
      EventText& e = events[i];
      e = EventText{};
      return read_fields(object, [&](std::string_view k, od::value& x) noexcept { return read_event_field(k, x, e); });
    });
  }
  return ParseResult::ok; // client_id, and anything Coinbase adds
}

Parser::Parser(const ParserConfig& config) : ParserShell(checked(config), "coinbase_advanced::Parser", "product") {}

ParseResult Parser::parse(PaddedView input, Message& out) noexcept {
  const ParseResult r = parse_impl(input, out);
  counters_.count(r, out.kind);
  if (r == ParseResult::ok) {
    counters_.skipped_products += out.skipped_products;
  }
  return r;
}

ParseResult Parser::parse_impl(PaddedView input, Message& out) noexcept {
  out = Message{};
  ParserImpl& im = *impl_;
  im.item_count = 0;
  im.bid_count = 0;
  im.ask_count = 0;
  Fields f;
  const auto field = [&](std::string_view key, od::value& v) noexcept { return im.read_field(key, v, f); };
  if (const ParseResult r = im.read_document(input, field); r != ParseResult::ok) {
    return r;
  }
  if ((f.seen & kChannel) == 0) {
    if (f.type == "error") {
      out.kind = MessageKind::error;
      out.error = f.message;
      return ParseResult::ok;
    }
    return ParseResult::unknown_message;
  }
  out.channel = f.channel;
  if (f.channel == "l2_data") {
    out.kind = MessageKind::level2;
  } else if (f.channel == "ticker" || f.channel == "ticker_batch") {
    out.kind = MessageKind::ticker;
  } else if (f.channel == "market_trades") {
    out.kind = MessageKind::trades;
  } else if (f.channel == "heartbeats") {
    out.kind = MessageKind::heartbeat;
  } else if (f.channel == "subscriptions") {
    out.kind = MessageKind::subscriptions;
  } else {
    out.kind = MessageKind::none;
    return ParseResult::unknown_message; // candles, status, user: not subscribed by us
  }
  if ((f.seen & (kSequence | kTimestamp | kEvents)) != (kSequence | kTimestamp | kEvents)) {
    out.kind = MessageKind::none;
    return ParseResult::missing_field;
  }
  out.has_sequence = true;
  out.sequence = f.sequence;
  if (!coinbase::parse_time(f.timestamp, out.time_ns)) {
    out.kind = MessageKind::none;
    return ParseResult::bad_time;
  }
  const MessageKind kind = out.kind;
  out.kind = MessageKind::none; // until the message is known good
  if (kind == MessageKind::subscriptions) {
    out.kind = kind;
    return ParseResult::ok;
  }
  if (f.events == 0) {
    return ParseResult::missing_field;
  }
  if (kind == MessageKind::heartbeat) {
    if ((im.events[0].seen & kCounter) == 0) {
      return ParseResult::missing_field;
    }
    out.heartbeat_counter = im.events[0].counter;
    out.kind = kind;
    return ParseResult::ok;
  }

  std::size_t kept = 0;
  std::size_t skipped = 0;
  ParseResult r = ParseResult::ok;
  if (kind == MessageKind::level2) {
    for (std::size_t i = 0; i < f.events; ++i) {
      const EventText& e = im.events[i];
      if ((e.seen & (kType | kProduct | kUpdates)) != (kType | kProduct | kUpdates)) {
        return ParseResult::missing_field;
      }
      if (e.type != "snapshot" && e.type != "update") {
        return ParseResult::unknown_message;
      }
      if ((e.seen & (kTickers | kTrades)) != 0) {
        return ParseResult::unknown_message; // another channel's event
      }
      const InstrumentEntry* entry = table_.find(e.product);
      if (entry == nullptr) {
        ++skipped;
        continue;
      }
      const auto convert = [&](const std::vector<detail::LevelText>& text, std::size_t first, std::size_t n,
                               std::vector<core::Level>& dst) noexcept {
        for (std::size_t k = first; k < first + n; ++k) {
          if (const ParseResult c = to_fixed(text[k].price, entry->price_decimals, dst[k].price); c != ParseResult::ok) {
            return c;
          }
          if (const ParseResult c = to_fixed(text[k].qty, entry->qty_decimals, dst[k].qty); c != ParseResult::ok) {
            return c;
          }
        }
        return ParseResult::ok;
      };
      if ((r = convert(im.bid_text, e.bid_first, e.bid_count, im.bids)) != ParseResult::ok ||
          (r = convert(im.ask_text, e.ask_first, e.ask_count, im.asks)) != ParseResult::ok) {
        return r;
      }
      im.books[kept++] = BookEvent{entry->id, e.type == "snapshot",
                                   std::span<const core::Level>(im.bids.data() + e.bid_first, e.bid_count),
                                   std::span<const core::Level>(im.asks.data() + e.ask_first, e.ask_count)};
    }
    out.books = std::span<const BookEvent>(im.books.data(), kept);
  } else {
    const bool tickers = kind == MessageKind::ticker;
    const Bit list = tickers ? kTickers : kTrades;
    for (std::size_t i = 0; i < f.events; ++i) {
      const EventText& e = im.events[i];
      if ((e.seen & (kType | list)) != (kType | list)) {
        return (e.seen & (kTickers | kTrades | kUpdates)) != 0 ? ParseResult::unknown_message
                                                                 : ParseResult::missing_field;
      }
      if (e.type != "snapshot" && e.type != "update") {
        return ParseResult::unknown_message;
      }
      for (std::size_t j = e.item_first; j < e.item_first + e.item_count; ++j) {
        const ItemText& t = im.items[j];
        if ((t.seen & kProduct) == 0) {
          return ParseResult::missing_field;
        }
        const InstrumentEntry* entry = table_.find(t.product);
        if (entry == nullptr) {
          ++skipped;
          continue;
        }
        const int pd = entry->price_decimals;
        const int qd = entry->qty_decimals;
        if (tickers) {
          Ticker& k = im.tickers[kept++];
          k = Ticker{entry->id};
          constexpr std::uint32_t kBbo = kBestBid | kBestBidQty | kBestAsk | kBestAskQty;
          // an empty side (a product without bids) is not a best level
          k.has_bbo = (t.seen & kBbo) == kBbo && !t.a.empty() && !t.a_qty.empty() && !t.b.empty() && !t.b_qty.empty();
          if (k.has_bbo &&
              ((r = to_fixed(t.a, pd, k.bid.price)) != ParseResult::ok ||
               (r = to_fixed(t.a_qty, qd, k.bid.qty)) != ParseResult::ok ||
               (r = to_fixed(t.b, pd, k.ask.price)) != ParseResult::ok ||
               (r = to_fixed(t.b_qty, qd, k.ask.qty)) != ParseResult::ok)) {
            return r;
          }
          continue;
        }
        constexpr std::uint32_t kTrade = kTradeId | kPrice | kSize | kTime | kSide;
        if ((t.seen & kTrade) != kTrade) {
          return ParseResult::missing_field;
        }
        Trade& trade = im.trades[kept++];
        trade = Trade{entry->id, e.type == "snapshot"};
        if (t.side == "BUY") {
          trade.taker_side = Side::bid;
        } else if (t.side == "SELL") {
          trade.taker_side = Side::ask;
        } else {
          return ParseResult::bad_side;
        }
        if (!digits_u64(t.trade_id, trade.trade_id)) {
          return ParseResult::bad_number;
        }
        if (!coinbase::parse_time(t.time, trade.time_ns)) {
          return ParseResult::bad_time;
        }
        if ((r = to_fixed(t.price, pd, trade.price)) != ParseResult::ok ||
            (r = to_fixed(t.size, qd, trade.qty)) != ParseResult::ok) {
          return r;
        }
      }
    }
    if (tickers) {
      out.tickers = std::span<const Ticker>(im.tickers.data(), kept);
    } else {
      out.trades = std::span<const Trade>(im.trades.data(), kept);
    }
  }
  if (kept == 0 && skipped > 0) {
    out.unregistered_only = true;
    return ParseResult::unknown_instrument; // nothing of this message is ours
  }
  out.skipped_products = skipped;
  out.kind = kind;
  return ParseResult::ok;
}

// ---------------------------------------------------------------------------------------------
// Events

std::size_t emit_events(const Message& m, std::uint64_t recv_ticks, EventSink sink) noexcept {
  std::size_t n = 0;
  switch (m.kind) {
  case MessageKind::level2:
    for (std::size_t i = 0; i < m.books.size(); ++i) {
      const BookEvent& b = m.books[i];
      n += b.snapshot ? emit_snapshot(b.instrument, b.bids, b.asks, m.sequence, m.time_ns, recv_ticks, sink)
                      : emit_levels(b.instrument, b.bids, b.asks, m.sequence, m.time_ns, recv_ticks,
                                    i + 1 == m.books.size(), sink);
    }
    return n;
  case MessageKind::ticker:
    for (const Ticker& t : m.tickers) {
      n += t.has_bbo ? emit_bbo(t.instrument, 0, t.bid, t.ask, recv_ticks, sink) : 0;
    }
    return n;
  case MessageKind::trades:
    for (std::size_t i = m.trades.size(); i-- > 0;) { // newest first in the message: oldest goes out first
      const Trade& t = m.trades[i];
      if (!t.snapshot) {
        n += emit_trade(t.instrument, t.trade_id, t.taker_side, t.price, t.qty, t.time_ns, recv_ticks, sink);
      }
    }
    return n;
  default:
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Cold helpers

std::vector<ProductDecimals> infer_capture_decimals(const std::string& path) {
  detail::DomDecimalScan capture(path);
  simdjson::dom::object root;
  // One element naming its product (`product_id`), its prices and sizes under these keys.
  const auto scan_element = [&](simdjson::dom::element item, std::string_view product, const char* const* prices,
                                const char* const* sizes) {
    simdjson::dom::object entry;
    if (item.get_object().get(entry) != simdjson::SUCCESS) {
      capture.fail("an element that is not an object");
    }
    if (product.empty() && entry["product_id"].get_string().get(product) != simdjson::SUCCESS) {
      return;
    }
    detail::DecimalScan& scan = capture.of(product);
    for (; *prices != nullptr; ++prices) {
      capture.add(scan, entry, *prices, true);
    }
    for (; *sizes != nullptr; ++sizes) {
      capture.add(scan, entry, *sizes, false);
    }
  };
  static constexpr const char* kLevelPrices[] = {"price_level", nullptr};
  static constexpr const char* kLevelSizes[] = {"new_quantity", nullptr};
  static constexpr const char* kTradePrices[] = {"price", nullptr};
  static constexpr const char* kTradeSizes[] = {"size", nullptr};
  static constexpr const char* kTickerPrices[] = {"price", "best_bid", "best_ask", nullptr};
  static constexpr const char* kTickerSizes[] = {"best_bid_quantity", "best_ask_quantity", nullptr};
  while (capture.next(root)) {
    simdjson::dom::array events;
    if (root["events"].get_array().get(events) != simdjson::SUCCESS) {
      continue; // errors
    }
    for (simdjson::dom::element event : events) {
      std::string_view product;
      simdjson::dom::array items;
      const bool book_event = event["product_id"].get_string().get(product) == simdjson::SUCCESS;
      if (book_event && !product.empty() && event["updates"].get_array().get(items) == simdjson::SUCCESS) {
        for (simdjson::dom::element u : items) {
          scan_element(u, product, kLevelPrices, kLevelSizes);
        }
      }
      if (event["trades"].get_array().get(items) == simdjson::SUCCESS) {
        for (simdjson::dom::element t : items) {
          scan_element(t, {}, kTradePrices, kTradeSizes);
        }
      }
      if (event["tickers"].get_array().get(items) == simdjson::SUCCESS) {
        for (simdjson::dom::element t : items) {
          scan_element(t, {}, kTickerPrices, kTickerSizes);
        }
      }
    }
  }
  return capture.results<ProductDecimals>();
}

} // namespace qf::feeds::coinbase_advanced
