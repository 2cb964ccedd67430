#include "qf/feeds/parse_result.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <string_view>

namespace qf::feeds {
namespace {

ParseResult code(std::size_t i) {
  return static_cast<ParseResult>(i);
}

TEST(parse_result, should_name_every_code_once) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kParseResults; ++i) {
    const std::string_view name = to_string(code(i));
    EXPECT_NE(name, "?") << "code " << i;
    EXPECT_TRUE(names.insert(name).second) << "code " << i << " repeats " << name;
  }
  EXPECT_EQ(to_string(ParseResult::ok), "ok");
  EXPECT_EQ(to_string(ParseResult::unknown_instrument), "unknown_instrument");
  EXPECT_EQ(to_string(ParseResult::unknown_message), "unknown_message");
  EXPECT_EQ(to_string(code(kParseResults)), "?");
}

TEST(parse_result, should_treat_everything_but_ok_and_an_unknown_instrument_as_an_error) {
  for (std::size_t i = 0; i < kParseResults; ++i) {
    const ParseResult r = code(i);
    EXPECT_EQ(is_error(r), r != ParseResult::ok && r != ParseResult::unknown_instrument) << to_string(r);
  }
}

TEST(parse_result, should_count_each_call_by_result_errors_and_drops) {
  ParseCounters c;
  c.count(ParseResult::ok);
  c.count(ParseResult::unknown_instrument);
  c.count(ParseResult::malformed_json);
  c.count(ParseResult::malformed_json);
  c.count(ParseResult::bad_side);
  EXPECT_EQ(c.messages, 5U);
  EXPECT_EQ(c.errors, 3U);
  EXPECT_EQ(c.unknown_instrument, 1U);
  EXPECT_EQ(c.result(ParseResult::ok), 1U);
  EXPECT_EQ(c.result(ParseResult::malformed_json), 2U);
  EXPECT_EQ(c.result(ParseResult::bad_side), 1U);
  EXPECT_EQ(c.result(ParseResult::oversized), 0U);
}

} // namespace
} // namespace qf::feeds
