#include "qf/ipc/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

namespace qf::ipc {
namespace {

TEST(json_writer, should_place_commas_between_members_and_items_at_every_depth) {
  JsonWriter o;
  o.begin_object().key("a").u64(1).key("b").begin_array().u64(2).begin_object().end_object().begin_array().end_array();
  o.i64(-3).end_array().key("c").begin_object().key("d").null().end_object().end_object();
  EXPECT_EQ(o.view(), R"({"a":1,"b":[2,{},[],-3],"c":{"d":null}})");
}

TEST(json_writer, should_escape_quotes_backslashes_and_control_characters) {
  JsonWriter o;
  o.begin_array().str("a\"b\\c\n\t\x01").end_array();
  EXPECT_EQ(o.view(), R"(["a\"b\\c\u000a\u0009\u0001"])");
}

TEST(json_writer, should_keep_valid_utf8_and_replace_every_invalid_byte) {
  JsonWriter o;
  // "é" (2 bytes), "€" (3), U+1F600 (4) are kept; a lone continuation byte, an overlong "/"
  // (C0 AF), a UTF-16 surrogate (ED A0 80), a byte past U+10FFFF (F5) and a truncated
  // sequence at the end are each replaced.
  o.begin_array().str("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80").str("\x80|\xC0\xAF|\xED\xA0\x80|\xF5|\xE2\x82").end_array();
  EXPECT_EQ(o.view(), "[\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\","
                      R"("\ufffd|\ufffd\ufffd|\ufffd\ufffd\ufffd|\ufffd|\ufffd\ufffd"])");
}

TEST(json_writer, should_write_non_finite_numbers_as_null) {
  JsonWriter o;
  o.begin_array().num(std::nan("")).exact(std::numeric_limits<double>::infinity()).num(-HUGE_VAL).end_array();
  EXPECT_EQ(o.view(), "[null,null,null]");
}

TEST(json_writer, should_write_num_as_printf_does_with_ten_significant_digits) {
  for (const double v : {0.0, -0.0, 1.0, 0.1, 1.0 / 3.0, 123456789012.0, 1e-7, 6.02214076e23, -2.5, 61685.99}) {
    JsonWriter o;
    o.num(v);
    char ref[64];
    std::snprintf(ref, sizeof ref, "%.10g", v);
    EXPECT_EQ(o.view(), ref) << v;
  }
}

TEST(json_writer, should_write_exact_numbers_that_read_back_to_the_same_double) {
  for (const double v : {0.1, 1.0 / 3.0, 100000.0, 99999.99999999999, 1e300, 5e-324, 0.30000000000000004}) {
    JsonWriter o;
    o.exact(v);
    const std::string text(o.view());
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;
  }
  JsonWriter o;
  o.begin_array().exact(100000.0).exact(0.1).exact(0.30000000000000004).end_array();
  EXPECT_EQ(o.view(), "[100000,0.1,0.30000000000000004]");
}

TEST(json_writer, should_write_integers_at_their_limits) {
  JsonWriter o;
  o.begin_array().u64(std::numeric_limits<std::uint64_t>::max()).i64(std::numeric_limits<std::int64_t>::min());
  o.end_array();
  EXPECT_EQ(o.view(), "[18446744073709551615,-9223372036854775808]");
}

TEST(json_writer, should_write_fixed_point_values_as_exact_decimal_strings) {
  JsonWriter o;
  o.begin_object().key("bid").decimal(6168599, 2).key("qty").decimal(-5, 8).key("whole").decimal(42, 0);
  o.end_object();
  EXPECT_EQ(o.view(), R"({"bid":"61685.99","qty":"-0.00000005","whole":"42"})");
}

TEST(json_writer, should_write_a_time_as_unix_ns_and_iso8601) {
  JsonWriter o;
  o.begin_object().time("at", 1'723'161'600'123'456'789ULL).time("never", 0).end_object();
  EXPECT_EQ(o.view(), R"({"at_unix_ns":1723161600123456789,"at":"2024-08-09T00:00:00.123456789Z",)"
                      R"("never_unix_ns":0,"never":null})");
}

TEST(json_writer, should_start_afresh_after_take_and_clear) {
  JsonWriter o;
  o.begin_array().u64(1);
  EXPECT_EQ(o.take(), "[1");
  EXPECT_EQ(o.size(), 0U);
  o.begin_array().u64(2).end_array();
  EXPECT_EQ(o.view(), "[2]");
  o.clear();
  o.begin_object().key("k").raw("[1,2]").end_object();
  EXPECT_EQ(o.view(), R"({"k":[1,2]})");
}

} // namespace
} // namespace qf::ipc
