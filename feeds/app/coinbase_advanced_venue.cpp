// Coinbase Advanced Trade for qf-venue (PROTOCOLS.md 3.2). Subscription keys are
// "<channel>:<product>" (level2, market_trades, ticker) and "heartbeats"; when replaying, every
// subscribed session also holds "recording" (the replayed frames go to it). Every message carries the
// connection's `sequence_num` (Session::next_number through Host::publish_numbered and
// send_numbered below: one counter per connection across channels, 0 first). The venue keeps each
// product's whole book and what its level2 subscribers hold (the book last sent): an update
// carries the levels that changed since, new_quantity "0" for those that left. Synthetic: the
// shared random walk (synthetic_book.hpp); `market_trades` for a step's trade, the `l2_data`
// update, then a `ticker` whenever the best levels changed, so every ticker is of a book a client
// can hold; `heartbeats` every second of the venue's clock (none while stalled). Replay: the
// recording's frames re-served, every one to every subscribed session (a recording is one
// connection's whole subscription set; filtering by channel would make the numbering depend on
// when each of a client's subscribes arrived), with each connection's own sequence_num (byte-exact
// for a client there from the start: a recording of one connection numbers from 0 without holes),
// held until the first subscription, the venue's book following the level2 frames; the
// recording's `subscriptions` frames are the answers (the venue sends none of its own, so the
// numbering stays the recording's), and a level2 subscribe once the replay runs (a resubscribe or
// a reconnect) gets a snapshot of the venue's book at that point. Faults: a gap withholds a level2 update (the
// venue's book still applies it) and skips its sequence_num on every connection that would have
// had it, and the ticker after it; Coinbase has no shutdown notice (a close frame only).
#include "coinbase_advanced_venue.hpp"

#include <qf/feeds/capture.hpp>
#include <qf/feeds/coinbase_advanced/parser.hpp>
#include <qf/feeds/padded_buffer.hpp>

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <utility>

#include "capture_frames.hpp"
#include "replay_pacer.hpp"
#include "synthetic_book.hpp"
#include "venue_text.hpp"

namespace qf::feeds::venue {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kHeartbeatNs = 1'000'000'000; // PROTOCOLS.md 3.2: heartbeats every second
constexpr std::size_t kWholeBook = std::numeric_limits<std::size_t>::max(); // level2 is the whole book

struct Book : SyntheticBook {
  Bids held_bids; // what the level2 subscribers hold
  Asks held_asks;
  std::pair<std::int64_t, std::int64_t> ticked_bid{}, ticked_ask{}; // synthetic: the last ticker's
};

// A message without its sequence_num: head + N + tail.
struct Numbered {
  std::string head;
  std::string tail;
};

// {"channel":C,"timestamp":T,"sequence_num":N,"events":[EVENTS]} (production has no client_id).
Numbered envelope(std::string_view channel, std::string_view events) {
  Numbered out;
  out.head = "{\"channel\":\"";
  out.head += channel;
  out.head += "\",\"timestamp\":\"" + iso_now() + "\",\"sequence_num\":";
  out.tail = ",\"events\":[";
  out.tail += events;
  out.tail += "]}";
  return out;
}

void send_numbered(Host& host, Session& session, const Numbered& m) {
  std::string text = m.head;
  append_uint(text, session.next_number++);
  text += m.tail;
  host.send(session, std::move(text));
}

void put_updates(std::string& out, std::string_view side, const Levels& levels, const Book& b, const std::string& time) {
  for (const auto& [p, q] : levels) {
    if (out.back() != '[') {
      out += ',';
    }
    out += "{\"side\":\"";
    out += side;
    out += "\",\"event_time\":\"" + time + "\",\"price_level\":\"" + trimmed_decimal(p, b.price_decimals) +
           "\",\"new_quantity\":\"" + trimmed_decimal(q, b.qty_decimals) + "\"}";
  }
}

// One l2_data event: {"type":TYPE,"product_id":P,"updates":[bids..., offers...]}.
std::string l2_event(const Book& b, std::string_view type, const Levels& bids, const Levels& asks) {
  const std::string time = iso_now();
  std::string out = "{\"type\":\"";
  out += type;
  out += "\",\"product_id\":\"" + b.symbol + "\",\"updates\":[";
  put_updates(out, "bid", bids, b, time);
  put_updates(out, "offer", asks, b, time);
  out += "]}";
  return out;
}

std::string ticker_event(const Book& b, std::string_view type) {
  const auto field = [&](std::string_view name, std::int64_t v, int decimals) {
    return ",\"" + std::string(name) + "\":\"" + trimmed_decimal(v, decimals) + "\"";
  };
  std::string out = "{\"type\":\"";
  out += type;
  out += "\",\"tickers\":[{\"type\":\"ticker\",\"product_id\":\"" + b.symbol + "\"";
  out += field("price", b.last_price, b.price_decimals) + ",\"volume_24_h\":\"1000\"" +
         field("low_24_h", b.fair / 2, b.price_decimals) + field("high_24_h", b.fair * 2, b.price_decimals) +
         field("low_52_w", b.fair / 4, b.price_decimals) + field("high_52_w", b.fair * 4, b.price_decimals) +
         ",\"price_percent_chg_24_h\":\"0\"";
  out += field("best_bid", b.bids.begin()->first, b.price_decimals) +
         field("best_ask", b.asks.begin()->first, b.price_decimals) +
         field("best_bid_quantity", b.bids.begin()->second, b.qty_decimals) +
         field("best_ask_quantity", b.asks.begin()->second, b.qty_decimals);
  out += "}]}";
  return out;
}

class CoinbaseAdvancedVenue final : public Venue {
public:
  explicit CoinbaseAdvancedVenue(const CoinbaseAdvancedOptions& o)
      : replay_(!o.replay_path.empty()), pacer_(o.speed, o.loop), rate_pacer_(o.rate), rng_(o.seed) {
    if (replay_) {
      load(o.replay_path);
      return;
    }
    for (const std::string& s : o.symbols) {
      Book b;
      static_cast<SyntheticBook&>(b) = seed_book(s, rng_);
      b.held_bids = b.bids;
      b.held_asks = b.asks;
      books_.emplace(s, std::move(b));
    }
  }

