#pragma once
// Recorder: a venue's `record_dir` option. The feed thread hands it raw websocket frames (and
// connection opens and REST bodies) with their receive times; a writer thread of its own writes
// them into rotating capture files (DESIGN.md format, gzip) named
// <dir>/<name>-<YYYYmmddTHHMMSSZ>-<n>.capture.gz. The feed thread never waits for the disk: a
// record is copied into a bounded lock-free byte queue (Boost.Lockfree spsc_queue), and one
// that does not fit is dropped and counted, never blocked on. Rotation: when a file has taken
// rotate_bytes of payload or is rotate_s old. Each file is a series of gzip members, one ended
// (a checkpoint) once a second when idle and every checkpoint_bytes of payload. A write error
// cuts the file back to its last checkpoint (valid gzip of whole records; a file with none is
// removed) and a new file is tried a second later; every lost record is counted, and the feed
// publishes both losses (FeedRecord::record_dropped, record_write_errors). One producer thread
// (the feed thread), one writer thread; counters readable from any thread.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include <boost/lockfree/spsc_queue.hpp>

namespace qf::feeds {

struct RecorderConfig {
  std::string dir;
  std::string name = "feed";                      // file name prefix (the venue)
  std::size_t buffer_bytes = std::size_t{64} << 20; // in-memory queue between the threads
  std::uint64_t rotate_bytes = std::uint64_t{256} << 20;
  std::uint64_t rotate_s = 3600;
  std::uint64_t checkpoint_bytes = std::uint64_t{4} << 20; // a complete gzip member at least this often
};

struct RecorderCounters {
  std::uint64_t recorded = 0; // records in complete gzip (counted at each checkpoint and close)
  std::uint64_t dropped = 0;  // records the full queue refused
  std::uint64_t files = 0;    // files opened
  std::uint64_t write_errors = 0; // records lost to the disk: a failed write and those since the
                                  // file's last checkpoint, and those skipped in the second before
                                  // a new file is tried
};

class Recorder {
public:
  // Creates `dir` if needed and starts the writer; throws std::runtime_error when it cannot.
  explicit Recorder(const RecorderConfig& config);
  ~Recorder(); // writes everything queued, closes the file
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Producer (one thread). False when the record was dropped (queue full).
  bool frame(std::uint64_t recv_unix_ns, std::string_view payload) noexcept;
  bool ws_open(std::string_view url) noexcept;
  bool rest(std::uint64_t recv_unix_ns, std::string_view url, std::string_view body) noexcept;

  [[nodiscard]] RecorderCounters counters() const noexcept;
  // One relaxed load, for the producer's hot path.
  [[nodiscard]] std::uint64_t write_errors() const noexcept { return write_errors_.load(std::memory_order_relaxed); }

private:
  enum class Kind : std::uint8_t { frame = 0, ws_open = 1, rest = 2 };
  struct Header {
    std::uint64_t recv_ns;
    std::uint32_t text_bytes;
    std::uint32_t url_bytes;
    Kind kind;
  };

  bool push(Kind kind, std::uint64_t recv_ns, std::string_view url, std::string_view text) noexcept;
  void run();

  RecorderConfig config_;
  boost::lockfree::spsc_queue<char> queue_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> recorded_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> files_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::thread writer_;
};

} // namespace qf::feeds
