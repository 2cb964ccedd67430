#pragma once
// Exact decimal fixed point: prices and quantities are int64 values scaled by 10^decimals
// (BTCUSDT price at 2 decimals: "61837.63000000" -> 6183763). Text is parsed digit by digit,
// never through double, so every venue string maps to exactly one integer or to an error: a
// non-zero digit the scale cannot hold is `too_precise` (never silently truncated), a value
// beyond int64 is `overflow`. Formatting writes into the caller's buffer, no allocation.
// Pure functions without state: any thread. parse_fixed and format_fixed are constexpr,
// noexcept and allocation-free (the feed hot path); to_decimal_string allocates (logs, JSON).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qf::ipc {

enum class DecimalError : std::uint8_t { ok, empty, malformed, too_precise, overflow };

inline constexpr int kMaxDecimals = 18; // 10^18 is the largest power of ten an int64 holds
// Longest format_fixed output: "-0.000000000000000001" and "-9.223372036854775808".
inline constexpr std::size_t kFixedMaxChars = 21;

namespace detail {

// The grammar both parse_fixed and infer_decimals accept: ['-'] digits* ['.' digits*] with
// at least one digit ("5", ".5", "5." and "-0.5" are numbers; ".", "-", "+1", "1e5" are not).
struct DecimalSpan {
  bool negative = false;
  std::string_view int_digits;
  std::string_view frac_digits;
};

[[nodiscard]] constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

[[nodiscard]] constexpr DecimalError scan_decimal(std::string_view text, DecimalSpan& span) noexcept {
  if (text.empty()) {
    return DecimalError::empty;
  }
  std::size_t i = 0;
  span.negative = text[0] == '-';
  if (span.negative) {
    i = 1;
  }
  const std::size_t int_begin = i;
  while (i < text.size() && is_digit(text[i])) {
    ++i;
  }
  span.int_digits = text.substr(int_begin, i - int_begin);
  span.frac_digits = {};
  if (i < text.size() && text[i] == '.') {
    const std::size_t frac_begin = ++i;
    while (i < text.size() && is_digit(text[i])) {
      ++i;
    }
    span.frac_digits = text.substr(frac_begin, i - frac_begin);
  }
  if (i != text.size() || (span.int_digits.empty() && span.frac_digits.empty())) {
    return DecimalError::malformed;
  }
  return DecimalError::ok;
}

// The common case in one pass (the feed hot path): a well-formed decimal whose integer digits
// plus `decimals` are at most 18, so below 10^18 < 2^63 no digit can overflow and none is
// checked, with nothing but zeros beyond `decimals`. False for anything else, which parse_fixed's
// general path then reads and names; true gives the magnitude that path would give.
[[nodiscard]] constexpr bool parse_fixed_short(std::string_view text, int decimals, std::uint64_t& magnitude) noexcept {
  if (text.empty() || decimals < 0 || decimals > kMaxDecimals) {
    return false;
  }
  const auto scale = static_cast<std::size_t>(decimals);
  std::size_t i = text[0] == '-' ? 1 : 0;
  const std::size_t int_begin = i;
  std::uint64_t m = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    m = m * 10U + static_cast<std::uint64_t>(text[i] - '0'); // wraps only when too long: refused below
  }
  const std::size_t int_digits = i - int_begin;
  std::size_t frac_digits = 0;
  std::size_t kept = 0;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && is_digit(text[i]); ++i, ++frac_digits) {
      if (kept < scale) {
        m = m * 10U + static_cast<std::uint64_t>(text[i] - '0');
        ++kept;
      } else if (text[i] != '0') {
        return false; // too precise
      }
    }
  }
  if (i != text.size() || int_digits + frac_digits == 0 || int_digits + scale > 18) {
    return false;
  }
  for (; kept < scale; ++kept) {
    m *= 10U;
  }
  magnitude = m;
  return true;
}

} // namespace detail

