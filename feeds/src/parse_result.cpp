#include "qf/feeds/parse_result.hpp"

namespace qf::feeds {

namespace {

// One name per code, in enum order (simdjson's error_tables style).
constexpr std::array<std::string_view, kParseResults> kNames = {
    "ok",
    "unknown_instrument",
    "oversized",
    "insufficient_padding",
    "malformed_json",
    "wrong_type",
    "missing_field",
    "bad_number",
    "bad_decimal",
    "too_precise",
    "too_many_levels",
    "bad_time",
    "bad_side",
    "unknown_message",
};
static_assert(static_cast<std::size_t>(ParseResult::unknown_message) + 1 == kParseResults);
static_assert(kNames.back() == "unknown_message", "one name per code");

} // namespace

std::string_view to_string(ParseResult result) noexcept {
  return detail::name_of(kNames, result);
}

} // namespace qf::feeds
