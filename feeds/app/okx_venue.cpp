// OKX v5 public for qf-venue (PROTOCOLS.md 6.1-6.2). Subscription keys are
// "<channel>:<instId>" (books, bbo-tbt, trades, tickers). The venue keeps each instrument's whole
// book and what its `books` subscribers hold (the book last sent, at most 400 levels a side): an
// update carries the levels that changed since, a size "0" for those that left. Every book
// message carries the `seqId` / `prevSeqId` chain (the snapshot's prevSeqId is -1; seqIds step by
// 1 to 3, as OKX's are not consecutive) and the signed CRC32 of the top 25, interleaved
// bid:ask, computed here from the venue's own decimal text (values printed as OKX prints them, no
// trailing zeros), independently of okx::BookSync, which the client uses. Synthetic: the shared
// random walk (synthetic_book.hpp); `bbo-tbt` whenever the best levels change, `trades` and a
// `tickers` after each trade, all after the book update they follow. Replay: the capture's frames
// re-served byte-exact, held until the first subscription, the venue's book following them (its
// own checksum is checked against every frame's at load); the 2022 capture predates seqId, so a
// resubscribe mid-replay gets a snapshot of the book at that point without one, like the
// capture's. Faults: a gap withholds an update (and the bbo-tbt / ticker after it) that the venue's
// book still applies; the checksum fault sends an update with its checksum corrupted.
#include "okx_venue.hpp"

#include <qf/feeds/capture.hpp>
#include <qf/feeds/okx/parser.hpp>
#include <qf/feeds/padded_buffer.hpp>

#include <simdjson.h>
#include <zlib.h>

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

constexpr std::size_t kDepth = 400;          // the `books` channel's levels a side
constexpr std::size_t kChecksumLevels = 25;  // the checksum covers the top 25 a side
constexpr std::int64_t kFirstSeqId = 3'000'000'000;

struct Book : SyntheticBook {
  bool has_seq = false; // synthetic books carry the chain; the 2022 capture does not
  std::int64_t seq = 0; // the last book message's seqId
  Bids held_bids;       // what the subscribers hold
  Asks held_asks;
  std::pair<std::int64_t, std::int64_t> ticked_bid{}, ticked_ask{}; // synthetic: the last bbo-tbt
  std::int64_t last_qty = 0;
};

// PROTOCOLS.md 6.2: bid1px:bid1sz:ask1px:ask1sz:bid2px:... over the top 25 (a side's missing
// levels skipped), CRC32, compared as a signed 32-bit int.
std::int32_t checksum(const Book& b) {
  std::string text;
  auto bid = b.bids.begin();
  auto ask = b.asks.begin();
  const auto put = [&](std::int64_t p, std::int64_t q) {
    if (!text.empty()) {
      text += ':';
    }
    text += trimmed_decimal(p, b.price_decimals);
    text += ':';
    text += trimmed_decimal(q, b.qty_decimals);
  };
  for (std::size_t i = 0; i < kChecksumLevels; ++i) {
    if (bid != b.bids.end()) {
      put(bid->first, bid->second);
      ++bid;
    }
    if (ask != b.asks.end()) {
      put(ask->first, ask->second);
      ++ask;
    }
  }
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(crc));
}

void put_levels(std::string& out, const Levels& levels, const Book& b) {
  for (std::size_t i = 0; i < levels.size(); ++i) {
    out += i > 0 ? ",[\"" : "[\"";
    out += trimmed_decimal(levels[i].first, b.price_decimals);
    out += "\",\"";
    out += trimmed_decimal(levels[i].second, b.qty_decimals);
    out += levels[i].second == 0 ? "\",\"0\",\"0\"]" : "\",\"0\",\"1\"]";
  }
}

std::string arg(std::string_view channel, const std::string& inst_id) {
  std::string out = "{\"channel\":\"";
  out += channel;
  out += "\",\"instId\":\"" + inst_id + "\"}";
  return out;
}

