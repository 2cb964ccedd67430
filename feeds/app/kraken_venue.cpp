// Kraken WebSocket v2 for qf-venue (PROTOCOLS.md 4.1-4.3). Subscription keys are
// "<channel>:<symbol>" (book, trade, ticker) and "heartbeat" (every subscribed session). The
// venue keeps each symbol's whole book and what its depth-10 subscribers hold (the top 10 last
// sent): an update carries the levels of the new top 10 that differ from the held ones, and a
// qty 0 for held levels that left the book; a level pushed below the top 10 gets no delete (the
// client truncates, as Kraken's clients must). Every book message carries the CRC32 of the new
// top 10, computed here from the decimal text as the docs define it (independently of
// kraken::BookSync, which the client uses). Synthetic: a random walk per symbol, a trade now and
// then, a ticker (bid/ask with sizes) whenever the best levels change. Replay: the capture's
// frames re-served byte-exact, held until the first subscription, the venue's book following
// them (its own checksum is checked against every frame's at load), so a resubscribe mid-replay
// gets a snapshot of the book at that point. Faults: a gap withholds an update (and the ticker
// that follows it) that the venue's book still applies; the checksum fault sends an update with
// its checksum corrupted.
#include "kraken_venue.hpp"

#include <qf/feeds/capture.hpp>
#include <qf/feeds/kraken/parser.hpp>
#include <qf/feeds/padded_buffer.hpp>
#include <qf/ipc/fixed_point.hpp>

#include <simdjson.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <utility>

#include "capture_frames.hpp"
#include "replay_pacer.hpp"
#include "synthetic_book.hpp"
#include "venue_text.hpp"

namespace qf::feeds::venue {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kDepth = 10;
constexpr std::uint64_t kHeartbeatNs = 1'000'000'000;

struct Book : SyntheticBook {
  Levels shown_bids; // the top 10 the subscribers hold
  Levels shown_asks;
  std::pair<std::int64_t, std::int64_t> ticked_bid{}, ticked_ask{}; // synthetic
};

// PROTOCOLS.md 4.2: each value printed at the pair's precision, the point and leading zeros
// removed, top 10 asks then top 10 bids, CRC32 of the concatenation.
void checksum_text(std::string& out, std::int64_t v, int decimals) {
  std::string text;
  append_fixed(text, v, decimals);
  text.erase(std::remove(text.begin(), text.end(), '.'), text.end());
  const std::size_t first = text.find_first_not_of('0');
  out += first == std::string::npos ? std::string() : text.substr(first);
}

std::uint32_t checksum(const Book& b) {
  std::string text;
  for (const Levels* side : {&b.shown_asks, &b.shown_bids}) {
    for (const auto& [p, q] : *side) {
      checksum_text(text, p, b.price_decimals);
      checksum_text(text, q, b.qty_decimals);
    }
  }
  return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
}

void put_levels(std::string& out, const Levels& levels, const Book& b) {
  for (std::size_t i = 0; i < levels.size(); ++i) {
    out += i > 0 ? ",{\"price\":" : "{\"price\":";
    append_fixed(out, levels[i].first, b.price_decimals);
    out += ",\"qty\":";
    append_fixed(out, levels[i].second, b.qty_decimals);
    out += '}';
  }
}

// The levels of `now` that `held` lacks or holds at another qty, then a delete for each held
// level no longer in the book (one only pushed below the top 10 is left to the client's
// truncation). `held` becomes `now`.
template <class Map> Levels diff(Levels& held, const Levels& now, const Map& book) {
  Levels out;
  for (const auto& level : now) {
    if (std::find(held.begin(), held.end(), level) == held.end()) {
      out.push_back(level);
    }
  }
  for (const auto& [p, q] : held) {
    if (book.count(p) == 0) {
      out.emplace_back(p, 0);
    }
  }
  held = now;
  return out;
}

std::string book_message(const Book& b, std::string_view type, const Levels& bids, const Levels& asks,
                         std::uint32_t crc, bool with_time) {
  std::string out = "{\"channel\":\"book\",\"type\":\"";
  out += type;
  out += "\",\"data\":[{\"symbol\":\"" + b.symbol + "\",\"bids\":[";
  put_levels(out, bids, b);
  out += "],\"asks\":[";
  put_levels(out, asks, b);
  out += "],\"checksum\":";
  append_uint(out, crc);
  if (with_time) {
    out += ",\"timestamp\":\"" + iso_now() + "\"";
  }
  out += "}]}";
  return out;
}

// An optional field of a request: its value, or `fallback` when absent or of another type.
template <class T> T optional(simdjson::simdjson_result<simdjson::dom::element> field, T fallback) {
  T value{};
  return field.get(value) == simdjson::SUCCESS ? value : fallback;
}

class KrakenVenue final : public Venue {
public:
  explicit KrakenVenue(const KrakenOptions& o)
      : replay_(!o.replay_path.empty()), pacer_(o.speed, o.loop), rate_pacer_(o.rate), rng_(o.seed) {
    if (replay_) {
      load(o.replay_path);
      return;
    }
    for (const std::string& s : o.symbols) {
      Book b;
      static_cast<SyntheticBook&>(b) = seed_book(s, rng_);
      b.shown_bids = top(b.bids, kDepth);
      b.shown_asks = top(b.asks, kDepth);
      books_.emplace(s, std::move(b));
    }
  }

