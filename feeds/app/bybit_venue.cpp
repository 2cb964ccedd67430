// Bybit v5 public for qf-venue (PROTOCOLS.md 5.1-5.3). Subscription keys are the topics
// ("orderbook.50.BTCUSDT", "publicTrade.BTCUSDT", "tickers.BTCUSDT"); only depth 50 is served (the
// config's default and the capture's). The venue keeps each symbol's whole book and what its
// orderbook subscribers hold (the top 50 last sent): a delta carries the levels that changed
// since, a size "0" for those that left, with `u` one above the previous and `seq` rising by 1 to
// 3 (the cross sequence is shared with other depths). Synthetic: the shared random walk
// (synthetic_book.hpp); a publicTrade and a tickers after each trade, after the delta they follow.
// Replay: the capture's frames re-served byte-exact, held until the first subscription, the
// venue's book following them; a resubscribe mid-replay gets a snapshot of the book at that point
// with the last u and seq. Faults: a gap withholds a delta (and the ticker after it) that the
// venue's book still applies; Bybit has no checksum and no shutdown notice.
#include "bybit_venue.hpp"

#include <qf/feeds/bybit/parser.hpp>
#include <qf/feeds/capture.hpp>
#include <qf/feeds/padded_buffer.hpp>

#include <simdjson.h>

#include <chrono>
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

constexpr std::size_t kDepth = 50; // orderbook.50
constexpr std::string_view kBookTopic = "orderbook.50.";

struct Book : SyntheticBook {
  std::uint64_t u = 0;   // the last orderbook message's update id
  std::uint64_t seq = 0; // and its cross sequence
  Bids held_bids;        // what the subscribers hold
  Asks held_asks;
};

void put_levels(std::string& out, const Levels& levels, const Book& b) {
  for (std::size_t i = 0; i < levels.size(); ++i) {
    out += i > 0 ? ",[\"" : "[\"";
    out += trimmed_decimal(levels[i].first, b.price_decimals);
    out += "\",\"";
    out += trimmed_decimal(levels[i].second, b.qty_decimals);
    out += "\"]";
  }
}

class BybitVenue final : public Venue {
public:
  explicit BybitVenue(const BybitOptions& o)
      : linear_(o.linear), replay_(!o.replay_path.empty()), pacer_(o.speed, o.loop), rate_pacer_(o.rate), rng_(o.seed) {
    if (replay_) {
      load(o.replay_path);
      return;
    }
    for (const std::string& s : o.symbols) {
      Book b;
      static_cast<SyntheticBook&>(b) = seed_book(s, rng_);
      b.u = 1'000'000 + rng_() % 1'000'000;
      b.seq = 100'000'000'000 + rng_() % 1'000'000;
      b.held_bids = b.bids;
      b.held_asks = b.asks;
      books_.emplace(s, std::move(b));
    }
  }

  std::string_view name() const override { return linear_ ? "bybit-linear" : "bybit-spot"; }
  std::chrono::milliseconds ping_interval() const override { return 0ms; } // the client's op ping only
  std::chrono::milliseconds pong_timeout() const override { return 0ms; }
  bool is_snapshot_path(std::string_view) const override { return false; }

  bool on_open(Host&, Session&, std::string_view path, const Query&, std::string& reason) override {
    if (path != (linear_ ? "/v5/public/linear" : "/v5/public/spot") && path != "/") {
      reason = "Invalid path";
      return false;
    }
    return true;
  }

