#pragma once
// The network layer of one feed thread, over libwebsockets: a Loop (one lws context, client
// only) runs websocket connections (WsConnection) and one-shot HTTP GETs (http_get) on the
// thread that calls run(). TLS verifies certificates against the system CA store plus optional
// extra CA files (qf-venue's self-signed certificate), with SNI; ws:// and http:// are plain.
// A WsConnection reassembles fragmented text messages into one padded receive buffer of a fixed
// bound (allocated once), stamps each message with the TSC time its first byte arrived, and hands
// it to its Handler; a message beyond the bound is reported (on_oversized) and skipped, never a
// reallocation. lws answers the venue's ping frames itself (the pong echoes the payload).
// Threads: everything runs on the loop thread except Loop::wake() and Loop::stop(), which any
// thread may call.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qf/feeds/net/url.hpp"
#include "qf/feeds/padded_buffer.hpp"
#include "qf/ipc/tsc_clock.hpp"

struct lws;
struct lws_context;

namespace qf::feeds::net {

struct LoopConfig {
  std::vector<std::string> ca_files; // extra trusted CAs, on top of the system store
  int tick_ms = 20;                  // on_tick period (watchdogs, timers, requests from the core)
};

class Loop;

namespace detail {
// The lws user pointer of every connection this layer makes: lws may call any protocol's
// callback for any wsi (creation, destruction), so the object says what it is.
struct LwsUser {
  enum class Kind : std::uint8_t { ws, http };
  explicit LwsUser(Kind k) noexcept : kind(k) {}
  Kind kind;
};
} // namespace detail

class WsConnection : public detail::LwsUser {
public:
  struct Handler {
    virtual ~Handler() = default;
    virtual void on_open() = 0;
    // One complete text message; `frame` has kPadding readable bytes after its end.
    virtual void on_message(PaddedView frame, std::uint64_t recv_ticks) = 0;
    virtual void on_oversized(std::size_t bytes) = 0;
    virtual void on_binary() = 0;
    // The connection is gone (a failed connect, a close by either side, a stall kill).
    virtual void on_closed(std::string_view reason) = 0;
  };

  WsConnection(Loop& loop, Handler& handler, std::size_t max_message_bytes);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  // Starts connecting; false (with `why`) when lws refuses at once (on_closed follows either way).
  bool open(const Url& url, std::string& why);
  // Asks lws to close; on_closed follows on the loop thread.
  void close();
  // Queues a text message (subscribe, ...); written when the socket is writeable.
  void send_text(std::string_view text);

  [[nodiscard]] bool connected() const noexcept { return state_ == State::open; }
  [[nodiscard]] bool idle() const noexcept { return state_ == State::idle; }
  [[nodiscard]] std::uint64_t opened_mono_ns() const noexcept { return opened_ns_; }
  // The last data frame (pings and pongs do not count: a venue that answers pings but sends no
  // market data is stale).
  [[nodiscard]] std::uint64_t last_rx_mono_ns() const noexcept { return last_rx_ns_; }
  [[nodiscard]] std::uint64_t bytes_received() const noexcept { return bytes_; }

  // lws callback plumbing (the loop's protocol handler calls these).
  int on_lws_event(int reason, void* in, std::size_t len);

private:
  enum class State : std::uint8_t { idle, connecting, open, closing };
  void finish(std::string_view reason);

  Loop& loop_;
  Handler& handler_;
  struct lws* wsi_ = nullptr;
  State state_ = State::idle;
  std::unique_ptr<char[]> buffer_; // max_message_bytes + kPadding
  std::size_t max_bytes_;
  std::size_t size_ = 0;
  bool skipping_ = false; // an oversized message is being skipped to its end
  std::size_t skipped_ = 0;
  std::uint64_t first_ticks_ = 0;
  std::uint64_t opened_ns_ = 0;
  std::uint64_t last_rx_ns_ = 0;
  std::uint64_t bytes_ = 0;
  std::deque<std::string> outbox_;
  std::string host_; // lws keeps pointers to these until the connection is made
  std::string path_;
  std::string close_reason_;
};

struct HttpResult {
  int status = 0;               // 0: no response (connection failed)
  std::string body;             // bounded by the request's max_bytes
  std::uint64_t retry_after_s = 0; // Retry-After header (seconds), 0 if absent
  std::uint64_t recv_ticks = 0; // TSC time the response began
  std::string error;            // why there is no usable response
};

class Loop {
public:
  Loop(const LoopConfig& config, const ipc::TscClock& clock);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until stop(); calls on_tick every tick_ms on this thread.
  void run(const std::function<void()>& on_tick);
  // The same loop driven by the caller (inline mode, one pass at a time): begin() schedules the
  // tick; service() is one lws pass, with a poll that returns at once or, `may_block`, waits
  // until data, the next tick or a wake, then runs on_tick when due; false once stopped (or lws
  // failed). end() cancels the tick.
  void begin(std::function<void()> on_tick);
  bool service(bool may_block);
  void end();
  void stop() noexcept;  // any thread
  void wake() noexcept;  // any thread: an early tick
  [[nodiscard]] bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }

  // One GET; `done` runs on the loop thread exactly once (also when the loop is torn down).
  void http_get(const Url& url, std::size_t max_bytes, std::function<void(HttpResult&&)> done);

  [[nodiscard]] lws_context* context() const noexcept { return context_; }
  [[nodiscard]] const ipc::TscClock& clock() const noexcept { return clock_; }
  [[nodiscard]] const LoopConfig& config() const noexcept { return config_; }

  struct HttpRequest; // one GET in flight (loop.cpp), a detail::LwsUser of kind http
  struct Tick;        // the on_tick timer (loop.cpp)

private:
  LoopConfig config_;
  ipc::TscClock clock_;
  lws_context* context_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<bool> woken_{false};
  std::vector<std::unique_ptr<HttpRequest>> requests_;
  std::unique_ptr<Tick> tick_;
};

} // namespace qf::feeds::net
