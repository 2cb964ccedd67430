// Coinbase Exchange ws-feed for qf-venue (PROTOCOLS.md 3.1). Subscription keys are
// "<channel>:<product>" with level2 and level2_batch both on "level2:<product>". Synthetic: per
// product a random-walk book; a subscription to level2 gets that book as a `snapshot` at once
// (then every `l2update`), matches get `last_match`, ticker the current ticker, heartbeat one
// message a second per product with the product's sequence and last trade id. Replay: the
// capture's frames re-served to the matching subscribers, held until the first subscription.
#include "coinbase_venue.hpp"
#include "replay_pacer.hpp"
#include "synthetic_book.hpp"
#include "venue_text.hpp"

#include <qf/feeds/capture.hpp>
#include <qf/ipc/fixed_point.hpp>

#include <simdjson.h>

#include <chrono>
#include <charconv>
#include <ctime>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

namespace qf::feeds::venue {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxLevels = 200;
constexpr std::uint64_t kHeartbeatNs = 1'000'000'000;

[[nodiscard]] std::string channel_key(std::string_view channel) {
  return channel == "level2_batch" ? std::string("level2") : std::string(channel);
}

class CoinbaseVenue final : public Venue {
public:
  explicit CoinbaseVenue(const CoinbaseOptions& o) : replay_(!o.replay_path.empty()), pacer_(o.speed, o.loop), rate_pacer_(o.rate), rng_(o.seed) {
    if (replay_) {
      load(o.replay_path);
    } else {
      for (const std::string& p : o.symbols) {
        Product pr;
        pr.id = p;
        pr.fair = p.starts_with("BTC") ? 6'000'000 : p.starts_with("ETH") ? 250'000 : p.starts_with("SOL") ? 15'000 : 10'000;
        pr.sequence = 100'000'000 + rng_() % 100'000'000;
        pr.trade_id = 1'000'000 + rng_() % 1'000'000;
        for (std::int64_t i = 0; i < 60; ++i) {
          pr.bids[pr.fair - 1 - i * static_cast<std::int64_t>(1 + rng_() % 3)] = random_size();
          pr.asks[pr.fair + i * static_cast<std::int64_t>(1 + rng_() % 3)] = random_size();
        }
        pr.last_price = pr.fair;
        products_.emplace(p, std::move(pr));
      }
    }
  }

  std::string_view name() const override { return "coinbase"; }
  std::chrono::milliseconds ping_interval() const override { return 0ms; }
  std::chrono::milliseconds pong_timeout() const override { return 0ms; }
  std::chrono::milliseconds subscribe_deadline() const override { return 5000ms; }
  bool is_snapshot_path(std::string_view path) const override { return path.starts_with("/products/") && path.ends_with("/book"); }

  bool on_open(Host&, Session&, std::string_view path, const Query&, std::string& reason) override {
    if (path != "/") {
      reason = "Invalid path";
      return false;
    }
    return true;
  }

