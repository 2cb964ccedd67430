#pragma once
// for_each_capture_message: how the replaying venues built on a feed parser (Kraken, OKX, Bybit,
// Coinbase Advanced) read a capture, written once. Each ws_frame record is parsed by the venue's
// own parser (at the capture's decimals); one it refuses stops the load with "FILE:LINE: not
// <what> message this venue can serve". `on(record, message, where)` returns whether it kept the
// frame (`where()` is "FILE:LINE" for its own refusals); a capture with none kept is
// "FILE: no frames to replay". Load time only: it allocates and throws.

#include <qf/feeds/capture.hpp>
#include <qf/feeds/padded_buffer.hpp>
#include <qf/feeds/parse_result.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace qf::feeds::venue {

template <class Message, class Parser, class On>
void for_each_capture_message(const std::string& path, Parser& parser, std::string_view what, On&& on) {
  CaptureReader reader(path);
  CaptureRecord r;
  PaddedBuffer padded(parser.config().max_message_bytes);
  std::size_t kept = 0;
  while (reader.next(r)) {
    if (r.kind != CaptureRecord::Kind::ws_frame) {
      continue;
    }
    const auto where = [&] { return reader.path() + ':' + std::to_string(r.line); };
    Message m;
    if (!padded.assign(r.text) || parser.parse(padded, m) != ParseResult::ok) {
      throw std::runtime_error(where() + ": not " + std::string(what) + " message this venue can serve");
    }
    if (on(static_cast<const CaptureRecord&>(r), m, where)) {
      ++kept;
    }
  }
  if (kept == 0) {
    throw std::runtime_error(reader.path() + ": no frames to replay");
  }
}

// The levels of a parsed book message as the venue's (price, qty) pairs.
template <class Levels, class Pairs>
void copy_levels(const Levels& from, Pairs& to) {
  for (const auto& l : from) {
    to.emplace_back(l.price, l.qty);
  }
}

} // namespace qf::feeds::venue
