#pragma once
// The simdjson on-demand token readers every venue parser shares, and the state a parser reuses
// (simdjson's parser sized up front, fixed-capacity level scratch). Private to feeds/src: the
// public headers stay free of simdjson.h. A venue's parser is its field switch and its
// classification on top of these. Strings are read as views into the padded input without
// unescaping: the venues' symbols, names, decimals and times carry no escapes, and a backslash
// makes any of them fail its own check (lookup, decimal, time), never read out of bounds.
// Hot path: noexcept, no allocation; only ParserState's constructor, DecimalScan and
// DomDecimalScan (the cold capture scans) allocate.

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qf/core/event.hpp"
#include "qf/feeds/capture.hpp"
#include "qf/feeds/padded_buffer.hpp"
#include "qf/feeds/parse_result.hpp"
#include "qf/ipc/fixed_point.hpp"

namespace qf::feeds::detail {

namespace od = simdjson::ondemand;

static_assert(kPadding >= simdjson::SIMDJSON_PADDING, "kPadding must cover simdjson's read-ahead");

// Venue messages nest a few levels ({"stream","data":{"b":[["p","q"]]}} is 4): a small limit
// keeps simdjson's depth buffers tiny.
inline constexpr std::size_t kMaxJsonDepth = 16;

// One level as read: its price and quantity text, views into the input.
struct LevelText {
  std::string_view price;
  std::string_view qty;
};

[[nodiscard]] inline ParseResult from_json_error(simdjson::error_code e) noexcept {
  switch (e) {
  case simdjson::INCORRECT_TYPE:
    return ParseResult::wrong_type;
  case simdjson::NUMBER_OUT_OF_RANGE:
    return ParseResult::bad_number;
  default:
    return ParseResult::malformed_json;
  }
}

// A decimal text as fixed point at `decimals`, exactly (qf::ipc::parse_fixed).
[[nodiscard]] inline ParseResult to_fixed(std::string_view text, int decimals, std::int64_t& value) noexcept {
  const ipc::DecimalError e = ipc::parse_fixed(text, decimals, value);
  if (e == ipc::DecimalError::ok) {
    return ParseResult::ok;
  }
  return e == ipc::DecimalError::too_precise ? ParseResult::too_precise : ParseResult::bad_decimal;
}

// The text of a JSON string value, as a view into the input (no unescaping).
[[nodiscard]] inline ParseResult string_token(od::value& v, std::string_view& out) noexcept {
  const std::string_view raw = v.raw_json_token();
  if (raw.empty() || raw.front() != '"') {
    return ParseResult::wrong_type;
  }
  const std::size_t close = raw.find('"', 1);
  if (close == std::string_view::npos) {
    return ParseResult::malformed_json;
  }
  out = raw.substr(1, close - 1);
  return ParseResult::ok;
}

// A JSON string unescaped into the parser's string buffer (free text: venue error messages).
[[nodiscard]] inline ParseResult read_string(od::value& v, std::string_view& out) noexcept {
  if (const auto e = v.get_string().get(out); e != simdjson::SUCCESS) {
    return from_json_error(e);
  }
  return ParseResult::ok;
}

// An unsigned integer through simdjson's number parser (a negative or fractional number is
// simdjson's type error, beyond uint64 its range error).
[[nodiscard]] inline ParseResult read_u64(od::value& v, std::uint64_t& out) noexcept {
  if (const auto e = v.get_uint64().get(out); e != simdjson::SUCCESS) {
    return from_json_error(e);
  }
  return ParseResult::ok;
}

// An unsigned integer from its token text: a string or other non-number is a wrong type; a
// negative, fractional or beyond-uint64 number is a bad number (where simdjson would report some
// of those as type errors).
[[nodiscard]] inline ParseResult read_u64_token(od::value& v, std::uint64_t& out) noexcept {
  const std::string_view raw = v.raw_json_token();
  if (raw.empty()) {
    return ParseResult::malformed_json;
  }
  const char first = raw.front();
  if (first == '-') {
    return ParseResult::bad_number;
  }
  if (first < '0' || first > '9') {
    return ParseResult::wrong_type;
  }
  std::uint64_t value = 0;
  std::size_t i = 0;
  for (; i < raw.size() && raw[i] >= '0' && raw[i] <= '9'; ++i) {
    const auto digit = static_cast<std::uint64_t>(raw[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return ParseResult::bad_number;
    }
    value = value * 10 + digit;
  }
  if (first == '0' && i > 1) {
    return ParseResult::malformed_json; // JSON has no leading zeros
  }
  for (; i < raw.size(); ++i) { // the token runs to the next structural character
    if (raw[i] != ' ' && raw[i] != '\t' && raw[i] != '\r' && raw[i] != '\n') {
      return ParseResult::bad_number; // 1.5, 1e3, 12abc
    }
  }
  out = value;
  return ParseResult::ok;
}

// Decimal digits only ("7849", "1652459225464") into an unsigned integer; false otherwise
// (empty, a sign, a uuid, beyond uint64).
[[nodiscard]] inline bool digits_u64(std::string_view text, std::uint64_t& out) noexcept {
  if (text.empty()) {
    return false;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

// Unix milliseconds as ns (bad_number beyond uint64).
[[nodiscard]] inline ParseResult ms_to_ns(std::uint64_t ms, std::uint64_t& out) noexcept {
  if (ms > std::numeric_limits<std::uint64_t>::max() / 1'000'000) {
    return ParseResult::bad_number;
  }
  out = ms * 1'000'000;
  return ParseResult::ok;
}

// The key of an object field, as a view into the input (keys carry no escapes).
[[nodiscard]] inline std::string_view key_of(od::field& field) noexcept {
  const char* begin = field.key().raw();
  const char* end = begin;
  while (*end != '"') { // stage 1 validated the string, so the closing quote is there
    ++end;
  }
  return {begin, static_cast<std::size_t>(end - begin)};
}

// Every field of `object`, in order: on_field(key, value) returns ok to go on. Fields it does not
// read are skipped by simdjson when the loop moves on.
template <typename OnField> [[nodiscard]] ParseResult read_fields(od::object& object, OnField&& on_field) noexcept {
  for (auto field_result : object) {
    od::field field;
    if (const auto e = std::move(field_result).get(field); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    const std::string_view key = key_of(field);
    if (const ParseResult r = on_field(key, field.value()); r != ParseResult::ok) {
      return r;
    }
  }
  return ParseResult::ok;
}

// [{...}, ...]: each object element to on_object(index, object), at most `max` of them (more is
// too_many_levels); `count` is how many. An element that is not an object is a wrong type, or,
// when `others` is given, is skipped and flagged there (a venue that judges it by channel).
template <typename OnObject>
[[nodiscard]] ParseResult read_objects(od::value& v, std::size_t max, std::size_t& count, bool* others,
                                       OnObject&& on_object) noexcept {
  count = 0;
  od::array items;
  if (const auto e = v.get_array().get(items); e != simdjson::SUCCESS) {
    return from_json_error(e);
  }
  for (auto item_result : items) {
    od::value item;
    od::json_type type{};
    if (const auto e = std::move(item_result).get(item); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    if (const auto e = item.type().get(type); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    if (type != od::json_type::object && others != nullptr) {
      *others = true;
      continue;
    }
    od::object object;
    if (const auto e = item.get_object().get(object); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    if (count == max) {
      return ParseResult::too_many_levels;
    }
    if (const ParseResult r = on_object(count++, object); r != ParseResult::ok) {
      return r;
    }
  }
  return ParseResult::ok;
}

// [[first, second, ...], ...]: the N leading strings of each row go to on_row(text) (2 for a
// level, 3 for a Coinbase change); further elements are ignored, fewer is a wrong type.
template <std::size_t N, typename OnRow> [[nodiscard]] ParseResult read_rows(od::value& v, OnRow&& on_row) noexcept {
  od::array rows;
  if (const auto e = v.get_array().get(rows); e != simdjson::SUCCESS) {
    return from_json_error(e);
  }
  for (auto row_result : rows) {
    od::value row;
    if (const auto e = std::move(row_result).get(row); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    od::array items;
    if (const auto e = row.get_array().get(items); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    std::string_view text[N];
    std::size_t n = 0;
    for (auto item_result : items) {
      od::value item;
      if (const auto e = std::move(item_result).get(item); e != simdjson::SUCCESS) {
        return from_json_error(e);
      }
      if (n < N) {
        if (const ParseResult r = string_token(item, text[n]); r != ParseResult::ok) {
          return r;
        }
      }
      ++n;
    }
    if (n < N) {
      return ParseResult::wrong_type;
    }
    if (const ParseResult r = on_row(text); r != ParseResult::ok) {
      return r;
    }
  }
  return ParseResult::ok;
}

// [["price","qty"],...] into `dst` (capacity dst.size(); more is too_many_levels).
[[nodiscard]] inline ParseResult read_levels(od::value& v, std::vector<LevelText>& dst, std::size_t& count) noexcept {
  count = 0;
  return read_rows<2>(v, [&](const std::string_view* text) noexcept {
    if (count == dst.size()) {
      return ParseResult::too_many_levels;
    }
    dst[count++] = LevelText{text[0], text[1]};
    return ParseResult::ok;
  });
}

// One parser's reused state: simdjson's on-demand parser with its buffers allocated now for
// max_message_bytes (iterate() only allocates for a larger document, and open() refuses those
// first), and the level scratch for max_levels a side.
struct ParserState {
  ParserState(std::size_t max_message_bytes, std::size_t max_levels)
      : json(max_message_bytes), max_bytes(max_message_bytes), bid_text(max_levels), ask_text(max_levels),
        bids(max_levels), asks(max_levels) {
    if (json.allocate(max_message_bytes, kMaxJsonDepth) != simdjson::SUCCESS) {
      throw std::bad_alloc();
    }
  }

  // Opens `input` as one JSON object: oversized, insufficient_padding, malformed_json, or
  // unknown_message for valid JSON of another shape (an invalid scalar, "nonsense", is malformed).
  [[nodiscard]] ParseResult open(PaddedView input, od::document& doc, od::object& root) noexcept {
    if (input.size > max_bytes) {
      return ParseResult::oversized;
    }
    if (input.data == nullptr || input.capacity < input.size || input.capacity - input.size < kPadding) {
      return ParseResult::insufficient_padding;
    }
    if (const auto e = json.iterate(input.data, input.size, input.capacity).get(doc); e != simdjson::SUCCESS) {
      return ParseResult::malformed_json;
    }
    od::json_type root_type{};
    if (const auto e = doc.type().get(root_type); e != simdjson::SUCCESS) {
      return ParseResult::malformed_json;
    }
    if (root_type != od::json_type::object) {
      bool valid = root_type == od::json_type::array;
      if (root_type == od::json_type::string) {
        valid = doc.get_string().error() == simdjson::SUCCESS;
      } else if (root_type == od::json_type::number) {
        valid = doc.get_double().error() == simdjson::SUCCESS;
      } else if (root_type == od::json_type::boolean) {
        valid = doc.get_bool().error() == simdjson::SUCCESS;
      } else if (root_type == od::json_type::null) {
        bool is_null = false;
        valid = doc.is_null().get(is_null) == simdjson::SUCCESS && is_null;
      }
      return valid ? ParseResult::unknown_message : ParseResult::malformed_json;
    }
    if (const auto e = doc.get_object().get(root); e != simdjson::SUCCESS) {
      return from_json_error(e);
    }
    return ParseResult::ok;
  }

  // The whole document: open(), every field of the root object through on_field (see
  // read_fields), and nothing after it: trailing content ("{...}{...}", "{...} x") is malformed
  // (at the end of the document simdjson reports no current location).
  template <typename OnField>
  [[nodiscard]] ParseResult read_document(PaddedView input, OnField&& on_field) noexcept {
    od::document doc;
    od::object root;
    if (const ParseResult r = open(input, doc, root); r != ParseResult::ok) {
      return r;
    }
    if (const ParseResult r = read_fields(root, on_field); r != ParseResult::ok) {
      return r;
    }
    if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
      return ParseResult::malformed_json;
    }
    return ParseResult::ok;
  }

  // The first `bid_count` / `ask_count` levels read, exactly at the instrument's decimals, into
  // `out_bids` / `out_asks` (views into this scratch until the next parse).
  [[nodiscard]] ParseResult levels(std::size_t bid_count, std::size_t ask_count, int price_decimals, int qty_decimals,
                                   std::span<const core::Level>& out_bids,
                                   std::span<const core::Level>& out_asks) noexcept {
    const auto convert = [&](const std::vector<LevelText>& text, std::size_t n,
                             std::vector<core::Level>& dst) noexcept {
      for (std::size_t i = 0; i < n; ++i) {
        if (const ParseResult r = to_fixed(text[i].price, price_decimals, dst[i].price); r != ParseResult::ok) {
          return r;
        }
        if (const ParseResult r = to_fixed(text[i].qty, qty_decimals, dst[i].qty); r != ParseResult::ok) {
          return r;
        }
      }
      return ParseResult::ok;
    };
    ParseResult r = ParseResult::ok;
    if ((r = convert(bid_text, bid_count, bids)) != ParseResult::ok ||
        (r = convert(ask_text, ask_count, asks)) != ParseResult::ok) {
      return r;
    }
    out_bids = std::span<const core::Level>(bids.data(), bid_count);
    out_asks = std::span<const core::Level>(asks.data(), ask_count);
    return ParseResult::ok;
  }

  od::parser json;
  std::size_t max_bytes;
  std::vector<LevelText> bid_text;
  std::vector<LevelText> ask_text;
  std::vector<core::Level> bids;
  std::vector<core::Level> asks;
};

// ---- Cold: a capture's decimals (allocates) ----

// The maximum qf::ipc::infer_decimals over the price and quantity texts of one instrument.
struct DecimalScan {
  int price = 0;
  int qty = 0;
  std::uint64_t values = 0; // decimal strings seen

  // False when `text` is not a decimal number.
  bool add(std::string_view text, bool is_price) {
    const int d = ipc::infer_decimals(text);
    if (d < 0) {
      return false;
    }
    int& slot = is_price ? price : qty;
    slot = std::max(slot, d);
    ++values;
    return true;
  }
  // [[p, q], ...] (first = 0) or [[side, p, q], ...] (first = 1); false on any other shape.
  bool add_rows(simdjson::dom::element rows, std::size_t first) {
    simdjson::dom::array array;
    if (rows.get_array().get(array) != simdjson::SUCCESS) {
      return false;
    }
    for (simdjson::dom::element row : array) {
      simdjson::dom::array items;
      std::string_view p;
      std::string_view q;
      if (row.get_array().get(items) != simdjson::SUCCESS || items.size() < first + 2 ||
          items.at(first).get_string().get(p) != simdjson::SUCCESS ||
          items.at(first + 1).get_string().get(q) != simdjson::SUCCESS || !add(p, true) || !add(q, false)) {
        return false;
      }
    }
    return true;
  }
};

// A capture's frames as simdjson DOM objects with a DecimalScan per instrument (OKX, Bybit: the
// venues whose values are decimal strings); every failure is a CaptureError `path:line: reason`.
class DomDecimalScan {
public:
  explicit DomDecimalScan(const std::string& path) : path_(path), reader_(path) {}

  // The next websocket frame as a JSON object (a frame equal to `skip`, OKX's "pong", is passed
  // over); false at the end of the capture.
  bool next(simdjson::dom::object& root, std::string_view skip = {}) {
    while (reader_.next(record_)) {
      if (record_.kind != CaptureRecord::Kind::ws_frame || (!skip.empty() && record_.text == skip)) {
        continue;
      }
      if (json_.parse(record_.text.data(), record_.text.size()).get_object().get(root) != simdjson::SUCCESS) {
        fail("not a JSON object");
      }
      return true;
    }
    return false;
  }
  [[noreturn]] void fail(const char* reason) const {
    std::string why = path_;
    why.append(":").append(std::to_string(record_.line)).append(": ").append(reason);
    throw CaptureError(why);
  }
  [[nodiscard]] DecimalScan& of(std::string_view instrument) { return scans_[std::string(instrument)]; }
  // entry[key], a decimal string, into `scan` (absent or empty: nothing).
  void add(DecimalScan& scan, simdjson::dom::object entry, const char* key, bool is_price) const {
    std::string_view text;
    if (entry[key].get_string().get(text) == simdjson::SUCCESS && !text.empty() && !scan.add(text, is_price)) {
      fail("a price or size that is not a plain decimal number");
    }
  }
  // entry[key], [[price, size, ...], ...] when present, into `scan`.
  void add_rows(DecimalScan& scan, simdjson::dom::object entry, const char* key) const {
    simdjson::dom::element rows;
    if (entry[key].get(rows) == simdjson::SUCCESS && !scan.add_rows(rows, 0)) {
      fail("book levels that are not [price, size, ...] strings");
    }
  }
  // One {name, price decimals, qty decimals, values} per instrument, sorted by name.
  template <class Out> [[nodiscard]] std::vector<Out> results() const {
    std::vector<Out> out;
    for (const auto& [name, scan] : scans_) {
      out.push_back({name, scan.price, scan.qty, scan.values});
    }
    return out;
  }

private:
  std::string path_;
  CaptureReader reader_;
  CaptureRecord record_;
  simdjson::dom::parser json_;
  std::map<std::string, DecimalScan, std::less<>> scans_;
};

} // namespace qf::feeds::detail
