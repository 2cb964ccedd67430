#include "qf/ipc/fixed_point.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace qf::ipc {
namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// Independent reference arithmetic for the random tests (GCC extension; __extension__ keeps
// -Wpedantic quiet).
__extension__ typedef __int128 Wide;

struct ParseCase {
  std::string_view text;
  int decimals;
  DecimalError error;
  std::int64_t value; // when error == ok
};

// Built by append: GCC 12 reports a false -Wrestrict on `"'" + std::string(...)`.
std::string describe(const ParseCase& c) {
  std::string s = "'";
  s.append(c.text).append("' at ").append(std::to_string(c.decimals));
  return s;
}

void expect_cases(const std::vector<ParseCase>& cases) {
  for (const auto& c : cases) {
    constexpr std::int64_t kSentinel = 0x5a5a5a5a;
    std::int64_t out = kSentinel;
    EXPECT_EQ(parse_fixed(c.text, c.decimals, out), c.error) << describe(c);
    EXPECT_EQ(out, c.error == DecimalError::ok ? c.value : kSentinel) << describe(c);
  }
}

std::string format(std::int64_t value, int decimals) {
  return to_decimal_string(value, decimals);
}

TEST(fixed_point, should_parse_the_venue_strings_exactly) {
  expect_cases({
      {"61837.63000000", 2, DecimalError::ok, 6183763}, // Binance BTCUSDT price
      {"3.78826000", 8, DecimalError::ok, 378826000},   // Binance BTCUSDT quantity
      {"0.00000000", 8, DecimalError::ok, 0},           // Binance level delete
      {"0.00000000", 2, DecimalError::ok, 0},
      {"0.00001306", 8, DecimalError::ok, 1306},   // Coinbase SKL-BTC price
      {"660.5", 8, DecimalError::ok, 66050000000}, // Coinbase size
      {"0.0003342", 8, DecimalError::ok, 33420},   // Coinbase drops trailing zeros
      {"1.01100", 3, DecimalError::ok, 1011},      // Binance USD-M price
      {"312", 0, DecimalError::ok, 312},           // Binance USD-M quantity
      {"5", 2, DecimalError::ok, 500},
      {"-1.5", 1, DecimalError::ok, -15},
      {"-0.005", 3, DecimalError::ok, -5},
      {"-0", 2, DecimalError::ok, 0},
      {"007.50", 2, DecimalError::ok, 750},
      {"0", 0, DecimalError::ok, 0},
      {"1", 18, DecimalError::ok, 1'000'000'000'000'000'000},
      {"0.000000000000000001", 18, DecimalError::ok, 1},
  });
}

TEST(fixed_point, should_accept_a_bare_leading_or_trailing_point) {
  expect_cases({
      {".5", 2, DecimalError::ok, 50},
      {"5.", 2, DecimalError::ok, 500},
      {"-.5", 1, DecimalError::ok, -5},
      {"-5.", 0, DecimalError::ok, -5},
  });
}

TEST(fixed_point, should_report_empty_text_as_empty) {
  expect_cases({{"", 2, DecimalError::empty, 0}});
}

TEST(fixed_point, should_reject_anything_but_sign_digits_and_one_point_as_malformed) {
  for (const std::string_view text : std::initializer_list<std::string_view>{"abc",
                                                                             "1.2.3",
                                                                             ".",
                                                                             "-",
                                                                             "-.",
                                                                             "1e5",
                                                                             "1E5",
                                                                             " 1",
                                                                             "1 ",
                                                                             "1 000",
                                                                             "+1",
                                                                             "--1",
                                                                             "1-",
                                                                             "1,5",
                                                                             "0x10",
                                                                             "inf",
                                                                             "nan",
                                                                             "1.2a",
                                                                             "12\n",
                                                                             std::string_view("1\0"
                                                                                              "2",
                                                                                              3),
                                                                             "\xd9\xa1" /* Arabic-Indic digit one */}) {
    expect_cases({{text, 2, DecimalError::malformed, 0}});
  }
}