  std::string_view name() const override { return "kraken"; }
  std::chrono::milliseconds ping_interval() const override { return 0ms; } // app-level ping only
  std::chrono::milliseconds pong_timeout() const override { return 0ms; }
  bool is_snapshot_path(std::string_view) const override { return false; }

  bool on_open(Host& host, Session& session, std::string_view path, const Query&, std::string& reason) override {
    if (path != "/v2" && path != "/") {
      reason = "Invalid path";
      return false;
    }
    std::string status = R"({"channel":"status","type":"update","data":[{"version":"2.0.10","system":"online","api_version":"v2","connection_id":)";
    append_uint(status, 9'000'000'000'000'000'000ULL + session.id);
    status += "}]}";
    host.send(session, std::move(status));
    return true;
  }

  void on_text(Host& host, Session& session, std::string_view text) override {
    const std::string time_in = iso_now();
    simdjson::dom::element doc;
    std::string_view method;
    if (parser_.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      host.count_client_error("invalid_json");
      host.send(session, error("", 0, "", "Malformed request", time_in));
      return;
    }
    const std::uint64_t req_id = optional(doc["req_id"], std::uint64_t{0});
    if (doc["method"].get(method) != simdjson::SUCCESS) {
      host.count_client_error("unknown_method");
      host.send(session, error("", req_id, "", "Method field missing", time_in));
      return;
    }
    if (method == "ping") {
      std::string out = "{\"method\":\"pong\",\"req_id\":";
      append_uint(out, req_id);
      out += ",\"time_in\":\"" + time_in + "\",\"time_out\":\"" + iso_now() + "\"}";
      host.send(session, std::move(out));
      return;
    }
    if (method != "subscribe" && method != "unsubscribe") {
      host.count_client_error("unknown_method");
      host.send(session, error(method, req_id, "", "Method not supported", time_in));
      return;
    }
    simdjson::dom::object params;
    std::string_view channel;
    simdjson::dom::array symbols;
    if (doc["params"].get(params) != simdjson::SUCCESS || params["channel"].get(channel) != simdjson::SUCCESS ||
        params["symbol"].get(symbols) != simdjson::SUCCESS) {
      host.count_client_error("invalid_request");
      host.send(session, error(method, req_id, "", "params needs channel and symbol", time_in));
      return;
    }
    if (channel != "book" && channel != "trade" && channel != "ticker") {
      host.count_client_error("invalid_stream");
      host.send(session, error(method, req_id, "", "Channel not supported by qf-venue", time_in));
      return;
    }
    const std::uint64_t depth = optional(params["depth"], std::uint64_t{kDepth});
    const bool snapshot = optional(params["snapshot"], true);
    if (channel == "book" && depth != kDepth) {
      host.count_client_error("invalid_request");
      host.send(session, error(method, req_id, "", "qf-venue serves book depth 10 only", time_in));
      return;
    }
    const bool subscribe = method == "subscribe";
    for (simdjson::dom::element e : symbols) {
      std::string_view symbol;
      if (e.get(symbol) != simdjson::SUCCESS || books_.count(symbol) == 0) {
        host.count_client_error("invalid_stream");
        host.send(session, error(method, req_id, symbol, "Currency pair not supported", time_in));
        continue;
      }
      const std::string key = std::string(channel) + ':' + std::string(symbol);
      if (subscribe) {
        session.streams.insert(key);
        session.streams.insert("heartbeat");
      } else {
        session.streams.erase(key);
      }
      std::string ack = "{\"method\":\"";
      ack += method;
      ack += "\",\"req_id\":";
      append_uint(ack, req_id);
      ack += ",\"result\":{\"channel\":\"";
      ack += channel;
      ack += channel == "book" ? "\",\"depth\":10," : "\",";
      if (subscribe) {
        ack += snapshot ? "\"snapshot\":true," : "\"snapshot\":false,";
      }
      ack += "\"symbol\":\"";
      ack += symbol;
      ack += "\"},\"success\":true,\"time_in\":\"" + time_in + "\",\"time_out\":\"" + iso_now() + "\"}";
      host.send(session, std::move(ack));
      if (!subscribe) {
        continue;
      }
      Book& b = books_.find(symbol)->second;
      // A replay that has not started sends the capture's own snapshot first.
      if (channel == "book" && snapshot && (!replay_ || pacer_.started())) {
        host.send(session, book_message(b, "snapshot", b.shown_bids, b.shown_asks, checksum(b), false));
      } else if (channel == "ticker" && !replay_) {
        host.send(session, ticker(b, "snapshot"));
      }
    }
    host.subscriptions_changed(session);
  }

