#include "qf/ipc/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <ctime>

#include "qf/ipc/fixed_point.hpp"

namespace qf::ipc {
namespace {

void append(fmt::memory_buffer& out, std::string_view s) { out.append(s.data(), s.data() + s.size()); }

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (overlong forms,
// surrogates and code points past U+10FFFF are invalid, as RFC 3629 says).
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + n > s.size() || b(1) < lo || b(1) > hi) {
    return 0;
  }
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) {
      return 0;
    }
  }
  return n;
}

template <class T> void append_integer(fmt::memory_buffer& out, T v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// printf's %.<precision>g through std::to_chars (the same text, no locale, no allocation).
std::string_view general(char (&buf)[32], double v, int precision) noexcept {
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, precision);
  return {buf, static_cast<std::size_t>(r.ptr - buf)};
}

} // namespace

void append_json_escaped(fmt::memory_buffer& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4U], kHex[c & 0xFU]};
      out.append(esc, esc + 6);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (const std::size_t n = utf8_sequence(text, i); n != 0) {
      out.append(text.data() + i, text.data() + i + n);
      i += n;
    } else {
      append(out, "\\ufffd");
      ++i;
    }
  }
}

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ > 0) {
    const std::uint64_t bit = std::uint64_t{1} << static_cast<unsigned>(depth_ - 1);
    if ((has_items_ & bit) != 0) {
      buf_.push_back(',');
    }
    has_items_ |= bit;
  }
}

void JsonWriter::open(char c) {
  separate();
  buf_.push_back(c);
  if (depth_ < kMaxDepth) {
    ++depth_;
    has_items_ &= ~(std::uint64_t{1} << static_cast<unsigned>(depth_ - 1));
  }
}

void JsonWriter::close(char c) {
  buf_.push_back(c);
  if (depth_ > 0) {
    --depth_;
  }
}

JsonWriter& JsonWriter::begin_object() {
  open('{');
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  close('}');
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  open('[');
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  close(']');
  return *this;
}
JsonWriter& JsonWriter::key(std::string_view k) {
  separate();
  buf_.push_back('"');
  append_json_escaped(buf_, k);
  append(buf_, "\":");
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::str(std::string_view v) {
  separate();
  buf_.push_back('"');
  append_json_escaped(buf_, v);
  buf_.push_back('"');
  return *this;
}
JsonWriter& JsonWriter::num(double v) {
  if (!std::isfinite(v)) {
    return null();
  }
  separate();
  char buf[32];
  append(buf_, general(buf, v, 10));
  return *this;
}
JsonWriter& JsonWriter::exact(double v) {
  if (!std::isfinite(v)) {
    return null();
  }
  separate();
  char buf[32];
  std::string_view t = general(buf, v, 15);
  double back = 0;
  std::from_chars(t.data(), t.data() + t.size(), back);
  if (back != v) {
    t = general(buf, v, 17);
  }
  append(buf_, t);
  return *this;
}
JsonWriter& JsonWriter::u64(std::uint64_t v) {
  separate();
  append_integer(buf_, v);
  return *this;
}
JsonWriter& JsonWriter::i64(std::int64_t v) {
  separate();
  append_integer(buf_, v);
  return *this;
}
JsonWriter& JsonWriter::boolean(bool v) {
  separate();
  append(buf_, v ? "true" : "false");
  return *this;
}
JsonWriter& JsonWriter::null() {
  separate();
  append(buf_, "null");
  return *this;
}
JsonWriter& JsonWriter::decimal(std::int64_t value, int decimals) {
  char buf[kFixedMaxChars];
  const std::size_t n = format_fixed(value, decimals, buf, sizeof buf);
  if (n == 0) {
    return null();
  }
  separate();
  buf_.push_back('"');
  buf_.append(buf, buf + n);
  buf_.push_back('"');
  return *this;
}
JsonWriter& JsonWriter::raw(std::string_view json) {
  separate();
  append(buf_, json);
  return *this;
}
JsonWriter& JsonWriter::time(std::string_view k, std::uint64_t unix_ns) {
  separate();
  buf_.push_back('"');
  append_json_escaped(buf_, k);
  append(buf_, "_unix_ns\":");
  append_integer(buf_, unix_ns);
  key(k);
  if (unix_ns == 0) {
    return null();
  }
  return str(iso8601(unix_ns));
}

std::string JsonWriter::take() {
  std::string s(buf_.data(), buf_.size());
  clear();
  return s;
}

void JsonWriter::clear() noexcept {
  buf_.clear();
  has_items_ = 0;
  depth_ = 0;
  after_key_ = false;
}

std::string iso8601(std::uint64_t unix_ns) {
  const auto secs = static_cast<std::time_t>(unix_ns / 1'000'000'000ULL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ns % 1'000'000'000ULL);
}

} // namespace qf::ipc
