// Binance spot / USD-M for qf-venue. Two market sources behind one protocol front:
//  - Synthetic: per symbol a fair price random walk and a maintained book (at most kMaxLevels a
//    side, so a snapshot with limit >= kMaxLevels is the whole book). Every book change is one
//    diff with its own id range, applied to the venue's book when it is published, so a REST
//    snapshot's lastUpdateId is always the u of the last diff applied. Spot ids run per symbol
//    (U = previous u + 1); USD-M ids are one sequence across symbols and chain by pu.
//  - Replay: the capture's frames re-served verbatim (combined) or their "data" (raw), paced by
//    the receive timestamps; held until the first subscription so a client that connects at the
//    start sees every diff. Each symbol's depth endpoint serves the capture's snapshot verbatim.
#include "binance_venue.hpp"
#include "replay_pacer.hpp"
#include "venue_text.hpp"

#include <qf/feeds/capture.hpp>
#include <qf/ipc/fixed_point.hpp>

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace qf::feeds::venue {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxLevels = 200; // per side in the synthetic book

[[nodiscard]] std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

[[nodiscard]] std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

[[nodiscard]] std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// The stream kinds each flavour accepts after "<symbol>@".
[[nodiscard]] bool is_depth_kind(std::string_view kind, bool usdm) {
  if (kind == "depth" || kind == "depth@100ms") {
    return true;
  }
  return usdm ? (kind == "depth@0ms" || kind == "depth@250ms" || kind == "depth@500ms") : kind == "depth@1000ms";
}

[[nodiscard]] bool is_known_kind(std::string_view kind, bool usdm) {
  return kind == "bookTicker" || kind == "trade" || kind == "aggTrade" || is_depth_kind(kind, usdm);
}

[[nodiscard]] std::vector<std::string_view> depth_kinds(bool usdm) {
  if (usdm) {
    return {"depth", "depth@0ms", "depth@100ms", "depth@250ms", "depth@500ms"};
  }
  return {"depth", "depth@100ms", "depth@1000ms"};
}

struct DepthLimit {
  std::size_t limit = 0;
  int error_code = 0;
  std::string error_msg;
};

// ---------------------------------------------------------------------------------------------
// Market sources

class Source {
public:
  virtual ~Source() = default;
  [[nodiscard]] virtual bool known_symbol(std::string_view upper_symbol) const = 0;
  [[nodiscard]] virtual bool known_stream(std::string_view stream) const = 0;
  // A replay serves exactly the capture's streams (klines included); synthetic ones are checked by kind.
  [[nodiscard]] virtual bool is_replay() const = 0;
  // The depth snapshot body for a known symbol.
  [[nodiscard]] virtual std::string snapshot(std::string_view upper_symbol, std::size_t limit) const = 0;
  [[nodiscard]] virtual std::int64_t pump(Host& host, std::uint64_t now_ns) = 0;
  [[nodiscard]] virtual std::string stats_members() const = 0;
};

class SyntheticSource final : public Source {
public:
  SyntheticSource(const BinanceOptions& o) : usdm_(o.usdm), rate_(o.rate), rng_(o.seed) {
    price_scale_ = usdm_ ? 1 : 1'000'000; // ticks (0.01) -> printed decimals (2 or 8)
    price_decimals_ = usdm_ ? 2 : 8;
    qty_decimals_ = usdm_ ? 3 : 8;
    for (const std::string& s : o.symbols) {
      Book b;
      b.symbol = upper(s);
      b.stream_prefix = lower(s);
      b.stream_prefix += '@';
      b.fair = b.symbol == "BTCUSDT" ? 6'000'000 : b.symbol == "ETHUSDT" ? 250'000 : b.symbol == "SOLUSDT" ? 15'000 : 10'000;
      b.trade_id = 1'000'000 + (rng_() % 1'000'000);
      b.agg_id = b.trade_id / 2;
      if (!usdm_) {
        b.next_id = 10'000'000 + (rng_() % 10'000'000);
      }
      books_.push_back(std::move(b));
    }
    if (usdm_) {
      global_next_id_ = 5'000'000'000 + (rng_() % 1'000'000'000);
    }
    for (Book& b : books_) { // seed each book with one (unpublished) diff
      Changes c;
      for (std::int64_t i = 0; i < 60; ++i) {
        c.bids[b.fair - 1 - i * static_cast<std::int64_t>(1 + rng_() % 3)] = random_qty();
        c.asks[b.fair + i * static_cast<std::int64_t>(1 + rng_() % 3)] = random_qty();
      }
      apply(b, c);
    }
  }

  bool known_symbol(std::string_view s) const override { return find(s) != nullptr; }
  bool known_stream(std::string_view) const override { return true; } // syntax checked by the venue
  bool is_replay() const override { return false; }

  std::string snapshot(std::string_view symbol, std::size_t limit) const override {
    const Book* b = find(symbol);
    std::string out = "{\"lastUpdateId\":";
    append_uint(out, b->last_u);
    if (usdm_) {
      const std::uint64_t now = wall_ms();
      out += ",\"E\":";
      append_uint(out, now);
      out += ",\"T\":";
      append_uint(out, now);
    }
    out += ",\"bids\":[";
    append_levels(out, b->bids, limit);
    out += "],\"asks\":[";
    append_levels(out, b->asks, limit);
    out += "]}";
    return out;
  }

  std::int64_t pump(Host& host, std::uint64_t now_ns) override {
    if (rate_ <= 0) { // as fast as possible, and only for listeners (no idle spinning)
      if (!host.has_sessions()) {
        return -1;
      }
      for (int i = 0; i < 64; ++i) {
        step(host);
      }
      return 0;
    }
    if (start_ns_ == 0) {
      start_ns_ = now_ns;
    }
    const double elapsed_s = static_cast<double>(now_ns - start_ns_) / 1e9;
    const auto due = static_cast<std::uint64_t>(elapsed_s * rate_) + 1;
    for (int guard = 0; messages_ < due && guard < 4096; ++guard) {
      step(host);
    }
    const double next_s = static_cast<double>(messages_) / rate_;
    const auto next_ns = start_ns_ + static_cast<std::uint64_t>(next_s * 1e9);
    return next_ns > now_ns ? static_cast<std::int64_t>(next_ns - now_ns) : 0;
  }

  std::string stats_members() const override {
    std::string out = "\"source\":\"synthetic\",\"generated\":";
    append_uint(out, messages_);
    out += ",\"last_update_id\":{";
    bool first = true;
    for (const Book& b : books_) {
      if (!first) {
        out += ',';
      }
      first = false;
      out += '"';
      out += b.symbol;
      out += "\":";
      append_uint(out, b.last_u);
    }
    out += '}';
    return out;
  }

private:
  struct Book {
    std::string symbol;
    std::string stream_prefix; // "btcusdt@"
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;
    std::int64_t fair = 0; // ticks; bids < fair <= asks
    std::uint64_t next_id = 0; // spot only
    std::uint64_t last_u = 0;
    std::uint64_t trade_id = 0;
    std::uint64_t agg_id = 0;
  };
  struct Changes {
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;
    [[nodiscard]] std::size_t size() const { return bids.size() + asks.size(); }
  };

  [[nodiscard]] const Book* find(std::string_view symbol) const {
    for (const Book& b : books_) {
      if (b.symbol == symbol) {
        return &b;
      }
    }
    return nullptr;
  }

  [[nodiscard]] std::int64_t random_qty() {
    return usdm_ ? static_cast<std::int64_t>(1 + rng_() % 5000) : static_cast<std::int64_t>(100'000 + rng_() % 500'000'000);
  }

  template <class Map>
  void append_levels(std::string& out, const Map& side, std::size_t limit) const {
    std::size_t n = 0;
    for (const auto& [price, qty] : side) {
      if (n == limit) {
        break;
      }
      if (n++ > 0) {
        out += ',';
      }
      append_level(out, price, qty);
    }
  }

  void append_level(std::string& out, std::int64_t price, std::int64_t qty) const {
    out += "[\"";
    append_fixed(out, price * price_scale_, price_decimals_);
    out += "\",\"";
    append_fixed(out, qty, qty_decimals_);
    out += "\"]";
  }

  // Applies one diff to the book and assigns its ids: returns {U, u, pu}.
  struct Ids {
    std::uint64_t first, last, prev;
  };
  Ids apply(Book& b, const Changes& c) {
    const auto count = static_cast<std::uint64_t>(std::max<std::size_t>(c.size(), 1));
    std::uint64_t& next = usdm_ ? global_next_id_ : b.next_id;
    const Ids ids{next, next + count - 1, b.last_u};
    next += count;
    b.last_u = ids.last;
    for (const auto& [p, q] : c.bids) {
      if (q == 0) {
        b.bids.erase(p);
      } else {
        b.bids[p] = q;
      }
    }
    for (const auto& [p, q] : c.asks) {
      if (q == 0) {
        b.asks.erase(p);
      } else {
        b.asks[p] = q;
      }
    }
    return ids;
  }

  void publish_all(Host& host, const Book& b, std::string_view kind, const std::string& raw) {
    std::string key = b.stream_prefix;
    key += kind;
    host.publish(key, {}, raw);
  }

  void emit_diff(Host& host, Book& b, const Changes& c, std::uint64_t now) {
    const Ids ids = apply(b, c);
    ++messages_;
    if (host.take_gap()) { // applied to the venue's book, never sent: a real gap
      return;
    }
    std::string raw = "{\"e\":\"depthUpdate\",\"E\":";
    append_uint(raw, now);
    if (usdm_) {
      raw += ",\"T\":";
      append_uint(raw, now);
    }
    raw += ",\"s\":\"";
    raw += b.symbol;
    raw += "\",\"U\":";
    append_uint(raw, ids.first);
    raw += ",\"u\":";
    append_uint(raw, ids.last);
    if (usdm_) {
      raw += ",\"pu\":";
      append_uint(raw, ids.prev);
    }
    raw += ",\"b\":[";
    bool first = true;
    for (const auto& [p, q] : c.bids) {
      if (!std::exchange(first, false)) {
        raw += ',';
      }
      append_level(raw, p, q);
    }
    raw += "],\"a\":[";
    first = true;
    for (const auto& [p, q] : c.asks) {
      if (!std::exchange(first, false)) {
        raw += ',';
      }
      append_level(raw, p, q);
    }
    raw += "]}";
    for (const std::string_view kind : depth_kinds(usdm_)) {
      publish_all(host, b, kind, raw);
    }
  }

  void step(Host& host) {
    Book& b = books_[rng_() % books_.size()];
    const auto top = [&] {
      return std::tuple{b.bids.empty() ? 0 : b.bids.begin()->first, b.bids.empty() ? 0 : b.bids.begin()->second,
                        b.asks.empty() ? 0 : b.asks.begin()->first, b.asks.empty() ? 0 : b.asks.begin()->second};
    };
    const auto before = top();
    const std::uint64_t now = wall_ms();
    Changes c;
    if (rng_() % 4 == 0 && !b.bids.empty() && !b.asks.empty()) {
      trade(host, b, c, now);
    } else {
      random_changes(b, c);
    }
    emit_diff(host, b, c, now);
    // The book stays within kMaxLevels a side, so a snapshot with a larger limit is all of it;
    // the farthest levels go in a diff of their own, like any other change.
    Changes trim;
    for (auto it = b.bids.rbegin(); b.bids.size() - trim.bids.size() > kMaxLevels; ++it) {
      trim.bids[it->first] = 0;
    }
    for (auto it = b.asks.rbegin(); b.asks.size() - trim.asks.size() > kMaxLevels; ++it) {
      trim.asks[it->first] = 0;
    }
    if (trim.size() > 0) {
      emit_diff(host, b, trim, now);
    }
    if (top() != before && !b.bids.empty() && !b.asks.empty()) {
      std::string raw;
      if (usdm_) {
        raw = "{\"e\":\"bookTicker\",\"u\":";
      } else {
        raw = "{\"u\":";
      }
      append_uint(raw, b.last_u);
      raw += ",\"s\":\"";
      raw += b.symbol;
      raw += "\",\"b\":\"";
      append_fixed(raw, b.bids.begin()->first * price_scale_, price_decimals_);
      raw += "\",\"B\":\"";
      append_fixed(raw, b.bids.begin()->second, qty_decimals_);
      raw += "\",\"a\":\"";
      append_fixed(raw, b.asks.begin()->first * price_scale_, price_decimals_);
      raw += "\",\"A\":\"";
      append_fixed(raw, b.asks.begin()->second, qty_decimals_);
      raw += '"';
      if (usdm_) {
        raw += ",\"T\":";
        append_uint(raw, now);
        raw += ",\"E\":";
        append_uint(raw, now);
      }
      raw += '}';
      publish_all(host, b, "bookTicker", raw);
      ++messages_;
    }
  }

  void trade(Host& host, Book& b, Changes& c, std::uint64_t now) {
    const bool taker_sells = (rng_() & 1U) != 0; // m: the buyer is the maker
    const std::int64_t price = taker_sells ? b.bids.begin()->first : b.asks.begin()->first;
    const std::int64_t level = taker_sells ? b.bids.begin()->second : b.asks.begin()->second;
    const std::int64_t qty = std::min(level, 1 + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(level)));
    if (taker_sells) {
      c.bids[price] = level - qty;
    } else {
      c.asks[price] = level - qty;
    }
    const std::uint64_t tid = ++b.trade_id;
    const std::uint64_t aid = ++b.agg_id;
    std::string px;
    append_fixed(px, price * price_scale_, price_decimals_);
    std::string q;
    append_fixed(q, qty, qty_decimals_);
    const char* m = taker_sells ? "true" : "false";
    std::string raw = "{\"e\":\"trade\",\"E\":";
    append_uint(raw, now);
    if (usdm_) {
      raw += ",\"T\":";
      append_uint(raw, now);
    }
    raw += ",\"s\":\"";
    raw += b.symbol;
    raw += "\",\"t\":";
    append_uint(raw, tid);
    raw += ",\"p\":\"" + px + "\",\"q\":\"" + q + '"';
    if (usdm_) {
      raw += ",\"X\":\"MARKET\",\"m\":";
      raw += m;
      raw += '}';
    } else {
      raw += ",\"T\":";
      append_uint(raw, now);
      raw += ",\"m\":";
      raw += m;
      raw += ",\"M\":true}";
    }
    publish_all(host, b, "trade", raw);
    std::string agg = "{\"e\":\"aggTrade\",\"E\":";
    append_uint(agg, now);
    agg += ",\"s\":\"";
    agg += b.symbol;
    agg += "\",\"a\":";
    append_uint(agg, aid);
    agg += ",\"p\":\"" + px + "\",\"q\":\"" + q + "\",\"f\":";
    append_uint(agg, tid);
    agg += ",\"l\":";
    append_uint(agg, tid);
    agg += ",\"T\":";
    append_uint(agg, now);
    agg += ",\"m\":";
    agg += m;
    agg += usdm_ ? "}" : ",\"M\":true}";
    publish_all(host, b, "aggTrade", agg);
    ++messages_;
  }

  void random_changes(Book& b, Changes& c) {
    if (rng_() % 3 == 0) { // the fair price walks a tick; levels on the wrong side go
      b.fair = std::max<std::int64_t>(b.fair + ((rng_() & 1U) != 0 ? 1 : -1), 200);
      for (const auto& [p, q] : b.bids) {
        if (p < b.fair) {
          break;
        }
        c.bids[p] = 0;
      }
      for (const auto& [p, q] : b.asks) {
        if (p >= b.fair) {
          break;
        }
        c.asks[p] = 0;
      }
    }
    std::geometric_distribution<std::int64_t> offset_dist(0.15);
    const int n = 1 + static_cast<int>(rng_() % 4);
    for (int i = 0; i < n; ++i) {
      const std::int64_t offset = std::min<std::int64_t>(offset_dist(rng_), 150);
      const bool bid = (rng_() & 1U) != 0;
      const std::int64_t price = bid ? b.fair - 1 - offset : b.fair + offset;
      const bool exists = bid ? b.bids.count(price) != 0 : b.asks.count(price) != 0;
      const std::int64_t qty = exists && rng_() % 3 == 0 ? 0 : random_qty();
      if (bid) {
        c.bids[price] = qty;
      } else {
        c.asks[price] = qty;
      }
    }
    // Never leave a side empty at the touch.
    if (b.bids.size() <= c.bids.size()) {
      c.bids[b.fair - 1] = random_qty();
    }
    if (b.asks.size() <= c.asks.size()) {
      c.asks[b.fair] = random_qty();
    }
  }

private:
  bool usdm_;
  double rate_;
  std::mt19937_64 rng_;
  std::int64_t price_scale_ = 1;
  int price_decimals_ = 2;
  int qty_decimals_ = 8;
  std::vector<Book> books_;
  std::uint64_t global_next_id_ = 0;
  std::uint64_t start_ns_ = 0;
  std::uint64_t messages_ = 0;
};

