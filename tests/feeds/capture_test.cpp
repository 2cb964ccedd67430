#include "qf/feeds/capture.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace qf::feeds {
namespace {

namespace fs = std::filesystem;
using Kind = CaptureRecord::Kind;

const fs::path kCaptures = QF_CAPTURES_DIR;
const fs::path kBtcusdt = kCaptures / "binance-spot/btcusdt_20240808.capture.gz";
const fs::path kSpotMulti = kCaptures / "binance-spot/multi_20211012.capture";
const fs::path kUsdmMulti = kCaptures / "binance-usdm/multi_20210722.capture";
const fs::path kCoinbase = kCaptures / "coinbase-exchange/level2_ticker_matches_20210417.capture";

// An owning copy of a record: the reader's views die at the next call.
struct Record {
  Kind kind;
  std::uint64_t recv_ns;
  std::string text;
  std::string url;
  std::size_t line;
  bool operator==(const Record&) const = default;
};

std::vector<Record> read_all(const fs::path& path) {
  CaptureReader reader(path.string());
  std::vector<Record> records;
  CaptureRecord r;
  while (reader.next(r)) {
    records.push_back({r.kind, r.recv_ns, std::string(r.text), std::string(r.url), r.line});
  }
  return records;
}

std::map<Kind, std::size_t> count_kinds(const std::vector<Record>& records) {
  std::map<Kind, std::size_t> counts;
  for (const auto& r : records) {
    ++counts[r.kind];
  }
  return counts;
}

// Binance combined-stream name suffix: {"stream":"btcusdt@depth@100ms",...} -> "depth".
std::string stream_kind(std::string_view text) {
  constexpr std::string_view kPrefix = R"({"stream":")";
  if (!text.starts_with(kPrefix)) {
    return "?";
  }
  const std::size_t at = text.find('@');
  const std::size_t end = text.find_first_of("@_\"", at + 1);
  return std::string(text.substr(at + 1, end - at - 1));
}

// Coinbase message type: {"type":"l2update",...} -> "l2update".
std::string coinbase_type(std::string_view text) {
  constexpr std::string_view kPrefix = R"({"type":")";
  if (!text.starts_with(kPrefix)) {
    return "?";
  }
  return std::string(text.substr(kPrefix.size(), text.find('"', kPrefix.size()) - kPrefix.size()));
}

// Raw bytes of a file, through zlib independently of the reader (zlib passes plain files through).
std::string file_bytes(const fs::path& path) {
  gzFile file = ::gzopen(path.c_str(), "rb");
  EXPECT_NE(file, nullptr) << path;
  std::string bytes;
  char chunk[1 << 16];
  int got = 0;
  while (file != nullptr && (got = ::gzread(file, chunk, sizeof chunk)) > 0) {
    bytes.append(chunk, static_cast<std::size_t>(got));
  }
  if (file != nullptr) {
    ::gzclose(file);
  }
  return bytes;
}

