#pragma once
// FlatCursor: the schema-directed fast path in front of simdjson. Venues send their hot messages
// as compact JSON of a fixed shape ({"u":1,"s":"BTCUSDT","b":"61685.99","B":"1.0087",...}); a
// parser reads such a message field by field with this cursor, in the order the venue sends it,
// and falls back to its simdjson path on the first byte that is not what it expects. The cursor
// accepts a strict subset of JSON only: no whitespace, strings of printable ASCII without
// escapes, unsigned integers without leading zeros (at most 19 digits), true and false, rows of
// exactly two strings. Whatever it accepts is valid JSON read exactly as the simdjson path reads
// it (strings as views into the input, no unescaping), so a message parses to the same Message
// either way (binance_parser_test compares both paths on every capture message, the fuzz target
// on every input); whatever it refuses, simdjson parses and judges, so every error is still
// simdjson's. Hand-written although simdjson parses JSON: stage 1 and On-Demand iteration cost
// about 4,200 instructions on a 150-byte bookTicker (callgrind, parse_bench), the cursor a few
// hundred. Private to feeds/src; noexcept, no allocation.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "json_fields.hpp"

namespace qf::feeds::detail {

class FlatCursor {
public:
  // `begin` is followed by at least 8 readable bytes past `size` (a PaddedView's padding).
  FlatCursor(const char* begin, std::size_t size) noexcept : p_(begin), end_(begin + size) {}

  [[nodiscard]] bool at_end() const noexcept { return p_ == end_; }
  [[nodiscard]] char peek() const noexcept { return p_ != end_ ? *p_ : '\0'; }
  // Consumes `c` when it is next.
  [[nodiscard]] bool eat(char c) noexcept {
    if (p_ != end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }

  // "text": the text, a view into the input. Eight bytes at a time (SWAR): the first byte that
  // ends or spoils a plain string must be the closing quote, inside the input.
  [[nodiscard]] bool string(std::string_view& out) noexcept {
    if (!eat('"')) {
      return false;
    }
    for (const char* q = p_; q < end_; q += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, q, sizeof word); // up to 7 bytes past the input: its padding
      if (const std::uint64_t stop = special_bytes(word); stop != 0) {
        const char* at = q + std::countr_zero(stop) / 8;
        if (at >= end_ || *at != '"') {
          return false; // no closing quote, or a control, non-ASCII or escape byte: simdjson's to judge
        }
        out = std::string_view(p_, static_cast<std::size_t>(at - p_));
        p_ = at + 1;
        return true;
      }
    }
    return false;
  }
  // "key": (the key, then the colon). Venues' hot keys are mostly one letter: read directly.
  [[nodiscard]] bool key(std::string_view& out) noexcept {
    if (end_ - p_ >= 4 && p_[0] == '"' && p_[2] == '"' && p_[3] == ':' && plain(p_[1])) {
      out = std::string_view(p_ + 1, 1);
      p_ += 4;
      return true;
    }
    return string(out) && eat(':');
  }

  // An unsigned integer: 0, or a nonzero digit and at most 18 more (no overflow possible).
  [[nodiscard]] bool uint(std::uint64_t& out) noexcept {
    const char* begin = p_;
    std::uint64_t value = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      value = value * 10 + static_cast<std::uint64_t>(*p_ - '0');
      ++p_;
    }
    const std::size_t digits = static_cast<std::size_t>(p_ - begin);
    if (digits == 0 || digits > 19 || (digits > 1 && *begin == '0')) {
      return false;
    }
    // A number ends at a structural character: 1.5, 1e3 and 12abc are simdjson's to judge.
    if (p_ != end_ && *p_ != ',' && *p_ != '}' && *p_ != ']') {
      return false;
    }
    out = value;
    return true;
  }

  [[nodiscard]] bool boolean(bool& out) noexcept {
    if (literal("true")) {
      out = true;
      return true;
    }
    if (literal("false")) {
      out = false;
      return true;
    }
    return false;
  }

  // Any value this cursor reads (a string, an unsigned integer, a boolean), discarded: the
  // fields a parser does not need.
  [[nodiscard]] bool skip_scalar() noexcept {
    std::string_view text;
    std::uint64_t number = 0;
    bool flag = false;
    const char c = peek();
    if (c == '"') {
      return string(text);
    }
    if (c >= '0' && c <= '9') {
      return uint(number);
    }
    return boolean(flag);
  }

  // [["price","qty"],...] into `dst` (at most dst.size() rows; more is left to simdjson, which
  // reports too_many_levels); `count` rows.
  [[nodiscard]] bool levels(std::vector<LevelText>& dst, std::size_t& count) noexcept {
    count = 0;
    if (!eat('[')) {
      return false;
    }
    if (eat(']')) {
      return true;
    }
    do {
      if (count == dst.size()) {
        return false;
      }
      LevelText& row = dst[count];
      if (!eat('[') || !string(row.price) || !eat(',') || !string(row.qty) || !eat(']')) {
        return false;
      }
      ++count;
    } while (eat(','));
    return eat(']');
  }

private:
  static constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  static constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  static_assert(std::endian::native == std::endian::little, "the first byte is the lowest");
  // The high bit of each byte of `v` below `n` (n <= 0x80). Exact for the lowest such byte; the
  // borrow may also mark bytes above it, which the lowest set bit never sees.
  [[nodiscard]] static constexpr std::uint64_t below(std::uint64_t v, std::uint64_t n) noexcept {
    return (v - kOnes * n) & ~v & kHigh;
  }
  // The bytes that end or spoil a plain string: '"', '\\', controls (< 0x20), DEL and non-ASCII.
  [[nodiscard]] static constexpr std::uint64_t special_bytes(std::uint64_t w) noexcept {
    return below(w ^ (kOnes * '"'), 1) | below(w ^ (kOnes * '\\'), 1) | below(w, 0x20) |
           below(w ^ (kOnes * 0x7f), 1) | (w & kHigh);
  }

  // A byte a plain string may hold.
  [[nodiscard]] static constexpr bool plain(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && u != '"' && u != '\\';
  }

  // `word` followed by the end or a structural character; consumes nothing when it is not there
  // (boolean() tries "false" at the same place after "true": `truefalse` is neither).
  [[nodiscard]] bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      return false;
    }
    const char* after = p_ + word.size();
    if (after != end_ && *after != ',' && *after != '}' && *after != ']') {
      return false;
    }
    p_ = after;
    return true;
  }

  const char* p_;
  const char* end_;
};

} // namespace qf::feeds::detail