  void on_text(Host& host, Session& session, std::string_view text) override {
    simdjson::dom::element doc;
    if (parser_.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      host.count_client_error("invalid_json");
      host.send(session, error("Malformed JSON", "expected a JSON object"));
      return;
    }
    std::string_view type;
    if (doc["type"].get(type) != simdjson::SUCCESS || (type != "subscribe" && type != "unsubscribe")) {
      host.count_client_error("unknown_method");
      host.send(session, error("Failed to subscribe", "type must be subscribe or unsubscribe"));
      return;
    }
    std::vector<std::string> default_products;
    simdjson::dom::array ids;
    if (doc["product_ids"].get(ids) == simdjson::SUCCESS) {
      for (simdjson::dom::element e : ids) {
        std::string_view id;
        if (e.get(id) != simdjson::SUCCESS || !known(id)) {
          host.count_client_error("invalid_stream");
          std::string reason(id.substr(0, 40));
          reason += " is not a valid product";
          host.send(session, error("Failed to subscribe", reason));
          return;
        }
        default_products.emplace_back(id);
      }
    }
    simdjson::dom::array channels;
    if (doc["channels"].get(channels) != simdjson::SUCCESS) {
      host.count_client_error("invalid_request");
      host.send(session, error("Failed to subscribe", "channels must be an array"));
      return;
    }
    std::vector<std::pair<std::string, std::string>> keys; // channel, product
    for (simdjson::dom::element ch : channels) {
      std::string_view name;
      std::vector<std::string> products = default_products;
      if (ch.is_object()) {
        simdjson::dom::array own;
        if (ch["name"].get(name) != simdjson::SUCCESS) {
          host.count_client_error("invalid_request");
          host.send(session, error("Failed to subscribe", "channel object without a name"));
          return;
        }
        if (ch["product_ids"].get(own) == simdjson::SUCCESS) {
          products.clear();
          for (simdjson::dom::element e : own) {
            std::string_view id;
            if (e.get(id) != simdjson::SUCCESS || !known(id)) {
              host.count_client_error("invalid_stream");
              host.send(session, error("Failed to subscribe", "a product is not valid"));
              return;
            }
            products.emplace_back(id);
          }
        }
      } else if (ch.get(name) != simdjson::SUCCESS) {
        host.count_client_error("invalid_request");
        host.send(session, error("Failed to subscribe", "a channel must be a name or an object"));
        return;
      }
      if (name == "full" || name == "level3") {
        host.count_client_error("invalid_stream");
        host.send(session, error("Failed to subscribe", "level2, level3, and full channels now require authentication."));
        return;
      }
      if (name != "level2" && name != "level2_batch" && name != "heartbeat" && name != "ticker" && name != "matches") {
        host.count_client_error("invalid_stream");
        std::string reason(name.substr(0, 40));
        reason += " is not a valid channel";
        host.send(session, error("Failed to subscribe", reason));
        return;
      }
      if (products.empty()) {
        host.count_client_error("invalid_request");
        host.send(session, error("Failed to subscribe", "No product ids provided"));
        return;
      }
      for (const std::string& p : products) {
        keys.emplace_back(channel_key(name), p);
      }
    }
    const bool subscribe = type == "subscribe";
    std::vector<std::pair<std::string, std::string>> added;
    for (const auto& [ch, p] : keys) {
      std::string key = ch + ':' + p;
      if (subscribe) {
        if (session.streams.insert(key).second) {
          added.emplace_back(ch, p);
        }
      } else {
        session.streams.erase(key);
      }
    }
    session.subscribed_once = true;
    host.send(session, subscriptions(session));
    if (!replay_) {
      for (const auto& [ch, p] : added) { // the initial state, to this session only
        Product& pr = products_.at(p);
        if (ch == "level2") {
          host.send(session, snapshot(pr));
        } else if (ch == "matches" && pr.trade_id > 0) {
          host.send(session, match(pr, "last_match", pr.last_price, pr.last_size, pr.last_side_sell));
        } else if (ch == "ticker") {
          host.send(session, ticker(pr));
        }
      }
    }
    host.subscriptions_changed(session);
  }

  bool on_http(std::string_view path, const Query&, HttpResponse& out) override {
    if (!is_snapshot_path(path)) {
      return false;
    }
    const std::string id(path.substr(10, path.size() - 10 - 5));
    const auto it = products_.find(id);
    if (it == products_.end()) {
      out.status = 404;
      out.body = R"({"message":"NotFound"})";
      return true;
    }
    const Product& pr = it->second;
    out.body = "{\"bids\":[";
    levels(out.body, pr.bids, true);
    out.body += "],\"asks\":[";
    levels(out.body, pr.asks, true);
    out.body += "],\"sequence\":";
    append_uint(out.body, pr.sequence);
    out.body += ",\"auction_mode\":false,\"auction\":null,\"time\":\"";
    out.body += iso_now();
    out.body += "\"}";
    return true;
  }

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
      for (auto& [id, pr] : products_) {
        std::string hb = "{\"type\":\"heartbeat\",\"last_trade_id\":";
        append_uint(hb, pr.trade_id);
        hb += ",\"product_id\":\"" + id + "\",\"sequence\":";
        append_uint(hb, pr.sequence);
        hb += ",\"time\":\"" + iso_now() + "\"}";
        host.publish("heartbeat:" + id, {}, hb);
      }
    }
    const auto wait = static_cast<std::int64_t>(next_heartbeat_ns_ - now_ns);
    return std::min(wait, rate_pacer_.pump(host, now_ns, messages_, wait, [&] { step(host); }));
  }

  std::string stats_members() const override { return market_stats(replay_, messages_, pacer_, frames_.size()); }

