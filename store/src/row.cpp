#include "qf/store/row.hpp"

#include <fmt/format.h>

#include <cmath>
#include <ctime>

namespace qf::store {

void CopyLine::sep() {
  if (!first_) {
    out_.push_back('\t');
  }
  first_ = false;
}

CopyLine& CopyLine::text(std::string_view v) {
  sep();
  for (const char c : v) {
    switch (c) {
    case '\\': out_ += "\\\\"; break;
    case '\t': out_ += "\\t"; break;
    case '\n': out_ += "\\n"; break;
    case '\r': out_ += "\\r"; break;
    default:
      // The layout's texts are ASCII; anything else (a damaged segment) must not fail a whole
      // COPY on the server's UTF-8 check, so it becomes '?'.
      out_.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    }
  }
  return *this;
}

CopyLine& CopyLine::i64(std::int64_t v) {
  sep();
  fmt::format_to(std::back_inserter(out_), "{}", v);
  return *this;
}

CopyLine& CopyLine::u64(std::uint64_t v) { return i64(static_cast<std::int64_t>(v)); }

CopyLine& CopyLine::real(double v) {
  if (!std::isfinite(v)) {
    return null();
  }
  sep();
  fmt::format_to(std::back_inserter(out_), "{}", v);
  return *this;
}

CopyLine& CopyLine::time(std::uint64_t unix_ns) {
  sep();
  const auto secs = static_cast<std::time_t>(unix_ns / 1'000'000'000ULL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out_), "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unix_ns % 1'000'000'000ULL) / 1000);
  return *this;
}

CopyLine& CopyLine::null() {
  sep();
  out_ += "\\N";
  return *this;
}

CopyLine& CopyLine::raw(std::string_view v) {
  sep();
  out_ += v;
  return *this;
}

} // namespace qf::store