  void on_text(Host& host, Session& session, std::string_view text) override {
    simdjson::dom::element doc;
    std::string_view op;
    if (parser_.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS || !doc.is_object() ||
        doc["op"].get(op) != simdjson::SUCCESS) {
      host.count_client_error("invalid_json");
      host.send(session, answer(session, false, "Invalid request: " + sanitized(text), "", ""));
      return;
    }
    std::string_view req_id;
    if (doc["req_id"].get(req_id) != simdjson::SUCCESS) {
      req_id = {}; // optional, echoed when given
    }
    if (op == "ping") {
      host.send(session, answer(session, true, "pong", "ping", req_id));
      return;
    }
    simdjson::dom::array args;
    if ((op != "subscribe" && op != "unsubscribe") || doc["args"].get(args) != simdjson::SUCCESS) {
      host.count_client_error("unknown_method");
      host.send(session, answer(session, false, "Invalid request: " + sanitized(text), op, req_id));
      return;
    }
    const bool subscribe = op == "subscribe";
    std::vector<std::string> topics;
    std::string bad;
    for (simdjson::dom::element a : args) {
      std::string_view topic;
      if (a.get(topic) != simdjson::SUCCESS || book_of(topic) == nullptr) {
        bad += bad.empty() ? "" : ",";
        bad += sanitized(topic);
        continue;
      }
      topics.emplace_back(topic);
    }
    if (!bad.empty()) {
      host.count_client_error("invalid_stream"); // Bybit refuses the whole request
      host.send(session, answer(session, false, "Invalid topic :[" + bad + "]", op, req_id));
      return;
    }
    for (const std::string& t : topics) {
      if (subscribe) {
        session.streams.insert(t);
        session.subscribed_once = true;
      } else {
        session.streams.erase(t);
      }
    }
    host.send(session, answer(session, true, subscribe ? "subscribe" : "unsubscribe", op, req_id));
    if (subscribe) {
      for (const std::string& t : topics) {
        const Book& b = *book_of(t);
        if (t.starts_with(kBookTopic) && (!replay_ || pacer_.started())) {
          host.send(session, book_message(b, "snapshot", top(b.held_bids, kDepth), top(b.held_asks, kDepth)));
        } else if (t.starts_with("tickers.") && !replay_) {
          host.send(session, ticker(b, false));
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
    return rate_pacer_.pump(host, now_ns, messages_, -1, [&] { step(host); });
  }

  std::string stats_members() const override { return market_stats(replay_, messages_, pacer_, frames_.size()); }

private:
  struct Frame {
    std::uint64_t recv_ns = 0;
    std::string key; // the topic
    std::string text;
    std::string symbol; // orderbook frames: the levels the venue's book applies
    bool snapshot = false;
    bool update = false;
    std::uint64_t u = 0, seq = 0;
    Levels bids, asks;
  };

  // The book a served topic names, nullptr for any other topic.
  const Book* book_of(std::string_view topic) const {
    for (const std::string_view prefix : {kBookTopic, std::string_view("publicTrade."), std::string_view("tickers.")}) {
      if (topic.starts_with(prefix)) {
        const auto it = books_.find(topic.substr(prefix.size()));
        return it == books_.end() ? nullptr : &it->second;
      }
    }
    return nullptr;
  }

  static std::string answer(const Session& session, bool success, const std::string& msg, std::string_view op,
                            std::string_view req_id) {
    std::string out = success ? "{\"success\":true" : "{\"success\":false";
    out += ",\"ret_msg\":\"" + msg + "\",\"conn_id\":\"qf";
    append_uint(out, session.id);
    out += "\",\"req_id\":\"" + sanitized(req_id) + "\",\"op\":\"" + sanitized(op) + "\"}";
    return out;
  }

  static std::string book_message(const Book& b, std::string_view type, const Levels& bids, const Levels& asks) {
    const std::string ms = unix_ms();
    std::string out = "{\"topic\":\"" + std::string(kBookTopic) + b.symbol + "\",\"ts\":" + ms + ",\"type\":\"";
    out += type;
    out += "\",\"data\":{\"s\":\"" + b.symbol + "\",\"b\":[";
    put_levels(out, bids, b);
    out += "],\"a\":[";
    put_levels(out, asks, b);
    out += "],\"u\":";
    append_uint(out, b.u);
    out += ",\"seq\":";
    append_uint(out, b.seq);
    out += "},\"cts\":" + ms + "}";
    return out;
  }

  // Linear: a snapshot, or a delta of the best fields only; spot: a snapshot without bid/ask.
  std::string ticker(const Book& b, bool delta) const {
    const auto field = [&](std::string_view name, std::int64_t v, int decimals) {
      return ",\"" + std::string(name) + "\":\"" + trimmed_decimal(v, decimals) + "\"";
    };
    std::string out = "{\"topic\":\"tickers." + b.symbol + "\",\"ts\":" + unix_ms() + ",\"type\":\"";
    out += delta && linear_ ? "delta" : "snapshot";
    out += "\",\"cs\":";
    append_uint(out, b.seq);
    out += ",\"data\":{\"symbol\":\"" + b.symbol + "\"";
    if (!delta || !linear_) {
      out += field("lastPrice", b.last_price, b.price_decimals) + field("highPrice24h", b.fair * 2, b.price_decimals) +
             field("lowPrice24h", b.fair / 2, b.price_decimals) + ",\"volume24h\":\"1000\"";
    }
    if (linear_) {
      out += field("bid1Price", b.bids.begin()->first, b.price_decimals) +
             field("bid1Size", b.bids.begin()->second, b.qty_decimals) +
             field("ask1Price", b.asks.begin()->first, b.price_decimals) +
             field("ask1Size", b.asks.begin()->second, b.qty_decimals);
    }
    out += "}}";
    return out;
  }

  // The book changed: its delta (none when nothing the subscribers hold changed). False when the
  // delta was withheld (gap): the ticker after it is withheld too.
  bool publish_book(Host& host, Book& b) {
    const Levels top_bids = top(b.bids, kDepth);
    const Levels top_asks = top(b.asks, kDepth);
    const Levels bids = held_diff(b.held_bids, Bids(top_bids.begin(), top_bids.end()));
    const Levels asks = held_diff(b.held_asks, Asks(top_asks.begin(), top_asks.end()));
    if (bids.empty() && asks.empty()) {
      return true;
    }
    ++messages_;
    ++b.u;
    b.seq += 1 + messages_ % 3;
    if (host.take_gap()) {
      return false; // applied to the venue's book, never sent: a real u break
    }
    host.publish(std::string(kBookTopic) + b.symbol, {}, book_message(b, "delta", bids, asks));
    return true;
  }

  void step(Host& host) {
    auto it = books_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng_() % books_.size()));
    Book& b = it->second;
    const std::optional<SyntheticTrade> t = step_book(b, rng_);
    if (t) {
      std::string out = "{\"topic\":\"publicTrade." + b.symbol + "\",\"type\":\"snapshot\",\"ts\":" + unix_ms() +
                        ",\"data\":[{\"T\":" + unix_ms() + ",\"s\":\"" + b.symbol + "\",\"S\":\"";
      out += t->taker_buy ? "Buy" : "Sell";
      out += "\",\"v\":\"" + trimmed_decimal(t->qty, b.qty_decimals) + "\",\"p\":\"" +
             trimmed_decimal(t->price, b.price_decimals) + "\",\"i\":\"";
      append_uint(out, t->trade_id);
      out += "\",\"BT\":false,\"seq\":";
      append_uint(out, b.seq);
      out += "}]}";
      host.publish("publicTrade." + b.symbol, {}, out);
      ++messages_;
    }
    if (publish_book(host, b) && t) {
      host.publish("tickers." + b.symbol, {}, ticker(b, true));
      ++messages_;
    }
  }

  // Replay: frames by topic; orderbook frames also parsed (bybit::Parser at the capture's
  // decimals) so the venue's book follows them.
  void load(const std::string& path) {
    bybit::Parser bp;
    core::InstrumentId next_id = 0;
    for (const bybit::SymbolDecimals& d : bybit::infer_capture_decimals(path)) {
      Book b;
      b.symbol = d.symbol;
      b.price_decimals = d.price_decimals;
      b.qty_decimals = d.qty_decimals;
      bp.add_instrument(d.symbol, next_id++, b.price_decimals, b.qty_decimals);
      books_.emplace(d.symbol, std::move(b));
    }
    for_each_capture_message<bybit::Message>(path, bp, "a Bybit v5", [&](const CaptureRecord& r, const bybit::Message& m, const auto& where) {
      if (m.kind == bybit::MessageKind::op_answer) {
        return false; // the venue writes its own
      }
      if ((m.kind == bybit::MessageKind::book_snapshot || m.kind == bybit::MessageKind::book_update) &&
          m.depth != kDepth) {
        throw std::runtime_error(where() + ": only orderbook.50 is served");
      }
      Frame f;
      f.recv_ns = r.recv_ns;
      f.text = std::string(r.text);
      f.key = std::string(m.topic);
      if (m.kind == bybit::MessageKind::book_snapshot || m.kind == bybit::MessageKind::book_update) {
        f.symbol = std::string(m.symbol);
        f.snapshot = m.kind == bybit::MessageKind::book_snapshot;
        f.update = !f.snapshot;
        f.u = m.update_id;
        f.seq = m.seq;
        copy_levels(m.bids, f.bids);
        copy_levels(m.asks, f.asks);
      }
      frames_.push_back(std::move(f));
      return true;
    });
  }

  bool send_frame(Host& host, const Frame& f) {
    if (!f.symbol.empty()) {
      Book& b = books_.at(f.symbol); // the venue's book follows the replay, withheld frames included
      apply_levels(b, f.snapshot, f.bids, f.asks, kDepth);
      b.held_bids = b.bids;
      b.held_asks = b.asks;
      b.u = f.u;
      b.seq = f.seq;
    }
    if (f.update && host.take_gap()) {
      return false;
    }
    host.publish(f.key, f.text, f.text);
    return true;
  }

  bool linear_;
  bool replay_;
  ReplayPacer pacer_;
  RatePacer rate_pacer_;
  std::mt19937_64 rng_;
  std::map<std::string, Book, std::less<>> books_;
  std::vector<Frame> frames_;
  simdjson::dom::parser parser_;
  std::uint64_t messages_ = 0;
};

} // namespace

std::unique_ptr<Venue> make_bybit_venue(const BybitOptions& options) { return std::make_unique<BybitVenue>(options); }

} // namespace qf::feeds::venue