// Bytes as stored on disk (still compressed for a gzip file).
std::string raw_bytes(const fs::path& path) {
  std::string bytes(fs::file_size(path), '\0');
  std::ifstream in(path, std::ios::binary);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_gzip(const fs::path& path, std::string_view bytes) {
  gzFile file = ::gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(::gzfwrite(bytes.data(), 1, bytes.size(), file), bytes.size());
  ASSERT_EQ(::gzclose(file), Z_OK);
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string where(const fs::path& path, std::size_t line) {
  std::string s = path.string();
  s.append(":").append(std::to_string(line)).append(":");
  return s;
}

// Reads `path` to the end and returns the CaptureError message ("" when nothing was thrown).
std::string read_error(const fs::path& path, std::size_t max_line_bytes = CaptureReader::kDefaultMaxLineBytes) {
  try {
    CaptureReader reader(path.string(), max_line_bytes);
    CaptureRecord r;
    while (reader.next(r)) {
    }
  } catch (const CaptureError& e) {
    return e.what();
  }
  return "";
}

class capture : public ::testing::Test {
protected:
  void SetUp() override {
    // Neutral names: error messages embed the path and are searched for words.
    static int counter = 0;
    dir_ = fs::temp_directory_path() / ("qf_cap_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path text_file(std::string_view name, std::string_view content) const {
    const fs::path path = dir_ / name;
    write_bytes(path, content);
    return path;
  }

  fs::path dir_;
};

class capture_files : public capture {
protected:
  void SetUp() override {
    capture::SetUp();
    if (!fs::is_directory(kCaptures)) {
      FAIL() << "no captures folder at " << kCaptures << ": ../shared/captures must sit beside the repository";
    }
  }
};

// ---- the real captures: expectations from captures/README.md and grep, never from the reader ----

TEST_F(capture_files, should_read_the_binance_btcusdt_capture_with_the_readme_counts) {
  // README: 41,249 lines: bookTicker 28,040, trade 9,757, depth@100ms 3,451, one inline REST
  // snapshot at line 8 (lastUpdateId 50093239218) with no `# rest` line before it.
  CaptureReader reader(kBtcusdt.string());
  EXPECT_TRUE(reader.compressed());
  std::map<std::string, std::size_t> streams;
  std::map<Kind, std::size_t> kinds;
  std::size_t records = 0;
  CaptureRecord r;
  while (reader.next(r)) {
    ++records;
    ASSERT_EQ(r.line, records) << "no metadata or blank lines in this file: one record per line";
    ++kinds[r.kind];
    if (r.kind == Kind::ws_frame) {
      ++streams[stream_kind(r.text)];
    } else {
      ASSERT_EQ(r.kind, Kind::rest_response) << "line " << r.line;
      EXPECT_EQ(r.line, 8U);
      EXPECT_EQ(r.url, "") << "inline snapshot: no `# rest` url";
      EXPECT_EQ(r.recv_ns, 1723161254206652067U);
      EXPECT_TRUE(r.text.starts_with(R"({"lastUpdateId":50093239218,"bids":[[)"));
    }
    if (records == 1) {
      EXPECT_EQ(r.recv_ns, 1723161253937085768U);
      EXPECT_TRUE(r.text.starts_with(R"({"stream":"btcusdt@depth@100ms")"));
    }
  }
  EXPECT_EQ(records, 41'249U);
  EXPECT_EQ(reader.lines_read(), 41'249U);
  EXPECT_EQ(kinds[Kind::rest_response], 1U);
  EXPECT_EQ(kinds[Kind::ws_frame], 41'248U);
  EXPECT_EQ(streams["bookTicker"], 28'040U);
  EXPECT_EQ(streams["trade"], 9'757U);
  EXPECT_EQ(streams["depth"], 3'451U);
  EXPECT_EQ(streams.size(), 3U);
}

struct Snapshot {
  std::size_t line; // of the body; its `# rest GET` line is the one before
  std::string symbol;
};

// Every snapshot is a rest_response carrying its own `# rest GET` url (grep -n '^# rest').
void expect_paired_snapshots(const std::vector<Record>& records, const std::string& url_prefix,
                             const std::vector<Snapshot>& expected) {
  std::vector<const Record*> rest;
  for (const auto& r : records) {
    if (r.kind == Kind::rest_response) {
      rest.push_back(&r);
    }
  }
  ASSERT_EQ(rest.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(rest[i]->line, expected[i].line);
    EXPECT_EQ(rest[i]->url, url_prefix + expected[i].symbol + "&limit=1000");
    EXPECT_TRUE(rest[i]->text.starts_with(R"({"lastUpdateId":)")) << rest[i]->line;
    EXPECT_GT(rest[i]->recv_ns, 0U);
  }
}

TEST_F(capture_files, should_pair_every_binance_spot_snapshot_with_its_rest_url) {
  // README: 274 lines, 4 symbols, 4 REST snapshots; grep: one `# ws` line (line 1), `# rest GET`
  // at lines 3, 18, 33, 82; stream frames depth 177, bookTicker 84, aggTrade 2, kline 2.
  const auto records = read_all(kSpotMulti);
  expect_paired_snapshots(records, "https://api.binance.com/api/v3/depth?symbol=",
                          {{4, "NKNUSDT"}, {19, "BLZETH"}, {34, "LRCBTC"}, {83, "RUNEEUR"}});
  auto kinds = count_kinds(records);
  EXPECT_EQ(kinds[Kind::ws_open], 1U);
  EXPECT_EQ(kinds[Kind::sent], 0U);
  EXPECT_EQ(kinds[Kind::ws_frame], 274U - 1U - 2U * 4U);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().kind, Kind::ws_open);
  EXPECT_TRUE(records.front().text.starts_with("wss://stream.binance.com:9443/stream?streams=nknusdt@depth@100ms/"));
  std::map<std::string, std::size_t> streams;
  for (const auto& r : records) {
    if (r.kind == Kind::ws_frame) {
      ++streams[stream_kind(r.text)];
    }
  }
  EXPECT_EQ(streams,
            (std::map<std::string, std::size_t>{{"depth", 177}, {"bookTicker", 84}, {"aggTrade", 2}, {"kline", 2}}));
  EXPECT_EQ(records.back().line, 274U);
}

TEST_F(capture_files, should_pair_every_binance_usdm_snapshot_with_its_rest_url) {
  // README: 1,544 lines, 4 symbols, 4 REST snapshots; grep: `# ws` at line 1, `# rest GET` at
  // lines 4, 7, 11, 15; frames aggTrade 91, bookTicker 613, depth 764, kline 67.
  const auto records = read_all(kUsdmMulti);
  expect_paired_snapshots(records, "https://fapi.binance.com/fapi/v1/depth?symbol=",
                          {{5, "SUSHIUSDT"}, {8, "AKROUSDT"}, {12, "KEEPUSDT"}, {16, "CTKUSDT"}});
  auto kinds = count_kinds(records);
  EXPECT_EQ(kinds[Kind::ws_open], 1U);
  EXPECT_EQ(kinds[Kind::ws_frame], 1'544U - 1U - 2U * 4U);
  std::map<std::string, std::size_t> streams;
  for (const auto& r : records) {
    if (r.kind == Kind::ws_frame) {
      ++streams[stream_kind(r.text)];
    }
  }
  EXPECT_EQ(streams,
            (std::map<std::string, std::size_t>{{"aggTrade", 91}, {"bookTicker", 613}, {"depth", 764}, {"kline", 67}}));
}

TEST_F(capture_files, should_read_the_coinbase_capture_with_the_readme_counts) {
  // README: 9,950 lines: level2 snapshot 10 + l2update 9,719, ticker 107, match 97, last_match 10,
  // subscriptions 3, and the subscribe messages sent (grep: `# ws` line 1, `# sent` lines 2-4).
  const auto records = read_all(kCoinbase);
  auto kinds = count_kinds(records);
  EXPECT_EQ(kinds[Kind::ws_open], 1U);
  EXPECT_EQ(kinds[Kind::sent], 3U);
  EXPECT_EQ(kinds[Kind::rest_response], 0U);
  EXPECT_EQ(kinds[Kind::ws_frame], 9'950U - 4U);
  ASSERT_GE(records.size(), 4U);
  EXPECT_EQ(records[0].text, "wss://ws-feed.pro.coinbase.com");
  for (std::size_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(records[i].kind, Kind::sent);
    EXPECT_EQ(records[i].line, i + 1);
    EXPECT_EQ(records[i].recv_ns, 0U);
    EXPECT_TRUE(records[i].text.starts_with(R"({"type":"subscribe","product_ids":["SKL-USD",)")) << records[i].text;
  }
  std::map<std::string, std::size_t> types;
  for (const auto& r : records) {
    if (r.kind == Kind::ws_frame) {
      ++types[coinbase_type(r.text)];
    }
  }
  EXPECT_EQ(types, (std::map<std::string, std::size_t>{{"snapshot", 10},
                                                       {"l2update", 9'719},
                                                       {"ticker", 107},
                                                       {"match", 97},
                                                       {"last_match", 10},
                                                       {"subscriptions", 3}}));
}

TEST_F(capture_files, should_give_identical_records_for_gzip_and_plain_files_whatever_their_names) {
  // Compressed under a plain name and decompressed under a .gz name: detection is by magic bytes.
  const fs::path gzipped = dir_ / "multi_20211012.capture";
  write_gzip(gzipped, file_bytes(kSpotMulti));
  const fs::path plain = text_file("btcusdt_20240808.capture.gz", file_bytes(kBtcusdt));

  EXPECT_TRUE(CaptureReader(gzipped.string()).compressed());
  EXPECT_FALSE(CaptureReader(plain.string()).compressed());
  EXPECT_FALSE(CaptureReader(kSpotMulti.string()).compressed());

  const auto spot = read_all(kSpotMulti);
  EXPECT_EQ(spot.size(), 274U - 4U); // a `# rest` line and its body are one record
  EXPECT_EQ(read_all(gzipped), spot);
  const auto btc = read_all(kBtcusdt);
  EXPECT_EQ(btc.size(), 41'249U);
  EXPECT_EQ(read_all(plain), btc);
}

TEST_F(capture_files, should_round_trip_every_capture_through_the_writer_plain_and_gzip) {
  for (const fs::path& source : {kBtcusdt, kSpotMulti, kUsdmMulti, kCoinbase}) {
    const auto records = read_all(source);
    ASSERT_GT(records.size(), 200U) << source;
    for (const char* name : {"out.capture", "out.capture.gz"}) {
      const fs::path target = dir_ / name;
      CaptureWriter writer(target.string());
      for (const auto& r : records) {
        CaptureWriteError e = CaptureWriteError::ok;
        switch (r.kind) {
        case Kind::ws_open:
          e = writer.write_ws_open(r.text);
          break;
        case Kind::sent:
          e = writer.write_sent(r.text);
          break;
        case Kind::ws_frame:
          e = writer.write_frame(r.recv_ns, r.text);
          break;
        case Kind::rest_response:
          e = r.url.empty() ? writer.write_frame(r.recv_ns, r.text) : writer.write_rest(r.recv_ns, r.url, r.text);
          break;
        }
        ASSERT_EQ(e, CaptureWriteError::ok) << source << " line " << r.line;
      }
      writer.close();
      EXPECT_EQ(CaptureReader(target.string()).compressed(), std::string_view(name).ends_with(".gz"));
      EXPECT_EQ(read_all(target), records) << source << " -> " << name;
      // The writer emits the captures' own form, byte for byte.
      EXPECT_TRUE(file_bytes(target) == file_bytes(source)) << source << " -> " << name;
    }
  }
}

TEST_F(capture_files, should_report_a_truncated_or_corrupt_gzip_file_naming_it) {
  const std::string original = file_bytes(kSpotMulti);
  const fs::path whole = dir_ / "whole.capture.gz";
  write_gzip(whole, original);
  const std::string packed = raw_bytes(whole);
  ASSERT_GT(packed.size(), 1000U);

  const fs::path cut = text_file("cut.capture.gz", std::string_view(packed).substr(0, packed.size() / 2));
  const std::string cut_error = read_error(cut);
  EXPECT_TRUE(contains(cut_error, cut.string() + ":")) << cut_error;
  EXPECT_TRUE(contains(cut_error, ": truncated or corrupt gzip data")) << cut_error;

  std::string damaged = packed;
  for (std::size_t i = damaged.size() / 2; i < damaged.size() / 2 + 64; ++i) {
    damaged[i] = static_cast<char>(~damaged[i]);
  }
  const fs::path corrupt = text_file("corrupt.capture.gz", damaged);
  const std::string corrupt_error = read_error(corrupt);
  EXPECT_TRUE(contains(corrupt_error, corrupt.string() + ":")) << corrupt_error;
  EXPECT_TRUE(contains(corrupt_error, "gzip data: ")) << corrupt_error;
}

TEST_F(capture_files, should_read_multi_member_gzip_and_reopen_files_in_one_reader) {
  // Two gzip members back to back (gzip's own concatenation rule; libdeflate's whole-file path
  // refuses it, zlib streams it): every record of both, in order, with the lines of the whole.
  const std::string original = file_bytes(kSpotMulti);
  const std::size_t half = original.find('\n', original.size() / 2) + 1;
  const fs::path a = dir_ / "a.capture.gz";
  const fs::path b = dir_ / "b.capture.gz";
  write_gzip(a, original.substr(0, half));
  write_gzip(b, original.substr(half));
  const fs::path both = text_file("both.capture.gz", raw_bytes(a) + raw_bytes(b));
  EXPECT_TRUE(CaptureReader(both.string()).compressed());
  EXPECT_EQ(read_all(both), read_all(kSpotMulti));

  // open() on a used reader starts the other file afresh: the same records as a new reader.
  CaptureReader reader(kBtcusdt.string());
  CaptureRecord r;
  ASSERT_TRUE(reader.next(r));
  reader.open(kSpotMulti.string());
  std::vector<Record> again;
  while (reader.next(r)) {
    ASSERT_GE(r.readable, r.text.size() + qf::feeds::kPadding);
    again.push_back({r.kind, r.recv_ns, std::string(r.text), std::string(r.url), r.line});
  }
  EXPECT_EQ(again, read_all(kSpotMulti));
  EXPECT_EQ(reader.path(), kSpotMulti.string());
}

// ---- the format rules, on small hand-written files ----

TEST_F(capture, should_accept_untimed_json_blank_lines_comments_and_crlf) {
  const auto path = text_file("rules.capture", "# recorded by hand\r\n"
                                               "\n"
                                               "{\"a\":1}\n"
                                               "[1,2]\r\n"
                                               "#ws not metadata\n"
                                               "# note also a comment\n"
                                               "17 {\"b\":2}\r\n"
                                               "18 \n"
                                               "19  two spaces\n"
                                               "0 {\"c\":3}");
  const std::vector<Record> expected = {
      {Kind::ws_frame, 0, R"({"a":1})", "", 3},   {Kind::ws_frame, 0, "[1,2]", "", 4},
      {Kind::ws_frame, 17, R"({"b":2})", "", 7},  {Kind::ws_frame, 18, "", "", 8},
      {Kind::ws_frame, 19, " two spaces", "", 9}, {Kind::ws_frame, 0, R"({"c":3})", "", 10},
  };
  EXPECT_EQ(read_all(path), expected);
}

TEST_F(capture, should_classify_only_a_lastupdateid_body_as_an_inline_snapshot) {
  const auto path = text_file("inline.capture", "# ws wss://example/stream?streams=x@depth5\n"
                                                "1 {\"stream\":\"x@depth5\",\"data\":{\"lastUpdateId\":7}}\n"
                                                "2 {\"lastUpdateId\":8,\"bids\":[],\"asks\":[]}\n"
                                                "3 {\"e\":\"x\",\"lastUpdateId\":9}\n"
                                                "{\"lastUpdateId\":10}\n"
                                                "# rest GET https://example/depth?symbol=X\n"
                                                "5 {\"lastUpdateId\":11}\n");
  const std::vector<Record> expected = {
      {Kind::ws_open, 0, "wss://example/stream?streams=x@depth5", "", 1},
      {Kind::ws_frame, 1, R"({"stream":"x@depth5","data":{"lastUpdateId":7}})", "", 2},
      {Kind::rest_response, 2, R"({"lastUpdateId":8,"bids":[],"asks":[]})", "", 3},
      {Kind::ws_frame, 3, R"({"e":"x","lastUpdateId":9})", "", 4},
      {Kind::rest_response, 0, R"({"lastUpdateId":10})", "", 5},
      {Kind::rest_response, 5, R"({"lastUpdateId":11})", "https://example/depth?symbol=X", 7},
  };
  EXPECT_EQ(read_all(path), expected);
  EXPECT_EQ(kind_name(Kind::rest_response), "rest_response");
  EXPECT_EQ(kind_name(Kind::ws_open), "ws_open");
}

TEST_F(capture, should_name_the_line_of_every_malformed_line) {
  struct Case {
    std::string_view content;
    std::size_t line;
    std::string_view reason;
  };
  const Case cases[] = {
      {"1 {}\n2 {}\n12x4 {}\n", 3, "bad timestamp"},
      {"18446744073709551616 {}\n", 1, "beyond uint64"}, // 2^64
      {"123\n", 1, "bad timestamp"},
      {"123\t{}\n", 1, "bad timestamp"},
      {"-5 {}\n", 1, "expected '<recv_unix_ns> <payload>'"},
      {"1 {}\n 2 {}\n", 2, "expected '<recv_unix_ns> <payload>'"},
      {"1 {}\nhello\n", 2, "got 'hello'"},
      {"1 {}\n# rest GET https://x/depth\n", 2, "end of file"},
      {"# rest GET https://x/depth\n# ws wss://y\n", 2, "response body of the '# rest' line 1"},
      {"# rest GET https://x/depth\n\n1 {}\n", 2, "response body"},
      {"# rest POST https://x/depth\n1 {}\n", 1, "expected '# rest GET <url>'"},
      {"# rest GET\n1 {}\n", 1, "expected '# rest GET <url>'"},
      {"# rest GET https://x/depth\nbody\n", 2, "expected '<recv_unix_ns> <payload>'"},
      {"1 {}\n# ws\n", 2, "'# ws' without a url"},
      {"# sent \n", 1, "'# sent' without text"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const auto path = text_file("bad" + std::to_string(n++) + ".capture", c.content);
    const std::string message = read_error(path);
    EXPECT_TRUE(contains(message, where(path, c.line))) << c.content << " -> " << message;
    EXPECT_TRUE(contains(message, c.reason)) << c.content << " -> " << message;
  }
  // The timestamp limit itself is accepted.
  const auto max = text_file("max.capture", "18446744073709551615 {}\n");
  ASSERT_EQ(read_all(max).size(), 1U);
  EXPECT_EQ(read_all(max)[0].recv_ns, UINT64_MAX);
}

TEST_F(capture, should_name_the_path_when_the_file_cannot_be_opened) {
  const fs::path missing = dir_ / "missing.capture";
  try {
    CaptureReader reader(missing.string());
    FAIL() << "opened a missing file";
  } catch (const CaptureError& e) {
    EXPECT_TRUE(contains(e.what(), missing.string())) << e.what();
    EXPECT_TRUE(contains(e.what(), "No such file")) << e.what();
  }
  try {
    CaptureReader reader(dir_.string());
    FAIL() << "opened a directory";
  } catch (const CaptureError& e) {
    EXPECT_TRUE(contains(e.what(), dir_.string())) << e.what();
  }
}

TEST_F(capture, should_keep_lines_longer_than_the_buffer_intact) {
  // Lines from empty to 3 MiB, so lines straddle every refill and force the buffer to grow.
  std::mt19937_64 rng(41249);
  std::vector<std::string> payloads;
  std::string content;
  for (int i = 0; i < 300; ++i) {
    const std::size_t length =
        i % 50 == 49 ? (std::size_t{3} << 20U) - static_cast<std::size_t>(i) : static_cast<std::size_t>(rng() % 40'000);
    std::string payload(length, 'x');
    for (auto& ch : payload) {
      ch = static_cast<char>('a' + rng() % 26U);
    }
    payloads.push_back(payload);
    content.append(std::to_string(1000 + i)).append(" ").append(payload).append("\n");
  }
  const auto path = text_file("long.capture", content);
  const auto records = read_all(path);
  ASSERT_EQ(records.size(), payloads.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].recv_ns, 1000U + i);
    ASSERT_EQ(records[i].line, i + 1);
    ASSERT_TRUE(records[i].text == payloads[i]) << "line " << i + 1 << " length " << records[i].text.size();
  }
}

TEST_F(capture, should_keep_the_rest_url_when_its_body_straddles_a_refill) {
  // The `# rest` line ends just before the reader's first 1 MiB read; the body comes after it.
  const std::string rest_line = "# rest GET https://example/depth?symbol=ABC&limit=1000\n";
  const std::string filler = "1 " + std::string((std::size_t{1} << 20U) - rest_line.size() - 3 - 10, 'f') + "\n";
  std::string content = filler;
  constexpr std::string_view kHead = R"({"lastUpdateId":1,"bids":[")";
  constexpr std::string_view kTail = R"("]})";
  content.append(rest_line).append("2 ").append(kHead).append(200'000, '9').append(kTail).append("\n");
  const auto records = read_all(text_file("straddle.capture", content));
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[1].kind, Kind::rest_response);
  EXPECT_EQ(records[1].url, "https://example/depth?symbol=ABC&limit=1000");
  EXPECT_EQ(records[1].line, 3U);
  EXPECT_EQ(records[1].text.size(), kHead.size() + 200'000U + kTail.size());
}

TEST_F(capture, should_refuse_a_line_longer_than_the_limit) {
  const auto path = text_file("limit.capture", "1 " + std::string(98, 'a') + "\n2 " + std::string(99, 'b') + "\n");
  EXPECT_EQ(read_error(path, 101), "");
  const std::string message = read_error(path, 100);
  EXPECT_TRUE(contains(message, where(path, 2))) << message;
  EXPECT_TRUE(contains(message, "longer than 100 bytes")) << message;
}

// ---- the writer ----

TEST_F(capture, should_reject_line_breaks_and_empty_urls_and_write_nothing_for_them) {
  const fs::path path = dir_ / "rejects.capture";
  CaptureWriter writer(path.string());
  EXPECT_EQ(writer.write_frame(1, "a\nb"), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_frame(1, "a\r"), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_ws_open(""), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_ws_open("wss://a\nb"), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_sent(""), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_sent("{\n}"), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_rest(2, "", "{}"), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_rest(2, "https://x", "{\n}"), CaptureWriteError::invalid_text);
  EXPECT_EQ(writer.write_frame(3, R"({"ok":true})"), CaptureWriteError::ok);
  EXPECT_EQ(writer.write_frame(4, ""), CaptureWriteError::ok);
  writer.close();
  EXPECT_EQ(file_bytes(path), "3 {\"ok\":true}\n4 \n");
}

TEST_F(capture, should_make_flushed_records_visible_and_fail_writes_after_close) {
  const fs::path path = dir_ / "flush.capture";
  CaptureWriter writer(path.string());
  EXPECT_FALSE(writer.compressed());
  ASSERT_EQ(writer.write_ws_open("wss://example"), CaptureWriteError::ok);
  ASSERT_EQ(writer.write_frame(5, "{}"), CaptureWriteError::ok);
  ASSERT_EQ(writer.flush(), CaptureWriteError::ok);
  EXPECT_EQ(read_all(path),
            (std::vector<Record>{{Kind::ws_open, 0, "wss://example", "", 1}, {Kind::ws_frame, 5, "{}", "", 2}}));
  writer.close();
  writer.close(); // idempotent
  EXPECT_EQ(writer.write_frame(6, "{}"), CaptureWriteError::io_error);
  EXPECT_EQ(writer.flush(), CaptureWriteError::io_error);
}

TEST_F(capture, should_gzip_exactly_when_the_path_ends_in_gz) {
  for (const char* name : {"a.capture.gz", "b.capture", "c.gzip", "d.gz"}) {
    const fs::path path = dir_ / name;
    {
      CaptureWriter writer(path.string());
      ASSERT_EQ(writer.write_frame(1, "{}"), CaptureWriteError::ok);
    } // the destructor closes
    const std::string bytes = raw_bytes(path);
    const bool gzip = bytes.starts_with("\x1f\x8b");
    EXPECT_EQ(gzip, std::string_view(name).ends_with(".gz")) << name;
    EXPECT_EQ(read_all(path), (std::vector<Record>{{Kind::ws_frame, 1, "{}", "", 1}})) << name;
  }
}

TEST_F(capture, should_name_the_path_when_the_writer_cannot_create_the_file) {
  const fs::path path = dir_ / "no" / "such" / "dir.capture";
  try {
    CaptureWriter writer(path.string());
    FAIL() << "created a file in a missing directory";
  } catch (const CaptureError& e) {
    EXPECT_TRUE(contains(e.what(), path.string())) << e.what();
  }
}

} // namespace
} // namespace qf::feeds