class ReplaySource final : public Source {
public:
  ReplaySource(const BinanceOptions& o) : pacer_(o.speed, o.loop) {
    CaptureReader reader(o.replay_path);
    CaptureRecord r;
    std::set<std::string, std::less<>> depth_symbols;
    std::vector<std::string> inline_snapshots;
    while (reader.next(r)) {
      if (r.kind == CaptureRecord::Kind::ws_frame) {
        Frame f;
        f.recv_ns = r.recv_ns;
        f.text.assign(r.text);
        // {"stream":"<key>","data":<raw>}
        constexpr std::string_view kPrefix = "{\"stream\":\"";
        const std::string_view t = f.text;
        const std::size_t key_end = t.find('"', kPrefix.size());
        const std::size_t data = t.find(",\"data\":", key_end);
        if (!t.starts_with(kPrefix) || key_end == std::string_view::npos || data != key_end + 1 || t.back() != '}') {
          std::string msg = reader.path();
          msg += ':';
          msg += std::to_string(r.line);
          msg += ": not a combined-stream frame";
          throw std::runtime_error(msg);
        }
        f.key.assign(t.substr(kPrefix.size(), key_end - kPrefix.size()));
        f.raw_begin = data + 8;
        f.raw_len = t.size() - 1 - f.raw_begin;
        const std::size_t at = f.key.find('@');
        const std::string kind = at == std::string::npos ? "" : f.key.substr(at + 1);
        f.is_diff = kind.starts_with("depth") && t.find("\"e\":\"depthUpdate\"") != std::string_view::npos;
        if (at != std::string::npos) {
          symbols_.insert(upper(f.key.substr(0, at)));
          if (f.is_diff) {
            depth_symbols.insert(upper(f.key.substr(0, at)));
          }
        }
        streams_.insert(f.key);
        frames_.push_back(std::move(f));
      } else if (r.kind == CaptureRecord::Kind::rest_response) {
        if (r.url.empty()) {
          inline_snapshots.emplace_back(r.text);
        } else {
          const std::size_t pos = r.url.find("symbol=");
          if (pos == std::string_view::npos) {
            continue;
          }
          std::string_view sym = r.url.substr(pos + 7);
          sym = sym.substr(0, sym.find('&'));
          snapshots_[upper(sym)] = std::string(r.text);
        }
      }
    }
    if (!inline_snapshots.empty()) {
      if (depth_symbols.size() != 1) {
        std::string msg = reader.path();
        msg += ": an inline REST snapshot needs exactly one depth-subscribed symbol";
        throw std::runtime_error(msg);
      }
      snapshots_[*depth_symbols.begin()] = inline_snapshots.back();
    }
    if (frames_.empty()) {
      std::string msg = reader.path();
      msg += ": no frames to replay";
      throw std::runtime_error(msg);
    }
  }

