#pragma once
// Capture files (DESIGN.md "Captures"): recorded venue traffic, one message per line,
// `<recv_unix_ns> <payload>`, plus `#` metadata lines: `# ws <url>` (a connection opened),
// `# sent <json>` (a message the client sent), `# rest GET <url>` (the next line is that
// request's response body). CaptureReader reads a file, plain or gzip (told apart by the
// 1f 8b magic, never by the name): a whole single-member gzip file (its trailer's size up to
// kMaxWholeBytes) is inflated at once by libdeflate (measured 2-3x zlib on the captures); any
// other gzip (several members, a file cut short or still being written, larger) and plain files
// stream through zlib and one reused buffer. Records are views that stay valid until the next
// call to next(), each with kPadding readable bytes after it, so parsers read it in place
// (CaptureRecord::padded()). CaptureWriter writes the same format (gzip when the path
// ends in ".gz"); reader and writer round-trip. Replay and recording code, not the core loop:
// the reader throws CaptureError naming path and line; the writer's per-record calls return an
// error code and never throw. One thread per object.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "qf/feeds/padded_buffer.hpp"

struct gzFile_s; // zlib's file handle; zlib.h stays out of this header

namespace qf::feeds {

class CaptureError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct CaptureRecord {
  enum class Kind : std::uint8_t {
    ws_open,       // `# ws <url>`: text = url, recv_ns = 0
    sent,          // `# sent <json>`: text = json, recv_ns = 0
    ws_frame,      // a websocket text frame: text = payload
    rest_response, // a REST body: text = body, url = the `# rest GET` url, empty when inline
  };
  Kind kind = Kind::ws_frame;
  std::uint64_t recv_ns = 0; // local receive time, unix ns; 0 for metadata and untimed JSON lines
  std::string_view text;
  std::string_view url;
  std::size_t line = 0; // 1-based physical line of `text` in the (decompressed) file
  std::size_t readable = 0; // bytes readable from text.data(): at least text.size() + kPadding
  [[nodiscard]] PaddedView padded() const noexcept { return {text.data(), text.size(), readable}; }
};

[[nodiscard]] std::string_view kind_name(CaptureRecord::Kind kind) noexcept;

// Line rules, in order:
//   blank line                    skipped (a trailing "\r" is dropped from every line: CRLF files read)
//   `# ws <url>`                  ws_open;  `# ws` without a url is an error
//   `# sent <json>`               sent;     `# sent` without text is an error
//   `# rest GET <url>`            the next line must be a payload line: rest_response with that url;
//                                 end of file, a blank or a `#` line there is an error
//   any other line starting '#'   a comment, skipped (`#ws x` and `# note ...` are comments)
//   `<digits> <payload>`          recv_ns = digits (must fit uint64), payload = rest after ONE space
//   line starting '{' or '['      untimed JSON: recv_ns = 0, payload = the line
//   anything else                 an error ("bad timestamp" when it starts with a digit)
// A payload line that is not after `# rest` is a ws_frame, except an inline REST snapshot:
// a payload starting with `{"lastUpdateId"` (Binance's depth snapshot body; combined-stream
// frames start with `{"stream":`) is a rest_response with an empty url. Which symbol it belongs
// to (the capture's only depth-subscribed one) is for the venue layer to decide. Limitation: a
// raw, non-combined Binance partial-depth stream frame looks the same; QuantFlow subscribes to
// combined streams only.
class CaptureReader {
public:
  static constexpr std::size_t kDefaultMaxLineBytes = std::size_t{64} << 20U;
  static constexpr std::size_t kMaxWholeBytes = std::size_t{1} << 30U; // inflated at once up to this

  // Throws CaptureError naming the path when it cannot be opened or is a directory.
  explicit CaptureReader(const std::string& path, std::size_t max_line_bytes = kDefaultMaxLineBytes);
  ~CaptureReader() = default;
  CaptureReader(CaptureReader&&) noexcept = default;
  CaptureReader& operator=(CaptureReader&&) noexcept = default;
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // Reads `path` from its start, keeping this reader's memory (replay loops and day files: a
  // fresh allocation per file costs a page fault per 4 KiB); throws as the constructor.
  void open(const std::string& path);

