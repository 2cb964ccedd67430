#include "json_out.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "qf/ipc/fixed_point.hpp"
#include "qf/ipc/json_text.hpp"

namespace qf::gateway {

void JsonOut::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) {
      s_ += ',';
    }
    first_.back() = false;
  }
}

JsonOut& JsonOut::begin_object() {
  separate();
  s_ += '{';
  first_.push_back(true);
  return *this;
}
JsonOut& JsonOut::end_object() {
  s_ += '}';
  first_.pop_back();
  return *this;
}
JsonOut& JsonOut::begin_array() {
  separate();
  s_ += '[';
  first_.push_back(true);
  return *this;
}
JsonOut& JsonOut::end_array() {
  s_ += ']';
  first_.pop_back();
  return *this;
}
JsonOut& JsonOut::key(std::string_view k) {
  separate();
  s_ += '"';
  s_ += ipc::json_escape(k);
  s_ += "\":";
  after_key_ = true;
  return *this;
}
JsonOut& JsonOut::str(std::string_view v) {
  separate();
  s_ += '"';
  s_ += ipc::json_escape(v);
  s_ += '"';
  return *this;
}
JsonOut& JsonOut::num(double v) {
  separate();
  s_ += ipc::json_number(v);
  return *this;
}
JsonOut& JsonOut::exact(double v) {
  separate();
  if (!std::isfinite(v)) {
    s_ += "null";
    return *this;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  s_ += buf;
  return *this;
}
JsonOut& JsonOut::u64(std::uint64_t v) {
  separate();
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  s_.append(buf, static_cast<std::size_t>(n));
  return *this;
}
JsonOut& JsonOut::i64(std::int64_t v) {
  separate();
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  s_.append(buf, static_cast<std::size_t>(n));
  return *this;
}
JsonOut& JsonOut::boolean(bool v) {
  separate();
  s_ += v ? "true" : "false";
  return *this;
}
JsonOut& JsonOut::null() {
  separate();
  s_ += "null";
  return *this;
}
JsonOut& JsonOut::decimal(std::int64_t value, int decimals) {
  char buf[ipc::kFixedMaxChars];
  const std::size_t n = ipc::format_fixed(value, decimals, buf, sizeof buf);
  if (n == 0) {
    return null();
  }
  separate();
  s_ += '"';
  s_.append(buf, n);
  s_ += '"';
  return *this;
}
JsonOut& JsonOut::raw(std::string_view json) {
  separate();
  s_ += json;
  return *this;
}
JsonOut& JsonOut::time(std::string_view k, std::uint64_t unix_ns) {
  std::string name(k);
  name += "_unix_ns";
  key(name).u64(unix_ns);
  key(k);
  if (unix_ns == 0) {
    return null();
  }
  return str(iso8601(unix_ns));
}

std::string iso8601(std::uint64_t unix_ns) {
  const auto secs = static_cast<std::time_t>(unix_ns / 1'000'000'000ULL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                              static_cast<unsigned long long>(unix_ns % 1'000'000'000ULL));
  return std::string(buf, static_cast<std::size_t>(n));
}

} // namespace qf::gateway
