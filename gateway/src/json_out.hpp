#pragma once
// JsonOut: a small JSON text builder for the gateway's responses and pushes. It tracks commas
// so call sites read as the document they produce. Strings are escaped, non-finite doubles
// become null, exact decimals (prices) are written as strings. Event-loop thread only; it
// appends to one std::string that callers reuse.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qf::gateway {

class JsonOut {
public:
  JsonOut& begin_object();
  JsonOut& end_object();
  JsonOut& begin_array();
  JsonOut& end_array();
  JsonOut& key(std::string_view k);
  JsonOut& str(std::string_view v);
  JsonOut& num(double v);  // 10 significant digits
  JsonOut& exact(double v); // the shortest text that reads back as v (money, positions)
  JsonOut& u64(std::uint64_t v);
  JsonOut& i64(std::int64_t v);
  JsonOut& boolean(bool v);
  JsonOut& null();
  // A fixed-point value as an exact decimal string ("61837.63").
  JsonOut& decimal(std::int64_t value, int decimals);
  // Already-valid JSON (a pre-rendered fragment).
  JsonOut& raw(std::string_view json);
  // Unix ns as two members: "<k>_unix_ns": 123 and "<k>": "ISO-8601" (null when 0).
  JsonOut& time(std::string_view k, std::uint64_t unix_ns);

  [[nodiscard]] std::string& text() noexcept { return s_; }
  [[nodiscard]] std::string take() { return std::move(s_); }

private:
  void separate();
  std::string s_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

// "2024-05-01T12:34:56.123456789Z".
[[nodiscard]] std::string iso8601(std::uint64_t unix_ns);

} // namespace qf::gateway