class OkxVenue final : public Venue {
public:
  explicit OkxVenue(const OkxOptions& o) : replay_(!o.replay_path.empty()), pacer_(o.speed, o.loop), rate_pacer_(o.rate), rng_(o.seed) {
    if (replay_) {
      load(o.replay_path);
      return;
    }
    for (const std::string& s : o.symbols) {
      Book b;
      static_cast<SyntheticBook&>(b) = seed_book(s, rng_);
      b.has_seq = true;
      b.seq = kFirstSeqId + static_cast<std::int64_t>(rng_() % 1'000'000);
      b.held_bids = b.bids;
      b.held_asks = b.asks;
      books_.emplace(s, std::move(b));
    }
  }

  std::string_view name() const override { return "okx"; }
  std::chrono::milliseconds ping_interval() const override { return 0ms; } // the text ping only
  std::chrono::milliseconds pong_timeout() const override { return 0ms; }
  std::chrono::milliseconds subscribe_deadline() const override { return 30s; } // PROTOCOLS.md 6.1
  bool is_snapshot_path(std::string_view) const override { return false; }

  bool on_open(Host&, Session&, std::string_view path, const Query&, std::string& reason) override {
    if (path != "/ws/v5/public" && path != "/") {
      reason = "Invalid path";
      return false;
    }
    return true;
  }

  void on_text(Host& host, Session& session, std::string_view text) override {
    if (text == "ping") {
      host.send(session, "pong");
      return;
    }
    simdjson::dom::element doc;
    std::string_view op;
    simdjson::dom::array args;
    if (parser_.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      host.count_client_error("invalid_json");
      host.send(session, error(session, "60012", "Invalid request: " + sanitized(text)));
      return;
    }
    if (doc["op"].get(op) != simdjson::SUCCESS || (op != "subscribe" && op != "unsubscribe")) {
      host.count_client_error("unknown_method");
      host.send(session, error(session, "60012", "Invalid request: " + sanitized(text)));
      return;
    }
    if (doc["args"].get(args) != simdjson::SUCCESS) {
      host.count_client_error("invalid_request");
      host.send(session, error(session, "60012", "Invalid request: " + sanitized(text)));
      return;
    }
    const bool subscribe = op == "subscribe";
    std::vector<std::string> initial; // after every ack of the request, as OKX answers
    for (simdjson::dom::element a : args) {
      std::string_view channel;
      std::string_view inst_id;
      if (a["channel"].get(channel) != simdjson::SUCCESS || a["instId"].get(inst_id) != simdjson::SUCCESS ||
          (channel != "books" && channel != "bbo-tbt" && channel != "trades" && channel != "tickers") ||
          books_.count(inst_id) == 0) {
        host.count_client_error("invalid_stream");
        host.send(session, error(session, "60018",
                                 "Wrong URL or channel:" + sanitized(channel) + ",instId:" + sanitized(inst_id) +
                                     " doesn't exist. Please use the correct URL, channel and parameters referring to API document."));
        continue;
      }
      const std::string key = std::string(channel) + ':' + std::string(inst_id);
      if (subscribe) {
        session.streams.insert(key);
        session.subscribed_once = true;
      } else {
        session.streams.erase(key);
      }
      Book& b = books_.find(inst_id)->second;
      host.send(session, "{\"event\":\"" + std::string(op) + "\",\"arg\":" + arg(channel, b.symbol) +
                             ",\"connId\":\"" + conn_id(session) + "\"}");
      if (!subscribe) {
        continue;
      }
      // A replay that has not started sends the capture's own snapshot first.
      if (channel == "books" && (!replay_ || pacer_.started())) {
        initial.push_back(book_message(b, "snapshot", top(b.held_bids, kDepth), top(b.held_asks, kDepth), -1, checksum(b)));
      } else if (channel == "bbo-tbt" && !replay_) {
        initial.push_back(bbo(b));
      } else if (channel == "tickers" && !replay_) {
        initial.push_back(ticker(b));
      }
    }
    for (std::string& m : initial) {
      host.send(session, std::move(m));
    }
    host.subscriptions_changed(session);
  }

  bool on_http(std::string_view, const Query&, HttpResponse&) override { return false; }

