#include "qf/feeds/recorder.hpp"

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include "qf/feeds/capture.hpp"

namespace qf::feeds {

namespace {

constexpr std::chrono::seconds kRetryAfterError{1};
// A checkpoint ends the file's gzip member (complete gzip up to there): once a second when idle,
// and every checkpoint_bytes of payload; a write error loses what came after the last one.
constexpr std::chrono::seconds kCheckpointEvery{1};

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

} // namespace

Recorder::Recorder(const RecorderConfig& config) : config_(config), queue_(config.buffer_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(config.dir, ec);
  if (ec || !std::filesystem::is_directory(config.dir)) {
    throw std::runtime_error("record_dir " + config.dir + ": cannot create it (" + ec.message() + ")");
  }
  writer_ = std::thread([this] { run(); });
}

Recorder::~Recorder() {
  stop_.store(true, std::memory_order_release);
  writer_.join();
}

bool Recorder::push(Kind kind, std::uint64_t recv_ns, std::string_view url, std::string_view text) noexcept {
  const Header h{recv_ns, static_cast<std::uint32_t>(text.size()), static_cast<std::uint32_t>(url.size()), kind};
  const std::size_t total = sizeof h + url.size() + text.size();
  if (queue_.write_available() < total) { // one producer: the space can only grow meanwhile
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  char raw[sizeof h];
  std::memcpy(raw, &h, sizeof h);
  queue_.push(raw, sizeof h);
  queue_.push(url.data(), url.size());
  queue_.push(text.data(), text.size());
  return true;
}

bool Recorder::frame(std::uint64_t recv_unix_ns, std::string_view payload) noexcept {
  return push(Kind::frame, recv_unix_ns, {}, payload);
}

bool Recorder::ws_open(std::string_view url) noexcept {
  return push(Kind::ws_open, 0, {}, url);
}

bool Recorder::rest(std::uint64_t recv_unix_ns, std::string_view url, std::string_view body) noexcept {
  return push(Kind::rest, recv_unix_ns, url, body);
}

RecorderCounters Recorder::counters() const noexcept {
  return {recorded_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed),
          files_.load(std::memory_order_relaxed), write_errors_.load(std::memory_order_relaxed)};
}

void Recorder::run() {
  std::unique_ptr<CaptureWriter> out;
  std::uint64_t file_bytes = 0;
  auto opened = std::chrono::steady_clock::now();
  auto retry_after = opened; // after a write error: no new file before then
  auto checkpointed = opened;
  std::uint64_t pending = 0;       // records written since the file's last checkpoint
  std::uint64_t pending_bytes = 0;
  // The records since the last checkpoint become `recorded` only once a checkpoint (or the
  // file's close) has put them into complete gzip; a failure loses them with the file's tail.
  const auto commit = [&] {
    recorded_.fetch_add(pending, std::memory_order_relaxed);
    pending = 0;
    pending_bytes = 0;
    checkpointed = std::chrono::steady_clock::now();
  };
  const auto fail_file = [&] {
    write_errors_.fetch_add(pending, std::memory_order_relaxed);
    pending = 0;
    pending_bytes = 0;
    out->abandon();
    out.reset();
  };
  const auto close_file = [&] {
    try {
      out->close();
      commit();
      out.reset();
    } catch (const std::exception&) {
      fail_file(); // the records since the last checkpoint are lost with the file's tail
    }
  };
  const auto checkpoint = [&] {
    if (out->checkpoint() == CaptureWriteError::ok) {
      commit();
    } else {
      fail_file();
      retry_after = std::chrono::steady_clock::now() + kRetryAfterError;
    }
  };
  std::string url;
  std::string text;
  // Takes exactly n bytes; the producer pushes a record's parts back to back, so after its
  // header the rest is at most a moment away.
  const auto take = [&](std::string& into, std::size_t n) {
    into.resize(n);
    std::size_t got = 0;
    while (got < n) {
      got += queue_.pop(into.data() + got, n - got);
      if (got < n) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  };
  for (;;) {
    if (queue_.read_available() < sizeof(Header)) {
      if (stop_.load(std::memory_order_acquire) && queue_.read_available() == 0) {
        break;
      }
      if (out && pending > 0 && std::chrono::steady_clock::now() - checkpointed >= kCheckpointEvery) {
        checkpoint();
      } else if (out) {
        (void)out->flush();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5)); // cold path: disk, not latency
      continue;
    }
    char raw[sizeof(Header)];
    queue_.pop(raw, sizeof raw);
    Header h{};
    std::memcpy(&h, raw, sizeof h);
    take(url, h.url_bytes);
    take(text, h.text_bytes);
    const auto now = std::chrono::steady_clock::now();
    if (out && (file_bytes >= config_.rotate_bytes ||
                now - opened >= std::chrono::seconds(static_cast<std::int64_t>(config_.rotate_s)))) {
      close_file();
    }
    if (!out && now < retry_after) {
      write_errors_.fetch_add(1, std::memory_order_relaxed); // lost to the failing disk
      continue;
    }
    if (!out) {
      const std::uint64_t n = files_.fetch_add(1, std::memory_order_relaxed);
      const std::string path = config_.dir + "/" + config_.name + "-" + utc_stamp() + "-" + std::to_string(n) +
                               ".capture.gz";
      try {
        out = std::make_unique<CaptureWriter>(path);
      } catch (const std::exception&) {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
        continue; // this record is lost; the next one tries a new file
      }
      file_bytes = 0;
      opened = now;
      checkpointed = now;
    }
    CaptureWriteError e = CaptureWriteError::ok;
    switch (h.kind) {
    case Kind::frame: e = out->write_frame(h.recv_ns, text); break;
    case Kind::ws_open: e = out->write_ws_open(text); break;
    case Kind::rest: e = out->write_rest(h.recv_ns, url, text); break;
    }
    if (e == CaptureWriteError::ok) {
      ++pending;
      pending_bytes += text.size();
      file_bytes += text.size();
      if (pending_bytes >= config_.checkpoint_bytes) { // under sustained load there is no idle moment
        checkpoint();
      }
    } else {
      // The file stops at its last checkpoint: cut back there (valid gzip, whole records), never
      // continued after a hole. This record and those since the checkpoint are counted lost; a
      // new file is tried after kRetryAfterError, the records meanwhile are counted lost too.
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      fail_file();
      retry_after = now + kRetryAfterError;
    }
  }
  if (out) {
    close_file();
  }
}

} // namespace qf::feeds