  bool on_http(std::string_view, const Query&, HttpResponse&) override { return false; }

  std::string shutdown_message(const Session&) const override { return {}; }

  std::int64_t pump(Host& host, std::uint64_t now_ns) override {
    if (replay_) {
      return pump_replay(host, now_ns);
    }
    if (next_heartbeat_ns_ == 0) {
      next_heartbeat_ns_ = now_ns + kHeartbeatNs;
    }
    if (now_ns >= next_heartbeat_ns_) {
      next_heartbeat_ns_ += kHeartbeatNs;
      host.publish("heartbeat", {}, R"({"channel":"heartbeat"})");
    }
    const auto wait = static_cast<std::int64_t>(next_heartbeat_ns_ - now_ns);
    return std::min(wait, rate_pacer_.pump(host, now_ns, messages_, wait, [&] { step(host); }));
  }

  std::string stats_members() const override { return market_stats(replay_, messages_, pacer_, frames_.size()); }

private:
  struct Frame {
    std::uint64_t recv_ns = 0;
    std::string key;
    std::string text;
    std::string symbol; // book frames: the levels the venue's book applies
    bool snapshot = false;
    bool update = false;
    Levels bids, asks;
  };

  static std::string error(std::string_view method, std::uint64_t req_id, std::string_view symbol,
                           std::string_view why, const std::string& time_in) {
    std::string out = "{\"error\":\"";
    out += why;
    if (!symbol.empty()) {
      out += ' ';
      for (const char c : symbol.substr(0, 40)) {
        out += (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) ? '?' : c;
      }
    }
    out += "\",";
    if (!method.empty()) {
      out += "\"method\":\"";
      out += method;
      out += "\",";
    }
    out += "\"req_id\":";
    append_uint(out, req_id);
    out += ",\"success\":false,\"time_in\":\"" + time_in + "\",\"time_out\":\"" + iso_now() + "\"}";
    return out;
  }

