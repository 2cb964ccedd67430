// The recorder: what the feed thread hands over comes back, in order, from the rotating capture
// files it writes (read with the capture reader); a full queue drops and counts, never blocks.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "qf/feeds/capture.hpp"
#include "qf/feeds/recorder.hpp"

namespace qf::feeds {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("qf-recorder-" + std::to_string(::getpid()) + "-" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};

struct Read {
  std::vector<CaptureRecord::Kind> kinds;
  std::vector<std::uint64_t> times;
  std::vector<std::string> texts;
  std::vector<std::string> urls;
};

Read read_all(const fs::path& dir, std::size_t* files = nullptr) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(dir)) {
    paths.push_back(e.path());
  }
  // File names carry a sequence number after the time stamp: order by it.
  std::sort(paths.begin(), paths.end(), [](const fs::path& a, const fs::path& b) {
    const auto seq = [](const fs::path& p) {
      const std::string s = p.filename().string();
      const std::size_t end = s.find(".capture.gz");
      return std::stoull(s.substr(s.rfind('-', end) + 1, end - s.rfind('-', end) - 1));
    };
    return seq(a) < seq(b);
  });
  if (files != nullptr) {
    *files = paths.size();
  }
  Read out;
  for (const auto& p : paths) {
    EXPECT_EQ(p.extension(), ".gz");
    CaptureReader reader(p.string());
    CaptureRecord r;
    while (reader.next(r)) {
      out.kinds.push_back(r.kind);
      out.times.push_back(r.recv_ns);
      out.texts.emplace_back(r.text);
      out.urls.emplace_back(r.url);
    }
  }
  return out;
}

TEST(recorder, should_write_frames_opens_and_rest_bodies_in_order) {
  TempDir dir;
  {
    Recorder rec({dir.path.string(), "binance-spot"});
    EXPECT_TRUE(rec.ws_open("ws://127.0.0.1:1/stream?streams=btcusdt@trade"));
    EXPECT_TRUE(rec.frame(1'700'000'000'000'000'001ULL, R"({"e":"trade","t":1})"));
    EXPECT_TRUE(rec.rest(1'700'000'000'000'000'002ULL, "http://127.0.0.1:1/api/v3/depth?symbol=BTCUSDT&limit=5",
                         R"({"lastUpdateId":7,"bids":[],"asks":[]})"));
    EXPECT_TRUE(rec.frame(1'700'000'000'000'000'003ULL, R"({"e":"trade","t":2})"));
  }
  const Read r = read_all(dir.path);
  ASSERT_EQ(r.kinds.size(), 4U);
  EXPECT_EQ(r.kinds[0], CaptureRecord::Kind::ws_open);
  EXPECT_EQ(r.texts[0], "ws://127.0.0.1:1/stream?streams=btcusdt@trade");
  EXPECT_EQ(r.kinds[1], CaptureRecord::Kind::ws_frame);
  EXPECT_EQ(r.times[1], 1'700'000'000'000'000'001ULL);
  EXPECT_EQ(r.texts[1], R"({"e":"trade","t":1})");
  EXPECT_EQ(r.kinds[2], CaptureRecord::Kind::rest_response);
  EXPECT_EQ(r.urls[2], "http://127.0.0.1:1/api/v3/depth?symbol=BTCUSDT&limit=5");
  EXPECT_EQ(r.texts[2], R"({"lastUpdateId":7,"bids":[],"asks":[]})");
  EXPECT_EQ(r.texts[3], R"({"e":"trade","t":2})");
}

TEST(recorder, should_rotate_files_by_size_and_lose_nothing) {
  TempDir dir;
  RecorderConfig c{dir.path.string(), "coinbase"};
  c.rotate_bytes = 10'000;
  std::vector<std::string> sent;
  {
    Recorder rec(c);
    for (int i = 0; i < 2000; ++i) {
      sent.push_back(R"({"type":"l2update","n":)" + std::to_string(i) + "}");
      while (!rec.frame(static_cast<std::uint64_t>(i) + 1, sent.back())) {
        // Only possible if the 64 MiB queue filled: it cannot with 60 KB in flight.
        ADD_FAILURE() << "dropped";
        break;
      }
    }
    EXPECT_EQ(rec.counters().dropped, 0U);
  }
  std::size_t files = 0;
  const Read r = read_all(dir.path, &files);
  EXPECT_GE(files, 4U); // ~52 KB of payload in 10 KB files
  EXPECT_EQ(r.texts, sent);
}