  bool known_symbol(std::string_view s) const override { return symbols_.count(s) != 0 || snapshots_.count(s) != 0; }
  bool known_stream(std::string_view stream) const override { return streams_.count(stream) != 0; }
  bool is_replay() const override { return true; }

  std::string snapshot(std::string_view symbol, std::size_t) const override {
    const auto it = snapshots_.find(symbol);
    return it == snapshots_.end() ? std::string{} : it->second;
  }

  std::int64_t pump(Host& host, std::uint64_t now_ns) override {
    return pacer_.pump(
        host, now_ns, frames_.size(), [&](std::size_t i) { return frames_[i].recv_ns; },
        [&](std::size_t i) {
          const Frame& f = frames_[i];
          if (f.is_diff && host.take_gap()) {
            return false;
          }
          host.publish(f.key, f.text, std::string_view(f.text).substr(f.raw_begin, f.raw_len));
          return true;
        });
  }

  std::string stats_members() const override {
    std::string out = "\"source\":\"replay\",";
    pacer_.append_stats(out, frames_.size());
    return out;
  }

private:
  struct Frame {
    std::uint64_t recv_ns = 0;
    std::string key;
    std::string text;
    std::size_t raw_begin = 0;
    std::size_t raw_len = 0;
    bool is_diff = false;
  };
  ReplayPacer pacer_;
  std::vector<Frame> frames_;
  std::set<std::string, std::less<>> symbols_;
  std::set<std::string, std::less<>> streams_;
  std::map<std::string, std::string, std::less<>> snapshots_;
};