  std::string ticker(const Book& b, std::string_view type) const {
    std::string out = "{\"channel\":\"ticker\",\"type\":\"";
    out += type;
    out += "\",\"data\":[{\"symbol\":\"" + b.symbol + "\",\"bid\":";
    append_fixed(out, b.bids.begin()->first, b.price_decimals);
    out += ",\"bid_qty\":";
    append_fixed(out, b.bids.begin()->second, b.qty_decimals);
    out += ",\"ask\":";
    append_fixed(out, b.asks.begin()->first, b.price_decimals);
    out += ",\"ask_qty\":";
    append_fixed(out, b.asks.begin()->second, b.qty_decimals);
    out += ",\"last\":";
    append_fixed(out, b.last_price, b.price_decimals);
    out += ",\"volume\":1000.0,\"vwap\":";
    append_fixed(out, b.fair, b.price_decimals);
    out += ",\"low\":";
    append_fixed(out, b.fair / 2, b.price_decimals);
    out += ",\"high\":";
    append_fixed(out, b.fair * 2, b.price_decimals);
    out += ",\"change\":0.0,\"change_pct\":0.0}]}";
    return out;
  }

  // The book changed: the update of its top 10 (none when the top is unchanged), then a ticker
  // when the best levels moved. A withheld update (gap) withholds its ticker too, so the last
  // ticker a client saw is always of a book it could hold.
  void publish_book(Host& host, Book& b) {
    const Levels bids = diff(b.shown_bids, top(b.bids, kDepth), b.bids);
    const Levels asks = diff(b.shown_asks, top(b.asks, kDepth), b.asks);
    if (bids.empty() && asks.empty()) {
      return;
    }
    ++messages_;
    if (host.take_gap()) {
      return; // applied to the venue's book, never sent: a real gap
    }
    std::uint32_t crc = checksum(b);
    if (host.take_checksum_fault()) {
      crc ^= 0x5a5a5a5aU;
    }
    host.publish("book:" + b.symbol, {}, book_message(b, "update", bids, asks, crc, true));
    const std::pair<std::int64_t, std::int64_t> bid = *b.bids.begin();
    const std::pair<std::int64_t, std::int64_t> ask = *b.asks.begin();
    if (bid != b.ticked_bid || ask != b.ticked_ask) {
      b.ticked_bid = bid;
      b.ticked_ask = ask;
      host.publish("ticker:" + b.symbol, {}, ticker(b, "update"));
      ++messages_;
    }
  }

