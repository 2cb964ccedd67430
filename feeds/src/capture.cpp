#include "qf/feeds/capture.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <libdeflate.h>
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

CaptureReader::CaptureReader(const std::string& path, std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {
  open(path);
}

void CaptureReader::open(const std::string& path) {
  path_ = path;
  file_.reset();
  begin_ = end_ = line_ = 0;
  rest_url_.clear();
  eof_ = compressed_ = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw CaptureError(path + ": cannot open capture: " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw CaptureError(path + ": cannot open capture: is a directory or cannot be inspected");
  }
  unsigned char magic[2] = {};
  const bool gzip = ::pread(fd, magic, sizeof magic, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (gzip && inflate_whole(fd, static_cast<std::size_t>(st.st_size))) {
    ::close(fd);
    compressed_ = true;
    return;
  }
  gzFile file = ::gzdopen(fd, "rb"); // pread above left the offset at 0
  if (file == nullptr) {
    ::close(fd);
    throw CaptureError(path + ": cannot open capture: out of memory");
  }
  file_.reset(file);
  ::gzbuffer(file, kZlibBufferBytes);
  // zlib looks for the gzip magic (1f 8b) and otherwise passes the bytes through unchanged.
  compressed_ = ::gzdirect(file) == 0;
  if (capacity_ < kInitialBufferBytes + kPadding) {
    reallocate(kInitialBufferBytes + kPadding);
  }
  std::memset(buffer_.get(), 0, kPadding);
}

void CaptureReader::reallocate(std::size_t capacity) {
  std::unique_ptr<char[]> bigger(new char[capacity]); // uninitialised on purpose: see the header
  if (end_ > 0) {
    std::memcpy(bigger.get(), buffer_.get(), end_);
  }
  buffer_ = std::move(bigger);
  capacity_ = capacity;
  std::memset(buffer_.get() + end_, 0, kPadding);
}

// A complete single-member gzip file inflated into buffer_ at once (libdeflate has no streaming
// interface); false, nothing kept, for anything else: zlib then streams it and names the line
// where corrupt or truncated data starts.
bool CaptureReader::inflate_whole(int fd, std::size_t file_bytes) {
  constexpr std::size_t kMinGzipBytes = 18; // 10-byte header, 8-byte trailer: CRC32, ISIZE (size mod 2^32)
  if (file_bytes < kMinGzipBytes || file_bytes > kMaxWholeBytes) {
    return false;
  }
  if (packed_capacity_ < file_bytes) {
    packed_.reset(new unsigned char[file_bytes]); // overwritten whole below
    packed_capacity_ = file_bytes;
  }
  unsigned char* in = packed_.get();
  for (std::size_t got = 0; got < file_bytes;) {
    const ssize_t n = ::pread(fd, in + got, file_bytes - got, static_cast<off_t>(got));
    if (n <= 0) {
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  const unsigned char* isize = in + file_bytes - 4;
  const std::size_t size = std::size_t{isize[0]} | std::size_t{isize[1]} << 8U | std::size_t{isize[2]} << 16U |
                           std::size_t{isize[3]} << 24U;
  if (size > kMaxWholeBytes) {
    return false;
  }
  struct Free {
    void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
  };
  const std::unique_ptr<libdeflate_decompressor, Free> inflater(libdeflate_alloc_decompressor());
  if (!inflater) {
    return false;
  }
  if (capacity_ < size + kPadding) {
    reallocate(size + kPadding);
  }
  std::size_t in_used = 0;
  std::size_t out_size = 0;
  const libdeflate_result rc = libdeflate_gzip_decompress_ex(inflater.get(), in, file_bytes, buffer_.get(),
                                                             size, &in_used, &out_size);
  if (rc != LIBDEFLATE_SUCCESS || in_used != file_bytes || out_size != size) {
    return false; // end_ is still 0: the streaming path starts from an empty buffer
  }
  end_ = size;
  std::memset(buffer_.get() + end_, 0, kPadding);
  eof_ = true;
  return true;
}

void CaptureReader::fail(std::size_t line, std::string_view reason) const {
  std::string message = path_;
  message.append(":").append(std::to_string(line)).append(": ").append(reason);
  throw CaptureError(message);
}

void CaptureReader::fill() {
  const std::size_t room = std::min(capacity_ - kPadding - end_, kMaxReadBytes);
  const int got = ::gzread(file_.get(), buffer_.get() + end_, static_cast<unsigned>(room));
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
  std::memset(buffer_.get() + end_, 0, kPadding);
}

bool CaptureReader::read_line(std::string_view& line) {
  std::size_t scanned = begin_; // bytes before this hold no newline
  for (;;) {
    const char* base = buffer_.get();
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
        std::memmove(buffer_.get(), base + begin_, end_ - begin_);
        scanned -= begin_;
        end_ -= begin_;
        begin_ = 0;
      }
      if (end_ == capacity_ - kPadding) {
        reallocate((capacity_ - kPadding) * 2 + kPadding);
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

void CaptureReader::finish(CaptureRecord& out) const noexcept {
  out.readable = static_cast<std::size_t>(buffer_.get() + capacity_ - out.text.data());
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
      finish(out);
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
      finish(out);
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
      finish(out);
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

CaptureWriteError CaptureWriter::checkpoint() noexcept {
  if (!file_ || ::gzflush(file_.get(), Z_FINISH) != Z_OK) {
    return CaptureWriteError::io_error;
  }
  checkpoint_bytes_ = ::gzoffset(file_.get()); // everything is written: the file's own offset
  return checkpoint_bytes_ < 0 ? CaptureWriteError::io_error : CaptureWriteError::ok;
}

void CaptureWriter::abandon() noexcept {
  if (file_) {
    (void)::gzclose(file_.release()); // may write part of what it holds: cut off below
  }
  if (checkpoint_bytes_ <= 0) {
    (void)::unlink(path_.c_str());
  } else {
    (void)::truncate(path_.c_str(), static_cast<off_t>(checkpoint_bytes_)); // shrinking needs no room
  }
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
