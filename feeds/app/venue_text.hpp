#pragma once
// The text pieces every venue of qf-venue writes its messages with: unsigned integers, exact
// fixed point (ipc::format_fixed) and the ISO-8601 UTC time with microseconds that Coinbase and
// Kraken stamp their messages with. Service thread only (cold: the market generator).

#include <qf/ipc/fixed_point.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

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

} // namespace qf::feeds::venue