// ---------------------------------------------------------------------------------------------
// The protocol front

class BinanceVenue final : public Venue {
public:
  BinanceVenue(const BinanceOptions& o, std::unique_ptr<Source> source)
      : usdm_(o.usdm), source_(std::move(source)),
        ping_interval_(o.ping_interval.value_or(usdm_ ? std::chrono::milliseconds(180s) : std::chrono::milliseconds(20s))),
        pong_timeout_(o.pong_timeout.value_or(usdm_ ? std::chrono::milliseconds(600s) : std::chrono::milliseconds(60s))) {}

  std::string_view name() const override { return usdm_ ? "binance-usdm" : "binance-spot"; }
  std::chrono::milliseconds ping_interval() const override { return ping_interval_; }
  std::chrono::milliseconds pong_timeout() const override { return pong_timeout_; }
  bool is_snapshot_path(std::string_view path) const override { return path == depth_path(); }

  bool on_open(Host&, Session& session, std::string_view path, const Query& query, std::string& reason) override {
    std::vector<std::string_view> streams;
    if (path == "/stream" || path == "/stream/") {
      session.combined = true;
      if (const std::string* s = find_arg(query, "streams")) {
        split(*s, streams);
      }
    } else if (path == "/ws" || path == "/ws/") {
      session.combined = false;
    } else if (path.starts_with("/ws/")) {
      session.combined = false;
      split(path.substr(4), streams);
    } else {
      reason = "Invalid path";
      return false;
    }
    for (const std::string_view s : streams) {
      if (!valid_stream(s)) {
        reason = "Invalid stream name: ";
        reason += s.substr(0, 80);
        return false;
      }
      session.streams.emplace(s);
    }
    return true;
  }