private:
  struct Product {
    std::string id;
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;
    std::int64_t fair = 0;
    std::uint64_t sequence = 0;
    std::uint64_t trade_id = 0;
    std::int64_t last_price = 0;
    std::int64_t last_size = 100'000;
    bool last_side_sell = false;
  };
  struct Frame {
    std::uint64_t recv_ns = 0;
    std::string key;
    std::string text;
  };

  [[nodiscard]] bool known(std::string_view id) const {
    return replay_ ? replay_products_.count(std::string(id)) != 0 : products_.count(std::string(id)) != 0;
  }

  [[nodiscard]] std::int64_t random_size() { return static_cast<std::int64_t>(100'000 + rng_() % 500'000'000); }

  static std::string error(std::string_view message, std::string_view reason) {
    std::string out = "{\"type\":\"error\",\"message\":\"";
    out += message;
    out += "\",\"reason\":\"";
    for (const char c : reason) {
      out += (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    }
    out += "\"}";
    return out;
  }

  static std::string subscriptions(const Session& session) {
    std::map<std::string, std::vector<std::string>> by_channel;
    for (const std::string& key : session.streams) {
      const std::size_t colon = key.find(':');
      by_channel[key.substr(0, colon)].push_back(key.substr(colon + 1));
    }
    std::string out = "{\"type\":\"subscriptions\",\"channels\":[";
    bool first = true;
    for (const auto& [ch, products] : by_channel) {
      if (!std::exchange(first, false)) {
        out += ',';
      }
      out += "{\"name\":\"" + ch + "\",\"product_ids\":[";
      for (std::size_t i = 0; i < products.size(); ++i) {
        out += i > 0 ? ",\"" : "\"";
        out += products[i];
        out += '"';
      }
      out += "]}";
    }
    out += "]}";
    return out;
  }

  template <class Map>
  static void levels(std::string& out, const Map& side, bool with_orders) {
    bool first = true;
    for (const auto& [p, s] : side) {
      if (!std::exchange(first, false)) {
        out += ',';
      }
      out += "[\"";
      append_fixed(out, p, 2);
      out += "\",\"";
      append_fixed(out, s, 8);
      out += with_orders ? "\",1]" : "\"]";
    }
  }

  std::string snapshot(const Product& pr) const {
    std::string out = "{\"type\":\"snapshot\",\"product_id\":\"" + pr.id + "\",\"asks\":[";
    levels(out, pr.asks, false);
    out += "],\"bids\":[";
    levels(out, pr.bids, false);
    out += "]}";
    return out;
  }

  std::string match(const Product& pr, std::string_view type, std::int64_t price, std::int64_t size, bool maker_sell) const {
    std::string out = "{\"type\":\"";
    out += type;
    out += "\",\"trade_id\":";
    append_uint(out, pr.trade_id);
    out += ",\"maker_order_id\":\"00000000-0000-4000-8000-";
    char oid[16];
    std::snprintf(oid, sizeof oid, "%012llu", static_cast<unsigned long long>(pr.trade_id * 2 % 1'000'000'000'000ULL));
    out += oid;
    out += "\",\"taker_order_id\":\"00000000-0000-4000-9000-";
    out += oid;
    out += "\",\"side\":\"";
    out += maker_sell ? "sell" : "buy";
    out += "\",\"size\":\"";
    append_fixed(out, size, 8);
    out += "\",\"price\":\"";
    append_fixed(out, price, 2);
    out += "\",\"product_id\":\"" + pr.id + "\",\"sequence\":";
    append_uint(out, pr.sequence);
    out += ",\"time\":\"" + iso_now() + "\"}";
    return out;
  }

  std::string ticker(const Product& pr) const {
    std::string out = "{\"type\":\"ticker\",\"sequence\":";
    append_uint(out, pr.sequence);
    out += ",\"product_id\":\"" + pr.id + "\",\"price\":\"";
    append_fixed(out, pr.last_price, 2);
    out += "\",\"open_24h\":\"";
    append_fixed(out, pr.fair, 2);
    out += "\",\"volume_24h\":\"1000.00000000\",\"low_24h\":\"";
    append_fixed(out, pr.fair / 2, 2);
    out += "\",\"high_24h\":\"";
    append_fixed(out, pr.fair * 2, 2);
    out += "\",\"volume_30d\":\"30000.00000000\",\"best_bid\":\"";
    append_fixed(out, pr.bids.begin()->first, 2);
    out += "\",\"best_bid_size\":\"";
    append_fixed(out, pr.bids.begin()->second, 8);
    out += "\",\"best_ask\":\"";
    append_fixed(out, pr.asks.begin()->first, 2);
    out += "\",\"best_ask_size\":\"";
    append_fixed(out, pr.asks.begin()->second, 8);
    out += "\",\"side\":\"";
    out += pr.last_side_sell ? "buy" : "sell"; // the taker's side
    out += "\",\"time\":\"" + iso_now() + "\",\"trade_id\":";
    append_uint(out, pr.trade_id);
    out += ",\"last_size\":\"";
    append_fixed(out, pr.last_size, 8);
    out += "\"}";
    return out;
  }

  void step(Host& host) {
    auto it = products_.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng_() % products_.size()));
    Product& pr = it->second;
    std::map<std::int64_t, std::int64_t, std::greater<>> bids;
    std::map<std::int64_t, std::int64_t> asks;
    if (rng_() % 4 == 0) { // a trade: match + ticker share the sequence
      const bool maker_sell = (rng_() & 1U) != 0; // a taker buy lifts the ask
      const std::int64_t price = maker_sell ? pr.asks.begin()->first : pr.bids.begin()->first;
      const std::int64_t level = maker_sell ? pr.asks.begin()->second : pr.bids.begin()->second;
      const std::int64_t size = 1 + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(level));
      (maker_sell ? asks[price] : bids[price]) = level - size;
      ++pr.sequence;
      ++pr.trade_id;
      pr.last_price = price;
      pr.last_size = size;
      pr.last_side_sell = maker_sell;
      host.publish("matches:" + pr.id, {}, match(pr, "match", price, size, maker_sell));
    } else {
      if (rng_() % 3 == 0) {
        pr.fair = std::max<std::int64_t>(pr.fair + ((rng_() & 1U) != 0 ? 1 : -1), 200);
        for (const auto& [p, s] : pr.bids) {
          if (p < pr.fair) {
            break;
          }
          bids[p] = 0;
        }
        for (const auto& [p, s] : pr.asks) {
          if (p >= pr.fair) {
            break;
          }
          asks[p] = 0;
        }
      }
      std::geometric_distribution<std::int64_t> offset_dist(0.15);
      const int n = 1 + static_cast<int>(rng_() % 4);
      for (int i = 0; i < n; ++i) {
        const std::int64_t offset = std::min<std::int64_t>(offset_dist(rng_), 150);
        if ((rng_() & 1U) != 0) {
          bids[pr.fair - 1 - offset] = pr.bids.count(pr.fair - 1 - offset) != 0 && rng_() % 3 == 0 ? 0 : random_size();
        } else {
          asks[pr.fair + offset] = pr.asks.count(pr.fair + offset) != 0 && rng_() % 3 == 0 ? 0 : random_size();
        }
      }
      if (pr.bids.size() <= bids.size()) {
        bids[pr.fair - 1] = random_size();
      }
      if (pr.asks.size() <= asks.size()) {
        asks[pr.fair] = random_size();
      }
    }
    for (auto r = pr.bids.rbegin(); pr.bids.size() + bids.size() > kMaxLevels + 8 && r != pr.bids.rend(); ++r) {
      bids.emplace(r->first, 0);
      if (bids.size() > 16) {
        break;
      }
    }
    for (auto r = pr.asks.rbegin(); pr.asks.size() + asks.size() > kMaxLevels + 8 && r != pr.asks.rend(); ++r) {
      asks.emplace(r->first, 0);
      if (asks.size() > 16) {
        break;
      }
    }
    std::string out = "{\"type\":\"l2update\",\"product_id\":\"" + pr.id + "\",\"changes\":[";
    bool first = true;
    const auto change = [&](const char* side, std::int64_t p, std::int64_t s) {
      if (!std::exchange(first, false)) {
        out += ',';
      }
      out += "[\"";
      out += side;
      out += "\",\"";
      append_fixed(out, p, 2);
      out += "\",\"";
      append_fixed(out, s, 8);
      out += "\"]";
    };
    for (const auto& [p, s] : bids) {
      change("buy", p, s);
      if (s == 0) {
        pr.bids.erase(p);
      } else {
        pr.bids[p] = s;
      }
    }
    for (const auto& [p, s] : asks) {
      change("sell", p, s);
      if (s == 0) {
        pr.asks.erase(p);
      } else {
        pr.asks[p] = s;
      }
    }
    out += "],\"time\":\"" + iso_now() + "\"}";
    ++messages_;
    if (!host.take_gap()) {
      host.publish("level2:" + pr.id, {}, out);
    }
    if (messages_ % 2 == 0) { // a ticker every other book change, as the top moves
      host.publish("ticker:" + pr.id, {}, ticker(pr));
      ++messages_;
    }
  }

  void load(const std::string& path) {
    CaptureReader reader(path);
    CaptureRecord r;
    while (reader.next(r)) {
      if (r.kind != CaptureRecord::Kind::ws_frame) {
        continue;
      }
      simdjson::dom::element doc;
      std::string_view type;
      std::string_view product;
      if (parser_.parse(r.text.data(), r.text.size()).get(doc) != simdjson::SUCCESS || doc["type"].get(type) != simdjson::SUCCESS) {
        throw std::runtime_error(reader.path() + ':' + std::to_string(r.line) + ": not a Coinbase message");
      }
      if (doc["product_id"].get(product) != simdjson::SUCCESS) {
        continue; // subscriptions, errors
      }
      std::string ch = type == "snapshot" || type == "l2update" ? "level2"
                       : type == "match" || type == "last_match" ? "matches"
                                                                 : std::string(type);
      replay_products_.emplace(product);
      frames_.push_back({r.recv_ns, ch + ':' + std::string(product), std::string(r.text)});
    }
    if (frames_.empty()) {
      throw std::runtime_error(reader.path() + ": no frames to replay");
    }
  }

  std::int64_t pump_replay(Host& host, std::uint64_t now_ns) {
    return pacer_.pump(
        host, now_ns, frames_.size(), [&](std::size_t i) { return frames_[i].recv_ns; },
        [&](std::size_t i) {
          const Frame& f = frames_[i];
          if (f.key.starts_with("level2:") && f.text.find("\"l2update\"") != std::string::npos && host.take_gap()) {
            return false;
          }
          host.publish(f.key, f.text, f.text);
          return true;
        });
  }

  bool replay_;
  ReplayPacer pacer_;
  RatePacer rate_pacer_;
  std::mt19937_64 rng_;
  std::map<std::string, Product, std::less<>> products_;
  std::set<std::string, std::less<>> replay_products_;
  std::vector<Frame> frames_;
  simdjson::dom::parser parser_;
  std::uint64_t next_heartbeat_ns_ = 0; // synthetic
  std::uint64_t messages_ = 0;
};

} // namespace

std::unique_ptr<Venue> make_coinbase_venue(const CoinbaseOptions& options) {
  return std::make_unique<CoinbaseVenue>(options);
}

} // namespace qf::feeds::venue
