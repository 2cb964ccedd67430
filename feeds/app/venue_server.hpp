#pragma once
// qf-venue's server: one libwebsockets context, one vhost on 127.0.0.1, one protocol that serves
// both HTTP (the venue's REST endpoints, /venue/stats, /venue/fault) and WebSocket sessions.
// Single-threaded: every callback, timer (lws_sul) and the venue's pump run on the service
// thread, so nothing is locked. Outgoing frames are queued per session and written only in
// LWS_CALLBACK_SERVER_WRITEABLE with LWS_PRE headroom; a session whose queue passes
// kSlowConsumerBytes is dropped, as a real venue drops a reader that cannot keep up. Faults
// (drop, gap, corrupted checksum, malformed, stall, shutdown, snapshot delay/refusal) come from the command line and
// at runtime from POST /venue/fault.

#include "venue.hpp"

#include <csignal>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct lws;
struct lws_context;
struct lws_sorted_usec_list;

namespace qf::feeds::venue {

struct FaultOptions {
  double drop_after_s = 0;        // close each websocket this long after it opened (0: never)
  std::uint64_t gap_every = 0;    // withhold every Nth diff
  std::uint64_t checksum_every = 0; // corrupt the checksum of every Nth checksummed update
  std::uint64_t malformed_every = 0; // every Nth published message is preceded by a malformed frame
  double stall_after_s = 0;       // stop sending this long after start...
  double stall_for_s = 0;         // ...for this long, connections kept open
  double shutdown_after_s = 0;    // send the venue's shutdown event this long after start, then close
  std::uint64_t snapshot_delay_ms = 0;
  std::uint64_t snapshot_429 = 0; // refuse the first N snapshot requests with 429 + Retry-After
};

struct ServerOptions {
  int port = 0;
  bool tls = false;
  std::string cert_path; // PEM, required with tls
  std::string key_path;
  std::size_t max_frame_bytes = 64 * 1024; // a larger client message is closed with 1009
  FaultOptions faults;
};

class Server final : public Host {
public:
  static constexpr std::size_t kSlowConsumerBytes = std::size_t{64} << 20U;

  // Throws std::runtime_error when the context or the listener cannot be created.
  Server(Venue& venue, const ServerOptions& options);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] int port() const noexcept { return port_; }
  // Serves until `stop` becomes non-zero (a signal handler sets it and calls wake()).
  void run(const volatile std::sig_atomic_t& stop);
  // Async-signal-safe enough for a handler: lws_cancel_service writes to a pipe.
  void wake() noexcept;

  // Host
  void send(Session& session, std::string text) override;
  void close(Session& session, int code, std::string_view reason) override;
  void count_client_error(std::string_view kind) override;
  void subscriptions_changed(Session& session) override;
  void publish(std::string_view key, std::string_view combined, std::string_view raw) override;
  void publish_numbered(std::string_view key, std::string_view head, std::string_view tail, bool withheld) override;
  [[nodiscard]] bool take_gap() override;
  [[nodiscard]] bool take_checksum_fault() override;
  [[nodiscard]] bool has_sessions() const override;

  // lws entry point (public for the C callback table only).
  int on_callback(lws* wsi, int reason, void* in, std::size_t len);

private:
  struct Conn;
  struct HttpRequest;
  struct Timer;

  void on_established(lws* wsi);
  int on_receive(Conn& c, const void* in, std::size_t len);
  int on_writeable(Conn& c);
  void on_closed(lws* wsi);
  void on_http(lws* wsi, const char* path);
  int on_http_writeable(lws* wsi);
  void enqueue(Conn& c, std::string_view text);
  void drop_connection(Conn& c);

  void schedule_pump(std::int64_t delay_ns);
  void pump();
  void ping_tick();
  void start_stall(double seconds);
  void end_stall();
  void server_shutdown();
  [[nodiscard]] std::uint64_t venue_now_ns() const;
  [[nodiscard]] std::size_t max_queue_bytes() const;

  [[nodiscard]] std::string stats_json() const;
  void apply_fault(const Query& query, HttpResponse& out);
  [[nodiscard]] std::string malformed_frame(std::string_view key, bool combined);
  // Counts a published message; true when a malformed frame must precede it (the fault).
  [[nodiscard]] bool take_malformed();

  Venue& venue_;
  ServerOptions options_;
  lws_context* context_ = nullptr;
  int port_ = 0;
  std::uint64_t start_ns_ = 0;

  std::unordered_map<lws*, std::unique_ptr<Conn>> conns_;
  std::unordered_map<lws*, std::unique_ptr<HttpRequest>> http_;
  std::uint64_t next_session_id_ = 1;

  std::unique_ptr<Timer> pump_timer_;
  std::unique_ptr<Timer> ping_timer_;
  std::unique_ptr<Timer> stall_timer_;
  std::unique_ptr<Timer> stall_end_timer_;
  std::unique_ptr<Timer> shutdown_timer_;
  bool pump_idle_ = false;    // the venue asked to wait for subscriptions
  bool pump_blocked_ = false; // unpaced and the slowest client is behind
  bool unpaced_ = false;

  bool stalled_ = false;
  std::uint64_t stall_started_ns_ = 0;
  std::uint64_t stalled_total_ns_ = 0;

  // Runtime faults
  std::uint64_t pending_gaps_ = 0;
  std::uint64_t pending_checksums_ = 0;
  std::uint64_t pending_malformed_ = 0;
  std::uint64_t snapshot_refusals_left_ = 0;
  bool snapshot_refuse_on_ = false;
  int snapshot_refuse_status_ = 429;
  std::uint64_t snapshot_delay_ms_ = 0;

  // Counters for /venue/stats
  std::uint64_t connections_accepted_ = 0;
  std::uint64_t connections_closed_ = 0;
  std::uint64_t subscription_requests_ = 0;
  std::uint64_t messages_published_ = 0;
  std::uint64_t messages_sent_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t pings_sent_ = 0;
  std::uint64_t pongs_received_ = 0;
  std::uint64_t pong_timeouts_ = 0;
  std::uint64_t slow_consumers_ = 0;
  std::uint64_t http_requests_ = 0;
  std::uint64_t diffs_seen_ = 0;
  std::uint64_t checksums_seen_ = 0;
  std::uint64_t malformed_counter_ = 0;
  std::vector<std::uint64_t> snapshot_request_ns_; // unix ns, the last kMaxSnapshotStamps
  std::uint64_t snapshot_requests_ = 0;
  std::map<int, std::uint64_t> snapshot_responses_; // by HTTP status
  std::map<std::string, std::uint64_t, std::less<>> faults_;
  std::map<std::string, std::uint64_t, std::less<>> client_errors_;
};

} // namespace qf::feeds::venue