TEST(fixed_point, should_reject_a_nonzero_digit_beyond_the_decimals_instead_of_truncating) {
  expect_cases({
      {"61837.631", 2, DecimalError::too_precise, 0},
      {"0.000000001", 8, DecimalError::too_precise, 0},
      {"1.5", 0, DecimalError::too_precise, 0},
      {"-0.05", 1, DecimalError::too_precise, 0},
      {"1.00000000000000000000000001", 2, DecimalError::too_precise, 0},
      {"1.00000000000000000000000000", 2, DecimalError::ok, 100}, // zeros are not precision
  });
}

TEST(fixed_point, should_report_values_beyond_int64_as_overflow) {
  expect_cases({
      {"9223372036854775808", 0, DecimalError::overflow, 0},
      {"-9223372036854775809", 0, DecimalError::overflow, 0},
      {"92233720368547758.08", 2, DecimalError::overflow, 0},
      {"10", 18, DecimalError::overflow, 0},
      {"99999999999999999999999999999999", 0, DecimalError::overflow, 0},
      {"0000000000000000000000000000000001", 0, DecimalError::ok, 1}, // leading zeros are not size
  });
}

TEST(fixed_point, should_parse_either_side_of_the_eighteen_digit_unchecked_path) {
  // Up to 18 digits (integer digits + decimals) are read without overflow checks; 19 with them.
  expect_cases({
      {"999999999999999999", 0, DecimalError::ok, 999'999'999'999'999'999},
      {"99999999999.9999999", 7, DecimalError::ok, 999'999'999'999'999'999},
      {"-9999999999999999.9", 2, DecimalError::ok, -999'999'999'999'999'990},
      {"0.5", 17, DecimalError::ok, 50'000'000'000'000'000},
      {"9.5", 17, DecimalError::ok, 950'000'000'000'000'000},
      {"9.2", 18, DecimalError::ok, 9'200'000'000'000'000'000},
      {"9.3", 18, DecimalError::overflow, 0},
      {"9.9", 18, DecimalError::overflow, 0},
      {"000000000000000001.5", 1, DecimalError::ok, 15},
      {"9999999999999999999", 0, DecimalError::overflow, 0},
      {"9223372036854775807", 0, DecimalError::ok, kMax},
  });
}

TEST(fixed_point, should_parse_and_format_the_int64_limits) {
  expect_cases({
      {"9223372036854775807", 0, DecimalError::ok, kMax},
      {"-9223372036854775808", 0, DecimalError::ok, kMin},
      {"9.223372036854775807", 18, DecimalError::ok, kMax},
      {"-9.223372036854775808", 18, DecimalError::ok, kMin},
      {"92233720368547758.07", 2, DecimalError::ok, kMax},
      {"-92233720368547758.0800", 2, DecimalError::ok, kMin},
  });
  EXPECT_EQ(format(kMax, 0), "9223372036854775807");
  EXPECT_EQ(format(kMin, 0), "-9223372036854775808");
  EXPECT_EQ(format(kMax, 18), "9.223372036854775807");
  EXPECT_EQ(format(kMin, 18), "-9.223372036854775808");
  EXPECT_EQ(format(kMin, 2), "-92233720368547758.08");
}

TEST(fixed_point, should_report_malformed_before_too_precise_before_overflow) {
  expect_cases({
      {"99999999999999999999.129x", 2, DecimalError::malformed, 0},
      {"99999999999999999999.129", 2, DecimalError::too_precise, 0},
      {"99999999999999999999.120", 2, DecimalError::overflow, 0},
  });
}

TEST(fixed_point, should_reject_decimals_outside_zero_to_eighteen) {
  expect_cases({
      {"1", 19, DecimalError::overflow, 0},
      {"0", 19, DecimalError::overflow, 0},
      {"1", -1, DecimalError::overflow, 0},
  });
  char buffer[64];
  EXPECT_EQ(format_fixed(1, 19, buffer, sizeof buffer), 0U);
  EXPECT_EQ(format_fixed(1, -1, buffer, sizeof buffer), 0U);
  EXPECT_EQ(format(1, 19), "");
}

TEST(fixed_point, should_infer_decimals_from_the_significant_fraction_digits) {
  struct Case {
    std::string_view text;
    int decimals;
  };
  for (const Case c :
       {Case{"61837.63000000", 2}, Case{"0.00001306", 8}, Case{"100", 0}, Case{"100.000", 0}, Case{"0.00000000", 0},
        Case{"0.0003342", 7}, Case{"-0.5", 1}, Case{".5", 1}, Case{"5.", 0}, Case{"0.000000000000000000001", 21},
        Case{"", -1}, Case{"abc", -1}, Case{"1.2.3", -1}, Case{"1e-5", -1}}) {
    EXPECT_EQ(infer_decimals(c.text), c.decimals) << "'" << c.text << "'";
  }
}

TEST(fixed_point, should_format_exactly_the_requested_decimals) {
  struct Case {
    std::int64_t value;
    int decimals;
    std::string_view text;
  };
  for (const Case c :
       {Case{6183763, 2, "61837.63"}, Case{-5, 3, "-0.005"}, Case{0, 2, "0.00"}, Case{0, 0, "0"}, Case{5, 0, "5"},
        Case{-5, 0, "-5"}, Case{1306, 8, "0.00001306"}, Case{100, 2, "1.00"}, Case{-100, 2, "-1.00"},
        Case{1, 18, "0.000000000000000001"}, Case{-1, 18, "-0.000000000000000001"}}) {
    EXPECT_EQ(format(c.value, c.decimals), c.text) << c.value << " at " << c.decimals;
  }
  EXPECT_EQ(format(-1, 18).size(), kFixedMaxChars) << "the longest output fits kFixedMaxChars";
}

TEST(fixed_point, should_return_zero_and_write_nothing_when_the_buffer_is_too_small) {
  char buffer[16];
  std::fill(std::begin(buffer), std::end(buffer), '#');
  EXPECT_EQ(format_fixed(6183763, 2, buffer, 7), 0U);
  EXPECT_EQ(std::string_view(buffer, sizeof buffer), std::string(sizeof buffer, '#'));
  EXPECT_EQ(format_fixed(6183763, 2, buffer, 8), 8U) << "exactly the length is enough; no NUL is written";
  EXPECT_EQ(std::string_view(buffer, sizeof buffer), "61837.63########");
  EXPECT_EQ(format_fixed(6183763, 2, nullptr, 0), 0U);
}

TEST(fixed_point, should_evaluate_at_compile_time) {
  constexpr auto parsed = [] {
    std::int64_t v = 0;
    return parse_fixed("61837.63000000", 2, v) == DecimalError::ok ? v : -1;
  }();
  static_assert(parsed == 6183763);
  static_assert(infer_decimals("0.00001306") == 8);
  constexpr auto formatted_length = [] {
    char b[kFixedMaxChars]{};
    return format_fixed(-5, 3, b, sizeof b);
  }();
  static_assert(formatted_length == 6);
  SUCCEED();
}

// Reference formatting, written differently from format_fixed: quotient and remainder by the
// power of ten, printed by snprintf.
std::string reference_format(std::int64_t value, int decimals) {
  const bool negative = value < 0;
  const auto magnitude = negative ? 0U - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  std::uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) {
    scale *= 10U;
  }
  char buffer[64];
  const auto whole = static_cast<unsigned long long>(magnitude / scale);
  const auto fraction = static_cast<unsigned long long>(magnitude % scale);
  const int n = decimals == 0 ? std::snprintf(buffer, sizeof buffer, "%s%llu", negative ? "-" : "", whole)
                              : std::snprintf(buffer, sizeof buffer, "%s%llu.%0*llu", negative ? "-" : "", whole,
                                              decimals, fraction);
  return std::string(buffer, static_cast<std::size_t>(n));
}

TEST(fixed_point, should_round_trip_random_values_through_format_and_parse) {
  std::mt19937_64 rng(20240808);
  std::uniform_int_distribution<int> pick_decimals(0, kMaxDecimals);
  std::uniform_int_distribution<int> pick_bits(0, 63);
  for (int i = 0; i < 200'000; ++i) {
    // Mix magnitudes: a full-range value, shifted down to a random bit width, random sign.
    auto value = static_cast<std::int64_t>(rng() >> static_cast<unsigned>(pick_bits(rng)));
    if ((rng() & 1U) != 0U) {
      value = value == kMin ? value : -value;
    }
    const int decimals = pick_decimals(rng);
    const std::string text = format(value, decimals);
    ASSERT_EQ(text, reference_format(value, decimals)) << value << " at " << decimals;
    std::int64_t back = 0;
    ASSERT_EQ(parse_fixed(text, decimals, back), DecimalError::ok) << text;
    ASSERT_EQ(back, value) << text;
    ASSERT_EQ(infer_decimals(text) <= decimals, true) << text;
  }
  for (const std::int64_t edge : {kMin, kMin + 1, kMax, kMax - 1, std::int64_t{-1}, std::int64_t{0}, std::int64_t{1}}) {
    for (int decimals = 0; decimals <= kMaxDecimals; ++decimals) {
      std::int64_t back = 0;
      ASSERT_EQ(parse_fixed(format(edge, decimals), decimals, back), DecimalError::ok) << edge << " at " << decimals;
      ASSERT_EQ(back, edge);
    }
  }
}

TEST(fixed_point, should_parse_random_decimal_text_to_the_independently_computed_value) {
  std::mt19937_64 rng(61837);
  std::uniform_int_distribution<int> pick_len(0, 20);
  std::uniform_int_distribution<int> pick_digit(0, 9);
  std::uniform_int_distribution<int> pick_decimals(0, kMaxDecimals);
  int ok = 0;
  int too_precise = 0;
  int overflow = 0;
  for (int i = 0; i < 200'000; ++i) {
    std::string int_part(static_cast<std::size_t>(pick_len(rng)), '0');
    std::string frac_part(static_cast<std::size_t>(pick_len(rng)), '0');
    for (auto& c : int_part) {
      c = static_cast<char>('0' + pick_digit(rng));
    }
    for (auto& c : frac_part) {
      c = static_cast<char>('0' + pick_digit(rng));
    }
    if ((rng() % 3U) == 0U && !frac_part.empty()) { // venue style: zero padding to the wire precision
      frac_part.replace(frac_part.size() / 2, std::string::npos, frac_part.size() - frac_part.size() / 2, '0');
    }
    if (int_part.empty() && frac_part.empty()) {
      continue;
    }
    const bool negative = (rng() & 1U) != 0U;
    const int decimals = pick_decimals(rng);
    std::string text = negative ? "-" : "";
    text.append(int_part);
    if (!frac_part.empty()) {
      text.append(".").append(frac_part);
    }

    // Reference: digits into a 128-bit integer (at most 20 + 18 digits < 2^127).
    Wide expected = 0;
    for (const char c : int_part) {
      expected = expected * 10 + (c - '0');
    }
    bool precise_enough = true;
    for (std::size_t k = 0; k < static_cast<std::size_t>(decimals); ++k) {
      expected = expected * 10 + (k < frac_part.size() ? frac_part[k] - '0' : 0);
    }
    for (std::size_t k = static_cast<std::size_t>(decimals); k < frac_part.size(); ++k) {
      precise_enough = precise_enough && frac_part[k] == '0';
    }
    if (negative) {
      expected = -expected;
    }
    const bool fits = expected >= Wide{kMin} && expected <= Wide{kMax};

    std::int64_t got = 0;
    const DecimalError e = parse_fixed(text, decimals, got);
    if (!precise_enough) {
      ASSERT_EQ(e, DecimalError::too_precise) << text << " at " << decimals;
      ++too_precise;
    } else if (!fits) {
      ASSERT_EQ(e, DecimalError::overflow) << text << " at " << decimals;
      ++overflow;
    } else {
      ASSERT_EQ(e, DecimalError::ok) << text << " at " << decimals;
      ASSERT_EQ(Wide{got}, expected) << text << " at " << decimals;
      ++ok;
    }
  }
  // Every branch was exercised many times, so the loop above checked what it claims.
  EXPECT_GT(ok, 10'000);
  EXPECT_GT(too_precise, 10'000);
  EXPECT_GT(overflow, 1'000);
}

} // namespace
} // namespace qf::ipc
