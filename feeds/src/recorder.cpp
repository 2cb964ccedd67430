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
      if (out) {
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
      try {
        out->close();
      } catch (const std::exception&) {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
      }
      out.reset();
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
    }
    CaptureWriteError e = CaptureWriteError::ok;
    switch (h.kind) {
    case Kind::frame: e = out->write_frame(h.recv_ns, text); break;
    case Kind::ws_open: e = out->write_ws_open(text); break;
    case Kind::rest: e = out->write_rest(h.recv_ns, url, text); break;
    }
    if (e == CaptureWriteError::ok) {
      recorded_.fetch_add(1, std::memory_order_relaxed);
      file_bytes += text.size();
    } else {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
      // The file stops at the failure: closed at once (zlib flushes what it holds and writes
      // its trailer when there is room), never continued after a hole. A new file is tried
      // after kRetryAfterError; the records meanwhile are counted lost.
      try {
        out->close();
      } catch (const std::exception&) {
        // the same failure, already counted
      }
      out.reset();
      retry_after = now + kRetryAfterError;
    }
  }
  if (out) {
    try {
      out->close();
    } catch (const std::exception&) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

} // namespace qf::feeds