  void on_text(Host& host, Session& session, std::string_view text) override {
    simdjson::dom::element doc;
    if (parser_.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) {
      host.count_client_error("invalid_json");
      host.send(session, error_reply(3, "Invalid JSON: expected value at line 1 column 1", "null"));
      return;
    }
    simdjson::dom::object obj;
    if (doc.get(obj) != simdjson::SUCCESS) {
      host.count_client_error("invalid_request");
      host.send(session, error_reply(2, "Invalid request: expected an object", "null"));
      return;
    }
    std::string id = "null";
    simdjson::dom::element id_el;
    if (obj["id"].get(id_el) == simdjson::SUCCESS) {
      if (id_el.is_int64() || id_el.is_uint64() || id_el.is_null() ||
          (id_el.is_string() && id_el.get_string().value().size() <= 36)) {
        id = simdjson::minify(id_el);
      } else {
        host.count_client_error("invalid_request");
        host.send(session, error_reply(1, "Invalid value type: request id must be an integer, a string or null", "null"));
        return;
      }
    }
    std::string_view method;
    if (obj["method"].get(method) != simdjson::SUCCESS) {
      host.count_client_error("invalid_request");
      host.send(session, error_reply(2, "Invalid request: missing field `method`", id));
      return;
    }
    if (method == "SUBSCRIBE" || method == "UNSUBSCRIBE") {
      simdjson::dom::array params;
      if (obj["params"].get(params) != simdjson::SUCCESS) {
        host.count_client_error("invalid_request");
        host.send(session, error_reply(2, "Invalid request: missing field `params`", id));
        return;
      }
      std::vector<std::string_view> streams;
      for (simdjson::dom::element p : params) {
        std::string_view s;
        if (p.get(s) != simdjson::SUCCESS) {
          host.count_client_error("invalid_request");
          host.send(session, error_reply(1, "Invalid value type: expected a string", id));
          return;
        }
        if (!valid_stream(s)) {
          host.count_client_error("invalid_stream");
          std::string msg = "Invalid request: invalid stream name `";
          append_escaped(msg, s.substr(0, 80));
          msg += '`';
          host.send(session, error_reply(2, msg, id));
          return;
        }
        streams.push_back(s);
      }
      if (streams.size() + session.streams.size() > 1024 && method == "SUBSCRIBE") {
        host.count_client_error("too_many_streams");
        host.send(session, error_reply(2, "Invalid request: too many streams (max 1024)", id));
        return;
      }
      for (const std::string_view s : streams) {
        if (method == "SUBSCRIBE") {
          session.streams.emplace(s);
        } else if (const auto it = session.streams.find(s); it != session.streams.end()) {
          session.streams.erase(it);
        }
      }
      host.subscriptions_changed(session);
      std::string reply = "{\"result\":null,\"id\":";
      reply += id;
      reply += '}';
      host.send(session, std::move(reply));
    } else if (method == "LIST_SUBSCRIPTIONS") {
      std::string reply = "{\"result\":[";
      bool first = true;
      for (const std::string& s : session.streams) {
        if (!std::exchange(first, false)) {
          reply += ',';
        }
        reply += '"';
        reply += s;
        reply += '"';
      }
      reply += "],\"id\":";
      reply += id;
      reply += '}';
      host.send(session, std::move(reply));
    } else if (method == "SET_PROPERTY" || method == "GET_PROPERTY") {
      simdjson::dom::array params;
      std::string_view prop;
      if (obj["params"].get(params) != simdjson::SUCCESS || params.size() == 0 || params.at(0).get(prop) != simdjson::SUCCESS ||
          prop != "combined") {
        host.count_client_error("invalid_request");
        host.send(session, error_reply(2, "Invalid request: unknown property", id));
        return;
      }
      std::string reply = "{\"result\":";
      if (method == "SET_PROPERTY") {
        bool value = false;
        if (params.size() != 2 || params.at(1).get(value) != simdjson::SUCCESS) {
          host.count_client_error("invalid_request");
          host.send(session, error_reply(1, "Invalid value type: expected a boolean", id));
          return;
        }
        session.combined = value;
        reply += "null";
      } else {
        reply += session.combined ? "true" : "false";
      }
      reply += ",\"id\":";
      reply += id;
      reply += '}';
      host.send(session, std::move(reply));
    } else {
      host.count_client_error("unknown_method");
      std::string msg = "Invalid request: unknown variant `";
      append_escaped(msg, method.substr(0, 40));
      msg += "`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`";
      host.send(session, error_reply(2, msg, id));
    }
  }