// Parses `text` as a decimal scaled by 10^decimals into `out` (untouched on error).
// Trailing zeros beyond `decimals` are fine; a non-zero digit there is too_precise. When
// several errors apply, the first of malformed, too_precise, overflow is reported.
// decimals outside [0, kMaxDecimals] is reported as overflow (the scale is not an int64).
[[nodiscard]] constexpr DecimalError parse_fixed(std::string_view text, int decimals, std::int64_t& out) noexcept {
  if (std::uint64_t magnitude = 0; detail::parse_fixed_short(text, decimals, magnitude)) {
    out = static_cast<std::int64_t>(text[0] == '-' ? 0U - magnitude : magnitude);
    return DecimalError::ok;
  }
  detail::DecimalSpan span;
  if (const DecimalError e = detail::scan_decimal(text, span); e != DecimalError::ok) {
    return e;
  }
  if (decimals < 0 || decimals > kMaxDecimals) {
    return DecimalError::overflow;
  }
  const auto scale = static_cast<std::size_t>(decimals);
  const std::string_view kept = span.frac_digits.substr(0, scale);
  const std::string_view beyond = span.frac_digits.substr(kept.size());
  if (beyond.find_first_not_of('0') != std::string_view::npos) {
    return DecimalError::too_precise;
  }
  // Magnitude in uint64 so that INT64_MIN (2^63) is reachable.
  const std::uint64_t limit = span.negative ? std::uint64_t{1} << 63U : (std::uint64_t{1} << 63U) - 1U;
  std::uint64_t magnitude = 0;
  bool overflow = false;
  const auto push = [&](std::uint64_t digit) noexcept {
    if (magnitude > (limit - digit) / 10U) {
      overflow = true;
    } else {
      magnitude = magnitude * 10U + digit;
    }
  };
  for (const char c : span.int_digits) {
    push(static_cast<std::uint64_t>(c - '0'));
  }
  for (const char c : kept) {
    push(static_cast<std::uint64_t>(c - '0'));
  }
  for (std::size_t pad = kept.size(); pad < scale; ++pad) {
    push(0);
  }
  if (overflow) {
    return DecimalError::overflow;
  }
  // Two's-complement negation in uint64; the conversion is modular (C++20), so 2^63 -> INT64_MIN.
  out = static_cast<std::int64_t>(span.negative ? 0U - magnitude : magnitude);
  return DecimalError::ok;
}

// Significant fractional digits of a decimal text, trailing zeros ignored: "61837.63000000" -> 2,
// "0.00001306" -> 8, "100" -> 0, "0.00000000" -> 0. -1 when `text` is not a decimal number
// (same grammar as parse_fixed). Used to infer an instrument's decimals from recorded data.
[[nodiscard]] constexpr int infer_decimals(std::string_view text) noexcept {
  detail::DecimalSpan span;
  if (detail::scan_decimal(text, span) != DecimalError::ok) {
    return -1;
  }
  const std::size_t last = span.frac_digits.find_last_not_of('0');
  if (last == std::string_view::npos) {
    return 0;
  }
  constexpr std::size_t kIntMax = 0x7fffffff;
  return static_cast<int>(last + 1 < kIntMax ? last + 1 : kIntMax);
}

// Writes `value` / 10^decimals with exactly `decimals` fractional digits ("61837.63", "-0.005",
// "0.00"; no '.' when decimals == 0) into out[0, cap), without a terminating NUL. Returns the
// length, or 0 (out untouched) when cap is too small or decimals is outside [0, kMaxDecimals].
// A buffer of kFixedMaxChars always suffices.
[[nodiscard]] constexpr std::size_t format_fixed(std::int64_t value, int decimals, char* out,
                                                 std::size_t cap) noexcept {
  if (decimals < 0 || decimals > kMaxDecimals || out == nullptr) {
    return 0;
  }
  const bool negative = value < 0;
  std::uint64_t magnitude = static_cast<std::uint64_t>(value);
  if (negative) {
    magnitude = 0U - magnitude; // exact for INT64_MIN too
  }
  const auto scale = static_cast<std::size_t>(decimals);
  char digits[20]{}; // least significant first; 2^63 has 19 digits, scale + 1 <= 19
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + magnitude % 10U);
    magnitude /= 10U;
  } while (magnitude != 0);
  while (count < scale + 1) { // at least one integer digit: "0.005"
    digits[count++] = '0';
  }
  const std::size_t length = (negative ? 1U : 0U) + count + (scale > 0 ? 1U : 0U);
  if (length > cap) {
    return 0;
  }
  std::size_t pos = 0;
  if (negative) {
    out[pos++] = '-';
  }
  for (std::size_t k = count; k-- > 0;) {
    out[pos++] = digits[k];
    if (k == scale && scale > 0) {
      out[pos++] = '.';
    }
  }
  return length;
}

// Allocating convenience for cold paths; empty when decimals is outside [0, kMaxDecimals].
[[nodiscard]] inline std::string to_decimal_string(std::int64_t value, int decimals) {
  char buffer[kFixedMaxChars];
  const std::size_t length = format_fixed(value, decimals, buffer, sizeof buffer);
  return std::string(buffer, length);
}

} // namespace qf::ipc
