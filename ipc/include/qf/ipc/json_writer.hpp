#pragma once
// JsonWriter: the one JSON text writer of every QuantFlow component that writes JSON (gateway
// responses and pushes, qf-monitor --json, replay summaries and taps, qf-venue's stats). It appends
// to a fmt::memory_buffer (inline storage: short documents do not allocate) and tracks commas, so
// call sites read as the document they produce. Strings are escaped, and bytes that are not valid
// UTF-8 become U+FFFD, so the output is always valid JSON whatever a segment or a request held.
// Non-finite doubles become null; exact decimals (prices, quantities) are strings written through
// format_fixed; numbers go through std::to_chars. One writer per thread; reuse it with clear().
// Not for the core thread's per-event path (growing past the inline buffer allocates).

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace qf::ipc {

class JsonWriter {
public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& str(std::string_view v);
  JsonWriter& num(double v);   // 10 significant digits (printf %.10g)
  JsonWriter& exact(double v); // the shortest %g text (15 or 17 digits) that reads back as v
  JsonWriter& u64(std::uint64_t v);
  JsonWriter& i64(std::int64_t v);
  JsonWriter& boolean(bool v);
  JsonWriter& null();
  // A fixed-point value as an exact decimal string ("61837.63"); null when it cannot be formatted.
  JsonWriter& decimal(std::int64_t value, int decimals);
  // Already-valid JSON (a pre-rendered fragment).
  JsonWriter& raw(std::string_view json);
  // Unix ns as two members: "<k>_unix_ns": 123 and "<k>": "ISO-8601" (null when 0).
  JsonWriter& time(std::string_view k, std::uint64_t unix_ns);

  [[nodiscard]] std::string_view view() const noexcept { return {buf_.data(), buf_.size()}; }
  [[nodiscard]] std::size_t size() const noexcept { return buf_.size(); }
  // The text so far as a string; the writer is empty afterwards.
  [[nodiscard]] std::string take();
  void clear() noexcept;

private:
  static constexpr int kMaxDepth = 64;
  void separate();
  void open(char c);
  void close(char c);
  fmt::memory_buffer buf_;
  std::uint64_t has_items_ = 0; // bit d: the container at depth d already holds an item
  int depth_ = 0;
  bool after_key_ = false;
};

// Appends `text` to `out` as the inside of a JSON string (no quotes): escapes, and U+FFFD for
// bytes that are not valid UTF-8.
void append_json_escaped(fmt::memory_buffer& out, std::string_view text);

// "2024-05-01T12:34:56.123456789Z".
[[nodiscard]] std::string iso8601(std::uint64_t unix_ns);

} // namespace qf::ipc