  bool on_http(std::string_view path, const Query& query, HttpResponse& out) override {
    const std::string_view api = usdm_ ? "/fapi/v1/" : "/api/v3/";
    if (path == depth_path()) {
      const std::string* symbol = find_arg(query, "symbol");
      if (symbol == nullptr || symbol->empty()) {
        out.status = 400;
        out.body = R"({"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/malformed."})";
        return true;
      }
      if (!source_->known_symbol(*symbol)) {
        out.status = 400;
        out.body = R"({"code":-1121,"msg":"Invalid symbol."})";
        return true;
      }
      std::size_t limit = usdm_ ? 500 : 100;
      if (const std::string* l = find_arg(query, "limit")) {
        std::size_t v = 0;
        const auto r = std::from_chars(l->data(), l->data() + l->size(), v);
        if (r.ec != std::errc{} || r.ptr != l->data() + l->size() || v == 0) {
          out.status = 400;
          out.body = R"({"code":-1100,"msg":"Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."})";
          return true;
        }
        limit = std::min<std::size_t>(v, usdm_ ? 1000 : 5000);
      }
      out.body = source_->snapshot(*symbol, limit);
      return true;
    }
    if (path.size() > api.size() && path.starts_with(api)) {
      const std::string_view rest = path.substr(api.size());
      if (rest == "ping") {
        out.body = "{}";
        return true;
      }
      if (rest == "time") {
        out.body = "{\"serverTime\":";
        append_uint(out.body, wall_ms());
        out.body += '}';
        return true;
      }
    }
    return false;
  }