  std::string_view name() const override { return "coinbase-advanced"; }
  std::chrono::milliseconds ping_interval() const override { return 0ms; } // the heartbeats channel only
  std::chrono::milliseconds pong_timeout() const override { return 0ms; }
  std::chrono::milliseconds subscribe_deadline() const override { return 5s; } // PROTOCOLS.md 3.2
  bool is_snapshot_path(std::string_view) const override { return false; }

  bool on_open(Host&, Session&, std::string_view path, const Query&, std::string& reason) override {
    if (path != "/") {
      reason = "Invalid path";
      return false;
    }
    return true;
  }

  void on_text(Host& host, Session& session, std::string_view text) override {
    simdjson::dom::element doc;
    std::string_view type;
    std::string_view channel;
    if (parser_.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      host.count_client_error("invalid_json");
      host.send(session, error("malformed JSON: " + sanitized(text)));
      return;
    }
    if (doc["type"].get(type) != simdjson::SUCCESS || (type != "subscribe" && type != "unsubscribe")) {
      host.count_client_error("unknown_method");
      host.send(session, error("unknown message type: " + sanitized(text)));
      return;
    }
    if (doc["channel"].get(channel) != simdjson::SUCCESS ||
        (channel != "level2" && channel != "market_trades" && channel != "ticker" && channel != "heartbeats")) {
      host.count_client_error("invalid_stream");
      host.send(session, error("Failure to subscribe: unknown channel " + sanitized(channel)));
      return;
    }
    std::vector<Book*> products;
    simdjson::dom::array ids;
    if (doc["product_ids"].get(ids) == simdjson::SUCCESS) {
      for (simdjson::dom::element id : ids) {
        std::string_view product;
        const auto it = id.get(product) == simdjson::SUCCESS ? books_.find(product) : books_.end();
        if (it == books_.end()) {
          host.count_client_error("invalid_stream");
          host.send(session, error("Failure to subscribe: unknown product " + sanitized(product)));
          return;
        }
        products.push_back(&it->second);
      }
    }
    if (products.empty() && channel != "heartbeats") {
      host.count_client_error("invalid_request");
      host.send(session, error("Failure to subscribe: product_ids required for " + std::string(channel)));
      return;
    }
    const bool subscribe = type == "subscribe";
    const auto key_of = [&](const Book& b) {
      return channel == "heartbeats" ? std::string("heartbeats") : std::string(channel) + ':' + b.symbol;
    };
    if (channel == "heartbeats") {
      subscribe ? (void)session.streams.insert("heartbeats") : (void)session.streams.erase("heartbeats");
    }
    for (const Book* b : products) {
      subscribe ? (void)session.streams.insert(key_of(*b)) : (void)session.streams.erase(key_of(*b));
    }
    if (subscribe) {
      session.subscribed_once = true;
      if (replay_) {
        session.streams.insert(std::string(kRecordingKey));
      }
    }
    // A replay answers with the recording's frames; once it runs, a level2 subscribe gets the book.
    if (!replay_) {
      send_numbered(host, session, envelope("subscriptions", subscriptions(session)));
    }
    if (subscribe && (!replay_ || pacer_.started())) {
      for (const Book* b : products) {
        if (channel == "level2") {
          send_numbered(host, session,
                        envelope("l2_data", l2_event(*b, "snapshot", top(b->held_bids, kWholeBook),
                                                     top(b->held_asks, kWholeBook))));
        } else if (channel == "ticker" && !replay_) {
          send_numbered(host, session, envelope("ticker", ticker_event(*b, "snapshot")));
        }
      }
    }
    host.subscriptions_changed(session);
  }

