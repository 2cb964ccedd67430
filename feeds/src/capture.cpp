#include "qf/feeds/capture.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

namespace qf::feeds {

namespace {

constexpr std::size_t kInitialBufferBytes = std::size_t{1} << 20U; // holds every line of captures/
constexpr unsigned kZlibBufferBytes = 256U << 10U;                 // fewer read/write syscalls
constexpr std::size_t kMaxReadBytes = std::size_t{1} << 30U;       // gzread takes an unsigned count
constexpr std::string_view kInlineSnapshotPrefix = R"({"lastUpdateId")";

[[nodiscard]] bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

[[nodiscard]] bool is_one_line(std::string_view text) noexcept {
  return text.find_first_of("\r\n") == std::string_view::npos;
}

// The start of an offending line, for error messages.
[[nodiscard]] std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 40;
  std::string s = "'";
  s.append(line.substr(0, kMax));
  s.append(line.size() > kMax ? "...'" : "'");
  return s;
}

[[nodiscard]] std::string errno_text(int error) {
  return error == 0 ? "unknown error" : std::strerror(error);
}

} // namespace

std::string_view kind_name(CaptureRecord::Kind kind) noexcept {
  switch (kind) {
  case CaptureRecord::Kind::ws_open:
    return "ws_open";
  case CaptureRecord::Kind::sent:
    return "sent";
  case CaptureRecord::Kind::ws_frame:
    return "ws_frame";
  case CaptureRecord::Kind::rest_response:
    return "rest_response";
  }
  return "unknown";
}

// ---- CaptureReader -----------------------------------------------------------------------

void CaptureReader::GzCloser::operator()(gzFile_s* file) const noexcept {
  ::gzclose(file);
}

CaptureReader::CaptureReader(const std::string& path, std::size_t max_line_bytes)
    : path_(path), max_line_bytes_(max_line_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw CaptureError(path + ": cannot open capture: " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw CaptureError(path + ": cannot open capture: is a directory or cannot be inspected");
  }
  gzFile file = ::gzdopen(fd, "rb");
  if (file == nullptr) {
    ::close(fd);
    throw CaptureError(path + ": cannot open capture: out of memory");
  }
  file_.reset(file);
  ::gzbuffer(file, kZlibBufferBytes);
  // zlib looks for the gzip magic (1f 8b) and otherwise passes the bytes through unchanged.
  compressed_ = ::gzdirect(file) == 0;
  buffer_.resize(kInitialBufferBytes);
}

void CaptureReader::fail(std::size_t line, std::string_view reason) const {
  std::string message = path_;
  message.append(":").append(std::to_string(line)).append(": ").append(reason);
  throw CaptureError(message);
}

void CaptureReader::fill() {
  const std::size_t room = std::min(buffer_.size() - end_, kMaxReadBytes);
  const int got = ::gzread(file_.get(), buffer_.data() + end_, static_cast<unsigned>(room));
  int error = Z_OK;
  if (got < 0) {
    const char* message = ::gzerror(file_.get(), &error);
    fail(line_ + 1,
         error == Z_ERRNO ? "read error: " + errno_text(errno) : std::string("corrupt gzip data: ") + message);
  }
  if (got == 0) {
    // zlib reports a gzip stream cut short as a plain end of file plus Z_BUF_ERROR.
    const char* message = ::gzerror(file_.get(), &error);
    if (error != Z_OK) {
      fail(line_ + 1, std::string("truncated or corrupt gzip data: ") + message);
    }
    eof_ = true;
    return;
  }
  end_ += static_cast<std::size_t>(got);
}