TEST(recorder, should_drop_and_count_when_the_queue_is_full_without_blocking) {
  TempDir dir;
  RecorderConfig c{dir.path.string(), "x"};
  c.buffer_bytes = 256; // room for a handful of records
  Recorder rec(c);
  const std::string big(200, 'a');
  std::uint64_t refused = 0;
  for (int i = 0; i < 1000; ++i) {
    refused += rec.frame(1, big) ? 0U : 1U;
  }
  EXPECT_GT(refused, 0U);
  EXPECT_EQ(rec.counters().dropped, refused);
}

// A full disk (a 64 KiB tmpfs: the suite runs as root, as scripts/test.sh does; without root this
// fails rather than skips): every record is accounted for, recorded or counted as a write
// error; every file left is valid gzip (gzip -t, and the capture reader to its end) holding whole
// frames only: exactly the `recorded` ones, in the order they were sent.
TEST(recorder, should_count_every_record_lost_to_a_full_disk_and_leave_valid_gzip_of_whole_frames) {
  TempDir dir;
  fs::create_directories(dir.path);
  ASSERT_EQ(::geteuid(), 0U) << "needs root to mount a 64 KiB tmpfs (run the suite as root)";
  ASSERT_EQ(::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=64k"), 0) << "mount tmpfs: " << std::strerror(errno);
  struct Unmount {
    const fs::path& path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir.path};
  std::vector<std::string> sent;
  std::uint64_t x = 88172645463325252ULL;
  RecorderCounters counters;
  {
    RecorderConfig c{dir.path.string(), "full"};
    c.checkpoint_bytes = 4096; // a complete gzip member every ~60 frames: the full disk comes after some
    Recorder rec(c);
    for (int i = 0; i < 40000; ++i) { // ~2.8 MB: well past zlib's 256 KiB buffer and the tmpfs
      std::string text = R"({"n":)" + std::to_string(i) + R"(,"noise":")";
      for (int k = 0; k < 48; ++k) { // incompressible: the tmpfs fills
        x ^= x << 13U;
        x ^= x >> 7U;
        x ^= x << 17U;
        text += "0123456789abcdef"[x & 15U];
      }
      text += "\"}";
      sent.push_back(text);
      ASSERT_TRUE(rec.frame(static_cast<std::uint64_t>(i) + 1, sent.back()));
    }
    while (rec.counters().recorded + rec.counters().write_errors < sent.size()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    counters = rec.counters();
  }
  EXPECT_GT(counters.write_errors, 0U);
  EXPECT_GT(counters.recorded, 0U);
  EXPECT_EQ(counters.dropped, 0U);
  EXPECT_EQ(counters.recorded + counters.write_errors, sent.size());
  std::size_t files = 0;
  const Read got = read_all(dir.path, &files); // throws (fails the test) on a truncated or corrupt file
  EXPECT_GT(files, 0U);
  for (const auto& e : fs::directory_iterator(dir.path)) {
    const std::string test = "gzip -t '" + e.path().string() + "'";
    EXPECT_EQ(std::system(test.c_str()), 0) << test;
  }
  EXPECT_EQ(got.texts.size(), counters.recorded);
  std::size_t next = 0; // the frames read are sent frames, in order, none cut short
  for (const std::string& text : got.texts) {
    const auto it = std::find(sent.begin() + static_cast<std::ptrdiff_t>(next), sent.end(), text);
    ASSERT_NE(it, sent.end()) << "a frame that was not sent, or out of order (cut short?): " << text;
    next = static_cast<std::size_t>(it - sent.begin()) + 1;
  }
  EXPECT_GT(got.texts.size(), 0U);
}

} // namespace
} // namespace qf::feeds
