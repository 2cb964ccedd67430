#pragma once
// The text pieces every venue of qf-venue writes its messages with: unsigned integers, exact
// fixed point (ipc::format_fixed), trimmed decimals (OKX, Bybit), Unix ms, a client's text made
// safe to echo, and the ISO-8601 UTC time with microseconds that Coinbase and
// Kraken stamp their messages with. Service thread only (cold: the market generator).

#include <qf/ipc/fixed_point.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace qf::feeds::venue {

inline void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

inline void append_fixed(std::string& out, std::int64_t v, int decimals) {
  char buf[ipc::kFixedMaxChars];
  out.append(buf, ipc::format_fixed(v, decimals, buf, sizeof buf));
}

// "2021-04-17T16:43:37.075687Z"
[[nodiscard]] inline std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(us % 1'000'000));
  out += frac;
  return out;
}

// A value as OKX and Bybit print it: no trailing zeros, no point for an integer ("30261", "0.5").
[[nodiscard]] inline std::string trimmed_decimal(std::int64_t v, int decimals) {
  std::string text;
  append_fixed(text, v, decimals);
  if (text.find('.') != std::string::npos) {
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') {
      text.pop_back();
    }
  }
  return text;
}

// Unix time in ms, as OKX and Bybit stamp their messages.
[[nodiscard]] inline std::string unix_ms() {
  std::string out;
  append_uint(out, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count()));
  return out;
}

// Only printable ASCII of a client's text goes back into an error message.
[[nodiscard]] inline std::string sanitized(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 40)) {
    out += (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  return out;
}

} // namespace qf::feeds::venue