  bool on_http(std::string_view, const Query&, HttpResponse&) override { return false; }

  std::string shutdown_message(const Session&) const override { return {}; }

  std::int64_t pump(Host& host, std::uint64_t now_ns) override {
    if (replay_) {
      return pacer_.pump(
          host, now_ns, frames_.size(), [&](std::size_t i) { return frames_[i].recv_ns; },
          [&](std::size_t i) { return send_frame(host, frames_[i]); });
    }
    if (next_heartbeat_ns_ == 0) {
      next_heartbeat_ns_ = now_ns + kHeartbeatNs;
    }
    if (now_ns >= next_heartbeat_ns_) {
      next_heartbeat_ns_ += kHeartbeatNs;
      std::string event = "{\"current_time\":\"" + iso_now() + "\",\"heartbeat_counter\":";
      append_uint(event, ++heartbeat_counter_);
      event += '}';
      const Numbered m = envelope("heartbeats", event);
      host.publish_numbered("heartbeats", m.head, m.tail, false);
    }
    const auto wait = static_cast<std::int64_t>(next_heartbeat_ns_ - now_ns);
    return std::min(wait, rate_pacer_.pump(host, now_ns, messages_, wait, [&] { step(host); }));
  }

  std::string stats_members() const override { return market_stats(replay_, messages_, pacer_, frames_.size()); }

private:
  static constexpr std::string_view kRecordingKey = "recording"; // replay: every frame

  struct BookPart {
    std::string product;
    bool snapshot = false;
    Levels bids, asks;
  };
  struct Frame {
    std::uint64_t recv_ns = 0;
    std::string head, tail; // the text around its sequence_num
    bool update = false; // a level2 update: the gap fault's target
    std::vector<BookPart> parts;
  };

  static std::string error(const std::string& message) {
    return "{\"type\":\"error\",\"message\":\"" + message + "\"}";
  }

  // {"subscriptions":{"level2":["BTC-USD",...],...}} of the session's keys.
  static std::string subscriptions(const Session& session) {
    std::map<std::string, std::vector<std::string>, std::less<>> by_channel;
    for (const std::string& key : session.streams) {
      const std::size_t colon = key.find(':');
      if (colon != std::string::npos) {
        by_channel[key.substr(0, colon)].push_back(key.substr(colon + 1));
      } else if (key == "heartbeats") {
        by_channel[key];
      }
    }
    std::string out = "{\"subscriptions\":{";
    bool first = true;
    for (const auto& [channel, products] : by_channel) {
      out += first ? "\"" : ",\"";
      first = false;
      out += channel + "\":[";
      for (std::size_t i = 0; i < products.size(); ++i) {
        out += i > 0 ? ",\"" : "\"";
        out += products[i] + "\"";
      }
      out += ']';
    }
    out += "}}";
    return out;
  }

  // The book changed: its update (none when nothing the subscribers hold changed), then a ticker
  // when the best levels moved. False when the update was withheld (gap).
  bool publish_book(Host& host, Book& b) {
    const Levels all_bids = held_diff(b.held_bids, b.bids);
    const Levels all_asks = held_diff(b.held_asks, b.asks);
    if (all_bids.empty() && all_asks.empty()) {
      return true;
    }
    ++messages_;
    const Numbered m = envelope("l2_data", l2_event(b, "update", all_bids, all_asks));
    if (host.take_gap()) {
      host.publish_numbered("level2:" + b.symbol, m.head, m.tail, true); // a real gap: the number is lost
      return false;
    }
    host.publish_numbered("level2:" + b.symbol, m.head, m.tail, false);
    const std::pair<std::int64_t, std::int64_t> bid = *b.bids.begin();
    const std::pair<std::int64_t, std::int64_t> ask = *b.asks.begin();
    if (bid != b.ticked_bid || ask != b.ticked_ask) {
      b.ticked_bid = bid;
      b.ticked_ask = ask;
      const Numbered t = envelope("ticker", ticker_event(b, "update"));
      host.publish_numbered("ticker:" + b.symbol, t.head, t.tail, false);
      ++messages_;
    }
    return true;
  }