  void step(Host& host) {
    auto it = books_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng_() % books_.size()));
    Book& b = it->second;
    if (const std::optional<SyntheticTrade> t = step_book(b, rng_)) {
      std::string out = "{\"channel\":\"trade\",\"type\":\"update\",\"data\":[{\"symbol\":\"" + b.symbol +
                        "\",\"side\":\"";
      out += t->taker_buy ? "buy" : "sell";
      out += "\",\"price\":";
      append_fixed(out, t->price, b.price_decimals);
      out += ",\"qty\":";
      append_fixed(out, t->qty, b.qty_decimals);
      out += ",\"ord_type\":\"market\",\"trade_id\":";
      append_uint(out, t->trade_id);
      out += ",\"timestamp\":\"" + iso_now() + "\"}]}";
      host.publish("trade:" + b.symbol, {}, out);
      ++messages_;
    }
    publish_book(host, b);
  }

  // Replay: frames by channel and symbol; book frames also parsed (kraken::Parser at the
  // capture's decimals) so the venue's book follows them, and checked against their checksums.
  void load(const std::string& path) {
    kraken::Parser kp;
    core::InstrumentId next_id = 0;
    for (const kraken::SymbolDecimals& d : kraken::infer_capture_decimals(path)) {
      int pp = d.price_decimals;
      int qp = d.qty_decimals;
      (void)kraken::known_precision(d.symbol, pp, qp);
      Book b;
      b.symbol = d.symbol;
      b.price_decimals = std::max(pp, d.price_decimals);
      b.qty_decimals = std::max(qp, d.qty_decimals);
      kp.add_instrument(d.symbol, next_id++, b.price_decimals, b.qty_decimals);
      books_.emplace(d.symbol, std::move(b));
    }
    for_each_capture_message<kraken::Message>(path, kp, "a Kraken v2", [&](const CaptureRecord& r, const kraken::Message& m, const auto& where) {
      Frame f;
      f.recv_ns = r.recv_ns;
      f.text = std::string(r.text);
      switch (m.kind) {
      case kraken::MessageKind::book_snapshot:
      case kraken::MessageKind::book_update:
        f.key = "book:" + std::string(m.symbol);
        f.symbol = std::string(m.symbol);
        f.snapshot = m.kind == kraken::MessageKind::book_snapshot;
        f.update = !f.snapshot;
        copy_levels(m.bids, f.bids);
        copy_levels(m.asks, f.asks);
        break;
      case kraken::MessageKind::ticker:
        f.key = "ticker:" + std::string(m.symbol);
        break;
      case kraken::MessageKind::trade:
        f.key = "trade:" + std::string(m.symbol);
        break;
      case kraken::MessageKind::heartbeat:
        f.key = "heartbeat";
        break;
      default:
        return false; // status and method answers: the venue writes its own
      }
      if (!f.symbol.empty()) {
        apply(f);
        if (m.has_checksum && checksum(books_.at(f.symbol)) != m.checksum) {
          throw std::runtime_error(where() + ": the venue's book does not reproduce the frame's checksum");
        }
      }
      frames_.push_back(std::move(f));
      return true;
    });
    reset_books();
  }

  // A book frame on the venue's book: a snapshot replaces it; levels apply (qty 0 deletes); the
  // book is the top 10 a side (Kraken's depth-10 truncation).
  void apply(const Frame& f) {
    Book& b = books_.at(f.symbol);
    apply_levels(b, f.snapshot, f.bids, f.asks, kDepth);
    b.shown_bids = top(b.bids, kDepth);
    b.shown_asks = top(b.asks, kDepth);
  }

  void reset_books() {
    for (auto& [s, b] : books_) {
      b.bids.clear();
      b.asks.clear();
      b.shown_bids.clear();
      b.shown_asks.clear();
    }
  }

  std::int64_t pump_replay(Host& host, std::uint64_t now_ns) {
    return pacer_.pump(
        host, now_ns, frames_.size(), [&](std::size_t i) { return frames_[i].recv_ns; },
        [&](std::size_t i) {
          const Frame& f = frames_[i];
          if (!f.symbol.empty()) {
            apply(f); // the venue's book follows the replay, withheld frames included
          }
          if (f.update && host.take_gap()) {
            return false;
          }
          if (f.update && host.take_checksum_fault()) {
            host.publish(f.key, {}, corrupted(f.text));
          } else {
            host.publish(f.key, f.text, f.text);
          }
          return true;
        });
  }

  // The frame with its checksum value changed (the capture writes it as "checksum":<digits>).
  static std::string corrupted(const std::string& text) {
    std::string out = text;
    const std::size_t at = out.find("\"checksum\":");
    if (at != std::string::npos) {
      const std::size_t digit = at + 11;
      out[digit] = out[digit] == '1' ? '2' : '1';
    }
    return out;
  }

  bool replay_;
  ReplayPacer pacer_;
  RatePacer rate_pacer_;
  std::mt19937_64 rng_;
  std::map<std::string, Book, std::less<>> books_;
  std::vector<Frame> frames_;
  simdjson::dom::parser parser_;
  std::uint64_t next_heartbeat_ns_ = 0; // synthetic
  std::uint64_t messages_ = 0;
};

} // namespace

std::unique_ptr<Venue> make_kraken_venue(const KrakenOptions& options) {
  return std::make_unique<KrakenVenue>(options);
}

} // namespace qf::feeds::venue
