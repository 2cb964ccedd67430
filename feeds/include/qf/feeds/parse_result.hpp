#pragma once
// ParseResult: what one parse of one venue message came to, the same codes for every venue (as
// simdjson's error_code: one enum, one name table in parse_result.cpp). A venue uses the codes its
// format can produce (only Coinbase sends ISO times and "buy"/"sell" sides). ParseCounters is
// what every parser counts per call. Hot path: everything here is noexcept and allocation-free.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qf::feeds {

enum class ParseResult : std::uint8_t {
  ok,
  unknown_instrument,   // well-formed but for an unregistered symbol / product: a counted drop, not an error
  oversized,            // longer than the parser's max_message_bytes
  insufficient_padding, // PaddedView::capacity < size + kPadding (a caller bug)
  malformed_json,       // not JSON, truncated, trailing content
  wrong_type,           // a known field with the wrong JSON type (a number as a string, ...)
  missing_field,        // a field the message kind requires is absent
  bad_number,           // an id, sequence or time that does not fit (negative, beyond uint64, time overflow)
  bad_decimal,          // a price or quantity that is not a decimal number or overflows int64
  too_precise,          // more significant decimals than the instrument's scale (never truncated)
  too_many_levels,      // more levels on one side than the parser's max_levels
  bad_time,             // a time text not of the venue's form (Coinbase 2021-04-17T16:43:37.075687Z)
  bad_side,             // a side other than the venue's two (Coinbase "buy" / "sell")
  unknown_message,      // valid JSON of a shape or type the venue's parser does not know
};
inline constexpr std::size_t kParseResults = 14;

// The code's name ("unknown_instrument"); "?" for a value outside the enum.
[[nodiscard]] std::string_view to_string(ParseResult result) noexcept;

namespace detail {
// An enum value's entry in its name table, "?" outside it: every feeds enum names its values
// through one array in enum order.
template <class Enum, std::size_t N>
[[nodiscard]] constexpr std::string_view name_of(const std::array<std::string_view, N>& names, Enum value) noexcept {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : std::string_view("?");
}
} // namespace detail

// True for the results that are errors (everything but ok and the unknown_instrument drop).
[[nodiscard]] constexpr bool is_error(ParseResult r) noexcept {
  return r != ParseResult::ok && r != ParseResult::unknown_instrument;
}

// Per-call counters every venue parser keeps (a venue adds its message kinds).
struct ParseCounters {
  std::uint64_t messages = 0;                         // parse calls
  std::array<std::uint64_t, kParseResults> results{}; // every call by result (results[ok] = parsed)
  std::uint64_t errors = 0;                           // calls whose result is_error
  std::uint64_t unknown_instrument = 0;               // drops: an instrument nobody registered
  [[nodiscard]] std::uint64_t result(ParseResult r) const noexcept { return results[static_cast<std::size_t>(r)]; }
  // Counts one call's result.
  void count(ParseResult r) noexcept {
    ++messages;
    ++results[static_cast<std::size_t>(r)];
    if (r == ParseResult::unknown_instrument) {
      ++unknown_instrument;
    } else if (is_error(r)) {
      ++errors;
    }
  }
};

} // namespace qf::feeds
