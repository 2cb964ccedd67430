#pragma once
// qf-venue's seam between the server (venue_server.hpp: lws context, sessions, HTTP, pings, faults,
// stats) and one venue's protocol (binance_venue.cpp, coinbase_venue.cpp). The server owns
// connections and the event loop; a Venue decides what a websocket path, a client text message
// and an HTTP path mean, and produces the market (synthetic or replayed) when pumped. Everything
// runs on the one lws service thread: no locking anywhere.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qf::feeds::venue {

using Query = std::vector<std::pair<std::string, std::string>>; // url-decoded name=value pairs

[[nodiscard]] inline const std::string* find_arg(const Query& query, std::string_view name) {
  for (const auto& [k, v] : query) {
    if (k == name) {
      return &v;
    }
  }
  return nullptr;
}

// What every venue's market takes from the command line.
struct MarketOptions {
  MarketOptions(std::initializer_list<std::string> default_symbols) : symbols(default_symbols) {}
  std::string replay_path; // replay when non-empty, synthetic otherwise
  double speed = 1.0;      // replay: 1 = original pacing, N = N times faster, 0 = as fast as possible
  bool loop = false;
  std::vector<std::string> symbols; // synthetic: the instruments, as the venue spells them
  double rate = 200.0;     // synthetic messages per second in total; 0 = as fast as the clients take them
  std::uint64_t seed = 1;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; // extra headers ("Retry-After")
};

// One websocket connection as a venue sees it.
struct Session {
  std::uint64_t id = 0;
  std::set<std::string, std::less<>> streams; // subscription keys ("btcusdt@trade", "ticker:BTC-USD")
  bool combined = false;                      // Binance: wrap payloads as {"stream":..,"data":..}
  bool subscribed_once = false;               // Coinbase: the subscribe handshake happened
  std::uint64_t next_number = 0;              // Coinbase Advanced: the connection's next sequence_num
};

// What a venue may ask of the server while it handles an event.
class Host {
public:
  virtual ~Host() = default;
  virtual void send(Session& session, std::string text) = 0;                 // queue a text frame
  virtual void close(Session& session, int code, std::string_view reason) = 0; // after queued frames
  virtual void count_client_error(std::string_view kind) = 0;
  virtual void subscriptions_changed(Session& session) = 0; // stats; wakes a held replay
  // Fan a message out to every session subscribed to `key`: combined sessions get `combined`,
  // the others `raw`. Counts it for the malformed-every fault.
  virtual void publish(std::string_view key, std::string_view combined, std::string_view raw) = 0;
  // Fan `head` + the session's next_number (then advanced) + `tail` out to every session
  // subscribed to `key` (a message number per connection, Coinbase Advanced's sequence_num);
  // counted for the malformed-every fault like publish. `withheld` (the gap fault): nothing is
  // sent, each subscriber's number still advances, so the client sees the number skipped.
  virtual void publish_numbered(std::string_view key, std::string_view head, std::string_view tail,
                                bool withheld) = 0;
  // The gap fault: true when this diff must be withheld (the book still applies it).
  [[nodiscard]] virtual bool take_gap() = 0;
  // The checksum fault: true when this update's checksum must be sent corrupted (the book and
  // the update are right; the client's check must fail and resync).
  [[nodiscard]] virtual bool take_checksum_fault() = 0;
  [[nodiscard]] virtual bool has_sessions() const = 0;
};

class Venue {
public:
  virtual ~Venue() = default;
  [[nodiscard]] virtual std::string_view name() const = 0;
  [[nodiscard]] virtual std::chrono::milliseconds ping_interval() const = 0;   // 0: no ping frames
  [[nodiscard]] virtual std::chrono::milliseconds pong_timeout() const = 0;
  [[nodiscard]] virtual std::chrono::milliseconds subscribe_deadline() const { return {}; } // 0: none
  [[nodiscard]] virtual bool is_snapshot_path(std::string_view path) const = 0;

  // A websocket connection was opened at `path`: false (with a close reason) refuses it.
  [[nodiscard]] virtual bool on_open(Host& host, Session& session, std::string_view path, const Query& query,
                                     std::string& reason) = 0;
  virtual void on_text(Host& host, Session& session, std::string_view text) = 0;
  // GET on `path`: false when the venue does not serve it (404).
  [[nodiscard]] virtual bool on_http(std::string_view path, const Query& query, HttpResponse& out) = 0;
  // The venue's "server going away" message for one session, empty when it has none.
  [[nodiscard]] virtual std::string shutdown_message(const Session& session) const = 0;

  // Produce the market due at `now_ns` (a clock that stands still while stalled). Returns the ns
  // until the next pump, or -1 to wait for subscriptions_changed (a held replay, an exhausted
  // one, or the unlimited rate with nobody listening).
  [[nodiscard]] virtual std::int64_t pump(Host& host, std::uint64_t now_ns) = 0;
  // Extra counters for /venue/stats, a JSON object's members without braces ("" when none).
  [[nodiscard]] virtual std::string stats_members() const = 0;
};

} // namespace qf::feeds::venue