  void step(Host& host) {
    auto it = books_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng_() % books_.size()));
    Book& b = it->second;
    const std::optional<SyntheticTrade> t = step_book(b, rng_);
    if (t) {
      std::string event = "{\"type\":\"update\",\"trades\":[{\"product_id\":\"" + b.symbol + "\",\"trade_id\":\"";
      append_uint(event, t->trade_id);
      event += "\",\"price\":\"" + trimmed_decimal(t->price, b.price_decimals) + "\",\"size\":\"" +
               trimmed_decimal(t->qty, b.qty_decimals) + "\",\"time\":\"" + iso_now() + "\",\"side\":\"";
      event += t->taker_buy ? "BUY" : "SELL";
      event += "\"}]}";
      const Numbered m = envelope("market_trades", event);
      host.publish_numbered("market_trades:" + b.symbol, m.head, m.tail, false);
      ++messages_;
    }
    (void)publish_book(host, b);
  }

  // Replay: every frame numbered per connection, level2 frames also parsed (coinbase_advanced::Parser
  // at the recording's decimals) so the venue's book follows them.
  void load(const std::string& path) {
    coinbase_advanced::Parser cp;
    std::vector<std::string> names; // by the parser's id
    for (const coinbase_advanced::ProductDecimals& d : coinbase_advanced::infer_capture_decimals(path)) {
      Book b;
      b.symbol = d.product;
      b.price_decimals = d.price_decimals;
      b.qty_decimals = d.qty_decimals;
      cp.add_instrument(d.product, static_cast<core::InstrumentId>(names.size()), b.price_decimals, b.qty_decimals);
      names.push_back(d.product);
      books_.emplace(d.product, std::move(b));
    }
    for_each_capture_message<coinbase_advanced::Message>(path, cp, "a Coinbase Advanced Trade", [&](const CaptureRecord& r, const coinbase_advanced::Message& m, const auto& where) {
      Frame f;
      f.recv_ns = r.recv_ns;
      switch (m.kind) {
      case coinbase_advanced::MessageKind::level2:
        for (const coinbase_advanced::BookEvent& e : m.books) {
          BookPart part{names.at(e.instrument), e.snapshot, {}, {}};
          f.update |= !e.snapshot;
          copy_levels(e.bids, part.bids);
          copy_levels(e.asks, part.asks);
          f.parts.push_back(std::move(part));
        }
        break;
      case coinbase_advanced::MessageKind::ticker:
      case coinbase_advanced::MessageKind::trades:
      case coinbase_advanced::MessageKind::heartbeat:
      case coinbase_advanced::MessageKind::subscriptions:
        break;
      default:
        return false; // errors answered the recorder's client, not ours
      }
      // Split around the recorded sequence_num: each connection gets its own.
      const std::string_view text = r.text;
      constexpr std::string_view kSeq = "\"sequence_num\":";
      const std::size_t at = text.find(kSeq);
      if (!m.has_sequence || at == std::string_view::npos) {
        throw std::runtime_error(where() + ": a channel message without a plain \"sequence_num\":N");
      }
      const std::size_t digits = at + kSeq.size();
      f.head = std::string(text.substr(0, digits));
      f.tail = std::string(text.substr(std::min(text.find_first_not_of("0123456789", digits), text.size())));
      frames_.push_back(std::move(f));
      return true;
    });
  }

  bool send_frame(Host& host, const Frame& f) {
    for (const BookPart& p : f.parts) { // the venue's book follows the replay, withheld frames included
      Book& b = books_.at(p.product);
      apply_levels(b, p.snapshot, p.bids, p.asks, kWholeBook);
      b.held_bids = b.bids;
      b.held_asks = b.asks;
    }
    const bool withheld = f.update && host.take_gap();
    host.publish_numbered(kRecordingKey, f.head, f.tail, withheld);
    return !withheld;
  }

  bool replay_;
  ReplayPacer pacer_;
  RatePacer rate_pacer_;
  std::mt19937_64 rng_;
  std::map<std::string, Book, std::less<>> books_;
  std::vector<Frame> frames_;
  simdjson::dom::parser parser_;
  std::uint64_t messages_ = 0;
  std::uint64_t next_heartbeat_ns_ = 0; // synthetic
  std::uint64_t heartbeat_counter_ = 0;
};

} // namespace

std::unique_ptr<Venue> make_coinbase_advanced_venue(const CoinbaseAdvancedOptions& options) {
  return std::make_unique<CoinbaseAdvancedVenue>(options);
}

} // namespace qf::feeds::venue