bool CaptureReader::read_line(std::string_view& line) {
  std::size_t scanned = begin_; // bytes before this hold no newline
  for (;;) {
    const char* base = buffer_.data();
    const void* newline = scanned < end_ ? std::memchr(base + scanned, '\n', end_ - scanned) : nullptr;
    std::size_t stop = 0;
    if (newline != nullptr) {
      stop = static_cast<std::size_t>(static_cast<const char*>(newline) - base);
    } else if (end_ - begin_ > max_line_bytes_) {
      fail(line_ + 1, "line longer than " + std::to_string(max_line_bytes_) + " bytes");
    } else if (eof_) {
      if (begin_ == end_) {
        return false;
      }
      stop = end_; // a last line without a newline
    } else {
      scanned = end_;
      if (begin_ > 0) { // keep the partial line, drop what the caller has consumed
        std::memmove(buffer_.data(), base + begin_, end_ - begin_);
        scanned -= begin_;
        end_ -= begin_;
        begin_ = 0;
      }
      if (end_ == buffer_.size()) {
        buffer_.resize(buffer_.size() * 2);
      }
      fill();
      continue;
    }
    ++line_;
    std::size_t length = stop - begin_;
    if (length > max_line_bytes_) {
      fail(line_, "line longer than " + std::to_string(max_line_bytes_) + " bytes");
    }
    if (length > 0 && base[begin_ + length - 1] == '\r') {
      --length;
    }
    line = std::string_view(base + begin_, length);
    begin_ = stop < end_ ? stop + 1 : stop;
    return true;
  }
}

void CaptureReader::parse_payload_line(std::string_view line, CaptureRecord& out) const {
  out.recv_ns = 0;
  if (is_digit(line.front())) {
    std::uint64_t ns = 0;
    std::size_t i = 0;
    for (; i < line.size() && is_digit(line[i]); ++i) {
      const auto digit = static_cast<std::uint64_t>(line[i] - '0');
      if (ns > (std::numeric_limits<std::uint64_t>::max() - digit) / 10U) {
        fail(line_, "bad timestamp (beyond uint64) in " + excerpt(line));
      }
      ns = ns * 10U + digit;
    }
    if (i == line.size() || line[i] != ' ') {
      fail(line_, "bad timestamp: expected '<recv_unix_ns> <payload>', got " + excerpt(line));
    }
    out.recv_ns = ns;
    out.text = line.substr(i + 1);
  } else if (line.front() == '{' || line.front() == '[') {
    out.text = line; // untimed JSON line
  } else {
    fail(line_, "expected '<recv_unix_ns> <payload>', a '#' metadata line or a JSON line, got " + excerpt(line));
  }
  out.kind =
      out.text.starts_with(kInlineSnapshotPrefix) ? CaptureRecord::Kind::rest_response : CaptureRecord::Kind::ws_frame;
  out.url = {};
  out.line = line_;
}

bool CaptureReader::next(CaptureRecord& out) {
  std::string_view line;
  for (;;) {
    if (!read_line(line)) {
      return false;
    }
    if (line.empty()) {
      continue;
    }
    if (line.front() != '#') {
      parse_payload_line(line, out);
      return true;
    }
    if (line.size() < 2 || line[1] != ' ') {
      continue; // "#..." comment
    }
    const std::string_view body = line.substr(2);
    const std::size_t space = body.find(' ');
    const std::string_view keyword = body.substr(0, space);
    const std::string_view arg = space == std::string_view::npos ? std::string_view{} : body.substr(space + 1);
    if (keyword == "ws" || keyword == "sent") {
      if (arg.empty()) {
        fail(line_, "'# " + std::string(keyword) + "' without " + (keyword == "ws" ? "a url" : "text"));
      }
      out.kind = keyword == "ws" ? CaptureRecord::Kind::ws_open : CaptureRecord::Kind::sent;
      out.recv_ns = 0;
      out.text = arg;
      out.url = {};
      out.line = line_;
      return true;
    }
    if (keyword == "rest") {
      constexpr std::string_view kGet = "GET ";
      if (!arg.starts_with(kGet) || arg.size() == kGet.size()) {
        fail(line_, "expected '# rest GET <url>', got " + excerpt(line));
      }
      rest_url_.assign(arg.substr(kGet.size())); // the buffer may move while reading the body
      const std::size_t rest_line = line_;
      if (!read_line(line)) {
        fail(rest_line, "'# rest' line without a response body (end of file)");
      }
      if (line.empty() || line.front() == '#') {
        fail(line_,
             "expected the response body of the '# rest' line " + std::to_string(rest_line) + ", got " + excerpt(line));
      }
      parse_payload_line(line, out);
      out.kind = CaptureRecord::Kind::rest_response;
      out.url = rest_url_;
      return true;
    }
    // Any other "# ..." line is a comment.
  }
}