  // The next record; false at end of file. Throws CaptureError "<path>:<line>: <reason>" on a
  // malformed line, a line longer than max_line_bytes, or corrupt or truncated gzip data.
  [[nodiscard]] bool next(CaptureRecord& out);

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] bool compressed() const noexcept { return compressed_; }
  [[nodiscard]] std::size_t lines_read() const noexcept { return line_; }

private:
  struct GzCloser {
    void operator()(gzFile_s* file) const noexcept;
  };

  [[nodiscard]] bool read_line(std::string_view& line);
  [[nodiscard]] bool inflate_whole(int fd, std::size_t file_bytes);
  void fill();
  void finish(CaptureRecord& out) const noexcept;
  void reallocate(std::size_t capacity); // keeps buffer_[0, end_)
  void parse_payload_line(std::string_view line, CaptureRecord& out) const;
  [[noreturn, gnu::cold]] void fail(std::size_t line, std::string_view reason) const;

  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_; // null when the whole file was inflated at once
  // Not zero-filled (a whole inflated file would be written twice); kPadding bytes past end_ are
  // always allocated and zeroed.
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  std::unique_ptr<unsigned char[]> packed_; // the compressed file, for inflate_whole
  std::size_t packed_capacity_ = 0;
  std::size_t begin_ = 0; // unconsumed bytes are buffer_[begin_, end_)
  std::size_t end_ = 0;
  std::size_t line_ = 0; // physical lines consumed so far
  std::size_t max_line_bytes_;
  std::string rest_url_; // copied: a refill between the `# rest` line and its body moves the buffer
  bool eof_ = false;
  bool compressed_ = false;
};

enum class CaptureWriteError : std::uint8_t {
  ok,
  invalid_text, // contains '\n' or '\r' (a record is one line; no escaping), or an empty url
  io_error,     // the write failed, or the writer is closed
};

// Writes the capture format; gzip (zlib's default level) when the path ends in ".gz", plain
// otherwise. Nothing is written for a rejected record. Lines are buffered: flush() pushes them
// to the file (a gzip sync point), close() finishes the file and reports the outcome.
class CaptureWriter {
public:
  // Creates or truncates `path`; throws CaptureError naming the path when it cannot.
  explicit CaptureWriter(const std::string& path);
  ~CaptureWriter() = default; // closes; an error at that point is lost, call close() to see it
  CaptureWriter(CaptureWriter&&) noexcept = default;
  CaptureWriter& operator=(CaptureWriter&&) noexcept = default;
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  [[nodiscard]] CaptureWriteError write_ws_open(std::string_view url) noexcept;
  [[nodiscard]] CaptureWriteError write_sent(std::string_view json) noexcept;
  [[nodiscard]] CaptureWriteError write_frame(std::uint64_t recv_ns, std::string_view payload) noexcept;
  // `# rest GET <url>` then `<recv_ns> <body>`. An inline snapshot (no url) is a write_frame.
  [[nodiscard]] CaptureWriteError write_rest(std::uint64_t recv_ns, std::string_view url,
                                             std::string_view body) noexcept;
  [[nodiscard]] CaptureWriteError flush() noexcept;
  // Ends the gzip member written so far (Z_FINISH: the file up to here is a complete gzip file of
  // whole lines; a later write starts a new member, which readers take as one stream) and
  // remembers where it ends.
  [[nodiscard]] CaptureWriteError checkpoint() noexcept;
  // After a failed write: closes the file and cuts it back to the last checkpoint, so it is valid
  // gzip holding whole records only; a file with no checkpoint is removed. Never throws.
  void abandon() noexcept;
  // Finishes the file; throws CaptureError naming the path when that fails. Idempotent.
  void close();

  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] bool compressed() const noexcept { return compressed_; }

private:
  struct GzCloser {
    void operator()(gzFile_s* file) const noexcept;
  };

  [[nodiscard]] bool put(std::string_view bytes) noexcept;
  [[nodiscard]] bool put_line(std::string_view prefix, std::string_view text) noexcept;
  [[nodiscard]] bool put_payload_line(std::uint64_t recv_ns, std::string_view payload) noexcept;

  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
  bool compressed_ = false;
  std::int64_t checkpoint_bytes_ = -1; // file size at the last checkpoint; -1: none yet
};

} // namespace qf::feeds