  std::string shutdown_message(const Session& session) const override {
    std::string raw = "{\"e\":\"serverShutdown\",\"E\":";
    append_uint(raw, wall_ms());
    raw += '}';
    if (!session.combined) {
      return raw;
    }
    std::string out = "{\"stream\":\"!serverShutdown\",\"data\":";
    out += raw;
    out += '}';
    return out;
  }

  std::int64_t pump(Host& host, std::uint64_t now_ns) override { return source_->pump(host, now_ns); }
  std::string stats_members() const override { return source_->stats_members(); }

private:
  [[nodiscard]] std::string_view depth_path() const { return usdm_ ? "/fapi/v1/depth" : "/api/v3/depth"; }

  static void split(std::string_view s, std::vector<std::string_view>& out) {
    while (!s.empty()) {
      const std::size_t slash = s.find('/');
      if (slash != 0) {
        out.push_back(s.substr(0, slash));
      }
      if (slash == std::string_view::npos) {
        break;
      }
      s.remove_prefix(slash + 1);
    }
  }

  [[nodiscard]] bool valid_stream(std::string_view s) const {
    if (source_->known_stream(s) && s.find('@') != std::string_view::npos && s.find('"') == std::string_view::npos &&
        s.find('\\') == std::string_view::npos) {
      const std::size_t at = s.find('@');
      const std::string_view sym = s.substr(0, at);
      if (sym.empty() || lower(sym) != sym) {
        return false;
      }
      if (source_->is_replay()) {
        return true;
      }
      return source_->known_symbol(upper(sym)) && is_known_kind(s.substr(at + 1), usdm_);
    }
    return false;
  }

  static void append_escaped(std::string& out, std::string_view s) {
    for (const char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out += '?';
      } else {
        out += c;
      }
    }
  }

  [[nodiscard]] static std::string error_reply(int code, std::string_view msg, std::string_view id) {
    std::string out = "{\"error\":{\"code\":";
    out += std::to_string(code);
    out += ",\"msg\":\"";
    out += msg; // callers escape anything a client wrote
    out += "\"},\"id\":";
    out += id;
    out += '}';
    return out;
  }

  bool usdm_;
  std::unique_ptr<Source> source_;
  std::chrono::milliseconds ping_interval_;
  std::chrono::milliseconds pong_timeout_;
  simdjson::dom::parser parser_;
};

} // namespace

std::unique_ptr<Venue> make_binance_venue(const BinanceOptions& options) {
  std::unique_ptr<Source> source;
  if (options.replay_path.empty()) {
    source = std::make_unique<SyntheticSource>(options);
  } else {
    source = std::make_unique<ReplaySource>(options);
  }
  return std::make_unique<BinanceVenue>(options, std::move(source));
}

} // namespace qf::feeds::venue