  std::string shutdown_message(const Session& session) const override {
    return R"({"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":")" +
           conn_id(session) + "\"}";
  }

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
    std::string key;
    std::string text;
    std::string inst_id; // books frames: the levels the venue's book applies
    bool snapshot = false;
    bool update = false;
    Levels bids, asks;
  };

  static std::string conn_id(const Session& session) {
    std::string out = "qf";
    append_uint(out, session.id);
    return out;
  }

  static std::string error(const Session& session, std::string_view code, const std::string& msg) {
    return "{\"event\":\"error\",\"code\":\"" + std::string(code) + "\",\"msg\":\"" + msg + "\",\"connId\":\"" +
           conn_id(session) + "\"}";
  }

  // prev_seq -1: a snapshot; without a chain (replay) neither seqId nor prevSeqId is written.
  static std::string book_message(const Book& b, std::string_view action, const Levels& bids, const Levels& asks,
                                  std::int64_t prev_seq, std::int32_t crc) {
    std::string out = "{\"arg\":" + arg("books", b.symbol) + ",\"action\":\"";
    out += action;
    out += "\",\"data\":[{\"asks\":[";
    put_levels(out, asks, b);
    out += "],\"bids\":[";
    put_levels(out, bids, b);
    out += "],\"ts\":\"" + unix_ms() + "\",\"checksum\":" + std::to_string(crc);
    if (b.has_seq) {
      out += ",\"prevSeqId\":" + std::to_string(prev_seq) + ",\"seqId\":" + std::to_string(b.seq);
    }
    out += "}]}";
    return out;
  }

  static std::string bbo(const Book& b) {
    std::string out = "{\"arg\":" + arg("bbo-tbt", b.symbol) + ",\"data\":[{\"asks\":[";
    put_levels(out, top(b.asks, 1), b);
    out += "],\"bids\":[";
    put_levels(out, top(b.bids, 1), b);
    out += "],\"ts\":\"" + unix_ms() + "\",\"seqId\":" + std::to_string(b.seq) + "}]}";
    return out;
  }

  static std::string ticker(const Book& b) {
    const auto field = [&](std::string_view name, std::int64_t v, int decimals) {
      return ",\"" + std::string(name) + "\":\"" + trimmed_decimal(v, decimals) + "\"";
    };
    std::string out = "{\"arg\":" + arg("tickers", b.symbol) + ",\"data\":[{\"instType\":\"SPOT\",\"instId\":\"" +
                      b.symbol + "\"";
    out += field("last", b.last_price, b.price_decimals) + field("lastSz", b.last_qty, b.qty_decimals);
    out += field("askPx", b.asks.begin()->first, b.price_decimals) + field("askSz", b.asks.begin()->second, b.qty_decimals);
    out += field("bidPx", b.bids.begin()->first, b.price_decimals) + field("bidSz", b.bids.begin()->second, b.qty_decimals);
    out += field("open24h", b.fair, b.price_decimals) + field("high24h", b.fair * 2, b.price_decimals) +
           field("low24h", b.fair / 2, b.price_decimals) + field("sodUtc0", b.fair, b.price_decimals) +
           field("sodUtc8", b.fair, b.price_decimals);
    out += ",\"volCcy24h\":\"1000000\",\"vol24h\":\"1000\",\"ts\":\"" + unix_ms() + "\"}]}";
    return out;
  }

  // The book changed: its update (none when nothing the subscribers hold changed), then a bbo-tbt
  // when the best levels moved. False when the update was withheld (gap): what follows it is
  // withheld too, so every bbo a client sees is of a book it could hold.
  bool publish_book(Host& host, Book& b) {
    const Levels bids = held_diff(b.held_bids, b.bids);
    const Levels asks = held_diff(b.held_asks, b.asks);
    if (bids.empty() && asks.empty()) {
      return true;
    }
    ++messages_;
    const std::int64_t prev = b.seq;
    b.seq += 1 + static_cast<std::int64_t>(messages_ % 3);
    if (host.take_gap()) {
      return false; // applied to the venue's book, never sent: a real gap
    }
    std::int32_t crc = checksum(b);
    if (host.take_checksum_fault()) {
      crc = static_cast<std::int32_t>(static_cast<std::uint32_t>(crc) ^ 0x5a5a5a5aU);
      crc = crc == 0 ? 1 : crc; // 0 would read as "not provided"
    }
    host.publish("books:" + b.symbol, {}, book_message(b, "update", bids, asks, prev, crc));
    const std::pair<std::int64_t, std::int64_t> bid = *b.bids.begin();
    const std::pair<std::int64_t, std::int64_t> ask = *b.asks.begin();
    if (bid != b.ticked_bid || ask != b.ticked_ask) {
      b.ticked_bid = bid;
      b.ticked_ask = ask;
      host.publish("bbo-tbt:" + b.symbol, {}, bbo(b));
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
      std::string out = "{\"arg\":" + arg("trades", b.symbol) + ",\"data\":[{\"instId\":\"" + b.symbol +
                        "\",\"tradeId\":\"";
      append_uint(out, t->trade_id);
      out += "\",\"px\":\"" + trimmed_decimal(t->price, b.price_decimals) + "\",\"sz\":\"" +
             trimmed_decimal(t->qty, b.qty_decimals) + "\",\"side\":\"";
      out += t->taker_buy ? "buy" : "sell";
      out += "\",\"ts\":\"" + unix_ms() + "\"}]}";
      host.publish("trades:" + b.symbol, {}, out);
      ++messages_;
      b.last_qty = t->qty;
    }
    if (publish_book(host, b) && t) {
      host.publish("tickers:" + b.symbol, {}, ticker(b));
      ++messages_;
    }
  }

  // Replay: frames by channel and instrument; books frames also parsed (okx::Parser at the
  // capture's decimals) so the venue's book follows them, and checked against their checksums.
  void load(const std::string& path) {
    okx::Parser op;
    core::InstrumentId next_id = 0;
    for (const okx::InstrumentDecimals& d : okx::infer_capture_decimals(path)) {
      Book b;
      b.symbol = d.inst_id;
      b.price_decimals = d.price_decimals;
      b.qty_decimals = d.qty_decimals;
      op.add_instrument(d.inst_id, next_id++, b.price_decimals, b.qty_decimals);
      books_.emplace(d.inst_id, std::move(b));
    }
    for_each_capture_message<okx::Message>(path, op, "an OKX v5", [&](const CaptureRecord& r, const okx::Message& m, const auto& where) {
      Frame f;
      f.recv_ns = r.recv_ns;
      f.text = std::string(r.text);
      f.key = std::string(m.channel) + ':' + std::string(m.inst_id);
      switch (m.kind) {
      case okx::MessageKind::book_snapshot:
      case okx::MessageKind::book_update:
        f.inst_id = std::string(m.inst_id);
        f.snapshot = m.kind == okx::MessageKind::book_snapshot;
        f.update = !f.snapshot;
        copy_levels(m.bids, f.bids);
        copy_levels(m.asks, f.asks);
        break;
      case okx::MessageKind::bbo:
      case okx::MessageKind::trade:
      case okx::MessageKind::ticker:
        break;
      default:
        return false; // event answers and pong: the venue writes its own
      }
      if (!f.inst_id.empty()) {
        Book& b = books_.at(f.inst_id);
        apply(f);
        if (m.has_checksum && checksum(b) != m.checksum) {
          throw std::runtime_error(where() + ": the venue's book does not reproduce the frame's checksum");
        }
      }
      frames_.push_back(std::move(f));
      return true;
    });
    for (auto& [s, b] : books_) {
      b.bids.clear();
      b.asks.clear();
      b.held_bids.clear();
      b.held_asks.clear();
    }
  }

  // A books frame on the venue's book (kept to the channel's 400 a side, as its clients keep it).
  void apply(const Frame& f) {
    Book& b = books_.at(f.inst_id);
    apply_levels(b, f.snapshot, f.bids, f.asks, kDepth);
    b.held_bids = b.bids;
    b.held_asks = b.asks;
  }

  bool send_frame(Host& host, const Frame& f) {
    if (!f.inst_id.empty()) {
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
  }

  // The frame with the last digit of its checksum changed (the capture writes it as
  // "checksum":<signed digits>; still a signed 32-bit value, never 0).
  static std::string corrupted(const std::string& text) {
    std::string out = text;
    const std::size_t at = out.find("\"checksum\":");
    if (at != std::string::npos) {
      const std::size_t last = out.find_first_not_of("-0123456789", at + 11) - 1;
      out[last] = out[last] == '9' ? '8' : static_cast<char>(out[last] + 1);
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
  std::uint64_t messages_ = 0;
};

} // namespace

std::unique_ptr<Venue> make_okx_venue(const OkxOptions& options) { return std::make_unique<OkxVenue>(options); }

} // namespace qf::feeds::venue