// ---- CaptureWriter -----------------------------------------------------------------------

void CaptureWriter::GzCloser::operator()(gzFile_s* file) const noexcept {
  ::gzclose(file);
}

CaptureWriter::CaptureWriter(const std::string& path) : path_(path) {
  compressed_ = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  errno = 0;
  // "T": zlib's transparent (uncompressed) mode, so both kinds share one code path.
  gzFile file = ::gzopen(path.c_str(), compressed_ ? "wb" : "wbT");
  if (file == nullptr) {
    throw CaptureError(path + ": cannot create capture: " + errno_text(errno));
  }
  file_.reset(file);
  ::gzbuffer(file, kZlibBufferBytes);
}

bool CaptureWriter::put(std::string_view bytes) noexcept {
  if (bytes.empty()) {
    return true; // zlib reports a zero-byte write as 0, the same as an error
  }
  return ::gzfwrite(bytes.data(), 1, bytes.size(), file_.get()) == bytes.size();
}

bool CaptureWriter::put_line(std::string_view prefix, std::string_view text) noexcept {
  return put(prefix) && put(text) && put("\n");
}

bool CaptureWriter::put_payload_line(std::uint64_t recv_ns, std::string_view payload) noexcept {
  char stamp[24];
  const auto [end, ec] = std::to_chars(stamp, stamp + sizeof stamp - 1, recv_ns);
  (void)ec; // 20 digits always fit
  *end = ' ';
  return put_line(std::string_view(stamp, static_cast<std::size_t>(end - stamp) + 1), payload);
}

CaptureWriteError CaptureWriter::write_ws_open(std::string_view url) noexcept {
  if (url.empty() || !is_one_line(url)) {
    return CaptureWriteError::invalid_text;
  }
  return file_ && put_line("# ws ", url) ? CaptureWriteError::ok : CaptureWriteError::io_error;
}

CaptureWriteError CaptureWriter::write_sent(std::string_view json) noexcept {
  if (json.empty() || !is_one_line(json)) {
    return CaptureWriteError::invalid_text;
  }
  return file_ && put_line("# sent ", json) ? CaptureWriteError::ok : CaptureWriteError::io_error;
}

CaptureWriteError CaptureWriter::write_frame(std::uint64_t recv_ns, std::string_view payload) noexcept {
  if (!is_one_line(payload)) {
    return CaptureWriteError::invalid_text;
  }
  return file_ && put_payload_line(recv_ns, payload) ? CaptureWriteError::ok : CaptureWriteError::io_error;
}

CaptureWriteError CaptureWriter::write_rest(std::uint64_t recv_ns, std::string_view url,
                                            std::string_view body) noexcept {
  if (url.empty() || !is_one_line(url) || !is_one_line(body)) {
    return CaptureWriteError::invalid_text;
  }
  return file_ && put_line("# rest GET ", url) && put_payload_line(recv_ns, body) ? CaptureWriteError::ok
                                                                                  : CaptureWriteError::io_error;
}

CaptureWriteError CaptureWriter::flush() noexcept {
  return file_ && ::gzflush(file_.get(), Z_SYNC_FLUSH) == Z_OK ? CaptureWriteError::ok : CaptureWriteError::io_error;
}

void CaptureWriter::close() {
  if (!file_) {
    return;
  }
  errno = 0;
  const int rc = ::gzclose(file_.release());
  if (rc != Z_OK) {
    throw CaptureError(path_ + ": cannot finish capture: " + (rc == Z_ERRNO ? errno_text(errno) : ::zError(rc)));
  }
}

} // namespace qf::feeds
